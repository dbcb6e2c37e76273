//! A step that reads one file inside another step's output directory: that step is the
//! file's producer, for the lockfile, `status`, lineage and the graph.

mod common;
use common::{Output, Test, git};

/// `a` writes the directory `out/d/` (from a source file), `b` reads one file inside it.
const PIPELINE: &str = r#"
step "a" {
    cmd "mkdir -p out/d && cp data/raw.txt out/d/f.txt && echo {{params.other}} > out/d/g.txt"
    inputs "data/raw.txt"
    params "other"
    outputs "out/d/"
}
step "b" {
    cmd "cat out/d/f.txt > out/b.txt"
    inputs "out/d/f.txt"
    outputs "out/b.txt"
}
"#;

fn workspace() -> Test {
    Test::new()
        .manifest(&format!("params \"params.yaml\"\n{PIPELINE}"))
        .file("params.yaml", "other: 1\n")
        .file("data/raw.txt", "hi\n")
        .file(".gitignore", ".zenbuild/\nout/\n")
}

/// The workspace built and committed, outputs ignored.
fn built_and_committed() -> Output {
    let out = workspace().build(&[]).run().success();
    git(out.path(), &["add", "-A"]);
    git(out.path(), &["commit", "-q", "-m", "pipeline"]);
    out
}

#[test]
fn status_check_passes_on_a_fresh_clone_when_a_step_reads_a_file_inside_an_output_directory() {
    let built = built_and_committed();
    let clone = Test::new();
    let source = built.path().to_str().expect("UTF-8 path").to_string();
    git(clone.path(), &["clone", "-q", &source, "clone"]);
    assert!(
        !clone.path().join("clone/out").exists(),
        "outputs are ignored"
    );
    clone
        .current_dir("clone")
        .args(&["status", "--check"])
        .run()
        .success()
        .stdout_contains("2 actions up to date")
        .stdout_lacks("missing");
}

#[test]
fn status_names_a_file_inside_an_output_directory_that_the_lockfile_does_not_record() {
    let built = built_and_committed();
    let lock = built.read("zenbuild.lock");
    let mut parsed: serde_json::Value = serde_json::from_str(&lock).expect("lockfile is JSON");
    parsed["actions"]["a"]
        .as_object_mut()
        .expect("entry of a")
        .remove("inside")
        .expect("the entry of `a` records the file `b` reads");
    std::fs::write(
        built.path().join("zenbuild.lock"),
        serde_json::to_string_pretty(&parsed).expect("encode"),
    )
    .expect("write lockfile");
    built
        .again()
        .remove("out")
        .args(&["status", "--check"])
        .run()
        .code(1)
        .stdout_contains("`out/d/f.txt` lies in an output directory of `a`")
        .stdout_lacks("should have written it");
}

#[test]
fn lineage_of_a_file_read_from_an_output_directory_goes_through_its_producer_to_the_sources() {
    let built = built_and_committed();
    let up = built
        .again()
        .args(&["lineage", "out/b.txt"])
        .run()
        .success()
        .stdout_contains("out/d/f.txt")
        .stdout_contains("(in out/d/)")
        .stdout_contains("data/raw.txt");
    let line = |path: &str| {
        up.stdout
            .lines()
            .find(|line| {
                line.trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
                    .starts_with(&format!("{path} "))
            })
            .unwrap_or_default()
            .to_string()
    };
    assert!(!line("out/d/f.txt").contains("(source)"), "{}", up.stdout);
    assert!(line("data/raw.txt").contains("(source)"), "{}", up.stdout);
    let down = up
        .again()
        .args(&["lineage", "--down", "data/raw.txt", "--format", "json"])
        .run()
        .success();
    let tree = down.json();
    let a = &tree["actions"][0];
    assert_eq!(a["name"], "a");
    let directory = &a["artifacts"][0];
    assert_eq!(directory["path"], "out/d/");
    let b = &directory["actions"][0];
    assert_eq!(b["name"], "b", "{tree:#}");
    assert_eq!(b["reads"][0], "out/d/f.txt");
    assert_eq!(b["artifacts"][0]["path"], "out/b.txt");
    down.again()
        .args(&["lineage", "--down", "out/d/"])
        .run()
        .success()
        .stdout_contains("b (run 1) reads out/d/f.txt")
        .stdout_contains("out/b.txt");
}

#[test]
fn the_reader_depends_on_the_file_it_reads_not_on_the_rest_of_the_directory() {
    let built = workspace().build(&[]).run().success();
    let other_file_changed = built
        .again()
        .file("params.yaml", "other: 2\n")
        .build(&[])
        .run()
        .success();
    let report = other_file_changed.report();
    assert_eq!(report.ran(), vec!["a"], "{report}");
    assert_eq!(report.cached(), vec!["b"], "{report}");
    let read_file_changed = other_file_changed
        .again()
        .file("data/raw.txt", "changed\n")
        .build(&[])
        .run()
        .success();
    let report = read_file_changed.report();
    assert_eq!(report.ran(), vec!["a", "b"], "{report}");
    assert!(report.reasons("b").contains("out/d/f.txt"), "{report}");
    assert_eq!(read_file_changed.read("out/b.txt"), "changed\n");
}

#[test]
fn a_file_missing_from_an_output_directory_is_blamed_on_the_directory() {
    Test::new()
        .manifest(
            r#"
step "a" { cmd "mkdir -p out/d && echo hi > out/d/other.txt"; outputs "out/d/"; }
step "b" { cmd "cat out/d/f.txt > out/b.txt"; inputs "out/d/f.txt"; outputs "out/b.txt"; }
"#,
        )
        .args(&["build"])
        .run()
        .code(1)
        .stderr_contains("input `out/d/f.txt` is missing: `a` wrote `out/d/` without it");
}
