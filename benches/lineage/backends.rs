//! The three stores the benchmark compares, each opened as zenbuild opens it: SQLite in a
//! file of its own, PostgreSQL and MariaDB on servers that the test harnesses start on
//! 127.0.0.1 (tests/common/postgres.rs, mariadb.rs), each as it comes, with its default
//! memory settings. A server that is not installed is skipped, with a line saying so.

use std::fmt;

use tempfile::TempDir;
use zenbuild::lineage::server::{ServerStore, ServerUrl};
use zenbuild::lineage::{LineageError, MetadataStore, RunId, SqliteStore};

use crate::history::Run;
use crate::mariadb::MariaDb;
use crate::postgres::Postgres;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    MariaDb,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Sqlite, Kind::Postgres, Kind::MariaDb];

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.to_string() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
            Kind::MariaDb => "mariadb",
        })
    }
}

/// Where a backend's databases live, kept until the backend is dropped (a server is then
/// stopped and its directory removed).
pub enum Backend {
    Sqlite(TempDir),
    Postgres(Postgres),
    MariaDb(MariaDb),
}

impl Backend {
    /// `None` when the server is not installed (the harness says so).
    pub fn start(kind: Kind) -> Option<Backend> {
        match kind {
            Kind::Sqlite => Some(Backend::Sqlite(
                tempfile::Builder::new()
                    .prefix("zenbuild-lineage-bench-")
                    .tempdir()
                    .expect("a temporary directory"),
            )),
            Kind::Postgres => Postgres::start().map(Backend::Postgres),
            Kind::MariaDb => MariaDb::start().map(Backend::MariaDb),
        }
    }

    /// A new, empty database named after `name`.
    pub fn fresh(&self, name: &str) -> Store {
        let opened = match self {
            Backend::Sqlite(dir) => {
                SqliteStore::open(&dir.path().join(format!("{name}.db"))).map(Store::Sqlite)
            }
            Backend::Postgres(server) => {
                server_store(&server.fresh_database(name), server.password())
            }
            Backend::MariaDb(server) => {
                server_store(&server.fresh_database(name), server.password())
            }
        };
        opened.unwrap_or_else(|e| panic!("open a {name} database: {e}"))
    }
}

fn server_store(url: &str, password: &str) -> Result<Store, LineageError> {
    let url = ServerUrl::parse(url).expect("the harness's URL");
    ServerStore::open(&url, Some(password)).map(Store::Server)
}

pub enum Store {
    Sqlite(SqliteStore),
    Server(ServerStore),
}

impl Store {
    pub fn read(&self) -> &dyn MetadataStore {
        match self {
            Store::Sqlite(store) => store,
            Store::Server(store) => store,
        }
    }

    fn write(&mut self) -> &mut dyn MetadataStore {
        match self {
            Store::Sqlite(store) => store,
            Store::Server(store) => store,
        }
    }

    /// Records a run as the build's recorder does: the manifest only if the store lacks it,
    /// the run begun, its actions in batches of `batch` as they finish, the run finished.
    pub fn record(&mut self, run: &Run, batch: usize) -> RunId {
        let store = self.write();
        let mut new = run.new.clone();
        if store
            .has_manifest(&new.manifest_digest)
            .expect("has_manifest")
        {
            new.manifest = None;
        }
        let id = store.begin_run(&new).expect("begin_run");
        for actions in run.actions.chunks(batch) {
            store.record_actions(id, actions).expect("record_actions");
        }
        store.finish_run(id, &run.end).expect("finish_run");
        id
    }

    /// Records a whole run that is over, as a clone sends it: `deliver_run`, one transaction,
    /// on a server; on SQLite, which has no such call, the run begun, all its actions in one
    /// `record_actions`, the run finished.
    pub fn deliver(&mut self, run: &Run) -> RunId {
        match self {
            Store::Server(store) => store
                .deliver_run(&run.new, &run.actions, &run.end)
                .expect("deliver_run"),
            Store::Sqlite(_) => self.record(run, run.actions.len()),
        }
    }
}
