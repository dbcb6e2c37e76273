//! The team metadata store: the lineage of everyone's runs in one database the team already
//! runs, PostgreSQL or MySQL/MariaDB, with the schema and the queries of the SQLite store
//! (`zenbuild log`, `show`, `lineage`, `metrics` answer the same on each). A run is written
//! under the random `uid` its clone gave it, so that sending it again is a no-op.

mod artifacts;
mod contents;
mod digest;
mod directories;
#[cfg(feature = "metadata-mysql")]
mod mysql;
#[cfg(feature = "metadata-postgres")]
mod postgres;
mod read;
mod record;
pub mod schema;
pub mod sql;
#[cfg(any(feature = "metadata-postgres", feature = "metadata-mysql"))]
mod tls;
pub mod url;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::{
    ActionRecord, ActionSummary, ArtifactRecord, LineageError, MetadataStore, NewRun, RunEnd,
    RunId, RunSummary,
};
use sql::{Client, Dialect};
pub use url::ServerUrl;

/// How long connecting may take before the server counts as away: a build never waits long
/// for its lineage.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to a team database whose schema is up to date.
pub struct ServerStore {
    client: Mutex<Box<dyn Client>>,
    url: ServerUrl,
}

impl ServerStore {
    /// Connects to `url` with `password` and brings its schema up to date (creating it in an
    /// empty database).
    pub fn open(url: &ServerUrl, password: Option<&str>) -> Result<ServerStore, LineageError> {
        let password = password.or(url.password.as_deref());
        let mut client = connect(url, password)?;
        schema::migrate(client.as_mut()).map_err(|e| located(e, url))?;
        Ok(ServerStore {
            client: Mutex::new(client),
            url: url.clone(),
        })
    }

    /// The id of the run recorded with `uid`, if it was.
    pub fn run_with_uid(&self, uid: &[u8]) -> Result<Option<RunId>, LineageError> {
        self.with(|client| {
            let rows = client.query("SELECT id FROM runs WHERE uid = ?", &[uid.to_vec().into()])?;
            Ok(rows
                .first()
                .and_then(|row| row.first())
                .and_then(sql::Value::int))
        })
    }

    /// Records a whole run that is over, all or nothing; a run whose uid is there already is
    /// left as it is. Returns its id here.
    pub fn deliver_run(
        &mut self,
        run: &NewRun,
        actions: &[ActionRecord],
        end: &RunEnd,
    ) -> Result<RunId, LineageError> {
        self.with(|client| record::deliver_run(client, (run, actions, end)))
    }

    /// Runs `work` on the connection; its error names the store.
    fn with<T>(
        &self,
        work: impl FnOnce(&mut dyn Client) -> Result<T, LineageError>,
    ) -> Result<T, LineageError> {
        let mut client = lock(&self.client);
        work(client.as_mut()).map_err(|e| located(e, &self.url))
    }
}

fn connect(url: &ServerUrl, password: Option<&str>) -> Result<Box<dyn Client>, LineageError> {
    match url.dialect {
        #[cfg(feature = "metadata-postgres")]
        Dialect::Postgres => Ok(Box::new(postgres::PgClient::connect(
            url,
            password,
            CONNECT_TIMEOUT,
        )?)),
        #[cfg(feature = "metadata-mysql")]
        Dialect::Mysql => Ok(Box::new(mysql::MyClient::connect(
            url,
            password,
            CONNECT_TIMEOUT,
        )?)),
        #[allow(unreachable_patterns)]
        _ => Err(LineageError::Server {
            url: url.shown(),
            detail: "this zenbuild was built without that server's client (cargo features \
                     metadata-postgres, metadata-mysql)"
                .to_string(),
        }),
    }
}

/// An error of the store's own (no URL yet) with the store's URL.
fn located(error: LineageError, url: &ServerUrl) -> LineageError {
    match error {
        LineageError::Server { url: shown, detail } if shown.is_empty() => LineageError::Server {
            url: url.shown(),
            detail,
        },
        other => other,
    }
}

/// The connection stays usable if a thread panicked holding it.
fn lock(mutex: &Mutex<Box<dyn Client>>) -> MutexGuard<'_, Box<dyn Client>> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MetadataStore for ServerStore {
    fn has_manifest(&self, digest: &str) -> Result<bool, LineageError> {
        self.with(|client| read::has_manifest(client, digest))
    }
    fn begin_run(&mut self, run: &NewRun) -> Result<RunId, LineageError> {
        self.with(|client| record::begin_run(client, run))
    }
    fn record_actions(&mut self, run: RunId, actions: &[ActionRecord]) -> Result<(), LineageError> {
        self.with(|client| record::record_actions(client, run, actions))
    }
    fn finish_run(&mut self, run: RunId, end: &RunEnd) -> Result<(), LineageError> {
        self.with(|client| record::finish_run(client, run, end))
    }
    fn close_abandoned_runs(&mut self) -> Result<usize, LineageError> {
        // Runs reach a team database once they are over (see `lineage::delivery`): one that
        // says `running` is another machine's business, never this one's to close.
        Ok(0)
    }
    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, LineageError> {
        self.with(|client| read::runs(client, limit, None))
    }
    fn runs_of(&self, user: &str, limit: usize) -> Result<Vec<RunSummary>, LineageError> {
        self.with(|client| read::runs(client, limit, Some(user)))
    }
    fn run(&self, id: RunId) -> Result<Option<RunSummary>, LineageError> {
        self.with(|client| read::run(client, id))
    }
    fn run_actions(&self, id: RunId) -> Result<Vec<ActionSummary>, LineageError> {
        self.with(|client| read::run_actions(client, id))
    }
    fn runs_at_commit(&self, commit: &str) -> Result<Vec<RunId>, LineageError> {
        self.with(|client| read::runs_at_commit(client, commit))
    }
    fn producer(&self, path: &str, digest: &str) -> Result<Option<ActionSummary>, LineageError> {
        self.with(|client| read::producer(client, path, digest))
    }
    fn consumers(&self, path: &str, digest: &str) -> Result<Vec<ActionSummary>, LineageError> {
        self.with(|client| read::consumers(client, path, digest))
    }
    fn keys_since(&self, since_ms: i64) -> Result<Vec<String>, LineageError> {
        self.with(|client| read::keys_since(client, since_ms))
    }
    fn find_artifacts(&self, path_or_digest: &str) -> Result<Vec<ArtifactRecord>, LineageError> {
        self.with(|client| read::find_artifacts(client, path_or_digest))
    }
    fn directory_holding(
        &self,
        run: RunId,
        path: &str,
    ) -> Result<Option<ArtifactRecord>, LineageError> {
        self.with(|client| directories::holding(client, run, path))
    }
    fn read_inside(
        &self,
        runs: &[RunId],
        directory: &str,
        digest: &str,
    ) -> Result<Vec<ArtifactRecord>, LineageError> {
        self.with(|client| directories::read_inside(client, runs, directory, digest))
    }
}
