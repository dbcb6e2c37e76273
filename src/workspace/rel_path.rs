//! Workspace-relative paths: normalised, `/`-separated, and never outside the workspace.

use std::fmt;
use std::path::Path;

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
    /// `root` must be canonical. [`SymlinkGuard`](super::SymlinkGuard) does the same for many
    /// paths at once.
    pub fn check_symlinks(&self, root: &Path) -> Result<(), PathProblem> {
        super::SymlinkGuard::new(root).check(self)
    }
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
}
