//! Whether a workspace path leads out of the workspace through a symlink.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use super::{PathProblem, RelPath};

/// How many entries of one directory are looked at one at a time before the directory is
/// read whole instead. A generated workspace's 100,000 inputs in one `src/` cost a stat each
/// (a sixth of checking its manifest), and its listing one pass; a directory whose entries
/// are named a few times is never read, however large.
const LIST_AFTER: u32 = 64;

/// Checks paths for symlinks leading out of the workspace, remembering every directory it has
/// looked at: a thousand outputs under `out/` cost one look at `out`, not a thousand.
pub struct SymlinkGuard<'a> {
    root: &'a Path,
    /// The root, opened once: each prefix is looked at relative to it, without joining it to
    /// the root's path and the kernel walking that path again (a fifth less time in this
    /// guard for 100,000 inputs). `None` where it cannot be opened; then by the full path.
    root_dir: Option<rustix::fd::OwnedFd>,
    /// What each directory above a checked path was found to be.
    seen: HashMap<String, Prefix>,
    /// Directories whose entries were looked at, by workspace path (`""` for the root).
    dirs: HashMap<String, Listing>,
}

/// What is known of a directory whose entries are looked at.
enum Listing {
    /// This many of its entries were looked at one at a time.
    Counting(u32),
    /// Read whole: the names of its symlinks. Any other name is a file, a directory or
    /// missing, which come to the same here: no way out, and below a missing one nothing
    /// exists to lead anywhere.
    Symlinks(HashSet<String>),
    /// It could not be read; its entries are looked at one at a time.
    Unreadable,
}

#[derive(Clone)]
enum Prefix {
    /// Exists, and is no way out (a directory, a file, or a symlink that stays inside).
    Inside,
    /// Does not exist, so nothing below it can lead anywhere yet.
    Missing,
    Outside(PathProblem),
}

impl<'a> SymlinkGuard<'a> {
    /// `root` must be canonical.
    pub fn new(root: &'a Path) -> SymlinkGuard<'a> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        SymlinkGuard {
            root,
            root_dir: rustix::fs::open(root, flags, Mode::empty()).ok(),
            seen: HashMap::new(),
            dirs: HashMap::new(),
        }
    }

    pub fn check(&mut self, path: &RelPath) -> Result<(), PathProblem> {
        self.check_prefixes(path, true)
    }

    /// Like [`SymlinkGuard::check`], but the last component itself may be a symlink leading
    /// anywhere: right for an output, which is removed before its step runs and replaced on
    /// restore, never written through.
    pub fn check_parents(&mut self, path: &RelPath) -> Result<(), PathProblem> {
        self.check_prefixes(path, false)
    }

    fn check_prefixes(&mut self, path: &RelPath, with_last: bool) -> Result<(), PathProblem> {
        let last = with_last.then_some(path.as_str().len());
        let ends = path
            .as_str()
            .match_indices('/')
            .map(|(index, _)| index)
            .chain(last)
            .filter(|&end| end > 0);
        for end in ends {
            let prefix = &path.as_str()[..end];
            // The directories above a path are shared by many and remembered. A path itself is
            // mostly named once, and where its directory's entries are named often that
            // directory is read whole: remembering every path cost more than looking again.
            let state = if end == path.as_str().len() {
                self.look(prefix)
            } else if let Some(state) = self.seen.get(prefix) {
                state.clone()
            } else {
                let state = self.look(prefix);
                self.seen.insert(prefix.to_string(), state.clone());
                state
            };
            match state {
                Prefix::Inside => {}
                Prefix::Missing => return Ok(()),
                Prefix::Outside(problem) => return Err(problem),
            }
        }
        Ok(())
    }

    fn look(&mut self, prefix: &str) -> Prefix {
        let Some(is_symlink) = self.is_symlink(prefix) else {
            // Nothing further exists yet (an output not built), so nothing can lead out.
            return Prefix::Missing;
        };
        if !is_symlink {
            return Prefix::Inside;
        }
        let absolute = self.root.join(prefix);
        let inside = match absolute.canonicalize() {
            Ok(target) => target.starts_with(self.root),
            // A dangling link (an output whose target is gone) leads nowhere yet: judge
            // where its text points, so the build that recreates it can run.
            Err(_) => points_inside(&absolute, self.root),
        };
        if inside {
            Prefix::Inside
        } else {
            Prefix::Outside(PathProblem::ThroughSymlink {
                link: prefix.to_string(),
            })
        }
    }

    /// Whether `prefix` is a symlink; `None` when it cannot be looked at (it does not exist).
    fn is_symlink(&mut self, prefix: &str) -> Option<bool> {
        use rustix::fs::{AtFlags, FileType};
        let (parent, name) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        if let Some(symlinks) = self.listed_symlinks(parent) {
            return Some(symlinks.contains(name));
        }
        match &self.root_dir {
            Some(root) => rustix::fs::statat(root, prefix, AtFlags::SYMLINK_NOFOLLOW)
                .ok()
                .map(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Symlink),
            None => self
                .root
                .join(prefix)
                .symlink_metadata()
                .ok()
                .map(|meta| meta.file_type().is_symlink()),
        }
    }

