//! Records a build in the lineage store, from the events the scheduler emits: the run when it
//! starts, each action as it finishes, and the outcome at the end. Finished actions are
//! written in batches, at least every `FLUSH_EVERY` and whenever the scheduler has waited a
//! moment with nothing finishing, so a build killed while a long step runs keeps everything
//! done before it. One transaction per action would cost a thousand short steps more than
//! running them.
//!
//! Lineage is a record, not the build: when the store cannot be opened or written, the build
//! goes on and the recorder says once why its run is missing or partial. A database that
//! SQLite finds damaged, when it is opened or at any write, is moved aside (never deleted)
//! and the run is recorded whole in a new one, which the user is told once.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{
    ActionRecord, ArtifactRecord, Counts, GitState, LineageError, MetadataStore, NewRun, RunEnd,
    RunId, RunStatus, closing, damaged, metrics,
};
use crate::Manifest;
use crate::exec::event::{Event, Outcome};
use crate::graph::render::{Selection, to_json};
use crate::graph::{ActionId, Graph};
use crate::hash::Digest;
use crate::workspace::StateDir;

/// Finished actions are written at least this often, and when the build ends.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// The size of the file at a path if it holds a digest, where known without a stat.
pub type Sizes<'g> = Box<dyn Fn(&Path, &Digest) -> Option<u64> + 'g>;

pub struct Recorder<'g> {
    /// `None` only after a damaged store could not be replaced, which `failed` holds.
    store: Option<Store>,
    run: RunId,
    graph: &'g Graph,
    root: PathBuf,
    /// Where the store keeps a blob, to read metrics files by digest.
    blob_path: Box<dyn Fn(&Digest) -> PathBuf + 'g>,
    /// The size of the file at a path if it holds a digest, where the build knows it without
    /// a stat (see [`Recorder::with_sizes`]).
    sizes: Option<Sizes<'g>>,
    pending: Vec<ActionRecord>,
    last_flush: Instant,
    counts: Counts,
    /// `git status` walks the work tree; it runs beside the build.
    git: Option<JoinHandle<Option<GitState>>>,
    /// The first write that failed; later ones are not attempted.
    failed: Option<LineageError>,
    /// Puts a new store in the place of one found damaged, once.
    replace: Option<Replace<'g>>,
    /// The run as it began, to begin it again in a new store.
    new_run: NewRun,
    selected: Vec<ActionId>,
    /// What was written so far, to write again in a new store; kept while one may come.
    written: Vec<ActionRecord>,
    /// What the user should hear about, once.
    notes: Vec<String>,
    /// When each running action's command started (wall clock in ms, and a monotonic
    /// instant): an interrupted action's record says when it started and how long it ran.
    running: HashMap<ActionId, (i64, Instant)>,
    /// The actions interrupted so far, to say why their dependents were skipped.
    interrupted: HashSet<ActionId>,
}

/// A store the recorder writes to: closed on another thread when the run is finished (see
/// [`closing`]).
pub type Store = Box<dyn MetadataStore + Send>;

/// Moves a damaged store aside and opens a new one in its place; says what it did. The
/// damaged store is closed first: SQLite removes a WAL file by its name when its last
/// connection closes, and after the move that name is the new database's.
pub type Replace<'g> = Box<dyn FnOnce(&LineageError) -> Result<(Store, String), LineageError> + 'g>;

/// Who and where, for the run row.
pub struct Origin {
    pub command: Vec<String>,
    pub started: SystemTime,
    /// `build`, or `watch` for a cycle of `zenbuild watch`.
    pub kind: &'static str,
    /// The team store of a pipeline's own that the run goes to, as [`NewRun::store`].
    pub store: Option<String>,
}

