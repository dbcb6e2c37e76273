//! What a build shows of what its steps printed: a failure shows the end of its output
//! (stdout and stderr as written) and names only a log that exists; a step that ran shows
//! its output under its line, one block at a time; `-q` hides that, `-v` replays the output
//! of cached steps, kept with their results (the last MiB of it).

mod common;
use common::{Output, Test};

/// The lines the build printed right after the line holding `line`, up to the next line that is not indented.
fn block_after(out: &Output, line: &str) -> Vec<String> {
    let lines: Vec<&str> = out.stderr.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains(line))
        .unwrap_or_else(|| panic!("no line ending in {line:?}:\n{}", out.stderr));
    lines[start + 1..]
        .iter()
        .take_while(|l| l.starts_with("    "))
        .map(ToString::to_string)
        .collect()
}

/// The path of every `log: PATH` line.
fn logs_named(out: &Output) -> Vec<String> {
    out.stderr
        .lines()
        .filter_map(|line| line.trim().strip_prefix("log: "))
        .map(str::to_string)
        .collect()
}

fn failing(cmd: &str) -> Output {
    Test::new()
        .manifest(&format!("step \"s\" {{ cmd \"{cmd}\"; }}"))
        .build(&[])
        .run()
        .code(1)
}

#[test]
fn a_failing_step_that_printed_only_to_stdout_shows_it() {
    let out = failing("echo only on stdout; exit 1");
    let block = block_after(&out, "FAILED s: exited with code 1");
    assert_eq!(block[0], "    only on stdout", "{}", out.stderr);
    let logs = logs_named(&out);
    assert_eq!(logs.len(), 1, "{}", out.stderr);
    assert!(std::path::Path::new(&logs[0]).is_file(), "{logs:?}");
}

#[test]
fn a_failing_step_that_printed_only_to_stderr_shows_it() {
    let out = failing("echo only on stderr >&2; exit 1");
    assert_eq!(
        block_after(&out, "FAILED s: exited with code 1")[0],
        "    only on stderr"
    );
    let logs = logs_named(&out);
    assert!(std::path::Path::new(&logs[0]).is_file(), "{logs:?}");
}

#[test]
fn a_failing_step_shows_stdout_and_stderr_in_the_order_written() {
    let out = failing("echo out 1; echo err 1 >&2; echo out 2; echo err 2 >&2; exit 1");
    let block = block_after(&out, "FAILED s: exited with code 1");
    assert_eq!(
        block[..4],
        ["    out 1", "    err 1", "    out 2", "    err 2"],
        "{}",
        out.stderr
    );
}

