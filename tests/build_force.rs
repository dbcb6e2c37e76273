//! `--force TARGET…` and `--force-all`: named actions rerun even when cached, what their new
//! outputs change reruns by the usual rules, and the new results replace the cached ones.

mod common;
use common::Test;

/// `fetch` copies `remote.txt`, which it does not declare (a database, a URL: what a user
/// forces a rerun for), so changing that file changes no key. `train` reads what `fetch`
/// wrote; `other` reads neither. `fit` has an instance per `n`.
const MANIFEST: &str = r#"
pipeline "all" default=#true {
    use "fetch" "train" "other" "fit"
}
step "fetch" {
    cmd "cat remote.txt > out/data.txt"
    outputs "out/data.txt"
}
step "train" {
    cmd "cat out/data.txt out/data.txt > out/model.txt"
    inputs "out/data.txt"
    outputs "out/model.txt"
}
step "other" {
    cmd "printf other > out/other.txt"
    outputs "out/other.txt"
}
step "fit" {
    matrix {
        n 1 2
    }
    cmd "cat remote.txt > out/fit-{{n}}.txt"
    outputs "out/fit-{{n}}.txt"
}
"#;

fn built() -> Test {
    Test::new()
        .manifest(MANIFEST)
        .file("remote.txt", "v1\n")
        .build(&[])
        .run()
        .success()
        .again()
}

/// Before `--force` there was no way to rerun a cached step: the option was refused.
#[test]
fn force_reruns_a_cached_step_and_what_its_new_output_changes() {
    let test = built().file("remote.txt", "v2\n");
    let out = test.build(&[]).run().success();
    assert_eq!(
        out.report().ran(),
        Vec::<String>::new(),
        "nothing changed a key"
    );

    let out = out.again().build(&["--force", "fetch"]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["fetch", "train"], "{report}");
    assert_eq!(report.reasons("fetch"), "forced");
    assert!(
        report.reasons("train").contains("out/data.txt changed"),
        "{report}"
    );
    assert_eq!(report.cached(), ["other", "fit@n=1", "fit@n=2"]);
    assert_eq!(out.read("out/model.txt"), "v2\nv2\n");
}

#[test]
fn a_forced_rerun_that_writes_the_same_bytes_leaves_downstream_cached() {
    let out = built().build(&["--force", "fetch"]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["fetch"], "{report}");
    assert_eq!(report.cached(), ["train", "other", "fit@n=1", "fit@n=2"]);
}

/// The old result must not come back from the local cache once the outputs are gone.
#[test]
fn the_forced_result_replaces_the_cached_one() {
    let out = built()
        .file("remote.txt", "v2\n")
        .build(&["--force", "fetch"])
        .run()
        .success();
    let out = out.again().remove("out").build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), Vec::<String>::new(), "{report}");
    assert_eq!(out.read("out/data.txt"), "v2\n");
    assert_eq!(out.read("out/model.txt"), "v2\nv2\n");
}

#[test]
fn force_takes_step_instances_pipelines_and_several_targets() {
    let out = built()
        .build(&["--force", "fit@n=2", "other"])
        .run()
        .success();
    assert_eq!(out.report().ran(), ["other", "fit@n=2"]);

    let out = out.again().build(&["--force", "fit"]).run().success();
    assert_eq!(out.report().ran(), ["fit@n=1", "fit@n=2"]);

    let out = out.again().build(&["--force", "all"]).run().success();
    assert_eq!(
        out.report().ran(),
        ["fetch", "train", "other", "fit@n=1", "fit@n=2"]
    );

    // Build targets before `--force`: `train` is built (with `fetch`), `fetch` forced.
    let out = out
        .again()
        .build(&["train", "--force", "fetch"])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.names(), ["fetch", "train"], "{report}");
    assert_eq!(report.ran(), ["fetch"], "{report}");
}

#[test]
fn force_all_reruns_every_action_of_the_build() {
    let out = built().build(&["train", "--force-all"]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["fetch", "train"], "{report}");
    assert_eq!(report.reasons("train"), "forced");

    // A bare `zenbuild` takes the build options too.
    let out = out.again().args(&["--force-all"]).run().success();
    assert!(out.stderr.contains("5 ran, 0 cached"), "{}", out.stderr);
}

/// The lineage says why the action ran, and `show` prints it.
#[test]
fn the_run_records_that_the_action_was_forced() {
    let out = built().build(&["--force", "other"]).run().success();
    let shown = out
        .again()
        .args(&["show", "--format", "json"])
        .run()
        .success();
    let actions = shown.json()["actions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let other = actions
        .iter()
        .find(|action| action["name"] == "other")
        .unwrap_or_else(|| panic!("no `other` in {}", shown.stdout));
    assert_eq!(other["status"], "ran");
    assert_eq!(other["reasons"], serde_json::json!(["forced"]));
    shown
        .again()
        .args(&["show"])
        .run()
        .success()
        .stdout_contains("other")
        .stdout_contains("forced");
}

#[test]
fn plan_and_explain_say_what_a_forced_build_would_run() {
    let test = built();
    let out = test.args(&["plan", "--force", "fetch"]).run().success();
    assert!(
        out.stdout.contains("fetch: runs because forced"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("train: decided after `fetch` runs"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("other: cached"), "{}", out.stdout);
    let out = out.again().args(&["plan", "--force-all"]).run().success();
    assert!(
        out.stdout.contains("train: runs because forced"),
        "{}",
        out.stdout
    );
    out.again()
        .args(&["explain", "other", "--force", "other"])
        .run()
        .success()
        .stdout_contains("other: runs because forced");
}

#[test]
fn a_forced_target_that_is_unknown_or_outside_the_build_is_an_error() {
    let test = built();
    let out = test.build(&["--force", "fech"]).run().code(2);
    assert!(out.stderr.contains("`--force fech`"), "{}", out.stderr);
    assert!(
        out.stderr.contains("did you mean `fetch`"),
        "{}",
        out.stderr
    );
    out.again()
        .build(&["other", "--force", "train"])
        .run()
        .code(2)
        .stderr_contains("`train` is not part of this build");
}

/// A remote the build writes to gets the forced result, so a teammate's clone restores the
/// new one, not the one it replaced.
#[test]
fn the_forced_result_goes_to_the_remote_the_build_writes_to() {
    let remote = tempfile::tempdir().expect("a remote directory");
    let manifest = format!(
        "remote \"team\" url=\"file://{}\"\nstep \"fetch\" {{ cmd \"cat remote.txt > out/data.txt\"; outputs \"out/data.txt\" }}\n",
        remote.path().display()
    );
    let user = |text: &str| Test::new().manifest(&manifest).file("remote.txt", text);
    user("v1\n").build(&[]).run().success();
    let forced = user("v1\n").build(&[]).run().success();
    assert_eq!(forced.report().cached(), ["fetch"]);
    let forced = forced
        .again()
        .file("remote.txt", "v2\n")
        .build(&["--force", "fetch"])
        .run()
        .success();
    assert_eq!(forced.report().ran(), ["fetch"]);

    // A clone with an empty local cache, whose undeclared file still says v1.
    let clone = user("v1\n").build(&[]).run().success();
    assert_eq!(clone.report().cached(), ["fetch"], "{}", clone.report());
    assert_eq!(clone.read("out/data.txt"), "v2\n");
}
