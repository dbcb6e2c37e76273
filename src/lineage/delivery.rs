//! Sending this clone's runs to the team's metadata store. Every run is recorded in the
//! clone's SQLite file first; once it is over, it is sent whole, in one transaction, under
//! its uid, so that a run sent twice is recorded once and a run cut off half-way is not
//! recorded at all. A server that is away or refuses costs one note, never the build: the
//! runs wait in the clone (`outbox.rs`) and the next command that reaches the server sends
//! them, saying so.

use std::path::Path;
use std::time::SystemTime;

use super::team::Team;
use super::{LineageError, SqliteStore};

/// What a delivery did.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Every finished run is there; this many were sent now.
    Sent(usize),
    /// The store could not be reached or refused: why. The runs wait here.
    Away(String),
}

/// Sends every finished run in the SQLite file at `lineage_db` that `team` lacks.
pub fn deliver(lineage_db: &Path, team: &Team) -> Delivered {
    if !lineage_db.exists() {
        return Delivered::Sent(0);
    }
    match SqliteStore::open(lineage_db) {
        Ok(local) => deliver_from(&local, team),
        Err(e) => Delivered::Away(format!("this clone's lineage cannot be read: {e}")),
    }
}

/// [`deliver`], from an open store.
pub fn deliver_from(local: &SqliteStore, team: &Team) -> Delivered {
    match send(local, team) {
        Ok(sent) => Delivered::Sent(sent),
        Err(e) => Delivered::Away(e.to_string()),
    }
}

fn send(local: &SqliteStore, team: &Team) -> Result<usize, LineageError> {
    let shown = team.shown();
    let waiting = local.undelivered(&shown, team.own)?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let mut store = team.open()?;
    let mut sent = 0;
    for id in waiting {
        let Some(parcel) = local.parcel(id)? else {
            continue;
        };
        store.deliver_run(&parcel.new, &parcel.actions, &parcel.end)?;
        local.mark_delivered(id, &shown, now_ms())?;
        sent += 1;
    }
    Ok(sent)
}

/// What the user is told after a build's run was recorded: nothing when it simply went to
/// the team store (`its_store`: the one the run goes to), a note when runs that had waited
/// went too, and one note when the store is away.
pub fn after_run(lineage_db: &Path, team: &Team, its_store: bool) -> Option<String> {
    let this_run = usize::from(its_store);
    match deliver(lineage_db, team) {
        Delivered::Sent(n) if n <= this_run => None,
        Delivered::Sent(n) => {
            let waited = match (n - this_run, n) {
                (1, 1) => "it was".to_string(),
                (waited, n) if waited == n => "all were".to_string(),
                (1, _) => "1 of them was".to_string(),
                (waited, _) => format!("{waited} of them were"),
            };
            Some(format!(
                "sent {n} run{} to the team metadata store {} ({waited} kept here while the store could not be used)",
                if n == 1 { "" } else { "s" },
                team.shown(),
            ))
        }
        Delivered::Away(why) => Some(away_note(team, &why)),
    }
}

/// The one note for a team store that is out of reach or refuses.
pub fn away_note(team: &Team, why: &str) -> String {
    let why = why
        .strip_prefix(&format!("metadata store {}: ", team.shown()))
        .unwrap_or(why);
    format!(
        "the team metadata store {} could not be used ({why}): this clone keeps its runs and sends them at the next command that reaches it",
        team.shown()
    )
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
