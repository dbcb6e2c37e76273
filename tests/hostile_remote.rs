//! A teammate's cache entry is untrusted. The fixture is a shared-directory remote whose
//! entries the test rewrites as an attacker would: each rewrite must be a miss that the build
//! reports once, the step runs instead, and nothing outside the declared outputs changes by a
//! byte — not the workspace's sources, not `.git`, not a directory beside the workspace.
//! Once the honest result has been uploaded again, the next teammate gets it from the remote.

mod common;
use std::path::Path;

use common::Test;
use common::snapshot::snapshot;
use serde_json::{Value, json};

fn manifest(remote: &Path) -> String {
    format!(
        r#"
remote "team" url="file://{}"
step "a" {{
    cmd "cat src.txt > out/a.txt"
    inputs "src.txt"
    outputs "out/a.txt"
}}
step "d" {{
    cmd "mkdir -p out/d/sub && echo x > out/d/sub/x.txt && ln -s sub/x.txt out/d/link"
    outputs "out/d/"
}}
step "b" {{
    cmd "cat out/a.txt out/d/link > out/b.txt"
    inputs "out/a.txt" "out/d/"
    outputs "out/b.txt"
}}
"#,
        remote.display()
    )
}

/// A teammate's workspace: the manifest, its source, a git repository and an `out/`.
fn teammate(remote: &Path) -> Test {
    Test::new()
        .manifest(&manifest(remote))
        .file("src.txt", "source\n")
        .file(".gitignore", ".zenbuild/\nout/\n")
        .dir("out")
}

/// What the build may change: the declared outputs and zenbuild's own directory.
const MAY_CHANGE: &[&str] = &[
    ".zenbuild",
    "out/a.txt",
    "out/d",
    "out/b.txt",
    "zenbuild.lock",
];

/// The remote's entry for `key`, rewritten by `edit`.
fn tamper(remote: &Path, key: &str, edit: impl FnOnce(&mut Value)) {
    let path = remote.join("ac").join(key);
    let mut entry: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read the remote's entry"))
            .expect("the entry is JSON");
    edit(&mut entry);
    std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).expect("rewrite the entry");
}

struct Fixture {
    remote: tempfile::TempDir,
    /// Beside the workspace: where an escaping link points.
    outside: tempfile::TempDir,
    /// The keys of a, d and b as the honest build made them.
    keys: [String; 3],
    /// The digest of `out/d/sub/x.txt`, a blob the remote holds.
    x_blob: String,
    /// What the honest build left in the outputs.
    honest: [String; 2],
}

fn fixture() -> Fixture {
    let remote = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("data")).unwrap();
    std::fs::write(outside.path().join("data/keep.txt"), "precious\n").unwrap();
    let honest = teammate(remote.path()).build(&[]).run().success();
    let report = honest.report();
    let key = |name: &str| report.action(name)["key"].as_str().unwrap().to_string();
    let d_result = remote.path().join("ac").join(key("d"));
    let d_entry: Value = serde_json::from_slice(&std::fs::read(d_result).unwrap()).unwrap();
    let x_blob = d_entry["output_directories"][0]["files"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    Fixture {
        keys: [key("a"), key("d"), key("b")],
        x_blob,
        honest: [honest.read("out/a.txt"), honest.read("out/b.txt")],
        remote,
        outside,
    }
}

