//! Glob inputs (`inputs "src/**/*.py"`), matched against the repository's files (honouring
//! .gitignore) and against the paths other steps declare as outputs.

use std::path::Path;

use globset::{Glob, GlobBuilder, GlobMatcher};

use crate::hash::Digest;

/// Compiles a glob where `*` stays within one directory and `**` crosses directories.
pub fn matcher(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    glob(pattern).map(|glob| glob.compile_matcher())
}

fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern.trim_start_matches("./"))
        .literal_separator(true)
        .build()
}

/// Every file under `root` that git would not ignore, as sorted workspace-relative paths.
/// Hidden files and `.zenbuild/` are left out.
pub fn source_files(root: &Path) -> Vec<String> {
    let mut files: Vec<String> = ignore::WalkBuilder::new(root)
        .hidden(true)
        .require_git(false)
        .build()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_some_and(|t| t.is_file()))
        .filter_map(|entry| {
            let relative = entry.path().strip_prefix(root).ok()?;
            let text = relative.to_str()?;
            Some(text.replace(std::path::MAIN_SEPARATOR, "/"))
        })
        .collect();
    files.sort();
    files
}

/// What a manifest's globs matched among the repository's files (their matches among other
/// steps' outputs follow from the manifest alone), kept so that a later run can tell whether
/// they still match the same files without compiling the manifest again.
#[derive(Clone, Debug)]
pub struct Expansion {
    pub patterns: Vec<String>,
    /// The digest of the sorted paths that any of the patterns matched.
    pub matched: Digest,
}

impl Expansion {
    /// `patterns` must each compile (they did, to be expanded); `files` is [`source_files`].
    pub fn new(patterns: Vec<String>, files: &[String]) -> Expansion {
        let matched = matched_digest(&patterns, files).unwrap_or(Digest::from_bytes([0; 32]));
        Expansion { patterns, matched }
    }
}

/// Whether `patterns` match, among the files of `root` now, the ones whose digest is `matched`.
pub fn still_match(root: &Path, patterns: &[String], matched: &Digest) -> bool {
    matched_digest(patterns, &source_files(root)).is_some_and(|now| now == *matched)
}

/// The digest of the paths among `files` that any of `patterns` matches; `None` if one does
/// not compile. Each path ends in a NUL, which no path contains, so equal digests are equal
/// lists.
fn matched_digest(patterns: &[String], files: &[String]) -> Option<Digest> {
    let set = glob_set(patterns)?;
    let mut hasher = blake3::Hasher::new();
    for file in files.iter().filter(|file| set.is_match(file.as_str())) {
        hasher.update(file.as_bytes());
        hasher.update(b"\0");
    }
    Some(Digest::from_hasher(&hasher))
}

/// One matcher for all of `patterns`, with the rules of [`matcher`]; `None` if one does not
/// compile.
pub fn glob_set(patterns: &[String]) -> Option<globset::GlobSet> {
    let mut set = globset::GlobSetBuilder::new();
    for pattern in patterns {
        set.add(glob(pattern).ok()?);
    }
    set.build().ok()
}
