//! The conventions a command-line tool is expected to follow: shell completions, a manual
//! page, and help that works without the source tree (`zenbuild help manifest`).

mod common;
use std::io::Write;
use std::process::{Command, Stdio};

use common::{Output, Test};

/// Feeds `input` to `program args…` and returns (success, stdout, stderr).
fn pipe(program: &str, args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn completions(shell: &str) -> Output {
    Test::new()
        .without_git()
        .args(&["completions", shell])
        .run()
        .success()
}

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = completions(shell);
        assert!(out.stdout.len() > 1000, "{shell}: {}", out.dump());
        for subcommand in ["build", "lineage", "metrics", "completions", "man"] {
            assert!(
                out.stdout.contains(subcommand),
                "{shell} completion lacks `{subcommand}`\n{}",
                out.dump()
            );
        }
    }
}

#[test]
fn bash_accepts_the_bash_completion() {
    if !Test::has_program("bash") {
        return;
    }
    let script = completions("bash").stdout;
    let (ok, _, stderr) = pipe("bash", &["-n"], &script);
    assert!(ok, "bash -n rejects the completion script: {stderr}");
    // Sourcing it registers the function for `zenbuild`.
    let check = format!("{script}\ncomplete -p zenbuild\n");
    let (ok, stdout, stderr) = pipe("bash", &[], &check);
    assert!(ok && stdout.contains("zenbuild"), "{stdout}{stderr}");
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    Test::new()
        .without_git()
        .args(&["completions", "tcsh"])
        .run()
        .code(2)
        .stderr_contains("invalid value 'tcsh'");
}

#[test]
fn man_prints_a_roff_page_that_man_renders() {
    let out = Test::new().without_git().args(&["man"]).run().success();
    assert!(
        out.stdout.contains(".TH zenbuild 1"),
        "no roff title header\n{}",
        out.dump()
    );
    assert!(out.stdout.contains(".SH NAME"), "{}", out.dump());
    assert!(out.stdout.contains("completions"), "{}", out.dump());
    if !Test::has_program("man") {
        return;
    }
    let (ok, rendered, stderr) = pipe("man", &["-l", "-"], &out.stdout);
    assert!(ok, "man -l - failed: {stderr}");
    assert!(rendered.contains("NAME"), "{rendered}");
    assert!(rendered.contains("SYNOPSIS"), "{rendered}");
    assert!(
        !rendered.contains(".TH"),
        "roff left unrendered: {rendered}"
    );
}

#[test]
fn help_manifest_summarises_the_language() {
    Test::new()
        .without_git()
        .args(&["help", "manifest"])
        .run()
        .success()
        .stdout_contains("KDL 2.0")
        .stdout_contains("step \"NAME\" [template=\"T\"]")
        .stdout_contains("{{params.KEY}}")
        .stdout_contains("#true");
}

#[test]
fn help_and_help_of_a_subcommand_still_work() {
    let top = Test::new().without_git().args(&["help"]).run().success();
    let top = top
        .stdout_contains("Usage: zenbuild [OPTIONS] [COMMAND]")
        .stdout_contains("completions")
        .stdout_contains("zenbuild help manifest");
    let flag = Test::new().without_git().args(&["--help"]).run().success();
    assert_eq!(top.stdout, flag.stdout);
    let build = Test::new()
        .without_git()
        .args(&["help", "build"])
        .run()
        .success();
    let flag = Test::new()
        .without_git()
        .args(&["build", "--help"])
        .run()
        .success();
    assert_eq!(build.stdout, flag.stdout);
    Test::new()
        .without_git()
        .args(&["help", "cache", "push"])
        .run()
        .success()
        .stdout_contains("Usage: zenbuild cache push");
    Test::new()
        .without_git()
        .args(&["help", "nonesuch"])
        .run()
        .code(2)
        .stderr_contains("no help topic `nonesuch`");
}

#[test]
fn init_points_at_help_manifest_not_at_a_source_file() {
    let out = Test::new().without_git().args(&["init"]).run().success();
    let manifest = out.read("zenbuild.kdl");
    assert!(manifest.contains("zenbuild help manifest"), "{manifest}");
    assert!(!manifest.contains("GRAMMAR.md"), "{manifest}");
}
