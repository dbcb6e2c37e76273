//! How long actions took when they ran, for the progress view's estimate of what is left.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::hash::Digest;

/// How many of the latest recorded actions are read: enough for every action of a large
/// pipeline to have run in them, few enough that a long history costs a build nothing.
const RECENT: i64 = 200_000;

/// (action name, key, duration) of the actions that ran among the latest `RECENT` recorded,
/// oldest first. Empty when there is no lineage or it cannot be read: the estimate is a
/// nicety, never a reason to stop a build. Read-only, so a build running beside it is not
/// disturbed.
pub fn ran_durations(db: &Path) -> Vec<(String, Option<Digest>, Duration)> {
    if !db.is_file() {
        return Vec::new();
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let Ok(conn) = Connection::open_with_flags(db, flags) else {
        return Vec::new();
    };
    let query = "SELECT c.name, c.key, a.duration_ms FROM run_actions a \
                 JOIN actions c ON c.id = a.action_id \
                 WHERE a.ran = 1 AND a.id > (SELECT IFNULL(MAX(id), 0) FROM run_actions) - ?1 \
                 ORDER BY a.id";
    let Ok(mut statement) = conn.prepare(query) else {
        return Vec::new();
    };
    let rows = statement.query_map([RECENT], |row| {
        let name: String = row.get(0)?;
        let key: Option<String> = row.get(1)?;
        let millis: i64 = row.get(2)?;
        Ok((
            name,
            key.and_then(|key| key.parse::<Digest>().ok()),
            Duration::from_millis(millis.max(0) as u64),
        ))
    });
    match rows {
        Ok(rows) => rows.filter_map(Result::ok).collect(),
        Err(_) => Vec::new(),
    }
}
