//! The lineage database's schema, as numbered migrations. `PRAGMA user_version` holds how many
//! have been applied; opening a database applies the missing ones, each in its own
//! transaction, and refuses a database from a newer zenbuild rather than misread it.

use rusqlite::Connection;

use super::LineageError;

/// Migration `n` (1-based) takes a database from version `n - 1` to `n`. Never edit one that
/// has shipped: add the next.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, their actions, the artifacts those read and wrote, params and metrics.
    r"
    CREATE TABLE manifests (
        id        INTEGER PRIMARY KEY,
        digest    TEXT NOT NULL UNIQUE,
        -- the resolved graph of the run (`zenbuild graph --format json`), kept once per digest
        text      TEXT NOT NULL
    );
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        started_ms  INTEGER NOT NULL,
        finished_ms INTEGER,
        -- running | succeeded | failed | interrupted
        status      TEXT NOT NULL,
        -- build: one command's build; watch: one cycle of `zenbuild watch`
        kind        TEXT NOT NULL,
        command     TEXT NOT NULL,
        user        TEXT NOT NULL,
        host        TEXT NOT NULL,
        version     TEXT NOT NULL,
        git_commit  TEXT,
        git_branch  TEXT,
        git_dirty   INTEGER,
        manifest_id INTEGER REFERENCES manifests(id),
        ran         INTEGER NOT NULL DEFAULT 0,
        cached      INTEGER NOT NULL DEFAULT 0,
        failed      INTEGER NOT NULL DEFAULT 0,
        skipped     INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_commit ON runs(git_commit);
    CREATE TABLE actions (
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER NOT NULL REFERENCES runs(id),
        name        TEXT NOT NULL,
        step        TEXT NOT NULL,
        key         TEXT,
        -- ran | cached | failed | skipped | interrupted
        status      TEXT NOT NULL,
        exit_code   INTEGER,
        started_ms  INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        executor    TEXT,
        cmd         TEXT NOT NULL,
        -- a JSON array of strings
        reasons     TEXT NOT NULL
    );
    CREATE INDEX actions_run ON actions(run_id);
    CREATE INDEX actions_name ON actions(name);
    CREATE TABLE artifacts (
        id     INTEGER PRIMARY KEY,
        path   TEXT NOT NULL,
        digest TEXT NOT NULL,
        size   INTEGER,
        UNIQUE (path, digest)
    );
    CREATE INDEX artifacts_digest ON artifacts(digest);
    CREATE TABLE edges (
        action_id   INTEGER NOT NULL REFERENCES actions(id),
        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
        -- 'in': the action read it; 'out': the action produced it (or restored it)
        role        TEXT NOT NULL CHECK (role IN ('in', 'out')),
        -- 1 when the action ran: an artifact is made by few runs and reused by many, and
        -- lineage queries look for the runs that made it first
        ran         INTEGER NOT NULL,
        PRIMARY KEY (action_id, role, artifact_id)
    ) WITHOUT ROWID;
    CREATE INDEX edges_artifact ON edges(artifact_id, role, ran, action_id);
    CREATE TABLE params (
        action_id INTEGER NOT NULL REFERENCES actions(id),
        name      TEXT NOT NULL,
        -- canonical JSON
        value     TEXT NOT NULL,
        PRIMARY KEY (action_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE metrics (
        action_id INTEGER NOT NULL REFERENCES actions(id),
        path      TEXT NOT NULL,
        -- flattened: `eval.auc`, `per_class.0.f1`
        name      TEXT NOT NULL,
        -- a number, or text for what is not one
        value     ANY,
        PRIMARY KEY (action_id, path, name)
    ) WITHOUT ROWID;
    ",
    // 2: runs count their interrupted actions apart from the skipped ones. Before, an
    // interrupted action was counted as skipped; its own row always said `interrupted`.
    r"
    ALTER TABLE runs ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
    UPDATE runs SET
        interrupted = (SELECT count(*) FROM actions a
                       WHERE a.run_id = runs.id AND a.status = 'interrupted'),
        skipped = max(0, skipped - (SELECT count(*) FROM actions a
                                    WHERE a.run_id = runs.id AND a.status = 'interrupted'))
    WHERE finished_ms IS NOT NULL;
    ",
];

/// Brings `conn` to the latest schema.
pub fn migrate(conn: &mut Connection) -> Result<(), LineageError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(LineageError::NewerSchema {
            found: current,
            known,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        // PRAGMA takes no parameters; the number is ours, not user input.
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        tx.commit()?;
    }
    Ok(())
}
