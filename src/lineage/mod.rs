//! Lineage: which data, code, params and commit produced which output, and how good it was.
//!
//! Every build that goes the whole way is a run: its command line, who ran it where, the git
//! commit and whether the tree was dirty, the resolved graph, and for each action its status,
//! key, timings, the artifacts (path and digest) it read and wrote, its params and its
//! metrics. The [`recorder`] writes them from the build's events as actions finish, so a run
//! killed half-way keeps what it did; the queries behind `zenbuild log`, `show` and `lineage`
//! read them back. The store is a trait, [`MetadataStore`]; [`SqliteStore`] keeps it in
//! `.zenbuild/lineage.db`, where what an action is ([`content`]) is kept once for all the runs
//! that repeat it.

pub mod closing;
pub mod content;
pub mod damaged;
pub mod delivery;
pub mod durations;
pub mod git;
mod latest_readers;
pub mod metrics;
pub mod outbox;
mod parts;
pub mod recorder;
pub mod schema;
pub mod server;
pub mod snapshot;
pub mod sqlite;
mod sqlite_directories;
pub(crate) mod sqlite_parts;
mod sqlite_record;
pub mod team;
#[doc(hidden)]
pub mod test_history;
pub mod tree;

use std::path::{Path, PathBuf};

pub use git::GitState;
pub use sqlite::SqliteStore;

pub type RunId = i64;

/// A run's name across stores (see [`NewRun::uid`]).
pub type RunUid = [u8; 16];

/// A new run's uid: the time, this process and machine, and a counter, hashed; no two runs
/// anywhere share one.
pub fn new_run_uid() -> RunUid {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let seed = format!(
        "{}:{}:{host}:{}",
        now.as_nanos(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let digest = crate::hash::Digest::of(seed.as_bytes());
    let mut uid = [0; 16];
    uid.copy_from_slice(&digest.as_bytes()[..16]);
    uid
}

#[derive(Debug, thiserror::Error)]
pub enum LineageError {
    #[error(
        "the lineage database was written by a newer zenbuild (schema version {found}; this one knows up to {known}): upgrade zenbuild"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("{}", damaged_message(.path, .detail))]
    Damaged { path: PathBuf, detail: String },
    #[error("lineage database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A team database said no, or could not be reached; `url` is shown without a password.
    #[error("metadata store {url}: {detail}")]
    Server { url: String, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl LineageError {
    /// Whether the database is damaged, rather than busy, newer or out of reach.
    pub fn is_damage(&self) -> bool {
        matches!(self, LineageError::Damaged { .. })
    }
}

/// What to do about a damaged database, with the command that does it.
fn damaged_message(path: &Path, detail: &str) -> String {
    let shown = shell_word(path);
    format!(
        "the lineage database {shown} is damaged ({detail}): move it aside (`mv {shown} {}`) \
         or delete it, and the next build starts a new one",
        shell_word(&PathBuf::from(format!("{}.corrupt", path.display())))
    )
}

/// `path` as a shell takes it: bare when it can be, else in single quotes.
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = text.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | ',' | '@' | '%')
    });
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// How a run ended; `Running` until it does (and forever, if it was killed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// What is known of a run when it starts.
#[derive(Clone, Debug)]
pub struct NewRun {
    /// Random, made by the clone that ran it: the run's name in every store it is sent to,
    /// so that sending it twice records it once.
    pub uid: RunUid,
    pub started_ms: i64,
    /// `build`, or `watch` for a cycle of `zenbuild watch`.
    pub kind: String,
    pub command: Vec<String>,
    pub user: String,
    pub host: String,
    pub version: String,
    /// Names the resolved graph: equal digests, equal graphs.
    pub manifest_digest: String,
    /// The resolved graph, as `zenbuild graph --format json` prints it; `None` when the
    /// store already has it ([`MetadataStore::has_manifest`]).
    pub manifest: Option<String>,
    /// The team store of a pipeline's own that this run goes to (its URL as shown); `None`
    /// for the manifest's, if it names one. Kept by the clone's SQLite file only.
    pub store: Option<String>,
}

/// What is known of a run when it ends.
#[derive(Clone, Debug)]
pub struct RunEnd {
    pub finished_ms: i64,
    pub status: RunStatus,
    pub git: Option<GitState>,
    pub counts: Counts,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub ran: u64,
    pub cached: u64,
    pub failed: u64,
    /// Never started: what they depend on did not succeed, or the build stopped first.
    pub skipped: u64,
    /// Started, then stopped before they finished (Ctrl-C, or watch mode on a change).
    pub interrupted: u64,
}

