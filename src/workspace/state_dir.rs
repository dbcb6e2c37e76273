//! `.zenbuild/`, where a workspace keeps its cache, lineage and state, as zenbuild expects to
//! find it: directories where it keeps directories, files where it keeps files. Something
//! else in one of those places (a file called `.zenbuild` that a tool or a mistaken `git add`
//! left, a directory where the lock goes) would otherwise surface as "File exists (os error
//! 17)" from deep inside a command; it is caught up front, naming the path and the fix.

use std::path::{Path, PathBuf};

use super::WorkspaceError;

/// The state directory, relative to the workspace root.
pub const STATE_DIR: &str = ".zenbuild";

/// What zenbuild keeps directories at, relative to the workspace root.
const DIRECTORIES: &[&str] = &[
    ".zenbuild",
    ".zenbuild/cache",
    ".zenbuild/cache/cas",
    ".zenbuild/cache/ac",
    ".zenbuild/cache/tmp",
    ".zenbuild/state",
    ".zenbuild/logs",
];

/// What zenbuild keeps files at.
const FILES: &[&str] = &[
    ".zenbuild/lock",
    ".zenbuild/lineage.db",
    ".zenbuild/stat-cache",
];

/// Checks that each place of `.zenbuild/` under `root` that exists is of the kind zenbuild
/// keeps there; what does not exist yet is created when needed. A symlink counts as what
/// it points to, so `.zenbuild` may live on another disk.
pub fn check(root: &Path) -> Result<(), WorkspaceError> {
    let kind_of = |relative: &str| std::fs::metadata(root.join(relative)).ok();
    for &relative in DIRECTORIES {
        match kind_of(relative) {
            // Stop at the first: whatever is below a misplaced file does not exist.
            Some(meta) if !meta.is_dir() => return Err(misplaced(root, relative, "a directory")),
            // A symlink to nothing: creating the directory would fail as obscurely.
            None if root.join(relative).symlink_metadata().is_ok() => {
                return Err(misplaced(root, relative, "a directory"));
            }
            None if relative == STATE_DIR => return Ok(()),
            _ => {}
        }
    }
    for &relative in FILES {
        if kind_of(relative).is_some_and(|meta| meta.is_dir()) {
            return Err(misplaced(root, relative, "a file"));
        }
    }
    Ok(())
}

fn misplaced(root: &Path, relative: &str, wanted: &'static str) -> WorkspaceError {
    WorkspaceError::BadStateDir {
        path: PathBuf::from(relative),
        at: root.join(relative),
        wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_place_must_be_of_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert!(check(root).is_ok(), "nothing built yet");
        std::fs::write(root.join(".zenbuild"), "").unwrap();
        let error = check(root).unwrap_err().to_string();
        assert!(error.contains("`.zenbuild` is not a directory"), "{error}");

        std::fs::remove_file(root.join(".zenbuild")).unwrap();
        std::fs::create_dir_all(root.join(".zenbuild/cache")).unwrap();
        std::fs::write(root.join(".zenbuild/state"), "").unwrap();
        let error = check(root).unwrap_err().to_string();
        assert!(
            error.contains("`.zenbuild/state` is not a directory"),
            "{error}"
        );

        std::fs::remove_file(root.join(".zenbuild/state")).unwrap();
        std::fs::create_dir(root.join(".zenbuild/lock")).unwrap();
        let error = check(root).unwrap_err().to_string();
        assert!(error.contains("`.zenbuild/lock` is not a file"), "{error}");

        std::fs::remove_dir(root.join(".zenbuild/lock")).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::remove_dir_all(root.join(".zenbuild")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), root.join(".zenbuild")).unwrap();
        assert!(
            check(root).is_ok(),
            "a symlink to a directory is a directory"
        );
    }
}
