//! `cache #false`: the step runs on every build, whatever is cached; what reads its outputs
//! still reruns only when those outputs' bytes change.

mod common;
use common::{Output, Test};

const MANIFEST: &str = r#"
step "fetch" {
    cmd "cat source.txt > out/latest.txt; echo ran >> runs.log"
    inputs "source.txt"
    outputs "out/latest.txt"
    cache #false
}
step "use" {
    cmd "cat out/latest.txt > out/used.txt"
    inputs "out/latest.txt"
    outputs "out/used.txt"
}
"#;

/// How many times `fetch` has run in this workspace.
fn runs(out: &Output) -> usize {
    out.read("runs.log").lines().count()
}

#[test]
fn an_uncached_step_runs_every_time_and_its_unchanged_output_cuts_off() {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("source.txt", "v1")
        .build(&[])
        .run()
        .success();
    assert_eq!(out.report().ran(), ["fetch", "use"]);
    assert_eq!(runs(&out), 1);

    let out = out.again().build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["fetch"], "{report}");
    assert_eq!(report.reasons("fetch"), "always runs (cache #false)");
    assert_eq!(report.cached(), ["use"], "{report}");
    assert_eq!(runs(&out), 2);

    // Even with its output gone it runs, rather than being restored.
    let out = out
        .again()
        .remove("out/latest.txt")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["fetch"], "{report}");
    assert_eq!(runs(&out), 3);
    assert_eq!(out.read("out/latest.txt"), "v1");

    let out = out
        .again()
        .file("source.txt", "v2")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["fetch", "use"], "{report}");
    assert_eq!(out.read("out/used.txt"), "v2");
    assert_eq!(runs(&out), 4);
}
