//! `.zenbuild/`, where a workspace keeps its cache, lineage and state. [`StateDir`] is the
//! one place that names what is in it, so that the layout can be read (and changed) here.
//!
//! It also checks that each place is of the kind zenbuild keeps there. Something else in one
//! of them (a file called `.zenbuild` that a tool or a mistaken `git add` left, a directory
//! where the lock goes) would otherwise surface as "File exists (os error 17)" from deep
//! inside a command; it is caught up front, naming the path and the fix.

use std::path::{Path, PathBuf};

use super::WorkspaceError;

/// The directory's name in the workspace root, which globs, outputs and the watcher keep
/// away from.
pub const NAME: &str = ".zenbuild";

/// `.zenbuild/` of one workspace. Making one touches nothing on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDir {
    dir: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Directory,
    File,
}

/// Declares each place under `.zenbuild/` once, as its accessor and as its line in
/// [`PLACES`], which [`StateDir::check`] walks: a new place cannot be left out of the check.
macro_rules! places {
    ($($(#[doc = $doc:literal])* $name:ident: $kind:ident $relative:literal;)*) => {
        impl StateDir {
            $(
                $(#[doc = $doc])*
                pub fn $name(&self) -> PathBuf {
                    self.dir.join($relative)
                }
            )*
        }

        /// Every place, relative to `.zenbuild/`, with what zenbuild keeps there; each
        /// directory after its parent.
        const PLACES: &[(&str, Kind)] = &[$(($relative, Kind::$kind)),*];
    };
}

places! {
    /// The local store (`crate::store::LocalStore`), which lays out the next three.
    cache: Directory "cache";
    /// Blobs by digest.
    cas: Directory "cache/cas";
    /// Action results by action key.
    ac: Directory "cache/ac";
    /// Files being written into the store: inside it, so that publishing one is a rename.
    cache_tmp: Directory "cache/tmp";
    /// What one build leaves for the next to save work or explain itself.
    state: Directory "state";
    /// The latest output of each action, see [`StateDir::log_of`].
    logs: Directory "logs";
    /// Held by the command that changes the workspace (`crate::exec::lock`).
    lock: File "lock";
    /// The lineage store (SQLite, beside which it keeps `-wal` and `-shm`).
    lineage_db: File "lineage.db";
    /// The hashing shortcut (`crate::hash::StatCache`).
    stat_cache: File "stat-cache";
    /// What the last build that found nothing to do saw (`crate::exec::up_to_date`).
    up_to_date: File "state/up-to-date";
    /// Each action's key when it last finished (`crate::exec::last_keys`).
    last_keys: File "state/last-keys";
    /// The fields of those keys, a line each.
    key_records: File "state/keys.jsonl";
    /// The process groups of the running build's steps (`crate::exec::group_log`).
    process_groups: File "state/process-groups";
    /// Each Slurm executor's batch scripts and exit files, a directory per build, and the
    /// ledger of its jobs in flight (`crate::exec::slurm`).
    slurm: Directory "slurm";
}

impl StateDir {
    /// The state directory of the workspace at `root`.
    pub fn of(root: &Path) -> StateDir {
        StateDir {
            dir: root.join(NAME),
        }
    }

    /// `.zenbuild` itself.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The file that holds what the action's last run printed; `/` in a name would be a
    /// directory.
    pub fn log_of(&self, action: &str) -> PathBuf {
        self.logs()
            .join(format!("{}.log", action.replace('/', "_")))
    }

    /// Checks that each place that exists is of the kind zenbuild keeps there; what does not
    /// exist yet is created when needed. A symlink counts as what it points to, so
    /// `.zenbuild` may live on another disk.
    pub fn check(&self) -> Result<(), WorkspaceError> {
        // Something is there that is not a directory, nor a link to one: a symlink to
        // nothing, say (creating the directory would fail as obscurely). Looked at again,
        // since another build may have made the directory between the two looks.
        let blocked = |path: &Path| {
            path.symlink_metadata().is_ok()
                && !std::fs::metadata(path).is_ok_and(|meta| meta.is_dir())
        };
        match std::fs::metadata(&self.dir) {
            Ok(meta) if !meta.is_dir() => return Err(self.misplaced("", Kind::Directory)),
            Ok(_) => {}
            Err(_) if blocked(&self.dir) => return Err(self.misplaced("", Kind::Directory)),
            Err(_) => return Ok(()),
        }
        // Directories first, each after its parent: whatever is below a misplaced file does
        // not exist, so the first is the one to name.
        for &(relative, kind) in PLACES.iter().filter(|(_, kind)| *kind == Kind::Directory) {
            let path = self.dir.join(relative);
            match std::fs::metadata(&path) {
                Ok(meta) if !meta.is_dir() => return Err(self.misplaced(relative, kind)),
                Err(_) if blocked(&path) => return Err(self.misplaced(relative, kind)),
                _ => {}
            }
        }
        for &(relative, kind) in PLACES.iter().filter(|(_, kind)| *kind == Kind::File) {
            if std::fs::metadata(self.dir.join(relative)).is_ok_and(|meta| meta.is_dir()) {
                return Err(self.misplaced(relative, kind));
            }
        }
        Ok(())
    }

    fn misplaced(&self, relative: &str, wanted: Kind) -> WorkspaceError {
        let (path, at) = if relative.is_empty() {
            (PathBuf::from(NAME), self.dir.clone())
        } else {
            (Path::new(NAME).join(relative), self.dir.join(relative))
        };
        WorkspaceError::BadStateDir {
            path,
            at,
            wanted: match wanted {
                Kind::Directory => "a directory",
                Kind::File => "a file",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_place_must_be_of_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let check = |root: &Path| StateDir::of(root).check();
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

    #[test]
    fn every_place_is_below_the_directory_and_directories_follow_their_parents() {
        let state = StateDir::of(Path::new("/w"));
        assert_eq!(state.path(), Path::new("/w/.zenbuild"));
        assert_eq!(
            state.log_of("fit/a"),
            Path::new("/w/.zenbuild/logs/fit_a.log")
        );
        for (index, &(relative, _)) in PLACES.iter().enumerate() {
            let parent = Path::new(relative).parent().unwrap();
            assert!(
                parent.as_os_str().is_empty()
                    || PLACES[..index]
                        .iter()
                        .any(|&(earlier, kind)| kind == Kind::Directory
                            && Path::new(earlier) == parent),
                "{relative} comes before its directory"
            );
        }
    }
}
