//! Paths on the command line, as git takes them: relative to the current directory, so that
//! `cd data && zenbuild lineage raw.csv` names `data/raw.csv`. From outside the workspace
//! (`-C DIR`), relative to the workspace root.

use std::path::{Component, Path, PathBuf};

use crate::error::Error;

/// The workspace-relative path (`/`-separated, a trailing `/` kept) that `argument` names;
/// an error when it lies outside the workspace at `root` (canonical).
pub fn workspace_path(root: &Path, argument: &str) -> Result<String, Error> {
    let base = std::env::current_dir()
        .and_then(|dir| dir.canonicalize())
        .ok()
        .filter(|dir| dir.starts_with(root))
        .unwrap_or_else(|| root.to_path_buf());
    relative_to(root, &base, argument)
}

/// `argument` taken from `base`, lexically: the path need not exist yet (an output not
/// built, a file since deleted).
fn relative_to(root: &Path, base: &Path, argument: &str) -> Result<String, Error> {
    let mut joined = PathBuf::new();
    for component in base.join(argument).components() {
        match component {
            Component::ParentDir => {
                joined.pop();
            }
            Component::CurDir => {}
            other => joined.push(other),
        }
    }
    let outside = || {
        Error::BadArgument(format!(
            "`{argument}` is outside the workspace {}: give a path inside it",
            root.display()
        ))
    };
    let relative = joined.strip_prefix(root).map_err(|_| outside())?;
    let parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::BadArgument(format!("`{argument}` is not valid UTF-8")))?;
    if parts.is_empty() {
        return Err(Error::BadArgument(format!(
            "`{argument}` is the workspace root itself: name a file or directory in it"
        )));
    }
    let mut path = parts.join("/");
    if argument.ends_with('/') {
        path.push('/');
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(base: &str, argument: &str) -> Result<String, String> {
        relative_to(Path::new("/ws"), Path::new(base), argument).map_err(|e| e.to_string())
    }

    #[test]
    fn a_path_is_taken_from_the_base_directory() {
        assert_eq!(resolve("/ws/data", "raw.csv").unwrap(), "data/raw.csv");
        assert_eq!(
            resolve("/ws/data", "./sub/../raw.csv").unwrap(),
            "data/raw.csv"
        );
        assert_eq!(resolve("/ws/data", "../out/d/").unwrap(), "out/d/");
        assert_eq!(resolve("/ws", "out/model.json").unwrap(), "out/model.json");
        assert_eq!(resolve("/ws/data", "/ws/out/m.json").unwrap(), "out/m.json");
    }

    #[test]
    fn a_path_outside_the_workspace_is_refused() {
        let err = resolve("/ws/data", "../../etc/passwd").unwrap_err();
        assert!(err.contains("outside the workspace"), "{err}");
        assert!(resolve("/ws", "/etc/passwd").is_err());
        assert!(
            resolve("/ws/data", "..")
                .unwrap_err()
                .contains("root itself")
        );
    }
}
