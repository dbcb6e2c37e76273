//! Restoring only reads the cache, so a cache that may not be written (shared read-only, a
//! read-only mount) still restores: the new file is staged beside the output instead of in
//! the cache's `tmp/`, where creating it used to fail the build.

mod common;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Test;

/// Makes a tree immutable (`chattr +i`, which binds root too, unlike permissions) until
/// dropped.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Option<Immutable> {
        let made = Command::new("chattr")
            .args(["-R", "+i"])
            .arg(path)
            .output()
            .is_ok_and(|output| output.status.success());
        made.then(|| Immutable(path.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr")
            .args(["-R", "-i"])
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_cache_that_cannot_be_written_still_restores() {
    let out = Test::new()
        .manifest(
            r#"
step "a" { cmd "mkdir -p out/d && cat src.txt > out/a.txt && cp src.txt out/d/b.txt"; inputs "src.txt"; outputs "out/a.txt" "out/d/"; }
"#,
        )
        .file("src.txt", "source\n")
        .build(&[])
        .run()
        .success();
    let cache = zenbuild::workspace::StateDir::of(out.path()).cache();
    let Some(_immutable) = Immutable::set(&cache) else {
        // chattr needs a file system with attributes (ext4, XFS, btrfs) and root.
        assert!(
            std::env::var_os("CI").is_none(),
            "under CI the cache must be made immutable for this test"
        );
        eprintln!("skipped: chattr +i is not available here");
        return;
    };
    assert!(
        std::fs::write(cache.join("tmp/probe"), "x").is_err(),
        "the cache is not writable"
    );
    let mut out = out;
    for link in ["reflink", "hardlink", "copy"] {
        out = out
            .again()
            .remove("out")
            .build(&["--link", link])
            .run()
            .success();
        assert_eq!(out.report().status("a"), "cached", "{link}");
        assert_eq!(out.read("out/a.txt"), "source\n", "{link}");
        assert_eq!(out.read("out/d/b.txt"), "source\n", "{link}");
        let left: Vec<_> = std::fs::read_dir(out.path().join("out"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(
            left.len(),
            2,
            "{link}: no temporary file left beside the outputs"
        );
    }
}
