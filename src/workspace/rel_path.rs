//! Workspace-relative paths: normalised, `/`-separated, and never outside the workspace.

use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A normalised path relative to the workspace root: no `.` or `..` parts, no leading or
/// trailing `/`. The empty path is the root itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(String);

/// Why a written path cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathProblem {
    Empty,
    Absolute,
    Escapes,
    ThroughSymlink { link: String },
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathProblem::Empty => f.write_str("is empty"),
            PathProblem::Absolute => {
                f.write_str("is absolute; paths are relative to the workspace root")
            }
            PathProblem::Escapes => f.write_str("escapes the workspace through `..`"),
            PathProblem::ThroughSymlink { link } => {
                write!(f, "escapes the workspace through the symlink `{link}`")
            }
        }
    }
}

impl RelPath {
    pub fn root() -> RelPath {
        RelPath(String::new())
    }

    /// Normalises `text`, rejecting absolute paths and paths that climb out with `..`.
    pub fn parse(text: &str) -> Result<RelPath, PathProblem> {
        if text.trim().is_empty() {
            return Err(PathProblem::Empty);
        }
        if text.starts_with('/') || text.starts_with('\\') || has_drive_letter(text) {
            return Err(PathProblem::Absolute);
        }
        let mut parts: Vec<&str> = Vec::new();
        for part in text.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(PathProblem::Escapes);
                    }
                }
                part => parts.push(part),
            }
        }
        Ok(RelPath(parts.join("/")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `self` is `dir` or lies inside it.
    pub fn is_within(&self, dir: &RelPath) -> bool {
        dir.is_root()
            || self.0 == dir.0
            || (self.0.starts_with(&dir.0) && self.0.as_bytes().get(dir.0.len()) == Some(&b'/'))
    }

    /// `a/b/c` → `a`, `a/b` (the proper ancestors, outermost first, without the root).
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        self.0
            .match_indices('/')
            .map(move |(index, _)| &self.0[..index])
    }

    /// The first path component (`out` for `out/model.json`).
    pub fn first_component(&self) -> &str {
        self.0.split('/').next().unwrap_or("")
    }

    /// Fails when an existing part of the path is a symlink that leads outside `root`.
    /// `root` must be canonical. [`SymlinkGuard`] does the same for many paths at once.
    pub fn check_symlinks(&self, root: &Path) -> Result<(), PathProblem> {
        SymlinkGuard::new(root).check(self)
    }
}

/// Checks paths for symlinks leading out of the workspace, remembering every prefix it has
/// looked at: a thousand outputs under `out/` cost one look at `out`, not a thousand.
pub struct SymlinkGuard<'a> {
    root: &'a Path,
    /// The root, opened once: each prefix is looked at relative to it, without joining it to
    /// the root's path and the kernel walking that path again (a fifth less time in this
    /// guard for 100,000 inputs). `None` where it cannot be opened; then by the full path.
    root_dir: Option<rustix::fd::OwnedFd>,
    seen: HashMap<String, Prefix>,
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
        let last = with_last.then_some(path.0.len());
        let ends = path
            .0
            .match_indices('/')
            .map(|(index, _)| index)
            .chain(last)
            .filter(|&end| end > 0);
        for end in ends {
            let prefix = &path.0[..end];
            let state = if let Some(state) = self.seen.get(prefix) {
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

    fn look(&self, prefix: &str) -> Prefix {
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
    fn is_symlink(&self, prefix: &str) -> Option<bool> {
        use rustix::fs::{AtFlags, FileType};
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

fn has_drive_letter(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str(".")
        } else {
            f.write_str(&self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(RelPath::parse("./a//b/./c/").unwrap().as_str(), "a/b/c");
        assert_eq!(RelPath::parse("a/x/../b").unwrap().as_str(), "a/b");
        assert!(RelPath::parse("a/..").unwrap().is_root());
    }

    #[test]
    fn rejects_escapes() {
        assert_eq!(RelPath::parse("../a"), Err(PathProblem::Escapes));
        assert_eq!(RelPath::parse("a/../../b"), Err(PathProblem::Escapes));
        assert_eq!(RelPath::parse("/etc/passwd"), Err(PathProblem::Absolute));
        assert_eq!(RelPath::parse("C:/x"), Err(PathProblem::Absolute));
        assert_eq!(RelPath::parse(""), Err(PathProblem::Empty));
    }

    #[test]
    fn within() {
        let out = RelPath::parse("out").unwrap();
        assert!(RelPath::parse("out/a").unwrap().is_within(&out));
        assert!(out.is_within(&out));
        assert!(!RelPath::parse("outer/a").unwrap().is_within(&out));
        assert!(out.is_within(&RelPath::root()));
        let ancestors: Vec<_> = RelPath::parse("a/b/c")
            .unwrap()
            .ancestors()
            .map(str::to_string)
            .collect();
        assert_eq!(ancestors, ["a", "a/b"]);
    }

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