#[test]
fn a_failing_step_that_printed_nothing_names_no_log() {
    let out = failing("exit 1");
    assert!(logs_named(&out).is_empty(), "{}", out.stderr);
    assert!(
        block_after(&out, "FAILED s: exited with code 1").is_empty(),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failing_step_that_printed_a_lot_shows_its_last_lines_and_says_so() {
    let out = failing("seq 1 100000; exit 1");
    let block = block_after(&out, "FAILED s: exited with code 1");
    assert_eq!(block[0], "    (99980 earlier lines not shown)", "{block:?}");
    assert_eq!(block[1], "    99981");
    assert_eq!(block[20], "    100000");
    assert!(block[21].starts_with("    log: "), "{block:?}");
    assert_eq!(block.len(), 22);
}

const TWO_PRINTING: &str = r#"
step "a" { cmd "echo a1; sleep 0.3; echo a2 >&2; sleep 0.3; echo a3"; }
step "b" { cmd "echo b1; sleep 0.2; echo b2 >&2; sleep 0.2; echo b3"; }
step "silent" { cmd "true"; }
"#;

#[test]
fn steps_that_ran_show_what_they_printed_one_block_each() {
    let out = Test::new()
        .manifest(TWO_PRINTING)
        .build(&["-j", "3"])
        .run()
        .success();
    assert_eq!(block_after(&out, "ran a (").len(), 3, "{}", out.stderr);
    let a = out.stderr.find("ran a").unwrap();
    assert!(
        out.stderr[a..].contains("\n    a1\n    a2\n    a3\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("\n    b1\n    b2\n    b3\n"),
        "{}",
        out.stderr
    );
    let silent = out
        .stderr
        .lines()
        .position(|line| line.contains("ran silent"))
        .unwrap();
    let next = out.stderr.lines().nth(silent + 1).unwrap();
    assert!(!next.starts_with("    "), "{}", out.stderr);
}

#[test]
fn quiet_hides_what_steps_that_succeeded_printed_but_not_a_failure() {
    let manifest = r#"
step "ok" { cmd "echo FutureWarning: deprecated"; }
step "bad" { cmd "echo Traceback; exit 1"; }
"#;
    let out = Test::new()
        .manifest(manifest)
        .build(&["-q", "-k"])
        .run()
        .code(1)
        .stderr_contains("ran ok")
        .stderr_lacks("FutureWarning")
        .stderr_contains("    Traceback");
    out.again()
        .args(&["build", "-q", "-v"])
        .run()
        .code(2)
        .stderr_contains("cannot be used with");
}

#[test]
fn verbose_replays_the_output_of_cached_steps() {
    let out = Test::new()
        .manifest(TWO_PRINTING)
        .build(&[])
        .run()
        .success();
    let again = out.again().build(&[]).run().success();
    assert!(!again.stderr.contains("a1"), "{}", again.stderr);
    let replayed = again.again().build(&["-v"]).run().success();
    assert_eq!(
        block_after(&replayed, "cached a"),
        ["    a1", "    a2", "    a3"],
        "{}",
        replayed.stderr
    );
    assert!(block_after(&replayed, "cached silent").is_empty());
}

#[test]
fn the_output_kept_with_a_result_is_its_last_mebibyte() {
    // About 2 MiB of numbers, then the line a user looks for.
    let manifest = r#"step "loud" { cmd "seq 1 300000; echo the end"; }"#;
    let out = Test::new().manifest(manifest).build(&[]).run().success();
    let block = block_after(&out, "ran loud");
    assert_eq!(block[0], "    (earlier lines not shown)");
    assert_eq!(block.last().unwrap(), "    the end");
    let shown: usize = block[1..].iter().map(|line| line.len() - 3).sum();
    assert!(shown <= 1 << 20, "{shown} bytes shown");
    assert!(shown > 1_000_000, "{shown} bytes shown");
    let log = out.read(".zenbuild/logs/loud.log");
    assert!(log.starts_with("1\n2\n"), "the log keeps all of it");

    let replayed = out.again().build(&["-v"]).run().success();
    let again = block_after(&replayed, "cached loud");
    assert_eq!(again.last().unwrap(), "    the end");
    assert!(again.len() <= block.len());
}

#[test]
fn a_result_whose_output_is_gone_is_still_a_hit() {
    let out = Test::new()
        .manifest(TWO_PRINTING)
        .build(&[])
        .run()
        .success();
    let state = zenbuild::workspace::StateDir::of(out.path());
    std::fs::remove_dir_all(state.cas()).unwrap();
    std::fs::remove_dir_all(state.state()).unwrap();
    let replayed = out.again().build(&["-v"]).run().success();
    assert_eq!(replayed.report().cached().len(), 3, "{}", replayed.stderr);
    assert_eq!(
        block_after(&replayed, "cached a"),
        ["    (its output is not in the cache)"]
    );
}

/// A remote that kept a result's outputs but lost what the step printed still serves it.
#[test]
fn a_remote_result_without_its_output_blob_is_a_hit() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().display());
    let manifest = common::remote_manifest(&url, "", "; echo sorted it");
    let a = Test::new()
        .manifest(&manifest)
        .file("data.txt", "b\na\n")
        .build(&[])
        .run()
        .success();
    let key = a.report().action("prepare")["key"]
        .as_str()
        .unwrap()
        .to_string();
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shared.path().join("ac").join(&key)).unwrap())
            .unwrap();
    let log = entry["stdout_digest"]
        .as_str()
        .expect("a log blob")
        .to_string();
    std::fs::remove_file(shared.path().join("cas").join(log)).unwrap();

    let b = Test::new()
        .manifest(&manifest)
        .file("data.txt", "b\na\n")
        .build(&["-v"])
        .run()
        .success();
    let report = b.report();
    assert_eq!(report.cached(), ["prepare", "train"], "{}", b.stderr);
    assert_eq!(
        block_after(&b, "cached prepare (from remote:team)"),
        ["    (its output is not in the cache)"]
    );
    assert_eq!(b.read("out/sorted.txt"), "a\nb\n");
}

/// A result whose output blob this machine no longer has (a `gc`) is pushed all the same,
/// and pulled into a workspace that then builds nothing.
#[test]
fn push_and_pull_move_a_result_whose_output_blob_is_gone() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().display());
    let manifest = common::remote_manifest(&url, "", "; echo sorted it");
    let a = Test::new()
        .manifest(&manifest)
        .file("data.txt", "b\na\n")
        .build(&["--no-remote"])
        .run()
        .success();
    let key = a.report().action("prepare")["key"]
        .as_str()
        .unwrap()
        .to_string();
    let entry_path = zenbuild::workspace::StateDir::of(a.path())
        .ac()
        .join(format!("{}/{key}.json", &key[..2]));
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(entry_path).unwrap()).unwrap();
    let log = entry["stdout_digest"]
        .as_str()
        .expect("a log blob")
        .to_string();
    std::fs::remove_file(
        zenbuild::workspace::StateDir::of(a.path())
            .cas()
            .join(format!("{}/{log}", &log[..2])),
    )
    .unwrap();
    a.again()
        .args(&["cache", "push"])
        .run()
        .success()
        .stdout_contains("pushed 2 of 2 actions");
    assert!(!shared.path().join("cas").join(&log).exists());

    let b = Test::new()
        .manifest(&manifest)
        .file("data.txt", "b\na\n")
        .args(&["cache", "pull"])
        .run()
        .success()
        .stdout_contains("now in the local cache: 2 of 2 actions");
    let b = b.again().build(&["--no-remote", "-v"]).run().success();
    assert_eq!(b.report().cached(), ["prepare", "train"], "{}", b.stderr);
    assert_eq!(
        block_after(&b, "cached prepare"),
        ["    (its output is not in the cache)"]
    );
}
