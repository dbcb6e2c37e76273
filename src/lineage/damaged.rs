//! A lineage database that SQLite finds damaged (a disk error, a torn copy, bytes overwritten
//! by something else): recognising it, and moving it aside so that a build can start a new
//! one and still record its run. Lineage is a record, not the build: a damaged record must
//! never stop a build, nor be deleted, since `sqlite3 FILE .recover` may salvage most of it.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ui::time::utc;

/// The files SQLite keeps beside a database in WAL mode: they belong to it, and go with it.
const COMPANIONS: [&str; 2] = ["-wal", "-shm"];

/// Whether SQLite said the file is not a (whole) database.
pub fn is_damage(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// Renames the database at `path`, with its `-wal` and `-shm`, to
/// `<path>.corrupt-<UTC time>` (and `…-wal`, `…-shm`, where SQLite looks for them when the
/// moved copy is opened); returns the new name of the database.
pub fn move_aside(path: &Path) -> io::Result<PathBuf> {
    let stamp = utc(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64))
    .replace(['-', ':'], "")
    .replace(' ', "T");
    #[allow(
        clippy::maybe_infinite_iter,
        reason = "a directory holds finitely many names, so a free one is found"
    )]
    let aside = (0..)
        .map(|n| {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!(".{n}")
            };
            with_suffix(path, &format!(".corrupt-{stamp}{suffix}"))
        })
        .find(|candidate| candidate.symlink_metadata().is_err())
        .unwrap_or_else(|| with_suffix(path, ".corrupt"));
    std::fs::rename(path, &aside)?;
    for companion in COMPANIONS {
        let from = with_suffix(path, companion);
        if from.symlink_metadata().is_ok() {
            std::fs::rename(&from, with_suffix(&aside, companion))?;
        }
    }
    Ok(aside)
}

/// Removes the `-wal` and `-shm` that a database at `path` left when it was moved or deleted
/// by hand: a new database there must not start from another one's log.
pub fn forget_orphans(path: &Path) {
    if path.symlink_metadata().is_ok() {
        return;
    }
    for companion in COMPANIONS {
        let _ = std::fs::remove_file(with_suffix(path, companion));
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_moves_aside_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lineage.db");
        for name in ["lineage.db", "lineage.db-wal", "lineage.db-shm"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let first = move_aside(&path).unwrap();
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("lineage.db.corrupt-20"), "{name}");
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "lineage.db");
        assert_eq!(
            std::fs::read_to_string(with_suffix(&first, "-wal")).unwrap(),
            "lineage.db-wal"
        );
        assert!(!path.exists() && !with_suffix(&path, "-wal").exists());

        // A second damaged database within the same second gets a name of its own.
        std::fs::write(&path, "again").unwrap();
        let second = move_aside(&path).unwrap();
        assert_ne!(first, second);
        assert_eq!(std::fs::read_to_string(&second).unwrap(), "again");
    }

    #[test]
    fn a_log_without_its_database_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lineage.db");
        std::fs::write(with_suffix(&path, "-wal"), "old").unwrap();
        std::fs::write(&path, "db").unwrap();
        forget_orphans(&path);
        assert!(with_suffix(&path, "-wal").exists(), "its database is there");
        std::fs::remove_file(&path).unwrap();
        forget_orphans(&path);
        assert!(!with_suffix(&path, "-wal").exists());
    }
}
