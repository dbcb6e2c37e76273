//! The runs of this clone that a team database has not received yet. Every run is recorded
//! in the clone's SQLite file first, whatever else is configured, so a build never waits on a
//! server or fails because of one; `deliveries` says which runs each team database has, and
//! the next command that reaches the server sends the rest (see `delivery.rs`).

use rusqlite::{OptionalExtension, params};

use super::{
    ActionRecord, LineageError, MetadataStore, NewRun, RunEnd, RunId, RunStatus, RunUid,
    SqliteStore,
};

/// A run as a team database receives it.
pub struct Parcel {
    pub id: RunId,
    pub new: NewRun,
    pub actions: Vec<ActionRecord>,
    pub end: RunEnd,
}

impl SqliteStore {
    /// The runs that are over, that go to `store` (a team database, as its URL is shown)
    /// and that it has not received, oldest first. A pipeline's own store (`own`) gets the
    /// runs recorded for it; the manifest's gets every other run, those recorded before it
    /// was named included.
    pub fn undelivered(&self, store: &str, own: bool) -> Result<Vec<RunId>, LineageError> {
        let ids = || -> Result<Vec<RunId>, LineageError> {
            let sql = if own {
                "SELECT id FROM runs r WHERE status != 'running' AND r.store = ?1 AND NOT EXISTS
                 (SELECT 1 FROM deliveries d WHERE d.store = ?1 AND d.run_id = r.id)
                 ORDER BY id"
            } else {
                "SELECT id FROM runs r WHERE status != 'running' AND r.store IS NULL AND NOT EXISTS
                 (SELECT 1 FROM deliveries d WHERE d.store = ?1 AND d.run_id = r.id)
                 ORDER BY id"
            };
            Ok(self
                .conn()
                .prepare_cached(sql)?
                .query_map([store], |row| row.get(0))?
                .collect::<Result<_, _>>()?)
        };
        self.located(ids())
    }

    /// Run `id` whole, as a team database receives it.
    pub fn parcel(&self, id: RunId) -> Result<Option<Parcel>, LineageError> {
        let Some(summary) = self.run(id)? else {
            return Ok(None);
        };
        let found = self.located(
            self.conn()
                .query_row(
                    "SELECT r.uid, m.digest, m.text, r.store FROM runs r
                     LEFT JOIN manifests m ON m.id = r.manifest_id WHERE r.id = ?1",
                    [id],
                    |row| {
                        Ok((
                            row.get::<_, Option<Vec<u8>>>(0)?,
                            row.get::<_, Option<String>>(1)?,
                            row.get::<_, Option<String>>(2)?,
                            row.get::<_, Option<String>>(3)?,
                        ))
                    },
                )
                .optional()
                .map_err(LineageError::from),
        )?;
        let Some((uid, manifest_digest, manifest, store)) = found else {
            return Ok(None);
        };
        let uid: RunUid = uid
            .and_then(|bytes| bytes.try_into().ok())
            .unwrap_or_else(super::new_run_uid);
        let actions = self
            .run_actions(id)?
            .into_iter()
            .map(|summary| summary.action)
            .collect();
        let status = match summary.status.as_str() {
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            _ => RunStatus::Interrupted,
        };
        Ok(Some(Parcel {
            id,
            new: NewRun {
                uid,
                started_ms: summary.started_ms,
                kind: summary.kind,
                command: summary.command,
                user: summary.user,
                host: summary.host,
                version: summary.version,
                manifest_digest: manifest_digest.unwrap_or_default(),
                manifest,
                store,
            },
            actions,
            end: RunEnd {
                finished_ms: summary.finished_ms.unwrap_or(summary.started_ms),
                status,
                git: summary.git,
                counts: summary.counts,
            },
        }))
    }

    /// Writes down that `store` has received run `id`.
    pub fn mark_delivered(&self, id: RunId, store: &str, at_ms: i64) -> Result<(), LineageError> {
        let marked = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO deliveries (run_id, store, delivered_ms) VALUES (?1, ?2, ?3)",
                params![id, store, at_ms],
            )
            .map(|_| ())
            .map_err(LineageError::from);
        self.located(marked)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_history::{answers, history, replay};
    use super::super::{MetadataStore, SqliteStore};

    /// Every run, taken out as a parcel and recorded in another store, answers there as it
    /// did here: a parcel is the whole run.
    #[test]
    fn a_parcel_carries_the_whole_run() {
        let dir = tempfile::tempdir().expect("a directory");
        let mut here = SqliteStore::open(&dir.path().join("here.db")).expect("a store");
        let runs = history();
        let ids = replay(&mut here, &runs);
        let mut there = SqliteStore::open(&dir.path().join("there.db")).expect("a store");
        let mut copied = Vec::new();
        for &id in &ids {
            let parcel = here.parcel(id).expect("a query").expect("the run");
            assert_eq!(parcel.new.uid, runs[copied.len()].new.uid);
            let copy = there.begin_run(&parcel.new).expect("begin");
            there
                .record_actions(copy, &parcel.actions)
                .expect("actions");
            there.finish_run(copy, &parcel.end).expect("finish");
            copied.push(copy);
        }
        assert_eq!(answers(&there, &copied), answers(&here, &ids));
    }

    #[test]
    fn what_was_delivered_is_not_offered_again() {
        let dir = tempfile::tempdir().expect("a directory");
        let mut store = SqliteStore::open(&dir.path().join("lineage.db")).expect("a store");
        let ids = replay(&mut store, &history());
        let team = "postgres://ml@db:5432/zb";
        assert_eq!(store.undelivered(team, false).expect("a query"), ids);
        store.mark_delivered(ids[0], team, 1).expect("marked");
        store.mark_delivered(ids[0], team, 2).expect("marked twice");
        assert_eq!(store.undelivered(team, false).expect("a query"), ids[1..]);
        // Another team store has received nothing.
        assert_eq!(
            store
                .undelivered("mysql://ml@db:3306/zb", false)
                .expect("a query"),
            ids
        );
        // A run still being recorded is not offered.
        let running = store
            .begin_run(&history()[0].new)
            .expect("a run that is not over");
        assert!(
            !store
                .undelivered(team, false)
                .expect("a query")
                .contains(&running)
        );
    }

    /// A run recorded for a pipeline's own store is offered to that store alone; the
    /// manifest's store gets the others.
    #[test]
    fn each_run_is_offered_to_its_own_store() {
        let dir = tempfile::tempdir().expect("a directory");
        let mut store = SqliteStore::open(&dir.path().join("lineage.db")).expect("a store");
        let mut runs = history();
        let own = "postgres://ml@db:5432/experiments";
        runs[1].new.store = Some(own.to_string());
        let ids = replay(&mut store, &runs);
        let team = "postgres://ml@db:5432/zb";
        let others: Vec<_> = ids.iter().copied().filter(|&id| id != ids[1]).collect();
        assert_eq!(store.undelivered(team, false).expect("a query"), others);
        assert_eq!(store.undelivered(own, true).expect("a query"), [ids[1]]);
        assert!(store.undelivered(team, true).expect("a query").is_empty());
        let parcel = store.parcel(ids[1]).expect("a query").expect("the run");
        assert_eq!(parcel.new.store.as_deref(), Some(own));
    }
}
