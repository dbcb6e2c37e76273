//! The workspace the remote-execution benches time: `ACTIONS` steps, each `cat` of a 1 KiB
//! source into an output, so that what is timed is each action's trip, not its work.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

pub const ACTIONS: usize = 50;

/// The steps, each on `executor`, after the manifest's `header` (its remote and executor).
pub fn manifest(header: &str, executor: &str) -> String {
    let mut text = format!("{header}\n");
    for i in 0..ACTIONS {
        let _ = writeln!(
            text,
            "step \"s{i}\" {{ executor \"{executor}\"; inputs \"src/{i}.txt\"; outputs \"out/{i}.txt\"; cmd \"cat src/{i}.txt > out/{i}.txt\"; }}"
        );
    }
    text
}

/// A git repository in `dir` with the sources and `manifest`.
pub fn workspace(dir: &Path, manifest: &str) {
    std::fs::create_dir_all(dir.join("src")).expect("a workspace");
    for i in 0..ACTIONS {
        let line = format!("source {i} ");
        std::fs::write(
            dir.join(format!("src/{i}.txt")),
            line.repeat(1024 / line.len()),
        )
        .expect("a source");
    }
    std::fs::write(dir.join("zenbuild.kdl"), manifest).expect("the manifest");
    let out = Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git init");
}