/// One action of a run, as it finished.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ActionRecord {
    pub name: String,
    pub step: String,
    pub key: Option<String>,
    /// ran, cached, failed, skipped or interrupted.
    pub status: String,
    pub exit_code: Option<i32>,
    pub started_ms: i64,
    pub duration_ms: i64,
    /// Where it ran or came from: `local`, or a cache's or executor's name.
    pub executor: Option<String>,
    /// The executor's id for the run (a Slurm job id), and the node it ran on.
    pub job_id: Option<String>,
    pub node: Option<String>,
    pub cmd: String,
    pub reasons: Vec<String>,
    pub inputs: Vec<ArtifactRecord>,
    pub outputs: Vec<ArtifactRecord>,
    pub params: Vec<(String, serde_json::Value)>,
    pub metrics: Vec<Metric>,
}

/// A file or directory (path ending in `/`) with the digest it had.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ArtifactRecord {
    pub path: String,
    pub digest: String,
    pub size: Option<u64>,
}

/// One flattened metric: `eval.auc = 0.91` from `out/metrics.json`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Metric {
    pub path: String,
    pub name: String,
    pub value: serde_json::Value,
}

/// A run as `zenbuild log` lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunSummary {
    pub id: RunId,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub status: String,
    pub kind: String,
    pub command: Vec<String>,
    pub user: String,
    pub host: String,
    pub version: String,
    pub git: Option<GitState>,
    #[serde(flatten)]
    pub counts: Counts,
}

/// An action as a run recorded it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ActionSummary {
    pub run_id: RunId,
    #[serde(flatten)]
    pub action: ActionRecord,
}

/// Where lineage is kept: SQLite here, a server database for teams later.
pub trait MetadataStore {
    fn has_manifest(&self, digest: &str) -> Result<bool, LineageError>;
    fn begin_run(&mut self, run: &NewRun) -> Result<RunId, LineageError>;
    /// Adds finished actions to a run, all or none.
    fn record_actions(&mut self, run: RunId, actions: &[ActionRecord]) -> Result<(), LineageError>;
    fn finish_run(&mut self, run: RunId, end: &RunEnd) -> Result<(), LineageError>;
    /// Marks runs still `running` as interrupted: for a caller that holds the workspace lock,
    /// which proves no build is running; returns how many there were.
    fn close_abandoned_runs(&mut self) -> Result<usize, LineageError>;
    /// The latest runs, newest first.
    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, LineageError>;
    /// The latest runs of `user`, newest first.
    fn runs_of(&self, user: &str, limit: usize) -> Result<Vec<RunSummary>, LineageError>;
    fn run(&self, id: RunId) -> Result<Option<RunSummary>, LineageError>;
    fn run_actions(&self, id: RunId) -> Result<Vec<ActionSummary>, LineageError>;
    /// The latest runs built at `commit` (a full hex id), newest first.
    fn runs_at_commit(&self, commit: &str) -> Result<Vec<RunId>, LineageError>;
    /// The action that produced `path` with `digest`: one that ran rather than one that
    /// restored it, the latest such.
    fn producer(&self, path: &str, digest: &str) -> Result<Option<ActionSummary>, LineageError>;
    /// The latest action of each name that read `path` with `digest`.
    fn consumers(&self, path: &str, digest: &str) -> Result<Vec<ActionSummary>, LineageError>;
    /// The keys of the actions of runs started at or after `since_ms`.
    fn keys_since(&self, since_ms: i64) -> Result<Vec<String>, LineageError>;
    /// Artifacts ever recorded at `path` (or, with `path` a digest prefix, with such a
    /// digest), the latest first.
    fn find_artifacts(&self, path_or_digest: &str) -> Result<Vec<ArtifactRecord>, LineageError>;
    /// Of the directories that actions of run `run` wrote, the one that holds `path` (a
    /// prefix of it ending in `/`, not the whole of it): the deepest, when several do; as the
    /// latest of the run's actions that wrote it recorded it, when several did. What
    /// `lineage` shows a file inside an output directory to have been made by.
    fn directory_holding(
        &self,
        run: RunId,
        path: &str,
    ) -> Result<Option<ArtifactRecord>, LineageError>;
    /// What actions read inside the directory `directory` (paths it holds) in those of `runs`
    /// in which an action wrote it with `digest`: each artifact once, in no order. What
    /// `lineage --down` follows below a directory.
    fn read_inside(
        &self,
        runs: &[RunId],
        directory: &str,
        digest: &str,
    ) -> Result<Vec<ArtifactRecord>, LineageError>;
}