impl<'g> Recorder<'g> {
    /// Starts recording, in the workspace's `.zenbuild/lineage.db`, a run of `selected` that
    /// this process's command line asked for. A database found damaged, now or while the
    /// run is recorded, is moved aside and a new one holds the run.
    pub fn in_workspace(
        root: &Path,
        (manifest, graph): (&Manifest, &'g Graph),
        selected: &[ActionId],
        (kind, store): (&'static str, Option<String>),
        blob_path: Box<dyn Fn(&Digest) -> PathBuf + 'g>,
    ) -> Result<Recorder<'g>, LineageError> {
        let path = StateDir::of(root).lineage_db();
        let opened = super::SqliteStore::open(&path).map(|store| Box::new(store) as _);
        let replace: Replace<'g> = Box::new(move |damage| {
            let aside = damaged::move_aside(&path).map_err(|source| LineageError::Io {
                context: format!("{damage}; moving it aside failed"),
                source,
            })?;
            let store = super::SqliteStore::open(&path)?;
            let detail = match damage {
                LineageError::Damaged { detail, .. } => detail.clone(),
                other => other.to_string(),
            };
            let note = format!(
                "the lineage database {} was damaged ({detail}): moved it aside to {} and \
                 started a new one, which records this run",
                path.display(),
                aside.display()
            );
            Ok((Box::new(store) as _, note))
        });
        // The program as people type it, not the path it was started by.
        let command = std::iter::once("zenbuild".to_string())
            .chain(std::env::args().skip(1))
            .collect();
        let origin = Origin {
            command,
            started: SystemTime::now(),
            kind,
            store,
        };
        Recorder::start(
            opened,
            Some(replace),
            root,
            (manifest, graph),
            selected,
            origin,
            blob_path,
        )
    }

    /// Starts recording a run of `selected` in the store `opened` (or the error of opening
    /// it). Runs still marked running are closed as interrupted first: the caller holds the
    /// workspace lock, so none is. A store found damaged is swapped for what `replace`
    /// gives, once.
    pub fn start(
        opened: Result<Store, LineageError>,
        mut replace: Option<Replace<'g>>,
        root: &Path,
        (manifest, graph): (&Manifest, &'g Graph),
        selected: &[ActionId],
        origin: Origin,
        blob_path: Box<dyn Fn(&Digest) -> PathBuf + 'g>,
    ) -> Result<Recorder<'g>, LineageError> {
        let new_run = NewRun {
            uid: crate::lineage::new_run_uid(),
            started_ms: millis(origin.started),
            kind: origin.kind.to_string(),
            command: origin.command,
            user: user(),
            host: host(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            manifest_digest: resolved_digest(manifest, graph, selected),
            manifest: None,
            store: origin.store,
        };
        let mut notes = Vec::new();
        let begun = opened.and_then(|mut store| {
            let run = begin(&mut *store, &new_run, graph, selected)?;
            Ok((store, run))
        });
        let (store, run) = match (begun, replace.take()) {
            (Err(damage), Some(replace)) if damage.is_damage() => {
                let (mut store, note) = replace(&damage)?;
                notes.push(note);
                let run = begin(&mut *store, &new_run, graph, selected)?;
                (store, run)
            }
            (begun, unused) => {
                replace = unused;
                begun?
            }
        };
        let git_root = root.to_path_buf();
        Ok(Recorder {
            store: Some(store),
            run,
            graph,
            root: root.to_path_buf(),
            blob_path,
            sizes: None,
            pending: Vec::new(),
            last_flush: Instant::now(),
            counts: Counts::default(),
            git: Some(std::thread::spawn(move || super::git::state(&git_root))),
            failed: None,
            replace,
            new_run,
            selected: selected.to_vec(),
            written: Vec::new(),
            notes,
            running: HashMap::new(),
            interrupted: HashSet::new(),
        })
    }

    /// Takes artifact sizes from `sizes` (the size of the file at a path if it holds a
    /// digest) where it knows them: the build's stat cache knows most, and a stat of every
    /// input and output of every action cost an incremental build of 10,000 steps 20,000
    /// system calls. Where it does not, the file is looked at.
    #[must_use]
    pub fn with_sizes(self, sizes: Sizes<'g>) -> Self {
        Recorder {
            sizes: Some(sizes),
            ..self
        }
    }

    pub fn run_id(&self) -> RunId {
        self.run
    }

    /// What the user should be told since the last call: a damaged database moved aside.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    pub fn handle(&mut self, event: &Event) {
        let (id, outcome) = match event {
            Event::Running { id, .. } => {
                self.running
                    .insert(*id, (millis(SystemTime::now()), Instant::now()));
                return;
            }
            Event::Finished { id, outcome } => (id, outcome),
            // The running steps may take hours: what finished before is written now.
            Event::Waiting => return self.flush(),
            _ => return,
        };
        match outcome {
            Outcome::Ran(_) => self.counts.ran += 1,
            Outcome::Cached(_) => self.counts.cached += 1,
            Outcome::Failed(_) => self.counts.failed += 1,
            Outcome::Skipped { .. } | Outcome::Stopped => self.counts.skipped += 1,
            Outcome::Interrupted => {
                self.counts.interrupted += 1;
                self.interrupted.insert(*id);
            }
        }
        let record = self.action_record(*id, outcome);
        self.running.remove(id);
        self.pending.push(record);
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Writes what is pending and closes the run; returns what the user should be told: a
    /// damaged database moved aside, and the first error met on the way. The store is closed
    /// on a thread of its own, which [`closing::wait`] waits for.
    pub fn finish(mut self, status: RunStatus) -> Vec<String> {
        self.flush();
        let git = self
            .git
            .take()
            .and_then(|thread| thread.join().ok().flatten());
        if self.failed.is_none() {
            let end = RunEnd {
                finished_ms: millis(SystemTime::now()),
                status,
                git,
                counts: self.counts,
            };
            if let Err(e) = self.write(|store, run| store.finish_run(run, &end)) {
                self.failed = Some(e);
            }
        }
        closing::drop_later((self.store.take(), std::mem::take(&mut self.written)));
        let mut notes = std::mem::take(&mut self.notes);
        if let Some(e) = self.failed {
            notes.push(format!("this run's lineage is incomplete: {e}"));
        }
        notes
    }

    fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.pending.is_empty() || self.failed.is_some() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        match self.write(|store, run| store.record_actions(run, &pending)) {
            Ok(()) if self.replace.is_some() => self.written.extend(pending),
            Ok(()) => {}
            Err(e) => self.failed = Some(e),
        }
    }

    /// Runs `op` on the store; when the store turns out damaged, moves it aside, begins the
    /// run again in a new one with every action written so far, and runs `op` there.
    fn write(
        &mut self,
        op: impl Fn(&mut dyn MetadataStore, RunId) -> Result<(), LineageError>,
    ) -> Result<(), LineageError> {
        let Some(store) = self.store.as_deref_mut() else {
            return Err(LineageError::Io {
                context: "the lineage database was given up".into(),
                source: std::io::Error::other("an earlier error"),
            });
        };
        let (damage, replace) = match (op(store, self.run), self.replace.take()) {
            (Err(e), Some(replace)) if e.is_damage() => (e, replace),
            (other, unused) => {
                self.replace = unused;
                return other;
            }
        };
        drop(self.store.take());
        let (mut store, note) = replace(&damage)?;
        self.notes.push(note);
        self.run = begin(&mut *store, &self.new_run, self.graph, &self.selected)?;
        let written = std::mem::take(&mut self.written);
        store.record_actions(self.run, &written)?;
        let result = op(&mut *store, self.run);
        self.store = Some(store);
        result
    }

    fn action_record(&self, id: ActionId, outcome: &Outcome) -> ActionRecord {
        let ran_for = self.running.get(&id).map(|(started_ms, started)| {
            let elapsed = started.elapsed().as_millis() as i64;
            (*started_ms, elapsed)
        });
        let action = self.graph.action(id);
        let now = millis(SystemTime::now());
        let mut record = ActionRecord {
            name: action.name.clone(),
            step: action.step.clone(),
            status: outcome.status().to_string(),
            cmd: action.cmd.clone(),
            started_ms: now,
            params: action
                .params
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
            ..ActionRecord::default()
        };
        match outcome {
            Outcome::Ran(done) | Outcome::Cached(done) => {
                record.key = done.key.map(|key| key.to_hex());
                record.duration_ms = done.duration.as_millis() as i64;
                record.started_ms = now - record.duration_ms;
                record.executor = Some(match (outcome, &done.source) {
                    (Outcome::Ran(_), _) => done
                        .ran_on
                        .as_ref()
                        .map_or_else(|| "local".to_string(), |on| on.executor.clone()),
                    (_, Some(source)) => format!("cache:{source}"),
                    (_, None) => "cache".to_string(),
                });
                if let Some(on) = &done.ran_on {
                    record.job_id.clone_from(&on.job_id);
                    record.node.clone_from(&on.node);
                }
                record.reasons.clone_from(&done.reasons);
                record.inputs = self.artifacts(
                    done.fields
                        .iter()
                        .flat_map(|key| &key.inputs)
                        .map(|input| (&input.path, &input.digest)),
                );
                record.outputs = self.artifacts(done.outputs.iter());
                record.metrics = action
                    .metrics
                    .iter()
                    .filter_map(|&metric| {
                        let path = self.graph.artifact(metric).display_path();
                        let digest = done.outputs.get(&path)?;
                        let bytes = std::fs::read((self.blob_path)(digest))
                            .or_else(|_| std::fs::read(self.root.join(&path)))
                            .ok()?;
                        Some(metrics::flatten(&path, &bytes))
                    })
                    .flatten()
                    .collect();
            }
            Outcome::Failed(failure) => {
                record.key = failure.key.map(|key| key.to_hex());
                record.exit_code = failure.exit_code;
                record.duration_ms = failure.duration.as_millis() as i64;
                record.started_ms = now - record.duration_ms;
                record.executor = Some(
                    failure
                        .ran_on
                        .as_ref()
                        .map_or_else(|| "local".to_string(), |on| on.executor.clone()),
                );
                if let Some(on) = &failure.ran_on {
                    record.job_id.clone_from(&on.job_id);
                    record.node.clone_from(&on.node);
                }
                record.reasons = vec![failure.message.clone()];
            }
            Outcome::Skipped { because } => {
                let what = if self.interrupted.contains(because) {
                    "was interrupted"
                } else {
                    "did not succeed"
                };
                record.reasons = vec![format!("{} {what}", self.graph.action(*because).name)];
            }
            Outcome::Interrupted => {
                record.executor = Some("local".to_string());
                if let Some((started_ms, elapsed)) = ran_for {
                    record.started_ms = started_ms;
                    record.duration_ms = elapsed;
                }
            }
            Outcome::Stopped => {
                record.reasons = vec!["the build stopped before it started".to_string()];
            }
        }
        record
    }

    fn artifacts<'a>(
        &self,
        digests: impl Iterator<Item = (&'a String, &'a Digest)>,
    ) -> Vec<ArtifactRecord> {
        digests
            .map(|(path, digest)| ArtifactRecord {
                path: path.clone(),
                digest: digest.to_hex(),
                size: if path.ends_with('/') {
                    None
                } else {
                    let path = self.root.join(path);
                    self.sizes
                        .as_ref()
                        .and_then(|sizes| sizes(&path, digest))
                        .or_else(|| std::fs::metadata(&path).ok().map(|m| m.len()))
                },
            })
            .collect()
    }
}

