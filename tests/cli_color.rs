//! `--color auto|always|never` and `NO_COLOR` (<https://no-color.org>). `auto` colours only a
//! terminal, so the tests that matter run zenbuild on a pseudo-terminal through `script`.

mod common;
use common::Test;

const ESC: &str = "\x1b[";
const BAD: &str = "pipline \"main\" {}\n";
const GOOD: &str = "pipeline \"main\" {\n    step \"s\" { cmd \"x\"; }\n}\n";

fn has_terminal() -> bool {
    let found = Test::has_program("script");
    if !found {
        println!(
            "note: `script` (util-linux) is not installed; skipping the terminal colour check"
        );
    }
    found
}

#[test]
fn on_a_terminal_auto_colours_errors_and_output() {
    if !has_terminal() {
        return;
    }
    // The control for the tests below: without NO_COLOR, a terminal gets colour.
    Test::new()
        .manifest(BAD)
        .env_remove("NO_COLOR")
        .terminal()
        .args(&["check"])
        .run()
        .bad_manifest()
        .stdout_contains(ESC);
    Test::new()
        .manifest(GOOD)
        .env_remove("NO_COLOR")
        .terminal()
        .args(&["list"])
        .run()
        .success()
        .stdout_contains(ESC);
}

#[test]
fn no_color_turns_colour_off_on_a_terminal() {
    if !has_terminal() {
        return;
    }
    for args in [["check"], ["list"]] {
        for manifest in [BAD, GOOD] {
            Test::new()
                .manifest(manifest)
                .env("NO_COLOR", "1")
                .terminal()
                .args(&args)
                .run()
                .stdout_lacks(ESC)
                .stdout_contains("main");
        }
    }
}

#[test]
fn an_empty_no_color_is_not_set() {
    if !has_terminal() {
        return;
    }
    Test::new()
        .manifest(BAD)
        .env("NO_COLOR", "")
        .terminal()
        .args(&["check"])
        .run()
        .bad_manifest()
        .stdout_contains(ESC);
}

#[test]
fn color_never_turns_colour_off_on_a_terminal() {
    if !has_terminal() {
        return;
    }
    for manifest in [BAD, GOOD] {
        Test::new()
            .manifest(manifest)
            .env_remove("NO_COLOR")
            .terminal()
            .args(&["--color", "never", "check"])
            .run()
            .stdout_lacks(ESC)
            .stdout_contains("main");
    }
}

#[test]
fn color_never_and_no_color_when_piped() {
    Test::new()
        .manifest(BAD)
        .env_remove("NO_COLOR")
        .args(&["--color", "never", "check"])
        .run()
        .bad_manifest()
        .stderr_lacks(ESC)
        .stdout_lacks(ESC);
    Test::new()
        .manifest(BAD)
        .args(&["check", "--color", "auto"])
        .run()
        .bad_manifest()
        .stderr_lacks(ESC)
        .stderr_contains("unknown node `pipline`");
}

#[test]
fn color_always_colours_even_when_piped() {
    Test::new()
        .manifest(BAD)
        .args(&["--color", "always", "check"])
        .run()
        .bad_manifest()
        .stderr_contains(ESC)
        .stderr_contains("unknown node `pipline`");
}
