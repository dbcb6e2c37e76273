//! Where a walk's time goes: a store that passes each read on to the real one and counts the
//! calls of each kind and the time they took, so the report can say which queries a
//! `lineage` walk makes and what each costs on each backend.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use zenbuild::lineage::{
    ActionRecord, ActionSummary, ArtifactRecord, LineageError, MetadataStore, NewRun, RunEnd,
    RunId, RunSummary,
};

/// Reads through `store`, counting; it writes nothing (a walk never does).
pub struct Counted<'s> {
    store: &'s dyn MetadataStore,
    calls: RefCell<BTreeMap<&'static str, (usize, Duration)>>,
}

impl<'s> Counted<'s> {
    pub fn new(store: &'s dyn MetadataStore) -> Counted<'s> {
        Counted {
            store,
            calls: RefCell::new(BTreeMap::new()),
        }
    }

    fn count<T>(&self, name: &'static str, read: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let answer = read();
        let mut calls = self.calls.borrow_mut();
        let entry = calls.entry(name).or_default();
        entry.0 += 1;
        entry.1 += started.elapsed();
        answer
    }

    /// `producer ×11 3.2 ms, run ×1 0.1 ms`: each kind of call, how many, how long in all.
    pub fn summary(&self) -> String {
        let mut line = String::new();
        for (name, (calls, spent)) in self.calls.borrow().iter() {
            if !line.is_empty() {
                line.push_str(", ");
            }
            let _ = write!(line, "{name} ×{calls} {:.1} ms", spent.as_secs_f64() * 1e3);
        }
        line
    }
}

fn read_only() -> LineageError {
    LineageError::Io {
        context: "the benchmark's counting store".into(),
        source: std::io::Error::other("it only reads"),
    }
}

impl MetadataStore for Counted<'_> {
    fn has_manifest(&self, digest: &str) -> Result<bool, LineageError> {
        self.count("has_manifest", || self.store.has_manifest(digest))
    }
    fn begin_run(&mut self, _: &NewRun) -> Result<RunId, LineageError> {
        Err(read_only())
    }
    fn record_actions(&mut self, _: RunId, _: &[ActionRecord]) -> Result<(), LineageError> {
        Err(read_only())
    }
    fn finish_run(&mut self, _: RunId, _: &RunEnd) -> Result<(), LineageError> {
        Err(read_only())
    }
    fn close_abandoned_runs(&mut self) -> Result<usize, LineageError> {
        Err(read_only())
    }
    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, LineageError> {
        self.count("runs", || self.store.runs(limit))
    }
    fn runs_of(&self, user: &str, limit: usize) -> Result<Vec<RunSummary>, LineageError> {
        self.count("runs_of", || self.store.runs_of(user, limit))
    }
    fn run(&self, id: RunId) -> Result<Option<RunSummary>, LineageError> {
        self.count("run", || self.store.run(id))
    }
    fn run_actions(&self, id: RunId) -> Result<Vec<ActionSummary>, LineageError> {
        self.count("run_actions", || self.store.run_actions(id))
    }
    fn runs_at_commit(&self, commit: &str) -> Result<Vec<RunId>, LineageError> {
        self.count("runs_at_commit", || self.store.runs_at_commit(commit))
    }
    fn producer(&self, path: &str, digest: &str) -> Result<Option<ActionSummary>, LineageError> {
        self.count("producer", || self.store.producer(path, digest))
    }
    fn consumers(&self, path: &str, digest: &str) -> Result<Vec<ActionSummary>, LineageError> {
        self.count("consumers", || self.store.consumers(path, digest))
    }
    fn keys_since(&self, since_ms: i64) -> Result<Vec<String>, LineageError> {
        self.count("keys_since", || self.store.keys_since(since_ms))
    }
    fn find_artifacts(&self, path_or_digest: &str) -> Result<Vec<ArtifactRecord>, LineageError> {
        self.count("find_artifacts", || {
            self.store.find_artifacts(path_or_digest)
        })
    }
    fn directory_holding(
        &self,
        run: RunId,
        path: &str,
    ) -> Result<Option<ArtifactRecord>, LineageError> {
        self.count("directory_holding", || {
            self.store.directory_holding(run, path)
        })
    }
    fn read_inside(
        &self,
        runs: &[RunId],
        directory: &str,
        digest: &str,
    ) -> Result<Vec<ArtifactRecord>, LineageError> {
        self.count("read_inside", || {
            self.store.read_inside(runs, directory, digest)
        })
    }
}
