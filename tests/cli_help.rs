//! `--help` and `--version`.

mod common;
use common::Test;

#[test]
fn help_lists_every_subcommand() {
    let out = Test::new().args(&["--help"]).run().success();
    for (command, summary) in [
        ("check", "Validate zenbuild.kdl and print a summary"),
        ("graph", "Print the resolved action graph"),
        ("list", "List pipelines and their step instances"),
        (
            "init",
            "Write a starter zenbuild.kdl and git-ignore .zenbuild/",
        ),
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|line| line.trim_start().starts_with(command) && line.contains(summary)),
            "--help lacks `{command}`\n{}",
            out.dump()
        );
    }
    out.stdout_contains("-C, --directory <DIR>")
        .stdout_contains("--color <WHEN>")
        .stdout_contains(
            "zenbuild reads zenbuild.kdl in the current directory or the nearest parent.",
        );
}

#[test]
fn subcommand_help_describes_its_options() {
    Test::new()
        .args(&["graph", "--help"])
        .run()
        .success()
        .stdout_contains("--format <FORMAT>")
        .stdout_contains("[TARGETS]...");
}

#[test]
fn version() {
    Test::new()
        .args(&["--version"])
        .run()
        .success()
        .stdout_contains(&format!("zenbuild {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    Test::new()
        .args(&["biuld"])
        .run()
        .bad_manifest()
        .stderr_contains("unrecognized subcommand 'biuld'");
}
