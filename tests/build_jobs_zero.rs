//! `-j 0` is no limit on how many steps run at once, as in ninja; it used to run them one at
//! a time.

mod common;
use common::Test;

/// `count` steps that each wait (up to 20 s) until every one of them has started: they all
/// succeed only if they all run at the same time.
fn rendezvous(count: usize) -> String {
    let all: Vec<String> = (0..count).map(|n| format!("-e started/{n}")).collect();
    let all = all.join(" -a ");
    (0..count)
        .map(|n| {
            format!(
                "step \"s{n}\" {{\n    cmd \"touch started/{n}; for i in $(seq 400); do [ {all} ] && break; sleep 0.05; done; [ {all} ] && touch out/{n}\"\n    outputs \"out/{n}\"\n}}\n"
            )
        })
        .collect()
}

#[test]
fn jobs_zero_runs_every_ready_step_at_once() {
    // More steps than cores: the default `-j` could not run them all at once either.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let count = cores + 2;
    let out = Test::new()
        .manifest(&rendezvous(count))
        .dir("started")
        .build(&["-j", "0"])
        .run()
        .success();
    assert_eq!(out.report().ran().len(), count, "{}", out.report());
}

#[test]
fn jobs_zero_still_honours_declared_gpus() {
    // Two steps wanting the one GPU there is take turns, whatever `-j` says.
    let out = Test::new()
        .manifest(
            r#"
step "a" {
    cmd "mkdir lock && sleep 0.3 && rmdir lock && touch out/a"
    outputs "out/a"
    resources gpus=1
}
step "b" {
    cmd "mkdir lock && sleep 0.3 && rmdir lock && touch out/b"
    outputs "out/b"
    resources gpus=1
}
"#,
        )
        .build(&["-j", "0", "--gpus", "0"])
        .run()
        .success();
    assert_eq!(out.report().ran(), ["a", "b"]);
}

#[test]
fn help_says_what_jobs_zero_means() {
    let out = Test::new().args(&["build", "--help"]).run().success();
    let text = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("0: no limit, as in ninja"), "{}", out.stdout);
}