/// A fresh teammate builds against the tampered remote: `action` runs because its entry
/// cannot be used, the warning says `problem` once, the outputs are the honest ones, and
/// nothing else changed, in the workspace or beside it. Then a third teammate gets every
/// result from the remote, which the second one's upload repaired.
fn is_refused(fixture: &Fixture, action: &str, problem: &str) {
    let user = teammate(fixture.remote.path());
    let git = |dir: &Path| common::git(dir, &["init", "-q"]);
    git(user.path());
    let before = snapshot(user.path(), MAY_CHANGE);
    let outside_before = snapshot(fixture.outside.path(), &[]);

    let out = user.build(&[]).run().success();
    let out = out
        .stderr_contains_once(&format!(
            "the cached result of `{action}` from remote `team`"
        ))
        .stderr_contains_once(problem);
    let report = out.report();
    assert_eq!(report.status(action), "ran", "{report}");
    assert!(
        report.reasons(action).contains("cannot be used"),
        "{report}"
    );
    assert_eq!(snapshot(out.path(), MAY_CHANGE), before, "{}", out.dump());
    assert_eq!(snapshot(fixture.outside.path(), &[]), outside_before);
    assert!(
        std::fs::symlink_metadata(out.path().join("out/a.txt"))
            .unwrap()
            .is_file()
    );
    assert_eq!(out.read("out/a.txt"), fixture.honest[0]);
    assert_eq!(out.read("out/b.txt"), fixture.honest[1]);
    assert_eq!(out.read("out/d/link"), "x\n");
    let listed: Vec<_> = std::fs::read_dir(out.path().join("out"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(listed, ["a.txt", "b.txt", "d"]);

    let next = teammate(fixture.remote.path()).build(&[]).run().success();
    let report = next.report();
    assert_eq!(report.cached(), ["a", "d", "b"], "{report}");
    assert_eq!(report.action(action)["source"], "remote:team", "{report}");
}

#[test]
fn a_remote_entry_that_writes_a_git_hook_is_refused() {
    let fixture = fixture();
    tamper(fixture.remote.path(), &fixture.keys[0], |entry| {
        let files = entry["output_files"].as_array_mut().unwrap();
        files.push(json!({
            "path": ".git/hooks/pre-commit", "digest": fixture.x_blob, "size": 2, "executable": true
        }));
    });
    is_refused(
        &fixture,
        "a",
        "`.git/hooks/pre-commit` is not an output the step declares",
    );
}

#[test]
fn a_remote_entry_that_overwrites_a_source_file_is_refused() {
    let fixture = fixture();
    tamper(fixture.remote.path(), &fixture.keys[0], |entry| {
        let files = entry["output_files"].as_array_mut().unwrap();
        files.push(json!({
            "path": "src.txt", "digest": fixture.x_blob, "size": 2, "executable": false
        }));
    });
    is_refused(
        &fixture,
        "a",
        "`src.txt` is not an output the step declares",
    );
}

/// A symlink in a directory output to a directory beside the workspace, and a file to be
/// written through it.
#[test]
fn a_remote_entry_that_writes_through_its_own_symlink_is_refused() {
    let fixture = fixture();
    let outside = fixture.outside.path().display().to_string();
    tamper(fixture.remote.path(), &fixture.keys[1], |entry| {
        let links = entry["output_directories"][0]["symlinks"]
            .as_array_mut()
            .unwrap();
        links.push(json!({ "path": "s", "target": outside }));
        let files = entry["output_files"].as_array_mut().unwrap();
        files.push(json!({
            "path": "out/d/s/data/keep.txt", "digest": fixture.x_blob, "size": 2, "executable": false
        }));
    });
    is_refused(
        &fixture,
        "d",
        "`out/d/s/data/keep.txt` is not an output the step declares",
    );
}

/// The output itself a symlink to a file of this machine: the next step would read it, and
/// its result would be shared.
#[test]
fn a_remote_entry_whose_output_links_out_of_the_workspace_is_refused() {
    let fixture = fixture();
    tamper(fixture.remote.path(), &fixture.keys[0], |entry| {
        entry["output_files"] = json!([]);
        entry["output_symlinks"] = json!([{ "path": "out/a.txt", "target": "/etc/hostname" }]);
    });
    is_refused(
        &fixture,
        "a",
        "`out/a.txt` is a symlink to `/etc/hostname`, outside the workspace",
    );
}

#[test]
fn a_remote_entry_whose_directory_links_out_of_it_is_refused() {
    let fixture = fixture();
    tamper(fixture.remote.path(), &fixture.keys[1], |entry| {
        entry["output_directories"][0]["symlinks"][0]["target"] = json!("../../src.txt");
    });
    is_refused(
        &fixture,
        "d",
        "`out/d/link` is a symlink to `../../src.txt`, outside its output directory `out/d/`",
    );
}

/// A listing whose files are not the tree its digest names: dependents' keys are made of
/// that digest, so it would give them a cached result for other inputs.
#[test]
fn a_remote_entry_whose_listing_is_not_its_tree_is_refused() {
    let fixture = fixture();
    // Another blob the remote holds: `a`'s output, `source\n`.
    let a: Value = serde_json::from_slice(
        &std::fs::read(fixture.remote.path().join("ac").join(&fixture.keys[0])).unwrap(),
    )
    .unwrap();
    let other = a["output_files"][0]["digest"].clone();
    tamper(fixture.remote.path(), &fixture.keys[1], |entry| {
        entry["output_directories"][0]["files"][0]["digest"] = other;
        entry["output_directories"][0]["files"][0]["size"] = json!("source\n".len());
    });
    is_refused(&fixture, "d", "does not list the tree");
}
