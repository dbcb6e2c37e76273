//! The work of one action, for the scheduler: hash its inputs into its key, then restore its
//! outputs from the store on a hit, or run its command and store what it wrote on a miss.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::event::{Done, FAILURE_LINES, Failure, Outcome, Printed};
use super::executor::Executor;
use super::interrupt::Interrupt;
use super::last_keys::{Finished, LastKeys};
use super::local::{Command, DEFAULT_GRACE, RunOutcome};
use super::log_pipe::{KEPT_OUTPUT, read_kept};
use super::reason::key_changes;
use super::resources::Grant;
use super::scheduler::{Check, Work};
use super::stops::ActionStops;
use crate::graph::{Action, ActionId, ArtifactId, ArtifactKind, Graph};
use crate::hash::{ActionKey, Digest, InputDigest, Platform, StatCache, hash_tree, symlink_digest};
use crate::store::{
    ActionResult, ExecutionMetadata, LinkMode, Store, StoreError, check_result, clear_outputs,
    create_output_parents, restore_outputs, save_outputs,
};

/// Where the latest captured output of each action is kept for people to read.
pub const LOGS_DIR: &str = ".zenbuild/logs";

/// The reason a forced action runs (`--force`), in the build, `plan`, `show` and the report.
pub const FORCED: &str = "forced";

/// What the build work reaches besides the graph.
pub struct Context<'a> {
    /// The workspace root (absolute).
    pub root: &'a Path,
    pub store: &'a dyn Store,
    pub stat_cache: &'a StatCache,
    pub last_keys: &'a LastKeys,
    pub link_mode: LinkMode,
    pub interrupt: &'a Interrupt,
    pub executor: &'a dyn Executor,
    /// Where watch mode stops single actions; `None` in a plain build.
    pub stops: Option<&'a ActionStops>,
}

pub struct Builder<'a> {
    pub graph: &'a Graph,
    pub cx: Context<'a>,
    pub platform: Platform,
    /// Digests of the outputs finished in this build, which dependents use as their input
    /// digests (so an identical rebuild leaves them cached: early cut-off).
    produced: Mutex<HashMap<ArtifactId, (Digest, bool)>>,
    /// Inputs that lie inside another step's output directory, by path: their digests come
    /// from that directory's recorded listing.
    nested: HashMap<String, ArtifactId>,
    /// What the user should hear about once the build ends (a cached result refused).
    warnings: Mutex<Vec<String>>,
    /// Actions that run even when cached (`--force`).
    forced: HashSet<ActionId>,
}

