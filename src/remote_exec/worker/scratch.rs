//! The directory a worker does one attempt in, fresh for it and removed after it:
//!
//! ```text
//! zenbuild-worker-XXXXXX/
//!   description    the description, as fetched
//!   inputs/        a store the input blobs are downloaded (and checked) into
//!   work/          the inputs laid out; the command runs here (in its workdir below)
//!   outputs/       a store the outputs are kept in before they are uploaded
//!   log            what the command printed
//! ```
//!
//! Nothing of it outlives the attempt, whatever the step did to it: a directory it made
//! unwritable is made writable again to be removed.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub struct Scratch {
    root: PathBuf,
}

impl Scratch {
    /// A new directory in `base`, or in the system's temporary directory (`$TMPDIR`).
    pub fn create(base: Option<&Path>) -> io::Result<Scratch> {
        let base = base.map_or_else(std::env::temp_dir, Path::to_path_buf);
        fs::create_dir_all(&base)?;
        let root = tempfile::Builder::new()
            .prefix("zenbuild-worker-")
            .tempdir_in(&base)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot make a scratch directory in {}: {e}", base.display()),
                )
            })?
            .keep();
        let scratch = Scratch { root };
        fs::create_dir(scratch.work())?;
        Ok(scratch)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn description(&self) -> PathBuf {
        self.root.join("description")
    }

    pub fn input_store(&self) -> PathBuf {
        self.root.join("inputs")
    }

    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    pub fn output_store(&self) -> PathBuf {
        self.root.join("outputs")
    }

    pub fn log(&self) -> PathBuf {
        self.root.join("log")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        remove_all(&self.root);
    }
}

/// Removes `path` and everything below it, without following a symlink. Directories a step
/// left without write or search permission (`chmod 500 out`) get them back first: an owner
/// may always change its own directory's mode. What still cannot go is left (the step made
/// it another user's); that is no reason to fail an attempt that is over.
pub fn remove_all(path: &Path) {
    if fs::remove_dir_all(path).is_ok() || fs::symlink_metadata(path).is_err() {
        return;
    }
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let is_dir = fs::symlink_metadata(&dir).is_ok_and(|meta| meta.is_dir());
        if !is_dir {
            continue;
        }
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
        if let Ok(entries) = fs::read_dir(&dir) {
            stack.extend(entries.flatten().map(|entry| entry.path()));
        }
    }
    let _ = fs::remove_dir_all(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_directory_goes_with_what_a_step_locked() {
        let base = tempfile::tempdir().unwrap();
        let scratch = Scratch::create(Some(base.path())).unwrap();
        let root = scratch.root().to_path_buf();
        assert!(root.starts_with(base.path()));
        let locked = scratch.work().join("out/deep");
        fs::create_dir_all(&locked).unwrap();
        fs::write(locked.join("file"), "x").unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o500)).unwrap();
        fs::set_permissions(
            scratch.work().join("out"),
            fs::Permissions::from_mode(0o000),
        )
        .unwrap();
        // A symlink out of it is removed, never followed.
        let outside = base.path().join("outside");
        fs::write(&outside, "kept").unwrap();
        std::os::unix::fs::symlink(&outside, scratch.work().join("link")).unwrap();
        drop(scratch);
        assert!(!root.exists());
        assert_eq!(fs::read_to_string(outside).unwrap(), "kept");
    }
}
