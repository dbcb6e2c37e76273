//! `zenbuild watch` driving the real binary in the background: each step appends its name to
//! `runs.log` once it has written its output, and the tests edit files and wait (bounded) for the log to show
//! exactly the reruns they expect, then stop the watch with Ctrl-C (SIGINT).

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

mod common;
use common::{Test, wait};

/// a reads a.txt; b reads b.txt; both reads what a and b wrote.
const PIPELINE: &str = r#"
step "a" {
    cmd "cat a.txt > out/a.txt; echo a >> runs.log"
    inputs "a.txt"
    outputs "out/a.txt"
}
step "b" {
    cmd "cat b.txt > out/b.txt; echo b >> runs.log"
    inputs "b.txt"
    outputs "out/b.txt"
}
step "both" {
    cmd "cat out/a.txt out/b.txt > out/both.txt; echo both >> runs.log"
    inputs "out/a.txt" "out/b.txt"
    outputs "out/both.txt"
}
"#;

const LIMIT: Duration = Duration::from_secs(20);

fn runs(root: &Path) -> Vec<String> {
    std::fs::read_to_string(root.join("runs.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until `runs.log` has `count` lines, failing the test after [`LIMIT`].
fn wait_for_runs(root: &Path, count: usize, child: &mut Child) -> Vec<String> {
    let deadline = Instant::now() + LIMIT;
    loop {
        let lines = runs(root);
        if lines.len() >= count {
            return lines;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("zenbuild watch ended ({status}) with runs {lines:?}");
        }
        assert!(Instant::now() < deadline, "only {lines:?} after {LIMIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the watch as Ctrl-C would and returns what it printed on stderr.
fn stop(child: Child) -> String {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    // SAFETY: kill has no memory-safety preconditions; the pid is our own live child's.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let (code, _, stderr) = wait(child);
    assert_eq!(code, Some(0), "quitting is not a failure:\n{stderr}");
    stderr
}

fn write(root: &Path, path: &str, text: &str) {
    std::fs::write(root.join(path), text).expect("write a file");
}

/// Long enough for a notification that should start nothing to have started something.
fn settle() {
    std::thread::sleep(Duration::from_millis(800));
}

fn started() -> (Test, Child) {
    let test = Test::new()
        .manifest(PIPELINE)
        .file("a.txt", "A1")
        .file("b.txt", "B1");
    let mut child = test.spawn(&["watch", "--debounce", "50"]);
    let first = wait_for_runs(test.path(), 3, &mut child);
    assert_eq!(first.len(), 3, "{first:?}");
    (test, child)
}

#[test]
fn an_edit_reruns_exactly_what_it_affects_and_a_touch_nothing() {
    let (test, mut child) = started();
    let root = test.path();
    write(root, "a.txt", "A2");
    let lines = wait_for_runs(root, 5, &mut child);
    assert_eq!(lines[3..], ["a", "both"]);
    assert_eq!(
        std::fs::read_to_string(root.join("out/both.txt")).unwrap(),
        "A2B1"
    );

    // Same bytes: a touch and a rewrite of the same text start nothing.
    let file = std::fs::File::options()
        .write(true)
        .open(root.join("b.txt"))
        .unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    write(root, "b.txt", "B1");
    settle();
    assert_eq!(runs(root).len(), 5, "{:?}", runs(root));
    let stderr = stop(child);
    assert_eq!(
        stderr.matches("changed:").count(),
        1,
        "one cycle after the first build:\n{stderr}"
    );
    assert!(
        stderr.contains("changed: a.txt → 2 actions ran"),
        "{stderr}"
    );
}

#[test]
fn a_save_by_rename_triggers_one_rebuild() {
    let (test, mut child) = started();
    let root = test.path();
    // What vim and JetBrains do: write a new file beside it, then rename it over.
    write(root, "b.txt.tmp", "B2");
    std::fs::rename(root.join("b.txt.tmp"), root.join("b.txt")).unwrap();
    let lines = wait_for_runs(root, 5, &mut child);
    assert_eq!(lines[3..], ["b", "both"]);
    settle();
    assert_eq!(runs(root).len(), 5);
    let stderr = stop(child);
    assert_eq!(stderr.matches("changed:").count(), 1, "{stderr}");
}

#[test]
fn an_invalid_manifest_shows_its_error_and_a_fix_resumes() {
    let (test, mut child) = started();
    let root = test.path();
    write(
        root,
        "zenbuild.kdl",
        "step \"a\" {\n    cmd \"unclosed\n}\n",
    );
    settle();
    let fixed = PIPELINE.replace("cat a.txt > out/a.txt", "cat a.txt a.txt > out/a.txt");
    write(root, "zenbuild.kdl", &fixed);
    let lines = wait_for_runs(root, 5, &mut child);
    assert_eq!(lines[3..], ["a", "both"]);
    assert_eq!(
        std::fs::read_to_string(root.join("out/both.txt")).unwrap(),
        "A1A1B1"
    );
    let stderr = stop(child);
    assert!(
        stderr.contains("zenbuild.kdl:2:"),
        "the error, located:\n{stderr}"
    );
    assert!(
        stderr.contains("the manifest has errors: waiting for it to change"),
        "{stderr}"
    );
    assert!(stderr.contains("changed: zenbuild.kdl →"), "{stderr}");
}

#[test]
fn an_edit_during_a_long_step_stops_and_restarts_it() {
    let manifest = r#"
step "slow" {
    cmd "echo slow-start >> runs.log; sleep 2; cat in.txt > out/slow.txt; echo slow-end >> runs.log"
    inputs "in.txt"
    outputs "out/slow.txt"
}
step "other" {
    cmd "echo other-start >> runs.log; sleep 1; cat other.txt > out/other.txt; echo other-end >> runs.log"
    inputs "other.txt"
    outputs "out/other.txt"
}
"#;
    let test = Test::new()
        .manifest(manifest)
        .file("in.txt", "1")
        .file("other.txt", "o");
    let mut child = test.spawn(&["watch", "--debounce", "50", "-j", "2"]);
    let root = test.path();
    wait_for_runs(root, 2, &mut child);
    write(root, "in.txt", "2");
    let lines = wait_for_runs(root, 5, &mut child);
    settle();
    let lines_after = runs(root);
    let stderr = stop(child);
    let count = |name: &str| lines_after.iter().filter(|l| *l == name).count();
    assert_eq!(count("slow-start"), 2, "{lines:?}\n{stderr}");
    assert_eq!(
        count("slow-end"),
        1,
        "the first run was stopped: {lines_after:?}"
    );
    assert_eq!(
        count("other-start"),
        1,
        "other was not affected: {lines_after:?}"
    );
    assert_eq!(count("other-end"), 1, "and finished: {lines_after:?}");
    assert_eq!(
        std::fs::read_to_string(root.join("out/slow.txt")).unwrap(),
        "2"
    );
    assert!(stderr.contains("1 stopped to rerun"), "{stderr}");
}

#[test]
fn a_directory_input_deleted_and_created_again_is_watched_again() {
    let manifest = r#"
step "list" {
    cmd "find data -type f | sort > out/list.txt; echo list >> runs.log"
    inputs "data/"
    outputs "out/list.txt"
}
"#;
    let test = Test::new().manifest(manifest).file("data/x.csv", "x");
    let mut child = test.spawn(&["watch", "--debounce", "50"]);
    let root = test.path();
    wait_for_runs(root, 1, &mut child);
    std::fs::remove_dir_all(root.join("data")).unwrap();
    settle();
    std::fs::create_dir(root.join("data")).unwrap();
    write(root, "data/y.csv", "y");
    wait_for_runs(root, 2, &mut child);
    settle();
    // The new directory's own watch sees a file added to it.
    write(root, "data/z.csv", "z");
    wait_for_runs(root, 3, &mut child);
    let stderr = stop(child);
    assert_eq!(
        std::fs::read_to_string(root.join("out/list.txt")).unwrap(),
        "data/y.csv\ndata/z.csv\n"
    );
    assert!(stderr.contains("input `data/` does not exist"), "{stderr}");
}