/// What a check learned that running needs.
pub struct Pending {
    key: ActionKey,
    digest: Digest,
    reasons: Vec<String>,
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
        Builder {
            graph,
            cx,
            platform: Platform::current(),
            produced: Mutex::new(HashMap::new()),
            nested,
            warnings: Mutex::new(Vec::new()),
            forced: HashSet::new(),
        }
    }

    /// Makes `forced` run even when cached; their results replace the cached ones.
    pub fn force(&mut self, forced: HashSet<ActionId>) {
        self.forced = forced;
    }

    /// Why a forced action runs: forced, and what changed besides, if anything did.
    fn forced_reasons(&self, action: &Action, key: &ActionKey) -> Vec<String> {
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
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut *warnings)
    }

    /// `result` if it may be restored for `action` (see [`check_result`]). One that may not is
    /// removed from this machine's cache, so that it is never trusted again, and the build is
    /// told once; the reason comes back for the rerun's explanation.
    fn usable(
        &self,
        action: &Action,
        digest: &Digest,
        result: ActionResult,
    ) -> Result<ActionResult, String> {
        let declared = self.graph.output_paths(action);
        let Err(unusable) = check_result(&result, &declared) else {
            return Ok(result);
        };
        let from = match self.cx.store.source_of(digest) {
            Some(source) => format!(
                " from remote `{}`",
                source.strip_prefix("remote:").unwrap_or(&source)
            ),
            None => String::new(),
        };
        let dropped = match self.cx.store.forget_action_result(digest) {
            Ok(()) => "was dropped",
            Err(_) => "is ignored",
        };
        let warning = format!(
            "the cached result of `{}`{from} (key {}) cannot be used and {dropped}, so the step runs: {unusable}",
            action.name,
            digest.short()
        );
        self.warnings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(warning);
        Err(format!("its cached result cannot be used: {unusable}"))
    }

    /// The action's key as of now: its inputs hashed (or taken from the outputs finished in
    /// this build) and every other field resolved.
    pub fn key(&self, action: &Action) -> Result<ActionKey, String> {
        let mut inputs = Vec::with_capacity(action.inputs.len());
        for &input in &action.inputs {
            let (digest, executable) = self.input_digest(input)?;
            inputs.push(InputDigest {
                path: self.graph.artifact(input).display_path(),
                digest,
                executable,
            });
        }
        Ok(ActionKey {
            cmd: action.cmd.clone(),
            inputs,
            outputs: action
                .outputs
                .iter()
                .map(|&output| self.graph.artifact(output).display_path())
                .collect(),
            params: action.params.clone(),
            env: action.env.clone(),
            workdir: action.workdir.to_string(),
            platform: Some(self.platform.clone()),
        })
    }

    fn input_digest(&self, id: ArtifactId) -> Result<(Digest, bool), String> {
        if let Some(known) = self.produced().get(&id) {
            return Ok(*known);
        }
        let artifact = self.graph.artifact(id);
        let path = self.cx.root.join(artifact.path.as_str());
        let hashed = match artifact.kind {
            ArtifactKind::File => self
                .cx
                .stat_cache
                .digest_file(&path)
                .map(|file| (file.digest, file.executable)),
            ArtifactKind::Dir => {
                hash_tree(&path, self.cx.stat_cache).map(|tree| (tree.digest, false))
            }
        };
        hashed.map_err(|e| {
            let shown = artifact.display_path();
            match (e.kind(), artifact.producer) {
                (io::ErrorKind::NotFound, Some(producer))
                    if self.nested.contains_key(artifact.path.as_str()) =>
                {
                    let producer = self.graph.action(producer);
                    let directory = producer
                        .outputs
                        .iter()
                        .map(|&output| self.graph.artifact(output))
                        .find(|output| artifact.path.is_within(&output.path))
                        .map_or_else(String::new, |output| output.display_path());
                    format!(
                        "input `{shown}` is missing: `{}` wrote `{directory}` without it",
                        producer.name
                    )
                }
                (io::ErrorKind::NotFound, Some(producer)) => format!(
                    "input `{shown}` is missing: `{}` should have written it",
                    self.graph.action(producer).name
                ),
                (io::ErrorKind::NotFound, None) => format!("input `{shown}` does not exist"),
                (_, _) if path.is_dir() && artifact.kind == ArtifactKind::File => {
                    format!("input `{shown}` is a directory: declare it as `{shown}/`")
                }
                _ => format!("cannot read input `{shown}`: {e}"),
            }
        })
    }

    fn produced(&self) -> std::sync::MutexGuard<'_, HashMap<ArtifactId, (Digest, bool)>> {
        // A poisoned lock means a worker panicked; the digests it guards are still sound.
        self.produced
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers the digests of what `result` holds, for dependents' keys, and returns them
    /// by path for reports.
    pub(super) fn record(
        &self,
        action: &Action,
        result: &ActionResult,
    ) -> BTreeMap<String, Digest> {
        let by_path: HashMap<String, (Digest, bool)> = recorded_outputs(result)
            .into_iter()
            .map(|(path, digest, executable)| (path, (digest, executable)))
            .collect();
        let mut produced = self.produced();
        let mut outputs = BTreeMap::new();
        for &output in &action.outputs {
            let path = self.graph.artifact(output).display_path();
            if let Some(&digest) = by_path.get(&path) {
                produced.insert(output, digest);
                outputs.insert(path, digest.0);
            }
        }
        // A dependent may read one file of a directory output; before it is restored (a
        // plan restores nothing) only the listing knows that file's digest.
        if !self.nested.is_empty() {
            for directory in &result.output_directories {
                for file in &directory.files {
                    let path = format!("{}/{}", directory.path, file.path);
                    if let Some(&id) = self.nested.get(&path) {
                        produced.insert(id, (file.digest, file.executable));
                    }
                }
            }
        }
        outputs
    }

    /// Takes `outputs` (path, digest, executable bit) as what `action` produced, for its
    /// dependents' keys, without looking at the workspace: for `status`, which judges a
    /// lockfile's claims rather than the files.
    pub fn assume_outputs(&self, action: &Action, outputs: &[(String, Digest, bool)]) {
        let mut produced = self.produced();
        for &output in &action.outputs {
            let path = self.graph.artifact(output).display_path();
            if let Some((_, digest, executable)) = outputs.iter().find(|(p, ..)| *p == path) {
                produced.insert(output, (*digest, *executable));
            }
        }
        for (path, digest, executable) in outputs {
            if let Some(&id) = self.nested.get(path.trim_end_matches('/')) {
                produced.insert(id, (*digest, *executable));
            }
        }
    }

    /// How the action last finished, if that was under `digest` and its outputs are still
    /// exactly as it left them: then there is nothing to look up or restore.
    fn unchanged(&self, action: &Action, digest: Digest) -> Option<Finished> {
        let finished = self.cx.last_keys.finished(&action.name)?;
        if finished.key != digest || finished.outputs.len() != action.outputs.len() {
            return None;
        }
        let in_place = finished
            .outputs
            .iter()
            .all(|(path, recorded, executable)| self.in_place(path, *recorded, *executable));
        if !in_place {
            return None;
        }
        let mut produced = self.produced();
        for (&output, (_, recorded, executable)) in action.outputs.iter().zip(&finished.outputs) {
            produced.insert(output, (*recorded, *executable));
        }
        Some(finished)
    }

    /// Remembers that the action finished under `key` with the outputs now recorded for it.
    fn remember(&self, action: &Action, key: &ActionKey, digest: Digest, logs: Vec<Digest>) {
        let produced = self.produced();
        let outputs = action
            .outputs
            .iter()
            .filter_map(|output| {
                let (recorded, executable) = produced.get(output)?;
                Some((
                    self.graph.artifact(*output).display_path(),
                    *recorded,
                    *executable,
                ))
            })
            .collect();
        drop(produced);
        let finished = Finished {
            key: digest,
            outputs,
            logs: Some(logs),
        };
        // Losing this record only costs an explanation and a cache lookup next time.
        let _ = self.cx.last_keys.set(&action.name, key, finished);
    }

    /// Whether the workspace already holds exactly what `result` records.
    fn outputs_in_place(&self, result: &ActionResult) -> bool {
        recorded_outputs(result)
            .iter()
            .all(|(path, digest, executable)| self.in_place(path, *digest, *executable))
    }

    /// Whether the workspace holds `digest` at `path` (a directory when it ends in `/`).
    fn in_place(&self, path: &str, digest: Digest, executable: bool) -> bool {
        let absolute = self.cx.root.join(path.trim_end_matches('/'));
        if path.ends_with('/') {
            return hash_tree(&absolute, self.cx.stat_cache)
                .is_ok_and(|tree| tree.digest == digest);
        }
        self.cx
            .stat_cache
            .digest_file(&absolute)
            .is_ok_and(|file| file.digest == digest && file.executable == executable)
    }

    /// Why the action must run, compared with the key it had when it last finished.
    fn reasons(&self, action: &Action, key: &ActionKey) -> Vec<String> {
        if !action.cache {
            return vec!["always runs (cache #false)".into()];
        }
        match self.cx.last_keys.get(&action.name) {
            None => vec!["never built".into()],
            Some(previous) => {
                let changes = key_changes(&previous, key);
                if changes.is_empty() {
                    vec!["no cached result for its key (the cache was cleared or pruned)".into()]
                } else {
                    changes
                }
            }
        }
    }

    /// The file that holds what the action's last run printed, stdout and stderr together.
    fn log_path(&self, action: &Action) -> PathBuf {
        let name = action.name.replace('/', "_");
        self.cx.root.join(LOGS_DIR).join(format!("{name}.log"))
    }

    /// Runs the command, retrying as declared; `Ok` once it exited 0.
    pub(super) fn execute(
        &self,
        action: &Action,
        grant: &Grant,
    ) -> Result<(Duration, u32), Box<Failure>> {
        let workdir = self.cx.root.join(action.workdir.as_str());
        let mut extra_env = Vec::new();
        if !grant.gpus.is_empty() {
            extra_env.push(("CUDA_VISIBLE_DEVICES".to_string(), grant.gpus.join(",")));
        }
        let started = Instant::now();
        let stop = match self.cx.stops {
            Some(stops) => stops.start(&action.name, self.cx.interrupt),
            None => self.cx.interrupt.clone(),
        };
        let ran = self.attempts(action, &workdir, &extra_env, &stop, started);
        if let Some(stops) = self.cx.stops {
            stops.finish(&action.name);
        }
        ran
    }

    fn attempts(
        &self,
        action: &Action,
        workdir: &Path,
        extra_env: &[(String, String)],
        stop: &Interrupt,
        started: Instant,
    ) -> Result<(Duration, u32), Box<Failure>> {
        let log_path = self.log_path(action);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Every attempt starts as the first one did: what a failed attempt wrote must not
            // end up in the result of a later one.
            if let Err(message) = self.prepare(action, workdir) {
                return Err(Box::new(Failure {
                    message,
                    duration: started.elapsed(),
                    ..Failure::default()
                }));
            }
            let command = Command {
                cmd: &action.cmd,
                workdir,
                env: &action.env,
                extra_env: extra_env.to_vec(),
                timeout: action.timeout,
                grace: DEFAULT_GRACE,
                log_path: &log_path,
            };
            let outcome = self.cx.executor.run(&command, stop);
            let exit_code = match outcome {
                RunOutcome::Exited { code, .. } => Some(code),
                _ => None,
            };
            let message = match outcome {
                RunOutcome::Exited { code: 0, .. } => return Ok((started.elapsed(), attempt)),
                RunOutcome::Exited { code, .. } => format!("exited with code {code}"),
                RunOutcome::Signalled { signal, .. } => format!("was killed by signal {signal}"),
                RunOutcome::TimedOut { after } => {
                    format!("timed out after {}", show_duration(after))
                }
                RunOutcome::Interrupted => "interrupted".to_string(),
                RunOutcome::SpawnFailed(e) => format!("could not start: {e}"),
                RunOutcome::WaitFailed(e) => format!("could not be waited for: {e}"),
            };
            let interrupted = stop.is_triggered();
            if interrupted || attempt > action.retries {
                let tried = if attempt > 1 {
                    format!(" (after {attempt} attempts)")
                } else {
                    String::new()
                };
                // An unreadable log loses the text, never the failure.
                let (printed, earlier_lines) = read_kept(&log_path, KEPT_OUTPUT)
                    .unwrap_or_default()
                    .last_lines(FAILURE_LINES);
                return Err(Box::new(Failure {
                    key: None,
                    message: format!("{message}{tried}"),
                    exit_code,
                    printed,
                    earlier_lines,
                    log: log_path.is_file().then_some(log_path),
                    duration: started.elapsed(),
                }));
            }
        }
    }

    /// Readies the workspace for one run of the command: its old outputs removed (stale ones
    /// must not pass for new ones, and a hardlinked output must be replaced, never written
    /// into), their parent directories and its workdir created (GRAMMAR.md: the workdir "need
    /// not exist yet").
    fn prepare(&self, action: &Action, workdir: &Path) -> Result<(), String> {
        let declared = self.graph.output_paths(action);
        clear_outputs(self.cx.root, &declared)
            .map_err(|e| format!("cannot remove its old outputs: {e}"))?;
        create_output_parents(self.cx.root, &declared)
            .map_err(|e| format!("cannot create the directories of its outputs: {e}"))?;
        if workdir.is_dir() {
            return Ok(());
        }
        std::fs::create_dir_all(workdir)
            .map_err(|e| format!("cannot create its workdir `{}`: {e}", action.workdir))
    }

    /// Stores what a successful run wrote and returns its result.
    fn store_result(
        &self,
        action: &Action,
        duration: Duration,
        attempts: u32,
    ) -> Result<ActionResult, StoreError> {
        let declared = self.graph.output_paths(action);
        let (output_files, output_symlinks, output_directories) =
            save_outputs(self.cx.store, self.cx.root, &declared, self.cx.stat_cache)?;

        // A log that cannot be read back loses what the step printed, never its outputs.
        let printed = read_kept(&self.log_path(action), KEPT_OUTPUT).unwrap_or_default();
        let (stdout_digest, stdout_cut) = match &printed {
            Printed::Kept { text, cut } => (Some(self.cx.store.put_bytes(text.as_bytes())?), *cut),
            Printed::Nothing | Printed::NotInCache => (None, false),
        };
        let metrics = action
            .metrics
            .iter()
            .filter_map(|&id| {
                let path = self.graph.artifact(id).path.to_string();
                let text = std::fs::read(self.cx.root.join(&path)).ok()?;
                // Metrics that are not JSON are still outputs; they are just not parsed.
                serde_json::from_slice(&text)
                    .ok()
                    .map(|value| (path, value))
            })
            .collect();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let result = ActionResult {
            output_files,
            output_symlinks,
            output_directories,
            exit_code: 0,
            stdout_digest,
            stderr_digest: None,
            stdout_cut,
            execution: ExecutionMetadata {
                started_ms: (now.saturating_sub(duration)).as_millis() as u64,
                duration_ms: duration.as_millis() as u64,
                attempts,
                worker: "local".into(),
            },
            metrics,
        };
        // What is stored must be restorable anywhere: a result that every restore would
        // refuse (a symlink out of its directory) is refused now, with the step to blame.
        check_result(&result, &declared)
            .map_err(|unusable| StoreError::bad_output(unusable.path, unusable.problem))?;
        Ok(result)
    }
}

