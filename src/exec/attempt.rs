//! The attempts at running an action's command, as declared retries allow: the workspace
//! readied and the attempt described for the executor, then its end read: another attempt,
//! a failure, or what a successful run wrote stored as its result.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::build::{Builder, Pending};
use super::event::{Done, FAILURE_LINES, Failure, Outcome, Printed, RanOn};
use super::executor::{ActionSpec, Ended, Ending, Executor, OutputsAt, run_one};
use super::log_pipe::KEPT_OUTPUT;
use super::resources::Grant;
use super::run_result::{RunFacts, store_run_result};
use super::scheduler::Attempt;
use crate::graph::Action;
use crate::manifest::executor::LOCAL;
use crate::store::{
    ActionResult, StoreError, check_result, clear_outputs, create_output_parents, restore_outputs,
};
use crate::workspace::StateDir;

impl Builder<'_> {
    /// The file that holds what the action's last run printed, stdout and stderr together.
    fn log_path(&self, action: &Action) -> PathBuf {
        StateDir::of(self.cx.root).log_of(&action.name)
    }

    /// Readies the workspace for the next attempt and describes it.
    pub(super) fn next_attempt(
        &self,
        action: &Action,
        pending: &mut Pending,
        grant: &Grant,
    ) -> Attempt {
        pending.attempt += 1;
        let started = *pending.started.get_or_insert_with(Instant::now);
        // Every attempt starts as the first one did: what a failed attempt wrote must not
        // end up in the result of a later one.
        if let Err(message) = self.prepare(action, &self.cx.root.join(action.workdir.as_str())) {
            return Attempt::Done(Outcome::Failed(Failure {
                key: Some(pending.digest),
                message,
                duration: started.elapsed(),
                ..Failure::default()
            }));
        }
        let mut env = action.env.clone();
        if !grant.gpus.is_empty() {
            env.insert("CUDA_VISIBLE_DEVICES".to_string(), grant.gpus.join(","));
        }
        let executor = self
            .graph
            .executors
            .get(grant.lane)
            .map_or_else(|| LOCAL.to_string(), |e| e.name.value.clone());
        Attempt::Submit(ActionSpec {
            name: action.name.clone(),
            executor,
            key: pending.digest,
            command: action.cmd.clone(),
            env,
            root: self.cx.root.to_path_buf(),
            workdir: action.workdir.to_string(),
            inputs: pending.key.inputs.clone(),
            outputs: self
                .graph
                .output_paths(action)
                .into_iter()
                .map(|(path, dir)| {
                    if dir && !path.ends_with('/') {
                        format!("{path}/")
                    } else {
                        path.to_string()
                    }
                })
                .collect(),
            resources: action.resources,
            gpus: grant.gpus.clone(),
            timeout: action.timeout,
            attempt: pending.attempt,
            log: self.log_path(action),
        })
    }

    /// Runs the attempts at `action` on `executor` one after the other, waiting for each,
    /// until one succeeds or none is left. Nothing is stored: for verifying a cached result.
    pub(super) fn run_attempts(
        &self,
        action: &Action,
        pending: &mut Pending,
        grant: &Grant,
        executor: &dyn Executor,
    ) -> Result<(), Box<Outcome>> {
        loop {
            let spec = match self.next_attempt(action, pending, grant) {
                Attempt::Submit(spec) => spec,
                Attempt::Done(outcome) => return Err(Box::new(outcome)),
            };
            let ended = run_one(executor, spec);
            if ended.how.succeeded() {
                return Ok(());
            }
            if let Some(outcome) = self.attempt_ended(action, pending, ended) {
                return Err(Box::new(outcome));
            }
        }
    }

    /// What the end of an attempt means for `action`: its outcome, or `None` for another
    /// attempt.
    pub(super) fn attempt_ended(
        &self,
        action: &Action,
        pending: &mut Pending,
        ended: Ended,
    ) -> Option<Outcome> {
        let duration = pending.started.map_or(Duration::ZERO, |at| at.elapsed());
        if ended.how.succeeded() {
            let ran_on = Box::new(self.ran_on(action, &ended));
            let mut outcome = match ended.outputs {
                OutputsAt::Workspace => self.store_run(action, pending, duration, &ended),
                OutputsAt::Store => self.restore_run(action, pending, duration),
            };
            match &mut outcome {
                Outcome::Ran(done) => done.ran_on = Some(ran_on),
                Outcome::Failed(failure) => failure.ran_on = Some(ran_on),
                _ => {}
            }
            return Some(outcome);
        }
        if ended.how == Ending::Cancelled || self.cx.interrupt.is_triggered() {
            return Some(Outcome::Interrupted);
        }
        if ended.again {
            pending.lost += 1;
            return None;
        }
        if pending.attempt - pending.lost <= action.retries {
            return None;
        }
        let tried = match (pending.attempt, pending.lost) {
            (1, _) => String::new(),
            (attempts, 0) => format!(" (after {attempts} attempts)"),
            (attempts, lost) => format!(
                " (after {attempts} attempts, {lost} lost with {})",
                if lost == 1 { "its node" } else { "their nodes" }
            ),
        };
        // An unreadable log loses the text, never the failure.
        let (printed, earlier_lines) = self.printed(&ended).last_lines(FAILURE_LINES);
        let mut said = ended.how.describe();
        if ended.how == Ending::OutOfMemory {
            match action.resources.memory {
                Some(bytes) => {
                    let _ = write!(
                        said,
                        ": it exceeded its {}; raise `resources memory`",
                        crate::ui::size::bytes(bytes)
                    );
                }
                None => said.push_str(": declare what it needs with `resources memory=\"…\"`"),
            }
        }
        Some(Outcome::Failed(Failure {
            key: Some(pending.digest),
            message: format!("{said}{tried}"),
            exit_code: ended.how.exit_code(),
            printed,
            earlier_lines,
            ran_on: Some(Box::new(self.ran_on(action, &ended))),
            log: ended.log,
            duration,
        }))
    }

    /// Where the attempt that `ended` ran, as the report and the lineage record it.
    fn ran_on(&self, action: &Action, ended: &Ended) -> RanOn {
        let executor = self
            .graph
            .executors
            .get(usize::from(self.executor_of(action).0))
            .map_or_else(|| LOCAL.to_string(), |e| e.name.value.clone());
        // The local executor names no node: it is this machine.
        let node =
            (ended.backend_id.is_some() && ended.worker != executor).then(|| ended.worker.clone());
        RanOn {
            executor,
            job_id: ended.backend_id.clone(),
            node,
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
        self.fs()
            .create_dir_all(workdir)
            .map_err(|e| format!("cannot create its workdir `{}`: {e}", action.workdir))
    }

    /// The end of what an attempt printed, at most [`KEPT_OUTPUT`]: `Nothing` when it wrote no
    /// log (no file is created for a silent step) or the log cannot be read.
    fn printed(&self, ended: &Ended) -> Printed {
        let Some(log) = ended.log.as_deref() else {
            return Printed::Nothing;
        };
        match self.fs().read_end(log, KEPT_OUTPUT) {
            Ok((bytes, cut)) => Printed::from_end(bytes, cut),
            Err(_) => Printed::Nothing,
        }
    }

    /// Stores what a successful attempt left in the workspace as the action's result.
    fn store_run(
        &self,
        action: &Action,
        pending: &mut Pending,
        duration: Duration,
        ended: &Ended,
    ) -> Outcome {
        let result = match self.store_result(action, duration, pending.attempt, ended) {
            Ok(result) => result,
            Err(e) => return pending.failed(e.to_string()),
        };
        if action.cache
            && let Err(e) = self.cx.store.put_action_result(&pending.digest, &result)
        {
            return pending.failed(format!("cannot store its result: {e}"));
        }
        self.ran(action, pending, duration, &result, false)
    }

    /// Restores what a successful attempt stored itself under the action's key (a worker
    /// without the workspace): the result is checked and restored as a cache hit would be.
    fn restore_run(&self, action: &Action, pending: &mut Pending, duration: Duration) -> Outcome {
        let result = match self.cx.store.get_action_result(&pending.digest) {
            Ok(Some(result)) => result,
            Ok(None) => {
                return pending.failed("its executor stored no result for it".to_string());
            }
            Err(e) => return pending.failed(format!("cannot read the result it stored: {e}")),
        };
        // Checked as any cached result is: a worker is no more trusted than a remote.
        if let Err(unusable) = check_result(&result, &self.graph.output_paths(action)) {
            return pending.failed(format!(
                "the result its executor stored cannot be used: {unusable}"
            ));
        }
        if let Err(e) = restore_outputs(self.cx.store, self.cx.root, &result, self.cx.link_mode) {
            return pending.failed(format!("cannot restore its outputs: {e}"));
        }
        self.ran(action, pending, duration, &result, true)
    }

    /// The outcome of a run whose `result` is stored and whose outputs are in place
    /// (`restored` from the store, when the run left them there).
    fn ran(
        &self,
        action: &Action,
        pending: &mut Pending,
        duration: Duration,
        result: &ActionResult,
        restored: bool,
    ) -> Outcome {
        let outputs = self.record(action, result);
        self.remember(action, &pending.key, pending.digest, result.log_blobs());
        Outcome::Ran(Box::new(Done {
            key: Some(pending.digest),
            fields: Some(pending.key.clone()),
            outputs,
            duration,
            reasons: std::mem::take(&mut pending.reasons),
            source: None,
            logs: result.log_blobs(),
            logs_cut: result.stdout_cut,
            restored,
            printed: None,
            ran_on: None,
        }))
    }

    /// Stores what a successful run wrote and returns its result.
    fn store_result(
        &self,
        action: &Action,
        duration: Duration,
        attempts: u32,
        ended: &Ended,
    ) -> Result<ActionResult, StoreError> {
        let declared = self.graph.output_paths(action);
        let metrics: Vec<String> = action
            .metrics
            .iter()
            .map(|&id| self.graph.artifact(id).path.to_string())
            .collect();
        let printed = self.printed(ended);
        let facts = RunFacts {
            declared: &declared,
            metrics: &metrics,
            printed: &printed,
            duration,
            attempts,
            worker: &ended.worker,
        };
        store_run_result(self.cx.store, self.cx.root, self.cx.stat_cache, &facts)
    }
}

impl Pending {
    /// The failure of this action after it ran, for `message`.
    fn failed(&self, message: String) -> Outcome {
        Outcome::Failed(Failure {
            key: Some(self.digest),
            message,
            ..Failure::default()
        })
    }
}