    /// The symlinks of the directory `parent`, once enough of its entries were asked about
    /// for reading it whole to be worth it; `None` until then, or if it cannot be read.
    fn listed_symlinks(&mut self, parent: &str) -> Option<&HashSet<String>> {
        if !self.dirs.contains_key(parent) {
            self.dirs.insert(parent.to_string(), Listing::Counting(0));
        }
        let listing = self.dirs.get_mut(parent)?;
        if let Listing::Counting(looked) = listing {
            *looked += 1;
            if *looked <= LIST_AFTER {
                return None;
            }
            *listing = read_symlinks(&self.root.join(parent));
        }
        match listing {
            Listing::Symlinks(names) => Some(names),
            Listing::Counting(_) | Listing::Unreadable => None,
        }
    }
}

/// The names of the symlinks in `dir`, from one pass over its entries: their types come with
/// the listing on most file systems, and std stats an entry only where they do not.
fn read_symlinks(dir: &Path) -> Listing {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Listing::Unreadable;
    };
    let mut symlinks = HashSet::new();
    for entry in entries {
        let Ok(entry) = entry else {
            return Listing::Unreadable;
        };
        let Ok(kind) = entry.file_type() else {
            return Listing::Unreadable;
        };
        // A name that is not UTF-8 cannot be written in a manifest, so is never asked about.
        if kind.is_symlink()
            && let Ok(name) = entry.file_name().into_string()
        {
            symlinks.insert(name);
        }
    }
    Listing::Symlinks(symlinks)
}

/// Whether the symlink at `link` names a place inside `root`, judged from its text alone.
fn points_inside(link: &Path, root: &Path) -> bool {
    let Ok(target) = std::fs::read_link(link) else {
        return false;
    };
    let base = if target.is_absolute() {
        PathBuf::new()
    } else {
        link.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let mut resolved = PathBuf::new();
    for part in base.join(target).components() {
        match part {
            Component::ParentDir => {
                if !resolved.pop() {
                    return false;
                }
            }
            Component::CurDir => {}
            other => resolved.push(other),
        }
    }
    resolved.starts_with(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangling_links_are_judged_by_where_they_point() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("out")).unwrap();
        std::os::unix::fs::symlink("d/a.txt", root.join("out/inside")).unwrap();
        std::os::unix::fs::symlink("../../../nowhere", root.join("out/outside")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", root.join("out/absolute")).unwrap();
        let check = |path: &str| RelPath::parse(path).unwrap().check_symlinks(&root);
        assert_eq!(check("out/inside"), Ok(()));
        assert!(matches!(
            check("out/outside"),
            Err(PathProblem::ThroughSymlink { .. })
        ));
        assert!(matches!(
            check("out/absolute"),
            Err(PathProblem::ThroughSymlink { .. })
        ));
    }

    /// Past [`LIST_AFTER`] look-ups a directory is read whole, and answers as each look did.
    #[test]
    fn a_directory_read_whole_answers_as_looking_one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("src/sub")).unwrap();
        for index in 0..=LIST_AFTER {
            std::fs::write(root.join(format!("src/{index}.txt")), "x").unwrap();
        }
        std::os::unix::fs::symlink("/tmp", root.join("src/away")).unwrap();
        std::os::unix::fs::symlink("0.txt", root.join("src/near")).unwrap();
        let mut guard = SymlinkGuard::new(&root);
        let mut check = |path: &str| guard.check(&RelPath::parse(path).unwrap());
        for index in 0..=LIST_AFTER {
            assert_eq!(check(&format!("src/{index}.txt")), Ok(()));
        }
        assert!(matches!(
            guard.dirs.get("src"),
            Some(Listing::Symlinks(names)) if names.len() == 2
        ));
        let mut check = |path: &str| guard.check(&RelPath::parse(path).unwrap());
        assert!(matches!(
            check("src/away"),
            Err(PathProblem::ThroughSymlink { .. })
        ));
        assert!(matches!(
            check("src/away/x.txt"),
            Err(PathProblem::ThroughSymlink { .. })
        ));
        assert_eq!(check("src/near"), Ok(()));
        assert_eq!(check("src/missing.txt"), Ok(()));
        assert_eq!(check("src/missing/deeper.txt"), Ok(()));
        assert_eq!(check("src/sub/new.txt"), Ok(()));
    }

    #[test]
    fn an_output_may_be_a_link_out_but_not_go_through_one() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::os::unix::fs::symlink("/tmp", root.join("away")).unwrap();
        let mut guard = SymlinkGuard::new(&root);
        let away = RelPath::parse("away").unwrap();
        assert!(
            guard.check_parents(&away).is_ok(),
            "replaced, never followed"
        );
        assert!(guard.check(&away).is_err(), "read through");
        let inside = RelPath::parse("away/x.txt").unwrap();
        assert!(guard.check_parents(&inside).is_err(), "written through");
    }
}
