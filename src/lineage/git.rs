//! What git says about the workspace (git2, no network): the commit a run was built at, its
//! branch, whether the tree was dirty; and revisions and files at a revision, for commands
//! that take `REV` arguments.

use std::path::Path;

use git2::{Repository, StatusOptions};

use crate::workspace::state_dir;

/// The state of the work tree when a run was built.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GitState {
    /// The full hex id of HEAD.
    pub commit: String,
    /// The branch HEAD is on; `None` when detached.
    pub branch: Option<String>,
    /// Whether anything tracked was changed, or anything untracked and not ignored exists,
    /// zenbuild's own `.zenbuild/` aside.
    pub dirty: bool,
}

/// The state of the repository holding `dir`; `None` outside git or before the first commit.
pub fn state(dir: &Path) -> Option<GitState> {
    let repo = Repository::discover(dir).ok()?;
    let head = repo.head().ok()?;
    let commit = head.peel_to_commit().ok()?.id().to_string();
    let branch = head
        .is_branch()
        .then(|| head.shorthand().ok().map(str::to_string))
        .flatten();
    let mut options = StatusOptions::new();
    options
        .include_untracked(true)
        .include_ignored(false)
        .recurse_untracked_dirs(false)
        .exclude_submodules(true);
    // A status that cannot be read is reported as dirty: claiming a clean tree is the claim
    // that must be true.
    let dirty = match repo.statuses(Some(&mut options)) {
        Ok(statuses) => statuses.iter().any(|entry| {
            let path = entry.path_bytes();
            !path
                .split(|&byte| byte == b'/')
                .any(|part| part == state_dir::NAME.as_bytes())
        }),
        Err(_) => true,
    };
    Some(GitState {
        commit,
        branch,
        dirty,
    })
}

/// The full id of the commit `rev` names (`HEAD~2`, a branch, a tag, a short id).
pub fn resolve(dir: &Path, rev: &str) -> Result<String, String> {
    let repo = Repository::discover(dir).map_err(|e| format!("not in a git repository: {e}"))?;
    let object = repo
        .revparse_single(rev)
        .map_err(|e| format!("unknown revision `{rev}`: {}", e.message()))?;
    let commit = object
        .peel_to_commit()
        .map_err(|e| format!("`{rev}` is not a commit: {}", e.message()))?;
    Ok(commit.id().to_string())
}

/// The bytes of the file at `path` (relative to the top of the work tree) in commit `rev`;
/// `None` when the commit has no such file.
pub fn file_at(dir: &Path, rev: &str, path: &str) -> Result<Option<Vec<u8>>, String> {
    let repo = Repository::discover(dir).map_err(|e| format!("not in a git repository: {e}"))?;
    let commit = repo
        .revparse_single(rev)
        .and_then(|object| object.peel_to_commit())
        .map_err(|e| format!("unknown revision `{rev}`: {}", e.message()))?;
    let tree = commit
        .tree()
        .map_err(|e| format!("cannot read `{rev}`: {}", e.message()))?;
    let Ok(entry) = tree.get_path(Path::new(path)) else {
        return Ok(None);
    };
    let blob = entry
        .to_object(&repo)
        .and_then(|object| object.peel_to_blob())
        .map_err(|e| format!("cannot read `{path}` at `{rev}`: {}", e.message()))?;
    Ok(Some(blob.content().to_vec()))
}

/// The last `count` commits of HEAD's history and the commit of every branch and tag, as
/// full hex ids without repeats; empty outside git or before the first commit.
pub fn recent_and_named_commits(dir: &Path, count: usize) -> Vec<String> {
    let Ok(repo) = Repository::discover(dir) else {
        return Vec::new();
    };
    let mut commits = Vec::new();
    if count > 0
        && let Ok(mut walk) = repo.revwalk()
        && walk.push_head().is_ok()
    {
        commits.extend(walk.filter_map(Result::ok).take(count));
    }
    if let Ok(references) = repo.references() {
        for reference in references.filter_map(Result::ok) {
            if (reference.is_branch() || reference.is_tag())
                && let Ok(commit) = reference.peel_to_commit()
            {
                commits.push(commit.id());
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    commits
        .into_iter()
        .filter(|id| seen.insert(*id))
        .map(|id| id.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn commit_branch_and_dirtiness() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        assert_eq!(state(root), None, "no commit yet");
        std::fs::write(root.join("a.txt"), "1").unwrap();
        git(root, &["add", "a.txt"]);
        git(root, &["commit", "-q", "-m", "one"]);
        let clean = state(root).unwrap();
        assert_eq!(clean.branch.as_deref(), Some("main"));
        assert!(!clean.dirty);
        assert_eq!(resolve(root, "HEAD").unwrap(), clean.commit);

        let cache = crate::workspace::StateDir::of(root).cache();
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("x"), "x").unwrap();
        assert!(
            !state(root).unwrap().dirty,
            "zenbuild's own state is not a change"
        );

        std::fs::write(root.join("a.txt"), "2").unwrap();
        assert!(state(root).unwrap().dirty);
        assert_eq!(file_at(root, "HEAD", "a.txt").unwrap(), Some(b"1".to_vec()));
        assert_eq!(file_at(root, "HEAD", "missing").unwrap(), None);
        assert!(resolve(root, "nope").is_err());
    }
}
