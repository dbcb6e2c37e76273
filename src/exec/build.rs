//! The work of one action, for the scheduler: hash its inputs into its key, then restore its
//! outputs from the store on a hit, or run its command and store what it wrote on a miss.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::event::{Done, Failure, Outcome};
use super::executor::Ended;
use super::interrupt::Interrupt;
use super::last_keys::LastKeys;
use super::lookup::Found;
use super::reason::key_changes;
use super::resources::Grant;
use super::scheduler::{Attempt, Check, Work};
use super::up_to_date::Unchanged;
use crate::graph::{Action, ActionId, ArtifactId, ExecutorId, Graph};
use crate::hash::{ActionKey, Digest, FileSystem, Platform, StatCache};
use crate::store::{LinkMode, Store};

/// The reason a forced action runs (`--force`), in the build, `plan`, `show` and the report.
pub const FORCED: &str = "forced";

/// What the build work reaches besides the graph.
///
/// The file work the builder does itself (creating a workdir, reading a step's metrics and
/// log, reading the clock) goes through the stat cache's [`FileSystem`] (see
/// `Builder::fs`). Clearing, saving and restoring outputs do not: they are the store's
/// (`crate::store::outputs`), whose no-follow, beneath-the-root system calls are what keep a
/// step or a cached result from writing through a symlink or outside the workspace, and a fake
/// could only pretend to them. That code works on the real disk, and is the boundary.
pub struct Context<'a> {
    /// The workspace root (absolute).
    pub root: &'a Path,
    pub store: &'a dyn Store,
    /// Hashes inputs and outputs, and holds the file system the rest of the work uses.
    pub stat_cache: &'a StatCache,
    pub last_keys: &'a LastKeys,
    pub link_mode: LinkMode,
    /// Ctrl-C: an attempt that fails after it was raised was interrupted, not failed.
    pub interrupt: &'a Interrupt,
}

pub struct Builder<'a> {
    pub graph: &'a Graph,
    pub cx: Context<'a>,
    pub platform: Platform,
    /// Digests of the outputs finished in this build, which dependents use as their input
    /// digests (so an identical rebuild leaves them cached: early cut-off).
    pub(super) produced: Mutex<HashMap<ArtifactId, (Digest, bool)>>,
    /// Inputs that lie inside another step's output directory, by path: their digests come
    /// from that directory's recorded listing.
    pub(super) nested: HashMap<String, ArtifactId>,
    /// What the user should hear about once the build ends (a cached result refused).
    pub(super) warnings: Mutex<Vec<String>>,
    /// Actions that run even when cached (`--force`).
    pub(super) forced: HashSet<ActionId>,
    /// Sources that more than one action reads (a dataset every combination of a matrix
    /// reads), each hashed once per build rather than looked at once per reader, so that
    /// every reader is keyed with the same bytes even if the file changes meanwhile.
    pub(super) shared_sources: HashMap<ArtifactId, OnceLock<Option<(Digest, bool)>>>,
    /// The files the up-to-date check found as its record has them, whose digests need no
    /// second stat (see [`Builder::known_unchanged`]).
    pub(super) unchanged: Option<&'a Unchanged>,
    /// Where steps that name no executor run (`--executor`).
    pub(super) default_executor: ExecutorId,
}

/// What a check learned that running needs, and what the attempts learn.
pub struct Pending {
    pub(super) key: ActionKey,
    pub(super) digest: Digest,
    pub(super) reasons: Vec<String>,
    /// Attempts made so far.
    pub(super) attempt: u32,
    /// Of those, attempts its executor lost to their machine, which the step's own
    /// `retries` do not pay for.
    pub(super) lost: u32,
    /// When the first attempt began readying the workspace.
    pub(super) started: Option<Instant>,
}

impl Pending {
    pub(super) fn new(key: ActionKey, digest: Digest, reasons: Vec<String>) -> Pending {
        Pending {
            key,
            digest,
            reasons,
            attempt: 0,
            lost: 0,
            started: None,
        }
    }
}

