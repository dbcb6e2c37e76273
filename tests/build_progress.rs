//! The live view of a build: on a terminal, a bar with the elapsed time of each running step
//! and an estimate of what is left, from the durations the lineage recorded for the same
//! actions; in a log or CI, plain lines and nothing redrawn.

mod common;
use common::Test;

const SLOW: &str =
    r#"step "slow" { cmd "sleep 1.5; cat in.txt > out.txt"; inputs "in.txt"; outputs "out.txt"; }"#;

#[test]
fn off_a_terminal_the_build_prints_plain_lines_without_a_bar_or_estimate() {
    let out = Test::new()
        .manifest(SLOW)
        .file("in.txt", "one")
        .build(&[])
        .run()
        .success();
    let out = out.again().file("in.txt", "two").build(&[]).run().success();
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(lines[0].starts_with("[1/1] ran slow ("), "{}", out.stderr);
    assert!(
        lines[1].starts_with("zenbuild: 1 action: 1 ran"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("ETA"), "{}", out.stderr);
    assert!(!out.stderr.contains('\r'), "{}", out.stderr);
}

/// The second build of a step that took 1.5 s shows, while it runs, how long it has run and
/// how long the build has left.
#[test]
fn on_a_terminal_the_bar_shows_each_running_step_and_an_estimate() {
    if !Test::has_program("script") {
        eprintln!("skipped: `script` is not installed");
        return;
    }
    let first = Test::new()
        .manifest(SLOW)
        .file("in.txt", "one")
        .env_remove("CI")
        .terminal()
        .args(&["build"])
        .run()
        .success();
    assert!(
        !first.stdout.contains("ETA"),
        "no history yet: {}",
        first.stdout
    );
    let second = first
        .again()
        .file("in.txt", "two")
        .env_remove("CI")
        .terminal()
        .args(&["build"])
        .run()
        .success();
    assert!(second.stdout.contains("ETA "), "{}", second.stdout);
    assert!(second.stdout.contains("· slow "), "{}", second.stdout);
}
