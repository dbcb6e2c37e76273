//! Every byte of a directory tree, to prove that a build changed nothing it may not change.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Each path below `root` (relative, `/`-separated) with what it is: a file's mode and bytes
/// (hashed), a symlink's target text, a directory's mode. Symlinks are recorded, never
/// followed. Paths equal to or below one of `skip` are left out.
pub fn snapshot(root: &Path, skip: &[&str]) -> BTreeMap<String, String> {
    let mut seen = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let relative = path
                .strip_prefix(root)
                .expect("below the root")
                .to_string_lossy()
                .into_owned();
            let skipped = skip
                .iter()
                .any(|s| relative == *s || relative.starts_with(&format!("{s}/")));
            if skipped {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            let what = if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("read link");
                format!("link {}", target.display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {:o}", meta.mode() & 0o7777)
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                format!(
                    "file {:o} {}",
                    meta.mode() & 0o7777,
                    blake3::hash(&bytes).to_hex()
                )
            };
            seen.insert(relative, what);
        }
    }
    seen
}