impl<'a> Builder<'a> {
    pub fn new(graph: &'a Graph, cx: Context<'a>) -> Builder<'a> {
        let nested = graph
            .artifacts
            .iter()
            .enumerate()
            .filter(|(index, artifact)| {
                artifact.producer.is_some_and(|producer| {
                    !graph.action(producer).outputs.contains(&ArtifactId(*index))
                })
            })
            .map(|(index, artifact)| (artifact.path.to_string(), ArtifactId(index)))
            .collect();
        let shared_sources = graph
            .artifacts
            .iter()
            .enumerate()
            .filter(|(_, artifact)| artifact.producer.is_none() && artifact.consumers.len() > 1)
            .map(|(index, _)| (ArtifactId(index), OnceLock::new()))
            .collect();
        Builder {
            graph,
            cx,
            platform: Platform::current(),
            produced: Mutex::new(HashMap::new()),
            nested,
            warnings: Mutex::new(Vec::new()),
            forced: HashSet::new(),
            shared_sources,
            unchanged: None,
            default_executor: ExecutorId::LOCAL,
        }
    }

    /// Runs the steps that name no executor on `executor` (`--executor NAME`).
    pub fn default_executor(&mut self, executor: ExecutorId) {
        self.default_executor = executor;
    }

    /// The executor `action` runs on.
    pub fn executor_of(&self, action: &Action) -> ExecutorId {
        action.executor.unwrap_or(self.default_executor)
    }

    /// The disk and clock of the build's own file work: the stat cache's, not a field of
    /// [`Context`] beside it, so that the files the build creates and reads and the files it
    /// hashes are always on one file system with one clock; two could disagree (a test's
    /// fake clock judging the cache while the build read the real one).
    pub(super) fn fs(&self) -> &dyn FileSystem {
        self.cx.stat_cache.fs()
    }

    /// Takes the digests of the files the up-to-date check, made under the same workspace
    /// lock, found unchanged since its record, instead of looking at those files again: an
    /// incremental build of 10,000 steps otherwise stats each step's input and output a
    /// second time to learn what the check just saw. Only regular files whose recorded
    /// signature was trusted are taken (see [`Unchanged::file`]).
    pub fn known_unchanged(&mut self, unchanged: &'a Unchanged) {
        // Empty (no record, or one of another manifest): nothing to ask it for each file.
        self.unchanged = (!unchanged.is_empty()).then_some(unchanged);
    }

    /// What the up-to-date check knew of the regular file at `path` (relative to the root).
    pub(super) fn unchanged_file(&self, path: &str) -> Option<(Digest, bool)> {
        self.unchanged?.file(path)
    }

    /// Makes `forced` run even when cached; their results replace the cached ones.
    pub fn force(&mut self, forced: HashSet<ActionId>) {
        self.forced = forced;
    }

    /// Why a forced action runs: forced, and what changed besides, if anything did.
    pub(super) fn forced_reasons(&self, action: &Action, key: &ActionKey) -> Vec<String> {
        let mut reasons = vec![FORCED.to_string()];
        if let Some(previous) = self.cx.last_keys.get(&action.name) {
            reasons.extend(key_changes(&previous, key));
        }
        reasons
    }

    /// What went wrong with cached results in this build, a line each, for the build to show.
    pub fn take_warnings(&self) -> Vec<String> {
        let mut warnings = self
            .warnings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *warnings)
    }
}

impl Work for Builder<'_> {
    type Pending = Pending;

    fn key_of(pending: &Pending) -> Option<Digest> {
        Some(pending.digest)
    }

    fn lane(&self, id: ActionId) -> usize {
        usize::from(self.executor_of(self.graph.action(id)).0)
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one ladder from key to cached, restored or to run; each rung returns"
    )]
    fn check(&self, id: ActionId) -> Check<Pending> {
        let action = self.graph.action(id);
        let started = Instant::now();
        let key = match self.key(action) {
            Ok(key) => key,
            Err(e) => {
                return Check::Done(Outcome::Failed(Failure {
                    message: e.to_string(),
                    ..Failure::default()
                }));
            }
        };
        let digest = key.digest();
        if self.forced.contains(&id) {
            let reasons = self.forced_reasons(action, &key);
            return Check::Run(Pending::new(key, digest, reasons));
        }
        if !action.cache {
            let reasons = self.reasons(action, &key);
            return Check::Run(Pending::new(key, digest, reasons));
        }
        match self.look_up(action, &key, digest) {
            Found::Hit(hit) => Check::Done(Outcome::Cached(Box::new(Done {
                key: Some(digest),
                fields: Some(key),
                outputs: hit.outputs,
                duration: started.elapsed(),
                reasons: Vec::new(),
                source: Some(hit.source),
                logs: hit.logs,
                logs_cut: hit.logs_cut,
                restored: hit.restored,
                printed: None,
                ran_on: None,
            }))),
            Found::Miss => {
                let reasons = self.reasons(action, &key);
                Check::Run(Pending::new(key, digest, reasons))
            }
            Found::Unusable(why) => Check::Run(Pending::new(key, digest, vec![why])),
            Found::Broken(message) => Check::Done(Outcome::Failed(Failure {
                key: Some(digest),
                message,
                ..Failure::default()
            })),
        }
    }

    fn attempt(&self, id: ActionId, pending: &mut Pending, grant: &Grant) -> Attempt {
        self.next_attempt(self.graph.action(id), pending, grant)
    }

    fn ended(&self, id: ActionId, pending: &mut Pending, ended: Ended) -> Option<Outcome> {
        self.attempt_ended(self.graph.action(id), pending, ended)
    }
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
