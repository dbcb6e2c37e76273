//! Glob inputs (`inputs "src/**/*.py"`), matched against the repository's files (honouring
//! .gitignore) and against the paths other steps declare as outputs.

use std::path::Path;

use globset::{Glob, GlobBuilder, GlobMatcher};

/// Compiles a glob where `*` stays within one directory and `**` crosses directories.
pub fn matcher(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    let pattern = pattern.trim_start_matches("./");
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|glob: Glob| glob.compile_matcher())
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
