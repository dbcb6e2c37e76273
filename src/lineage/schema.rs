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
    // 3: what an action is (name, step, key, command, and through `edges`, `params` and
    // `metrics` what it read, wrote and measured) is kept once in `actions`, found by its
    // digest; each run adds a row to `run_actions` saying how the action went. A build that
    // finds most of its actions cached repeats their contents, which schema 2 wrote again.
    // Each action recorded before becomes a content of its own (without a digest, so nothing
    // new matches it) and its run's row, under the same id: every query answers as before.
    // Renaming `actions` carries the references of edges, params and metrics along; they are
    // built again to refer to the new table.
    r"
    ALTER TABLE actions RENAME TO actions_v2;
    ALTER TABLE edges RENAME TO edges_v2;
    ALTER TABLE params RENAME TO params_v2;
    ALTER TABLE metrics RENAME TO metrics_v2;
    CREATE TABLE actions (
        id     INTEGER PRIMARY KEY,
        -- names everything below and the action's edges, params and metrics (see
        -- lineage/content.rs); NULL for an action recorded before schema version 3
        digest TEXT UNIQUE,
        name   TEXT NOT NULL,
        step   TEXT NOT NULL,
        key    TEXT,
        cmd    TEXT NOT NULL
    );
    INSERT INTO actions (id, digest, name, step, key, cmd)
        SELECT id, NULL, name, step, key, cmd FROM actions_v2;
    CREATE TABLE run_actions (
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER NOT NULL REFERENCES runs(id),
        action_id   INTEGER NOT NULL REFERENCES actions(id),
        -- ran | cached | failed | skipped | interrupted
        status      TEXT NOT NULL,
        -- 1 when status is ran: an artifact is made by few runs and reused by many, and
        -- lineage queries look for the runs that made it first
        ran         INTEGER NOT NULL,
        exit_code   INTEGER,
        started_ms  INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        executor    TEXT,
        -- a JSON array of strings
        reasons     TEXT NOT NULL
    );
    INSERT INTO run_actions (id, run_id, action_id, status, ran, exit_code, started_ms,
                             duration_ms, executor, reasons)
        SELECT id, run_id, id, status, CASE WHEN status = 'ran' THEN 1 ELSE 0 END, exit_code,
               started_ms, duration_ms, executor, reasons
        FROM actions_v2;
    CREATE TABLE edges (
        action_id   INTEGER NOT NULL REFERENCES actions(id),
        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
        -- 'in': the action read it; 'out': the action produced it (or restored it)
        role        TEXT NOT NULL CHECK (role IN ('in', 'out')),
        PRIMARY KEY (action_id, role, artifact_id)
    ) WITHOUT ROWID;
    INSERT INTO edges (action_id, artifact_id, role)
        SELECT action_id, artifact_id, role FROM edges_v2;
    CREATE TABLE params (
        action_id INTEGER NOT NULL REFERENCES actions(id),
        name      TEXT NOT NULL,
        -- canonical JSON
        value     TEXT NOT NULL,
        PRIMARY KEY (action_id, name)
    ) WITHOUT ROWID;
    INSERT INTO params (action_id, name, value) SELECT action_id, name, value FROM params_v2;
    CREATE TABLE metrics (
        action_id INTEGER NOT NULL REFERENCES actions(id),
        path      TEXT NOT NULL,
        -- flattened: `eval.auc`, `per_class.0.f1`
        name      TEXT NOT NULL,
        -- a number, or text for what is not one
        value     ANY,
        PRIMARY KEY (action_id, path, name)
    ) WITHOUT ROWID;
    INSERT INTO metrics (action_id, path, name, value)
        SELECT action_id, path, name, value FROM metrics_v2;
    DROP TABLE edges_v2;
    DROP TABLE params_v2;
    DROP TABLE metrics_v2;
    DROP TABLE actions_v2;
    CREATE INDEX run_actions_run ON run_actions(run_id);
    -- the rowid ends every index: an action's latest runs, those that ran first, are a seek
    CREATE INDEX run_actions_action ON run_actions(action_id, ran);
    CREATE INDEX edges_artifact ON edges(artifact_id, role, action_id);
    ",
    // 4: where an action ran on a cluster: the executor's job id and the node.
    r"
    ALTER TABLE run_actions ADD COLUMN job_id TEXT;
    ALTER TABLE run_actions ADD COLUMN node TEXT;
    ",
    // 5: an index keyed by the action put each build's row for an action beside that
    // action's rows of every earlier build, so a build of 10,000 cached actions wrote into
    // every leaf of an index that grows with each build (after a dozen builds of 100,000
    // actions, 16 MB logged and copied back per build). An action's runs are found instead
    // through the runs in which it ran, which an index of those alone holds, then through
    // the runs in order, where the run's own index (run, action) is a seek: a build writes
    // its rows at the end of both.
    r"
    DROP INDEX run_actions_action;
    CREATE INDEX run_actions_ran ON run_actions(action_id) WHERE ran = 1;
    DROP INDEX run_actions_run;
    CREATE INDEX run_actions_run ON run_actions(run_id, action_id);
    ",
    // 6: each run has a random name of 16 bytes, made where it ran, by which a team
    // database knows it (`lineage/server/`), and each run sent there is written down, so
    // that a run is sent once, and sent later when the server was away.
    r"
    ALTER TABLE runs ADD COLUMN uid BLOB;
    UPDATE runs SET uid = randomblob(16);
    CREATE UNIQUE INDEX runs_uid ON runs(uid);
    CREATE TABLE deliveries (
        run_id       INTEGER NOT NULL REFERENCES runs(id),
        -- the team database, as its URL is shown (without a password)
        store        TEXT NOT NULL,
        delivered_ms INTEGER NOT NULL,
        PRIMARY KEY (store, run_id)
    ) WITHOUT ROWID;
    ",
    // 7: a pipeline may name a team store of its own (`metadata` inside `pipeline`): each run
    // says which store it goes to (its URL as shown), NULL for the manifest's. Only this
    // clone needs it, to send each run to its store alone; a team database has no such column.
    r"
    ALTER TABLE runs ADD COLUMN store TEXT;
    ",
];

/// The migration that copies every recorded action into new tables and drops the old ones.
const COPIES_ACTIONS: i64 = 3;

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
    if (1..COPIES_ACTIONS).contains(&current) {
        // The old tables' pages are free but still in the file, which the migration made
        // half as large again; VACUUM gives them back (outside a transaction, as it must
        // run). The migration is committed: if this fails, later runs fill those pages.
        let _ = conn.execute_batch("VACUUM");
    }
    Ok(())
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