/// What a build would do with one action, found without running or restoring anything.
#[derive(Clone, Debug)]
pub enum Preview {
    /// A result is cached; `restore` when the workspace does not hold its outputs.
    Cached {
        key: Digest,
        restore: bool,
    },
    Runs {
        key: Digest,
        reasons: Vec<String>,
    },
    /// It can only be decided once an action it depends on has run.
    AfterRun {
        dependency: ActionId,
    },
    Fails {
        message: String,
    },
}

impl Builder<'_> {
    /// What building `id` would do now. Dependencies must have been previewed first (a
    /// cached one makes its outputs' digests known here); `Runs`/`AfterRun` dependencies make
    /// this one `AfterRun`.
    pub fn preview(&self, id: ActionId, decided: &HashMap<ActionId, Preview>) -> Preview {
        let action = self.graph.action(id);
        // A forced action runs whatever its dependencies write (its key is the one of the
        // files on disk now; it may change once they have run).
        if self.forced.contains(&id)
            && let Ok(key) = self.key(action)
        {
            return Preview::Runs {
                key: key.digest(),
                reasons: self.forced_reasons(action, &key),
            };
        }
        for dep in &action.deps {
            if let Some(Preview::Runs { .. } | Preview::AfterRun { .. } | Preview::Fails { .. }) =
                decided.get(dep)
            {
                return Preview::AfterRun { dependency: *dep };
            }
        }
        let key = match self.key(action) {
            Ok(key) => key,
            Err(message) => return Preview::Fails { message },
        };
        let digest = key.digest();
        if action.cache && self.unchanged(action, digest).is_some() {
            return Preview::Cached {
                key: digest,
                restore: false,
            };
        }
        if action.cache
            && let Ok(Some(result)) = self.cx.store.get_action_result(&digest)
        {
            if let Err(unusable) = check_result(&result, &self.graph.output_paths(action)) {
                return Preview::Runs {
                    key: digest,
                    reasons: vec![format!("its cached result cannot be used: {unusable}")],
                };
            }
            let restore = !self.outputs_in_place(&result);
            self.record(action, &result);
            return Preview::Cached {
                key: digest,
                restore,
            };
        }
        Preview::Runs {
            key: digest,
            reasons: self.reasons(action, &key),
        }
    }
}

