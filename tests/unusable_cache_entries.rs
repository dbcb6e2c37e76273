//! An entry of this machine's own cache can be wrong too: edited by hand, written by an older
//! zenbuild with another idea of the outputs, or by a disk fault. One that cannot be restored
//! is a miss that is reported once and dropped, so the step reruns and every later build
//! works; one that restores other (valid) bytes than `zenbuild.lock` recorded for the same key
//! is restored, and the disagreement is said.

mod common;
use common::Test;
use serde_json::{Value, json};

const PIPELINE: &str = r#"
step "a" { cmd "cat src.txt > out/a.txt"; inputs "src.txt"; outputs "out/a.txt"; }
step "b" { cmd "cat out/a.txt out/a.txt > out/b.txt"; inputs "out/a.txt"; outputs "out/b.txt"; }
"#;

fn built() -> common::Output {
    Test::new()
        .manifest(PIPELINE)
        .file("src.txt", "source\n")
        .build(&[])
        .run()
        .success()
}

/// Rewrites the local action-cache entry of `action` with `edit`.
fn edit_entry(out: &common::Output, action: &str, edit: impl FnOnce(&mut Value)) {
    let report = out.report();
    let key = report.action(action)["key"].as_str().unwrap().to_string();
    let path = zenbuild::workspace::StateDir::of(out.path())
        .ac()
        .join(format!("{}/{key}.json", &key[..2]));
    let mut entry: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut entry);
    std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();
}

/// The entry is a miss, the warning comes once, the step reruns, and the build after it finds
/// a good entry (a cached, restored, nothing to say).
fn reruns_then_recovers(out: common::Output, problem: &str) {
    let out = out
        .again()
        .remove("out")
        .build(&["--no-remote"])
        .run()
        .success()
        .stderr_contains_once("the cached result of `a` (key")
        .stderr_contains_once(problem);
    let report = out.report();
    assert_eq!(report.status("a"), "ran", "{report}");
    assert!(report.reasons("a").contains("cannot be used"), "{report}");
    assert_eq!(out.read("out/b.txt"), "source\nsource\n");
    let out = out
        .again()
        .remove("out")
        .build(&[])
        .run()
        .success()
        .stderr_lacks("cannot be used");
    assert_eq!(out.report().cached(), ["a", "b"]);
    assert_eq!(out.read("out/a.txt"), "source\n");
}

/// Counted as a hit forever: `b` then failed on every build with "input `out/a.txt` is
/// missing", even with --no-remote.
#[test]
fn an_entry_missing_a_declared_output_is_a_miss_not_a_hit_forever() {
    let out = built();
    edit_entry(&out, "a", |entry| entry["output_files"] = json!([]));
    reruns_then_recovers(
        out,
        "`out/a.txt` is declared, but the result does not hold it",
    );
}

/// A path that is refused made every later build fail with "cannot restore its outputs".
#[test]
fn an_entry_with_a_refused_path_is_a_miss_not_a_failure_forever() {
    let out = built();
    edit_entry(&out, "a", |entry| {
        entry["output_files"][0]["path"] = json!("/tmp/elsewhere.txt");
    });
    reruns_then_recovers(
        out,
        "`/tmp/elsewhere.txt` is not an output the step declares",
    );
}

/// Pointed at another blob that is in the store and whole: restored, since nothing on this
/// machine can tell it from a step that is not deterministic, but `zenbuild.lock` held
/// another digest for the same key, and the build says so (it used to rewrite the lockfile
/// without a word). `verify` settles it.
#[test]
fn a_local_entry_that_disagrees_with_the_lockfile_is_reported() {
    let out = built();
    let locked_before = out.read("zenbuild.lock");
    let other = out.report().output("b", "out/b.txt");
    edit_entry(&out, "a", |entry| {
        entry["output_files"][0]["digest"] = json!(other);
        entry["output_files"][0]["size"] = json!("source\nsource\n".len());
    });
    let out = out
        .again()
        .remove("out")
        .build(&[])
        .run()
        .success()
        .stderr_contains_once("the cache and zenbuild.lock disagree about what `a` makes")
        .stderr_contains("`zenbuild verify a`");
    assert_eq!(out.report().status("a"), "cached");
    assert_eq!(out.read("out/a.txt"), "source\nsource\n");
    assert_ne!(out.read("zenbuild.lock"), locked_before);
    out.again()
        .args(&["verify", "a"])
        .run()
        .code(1)
        .stderr_contains("a: differs");
}

/// `verify` puts the cached outputs back after its rerun: the same entry that a build refuses
/// must not be restored by it either.
#[test]
fn verify_never_restores_an_entry_a_build_would_refuse() {
    let out = built();
    let digest = {
        let report = out.report();
        report.output("a", "out/a.txt")
    };
    edit_entry(&out, "a", |entry| {
        let files = entry["output_files"].as_array_mut().unwrap();
        files.push(json!({
            "path": ".git/hooks/pre-commit", "digest": digest, "size": 7, "executable": true
        }));
    });
    let out = out
        .again()
        .args(&["verify", "a"])
        .run()
        .stderr_contains("its cached result cannot be used");
    assert!(!out.exists(".git/hooks/pre-commit"));
}