/// Begins `run` in `store`, closing the runs left running first.
fn begin(
    store: &mut dyn MetadataStore,
    run: &NewRun,
    graph: &Graph,
    selected: &[ActionId],
) -> Result<RunId, LineageError> {
    store.close_abandoned_runs()?;
    // Rendering a large graph costs more than the rest of a run's record; most runs
    // resolve to a graph the store already has.
    let manifest = if store.has_manifest(&run.manifest_digest)? {
        None
    } else {
        Some(to_json(&Selection::new(graph, selected.to_vec())).to_string())
    };
    store.begin_run(&NewRun {
        uid: crate::lineage::new_run_uid(),
        manifest,
        ..run.clone()
    })
}

/// What the resolved graph of `selected` follows from: the manifest's files, what its globs
/// matched, the selection, and the zenbuild that resolved it.
fn resolved_digest(manifest: &Manifest, graph: &Graph, selected: &[ActionId]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    for source in manifest.sources.files() {
        hasher.update(&(source.text.len() as u64).to_le_bytes());
        hasher.update(source.text.as_bytes());
    }
    if let Some(globs) = &graph.globs {
        hasher.update(globs.matched.as_bytes());
    }
    for &id in selected {
        hasher.update(&(id.0 as u64).to_le_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// The login name, as the environment gives it, else the password database, else the uid:
/// what runs record as their user, and `zenbuild log --mine` looks for.
pub fn user() -> String {
    if let Some(name) = ["USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    {
        return name;
    }
    // rustix has no wrapper for the password database: it is libc's (NSS: files, LDAP, …),
    // not the kernel's, so this stays a libc call.
    // SAFETY: getuid cannot fail. getpwuid returns null or a pointer to a static entry
    // whose name is a NUL-terminated string; it is copied out before anything else runs
    // getpwuid in this process (nothing else in zenbuild does).
    unsafe {
        let uid = libc::getuid();
        let entry = libc::getpwuid(uid);
        if entry.is_null() || (*entry).pw_name.is_null() {
            return uid.to_string();
        }
        std::ffi::CStr::from_ptr((*entry).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// What `gethostname` returns: on Linux it is the node name `uname` reports; what runs
/// record as their host.
pub fn host() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::lineage::{ActionSummary, RunSummary, SqliteStore};

    /// A store whose `record_actions` finds the database damaged from its `fail_from`th call.
    struct Damaging {
        inner: SqliteStore,
        calls: Cell<usize>,
        fail_from: usize,
    }

    impl MetadataStore for Damaging {
        fn has_manifest(&self, digest: &str) -> Result<bool, LineageError> {
            self.inner.has_manifest(digest)
        }
        fn begin_run(&mut self, run: &NewRun) -> Result<RunId, LineageError> {
            self.inner.begin_run(run)
        }
        fn record_actions(
            &mut self,
            run: RunId,
            actions: &[ActionRecord],
        ) -> Result<(), LineageError> {
            self.calls.set(self.calls.get() + 1);
            if self.calls.get() >= self.fail_from {
                return Err(LineageError::Damaged {
                    path: "lineage.db".into(),
                    detail: "database disk image is malformed".into(),
                });
            }
            self.inner.record_actions(run, actions)
        }
        fn finish_run(&mut self, run: RunId, end: &RunEnd) -> Result<(), LineageError> {
            self.inner.finish_run(run, end)
        }
        fn close_abandoned_runs(&mut self) -> Result<usize, LineageError> {
            self.inner.close_abandoned_runs()
        }
        fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, LineageError> {
            self.inner.runs(limit)
        }
        fn runs_of(&self, user: &str, limit: usize) -> Result<Vec<RunSummary>, LineageError> {
            self.inner.runs_of(user, limit)
        }
        fn run(&self, id: RunId) -> Result<Option<RunSummary>, LineageError> {
            self.inner.run(id)
        }
        fn run_actions(&self, id: RunId) -> Result<Vec<ActionSummary>, LineageError> {
            self.inner.run_actions(id)
        }
        fn runs_at_commit(&self, commit: &str) -> Result<Vec<RunId>, LineageError> {
            self.inner.runs_at_commit(commit)
        }
        fn producer(
            &self,
            path: &str,
            digest: &str,
        ) -> Result<Option<ActionSummary>, LineageError> {
            self.inner.producer(path, digest)
        }
        fn consumers(&self, path: &str, digest: &str) -> Result<Vec<ActionSummary>, LineageError> {
            self.inner.consumers(path, digest)
        }
        fn keys_since(&self, since_ms: i64) -> Result<Vec<String>, LineageError> {
            self.inner.keys_since(since_ms)
        }
        fn find_artifacts(
            &self,
            path_or_digest: &str,
        ) -> Result<Vec<ArtifactRecord>, LineageError> {
            self.inner.find_artifacts(path_or_digest)
        }
        fn directory_holding(
            &self,
            run: RunId,
            path: &str,
        ) -> Result<Option<ArtifactRecord>, LineageError> {
            self.inner.directory_holding(run, path)
        }
        fn read_inside(
            &self,
            runs: &[RunId],
            directory: &str,
            digest: &str,
        ) -> Result<Vec<ArtifactRecord>, LineageError> {
            self.inner.read_inside(runs, directory, digest)
        }
    }

    #[test]
    fn a_store_found_damaged_mid_run_is_replaced_and_gets_the_whole_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("zenbuild.kdl"),
            "step \"a\" { cmd \"true\"; outputs \"a.txt\" }\nstep \"b\" { cmd \"true\"; outputs \"b.txt\" }\n",
        )
        .unwrap();
        let (manifest, problems) = crate::manifest::load(&dir.path().join("zenbuild.kdl")).unwrap();
        let graph = crate::graph::compile(&manifest, dir.path(), problems).unwrap();
        let ids: Vec<ActionId> = (0..graph.actions.len()).map(ActionId).collect();

        let damaged = Damaging {
            inner: SqliteStore::open(&dir.path().join("old.db")).unwrap(),
            calls: Cell::new(0),
            fail_from: 2,
        };
        let fresh = dir.path().join("new.db");
        let replace: Replace = Box::new(|_| {
            let store = SqliteStore::open(&fresh)?;
            Ok((Box::new(store) as _, "moved aside".to_string()))
        });
        let origin = Origin {
            command: vec!["zenbuild".into()],
            started: SystemTime::now(),
            kind: "build",
            store: None,
        };
        let mut recorder = Recorder::start(
            Ok(Box::new(damaged)),
            Some(replace),
            dir.path(),
            (&manifest, &graph),
            &ids,
            origin,
            Box::new(|digest| dir.path().join(digest.to_hex())),
        )
        .unwrap();
        assert!(recorder.take_notes().is_empty());
        // One action written to the store that is fine, then one that finds it damaged.
        for &id in &ids {
            recorder.handle(&Event::Finished {
                id,
                outcome: Outcome::Stopped,
            });
            recorder.handle(&Event::Waiting);
        }
        assert_eq!(recorder.finish(RunStatus::Interrupted), ["moved aside"]);

        let store = SqliteStore::open(&fresh).unwrap();
        let runs = store.runs(10).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "interrupted");
        let names: Vec<String> = store
            .run_actions(runs[0].id)
            .unwrap()
            .into_iter()
            .map(|summary| summary.action.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
