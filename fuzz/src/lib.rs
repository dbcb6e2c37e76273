//! What the fuzz targets share: a directory of their own for the readers that read from a path.

use std::path::PathBuf;

/// An empty directory for `target` in this process, below the fuzz crate's build directory
/// (git-ignored, and emptied by `cargo clean`): libFuzzer ends a run with `exit`, so a
/// temporary directory would never be removed.
pub fn scratch_dir(target: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/scratch")
        .join(format!("{target}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(err) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {err}", dir.display());
    }
    dir
}
