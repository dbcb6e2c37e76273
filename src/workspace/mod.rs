//! Where the manifest is: finding `zenbuild.kdl`, the workspace root and its git work tree;
//! and its `.zenbuild/`, in [`StateDir`].

mod rel_path;
pub mod state_dir;
mod symlink_guard;

use std::path::{Path, PathBuf};

pub use rel_path::{PathProblem, RelPath};
pub use state_dir::StateDir;
pub use symlink_guard::SymlinkGuard;

pub const MANIFEST_NAME: &str = "zenbuild.kdl";

/// The directory holding `zenbuild.kdl`; every path in the manifest is relative to it.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// Canonical path of the workspace root.
    pub root: PathBuf,
    pub manifest: PathBuf,
    /// The top of the git work tree holding the workspace.
    pub git_root: PathBuf,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WorkspaceError {
    #[error("no {MANIFEST_NAME} in `{}` or any parent directory", .start.display())]
    #[diagnostic(
        code(zenbuild::no_manifest),
        help(
            "run `zenbuild init` to write a starter manifest, or pass `-C DIR` to point at a workspace"
        )
    )]
    NoManifest { start: PathBuf },

    #[error("`{}` is not inside a git repository", .root.display())]
    #[diagnostic(
        code(zenbuild::not_git),
        help("a zenbuild workspace is a git repository: run `git init` in `{}` (zenbuild records the commit behind every result)", .root.display())
    )]
    NotGit { root: PathBuf },

    #[error("`{}` is not {wanted}", .path.display())]
    #[diagnostic(
        code(zenbuild::bad_state_dir),
        help(
            "zenbuild keeps its cache, lineage and state in `.zenbuild/`, and expects {wanted} at `{}`: move `{}` aside or delete it, and zenbuild makes a new one",
            .path.display(),
            .at.display()
        )
    )]
    BadStateDir {
        /// Relative to the workspace root.
        path: PathBuf,
        /// The same, in full.
        at: PathBuf,
        wanted: &'static str,
    },

    #[error("cannot use directory `{}`", .dir.display())]
    #[diagnostic(code(zenbuild::bad_directory))]
    BadDirectory {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Workspace {
    /// Finds the nearest `zenbuild.kdl` in `start` or its parents, as cargo finds Cargo.toml,
    /// and makes sure that its `.zenbuild/` holds nothing zenbuild would trip over.
    pub fn discover(start: &Path) -> Result<Workspace, WorkspaceError> {
        let start = start
            .canonicalize()
            .map_err(|source| WorkspaceError::BadDirectory {
                dir: start.to_path_buf(),
                source,
            })?;
        let root = start
            .ancestors()
            .find(|dir| dir.join(MANIFEST_NAME).is_file())
            .ok_or_else(|| WorkspaceError::NoManifest {
                start: start.clone(),
            })?
            .to_path_buf();
        let git_root =
            find_git_root(&root).ok_or_else(|| WorkspaceError::NotGit { root: root.clone() })?;
        StateDir::of(&root).check()?;
        Ok(Workspace {
            manifest: root.join(MANIFEST_NAME),
            root,
            git_root,
        })
    }

    /// Its `.zenbuild/`, where every file zenbuild keeps for it is.
    pub fn state_dir(&self) -> StateDir {
        StateDir::of(&self.root)
    }
}

/// The nearest ancestor holding `.git` (a directory, or a file in worktrees and submodules).
pub fn find_git_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}
