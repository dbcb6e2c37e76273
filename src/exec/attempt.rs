//! One run of an action's command, as declared retries allow: the workspace readied, the
//! command handed to the executor, and what a successful run wrote stored as its result.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::build::Builder;
use super::event::{FAILURE_LINES, Failure, Printed};
use super::interrupt::Interrupt;
use super::local::{Command, DEFAULT_GRACE, RunOutcome};
use super::log_pipe::{KEPT_OUTPUT, read_kept};
use super::resources::Grant;
use crate::graph::Action;
use crate::store::{
    ActionResult, ExecutionMetadata, StoreError, check_result, clear_outputs,
    create_output_parents, save_outputs,
};
use crate::workspace::StateDir;

impl Builder<'_> {
    /// The file that holds what the action's last run printed, stdout and stderr together.
    fn log_path(&self, action: &Action) -> PathBuf {
        StateDir::of(self.cx.root).log_of(&action.name)
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
                    format!("timed out after {}", crate::ui::time::duration(after))
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
    pub(super) fn store_result(
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
