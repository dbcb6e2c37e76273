//! The result of a successful run, made the same way wherever the command ran: what it left
//! at its declared outputs stored, the end of what it printed kept as a blob, the metrics it
//! reported read, and the whole checked as any restore would check it. The local build makes
//! it in the workspace; `zenbuild worker` in its scratch copy of the inputs.

use std::path::Path;
use std::time::Duration;

use super::event::Printed;
use crate::hash::StatCache;
use crate::store::{
    ActionResult, ExecutionMetadata, Store, StoreError, check_result, save_outputs,
};

/// What is known of a run besides what it left on disk.
#[derive(Clone, Copy, Debug)]
pub struct RunFacts<'a> {
    /// Each declared output's path and whether it was declared a directory.
    pub declared: &'a [(&'a str, bool)],
    /// The step's metrics files, by path; those that hold JSON are read into the result.
    pub metrics: &'a [String],
    /// The end of what it printed (see [`super::log_pipe::read_kept`]).
    pub printed: &'a Printed,
    pub duration: Duration,
    /// How many times the command ran (1 + retries used).
    pub attempts: u32,
    /// Which machine or backend ran it.
    pub worker: &'a str,
}

/// Stores what a successful run left under `root` in `store` and returns its result. Every
/// file is hashed through `cache`, whose file system also reads the metrics and the clock.
/// A result that every restore would refuse (a symlink out of its directory, a declared
/// output missing) is refused now, with the step to blame.
pub fn store_run_result(
    store: &dyn Store,
    root: &Path,
    cache: &StatCache,
    run: &RunFacts<'_>,
) -> Result<ActionResult, StoreError> {
    let (output_files, output_symlinks, output_directories) =
        save_outputs(store, root, run.declared, cache)?;
    // A log that cannot be read back loses what the step printed, never its outputs.
    let (stdout_digest, stdout_cut) = match run.printed {
        Printed::Kept { text, cut } => (Some(store.put_bytes(text.as_bytes())?), *cut),
        Printed::Nothing | Printed::NotInCache => (None, false),
    };
    let fs = cache.fs();
    let metrics = run
        .metrics
        .iter()
        .filter_map(|path| {
            let text = fs.read(&root.join(path)).ok()?;
            // Metrics that are not JSON are still outputs; they are just not parsed.
            serde_json::from_slice(&text)
                .ok()
                .map(|value| (path.clone(), value))
        })
        .collect();
    let now = Duration::from_nanos(u64::try_from(fs.now_ns()).unwrap_or(0));
    let result = ActionResult {
        output_files,
        output_symlinks,
        output_directories,
        exit_code: 0,
        stdout_digest,
        stderr_digest: None,
        stdout_cut,
        execution: ExecutionMetadata {
            started_ms: (now.saturating_sub(run.duration)).as_millis() as u64,
            duration_ms: run.duration.as_millis() as u64,
            attempts: run.attempts,
            worker: run.worker.to_string(),
        },
        metrics,
    };
    check_result(&result, run.declared)
        .map_err(|unusable| StoreError::bad_output(unusable.path, unusable.problem))?;
    Ok(result)
}
