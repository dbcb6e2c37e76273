//! A `cache push` (or a build) killed while it writes to a shared-directory remote leaves a
//! temporary file there. The next writer sweeps those that are stale, wherever zenbuild
//! put them, and leaves alone a fresh one, which a live writer on another machine may still
//! be filling; none is ever taken for an entry.

mod common;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{file_url, remote_user};

/// A temporary file at `path` whose contents last changed `age` ago.
fn leftover(path: &Path, age: Duration) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, b"half a blo").expect("write");
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::now() - age))
        .expect("date it back");
}

/// Every file under `dir` whose name ends in `.tmp`.
fn temp_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".tmp") {
                found.push(path.display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn a_killed_cache_push_leaves_no_temp_files_in_a_directory_remote_for_long() {
    let shared = tempfile::tempdir().unwrap();
    let root = shared.path();
    let digest = "ab".repeat(32);
    let two_hours = Duration::from_hours(2);
    // What killed writers left: in `cas/` and `ac/` beside the entries (where zenbuild
    // wrote them first), in `tmp/`; and one that a live writer is filling now.
    let stale = [
        root.join(format!("cas/.{digest}.4242.0.tmp")),
        root.join(format!("ac/.{digest}.4242.1.tmp")),
        root.join(format!("tmp/{digest}.4242.2.tmp")),
    ];
    for path in &stale {
        leftover(path, two_hours);
    }
    let live = root.join(format!("tmp/{digest}.4343.0.tmp"));
    leftover(&live, Duration::ZERO);

    let a = remote_user(&file_url(root), "")
        .build(&["--no-remote"])
        .run()
        .success();
    let a = a.again().args(&["cache", "push"]).run().success();
    assert_eq!(
        temp_files(root),
        [live.display().to_string()],
        "{}",
        a.dump()
    );
    for path in &stale {
        assert!(
            !path.exists(),
            "{} is still there\n{}",
            path.display(),
            a.dump()
        );
    }

    // What was pushed is whole and is what another user restores.
    let b = remote_user(&file_url(root), "").build(&[]).run().success();
    assert_eq!(b.report().cached(), ["prepare", "train"], "{}", b.report());
    assert_eq!(b.read("out/model.txt"), a.read("out/model.txt"));
}
