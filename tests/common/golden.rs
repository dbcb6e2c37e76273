//! Golden files: output pinned under tests/golden/, rewritten instead of compared when
//! `ZENBUILD_BLESS` is set, so an intended change is one command and a reviewed diff.

use std::path::Path;

/// Compares `actual` with the golden file at `relative` (below the crate root), or writes it
/// there under `ZENBUILD_BLESS=1`.
pub fn assert_golden(relative: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::env::var_os("ZENBUILD_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a golden file has a parent directory"))
            .expect("create the golden directory");
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with ZENBUILD_BLESS=1 to create it)",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "output differs from {}\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}