impl Work for Builder<'_> {
    type Pending = Pending;

    fn key_of(pending: &Pending) -> Option<Digest> {
        Some(pending.digest)
    }

    fn check(&self, id: ActionId) -> Check<Pending> {
        let action = self.graph.action(id);
        let started = Instant::now();
        let key = match self.key(action) {
            Ok(key) => key,
            Err(message) => {
                return Check::Done(Outcome::Failed(Failure {
                    message,
                    ..Failure::default()
                }));
            }
        };
        let digest = key.digest();
        if self.forced.contains(&id) {
            let reasons = self.forced_reasons(action, &key);
            return Check::Run(Pending {
                key,
                digest,
                reasons,
            });
        }
        if action.cache
            && let Some(finished) = self.unchanged(action, digest)
        {
            return Check::Done(Outcome::Cached(Box::new(Done {
                key: Some(digest),
                fields: Some(key.clone()),
                outputs: finished
                    .outputs
                    .iter()
                    .map(|(path, d, _)| (path.clone(), *d))
                    .collect(),
                duration: started.elapsed(),
                reasons: Vec::new(),
                source: Some("local".into()),
                logs: finished.logs.unwrap_or_default(),
                logs_cut: false,
                restored: false,
                printed: None,
            })));
        }
        if !action.cache {
            let reasons = self.reasons(action, &key);
            return Check::Run(Pending {
                key,
                digest,
                reasons,
            });
        }
        let found = match self.cx.store.get_action_result(&digest) {
            Ok(Some(result)) => match self.usable(action, &digest, result) {
                Ok(result) => Ok(Some(result)),
                Err(unusable) => {
                    return Check::Run(Pending {
                        key,
                        digest,
                        reasons: vec![unusable],
                    });
                }
            },
            other => other,
        };
        let unusable = match found {
            Ok(Some(result)) => {
                let in_place = self.outputs_in_place(&result);
                let restored = if in_place {
                    Ok(())
                } else {
                    restore_outputs(self.cx.store, self.cx.root, &result, self.cx.link_mode)
                };
                match restored {
                    Ok(()) => {
                        let outputs = self.record(action, &result);
                        self.remember(action, &key, digest, result.log_blobs());
                        return Check::Done(Outcome::Cached(Box::new(Done {
                            key: Some(digest),
                            fields: Some(key.clone()),
                            outputs,
                            duration: started.elapsed(),
                            reasons: Vec::new(),
                            source: Some(
                                self.cx
                                    .store
                                    .source_of(&digest)
                                    .unwrap_or_else(|| "local".into()),
                            ),
                            logs: result.log_blobs(),
                            logs_cut: result.stdout_cut,
                            restored: !in_place,
                            printed: None,
                        })));
                    }
                    Err(e) if e.is_corrupt() || matches!(e, StoreError::MissingBlob { .. }) => {
                        e.to_string()
                    }
                    Err(e) => {
                        return Check::Done(Outcome::Failed(Failure {
                            key: Some(digest),
                            message: format!("cannot restore its outputs: {e}"),
                            ..Failure::default()
                        }));
                    }
                }
            }
            Ok(None) => String::new(),
            Err(e) if e.is_corrupt() => e.to_string(),
            Err(e) => {
                return Check::Done(Outcome::Failed(Failure {
                    key: Some(digest),
                    message: format!("cannot read the cache: {e}"),
                    ..Failure::default()
                }));
            }
        };
        let reasons = if unusable.is_empty() {
            self.reasons(action, &key)
        } else {
            vec![format!("its cached result is unusable: {unusable}")]
        };
        Check::Run(Pending {
            key,
            digest,
            reasons,
        })
    }

    fn run(&self, id: ActionId, pending: Pending, grant: &Grant) -> Outcome {
        let action = self.graph.action(id);
        let failed = |message: String| {
            Outcome::Failed(Failure {
                key: Some(pending.digest),
                message,
                ..Failure::default()
            })
        };
        let (duration, attempts) = match self.execute(action, grant) {
            Ok(ran) => ran,
            Err(_) if self.cx.interrupt.is_triggered() => return Outcome::Interrupted,
            Err(_)
                if self
                    .cx
                    .stops
                    .is_some_and(|stops| stops.was_cancelled(&action.name)) =>
            {
                return Outcome::Interrupted;
            }
            Err(failure) => {
                return Outcome::Failed(Failure {
                    key: Some(pending.digest),
                    ..*failure
                });
            }
        };
        let result = match self.store_result(action, duration, attempts) {
            Ok(result) => result,
            Err(e) => return failed(e.to_string()),
        };
        if action.cache
            && let Err(e) = self.cx.store.put_action_result(&pending.digest, &result)
        {
            return failed(format!("cannot store its result: {e}"));
        }
        let outputs = self.record(action, &result);
        self.remember(action, &pending.key, pending.digest, result.log_blobs());
        Outcome::Ran(Box::new(Done {
            key: Some(pending.digest),
            fields: Some(pending.key),
            outputs,
            duration,
            reasons: pending.reasons,
            source: None,
            logs: result.log_blobs(),
            logs_cut: result.stdout_cut,
            restored: false,
            printed: None,
        }))
    }
}

/// Every output `result` records as (path, digest, executable bit), digests as an input digest
/// of the same path would be: a symlink's over its target text, a directory's its tree's, and
/// directory paths ending in `/`.
pub(super) fn recorded_outputs(result: &ActionResult) -> Vec<(String, Digest, bool)> {
    let files = result
        .output_files
        .iter()
        .map(|file| (file.path.clone(), file.digest, file.executable));
    let links = result.output_symlinks.iter().map(|link| {
        let digest = symlink_digest(link.target.as_bytes()).digest;
        (link.path.clone(), digest, false)
    });
    let dirs = result
        .output_directories
        .iter()
        .map(|dir| (format!("{}/", dir.path), dir.tree_digest, false));
    files.chain(links).chain(dirs).collect()
}

fn show_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        format!(
            "{}m{:02}s",
            duration.as_secs() / 60,
            duration.as_secs() % 60
        )
    }
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
