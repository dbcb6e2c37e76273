//! `zenbuild worker`: one attempt at an action on a machine that has nothing of the workspace,
//! only the team remote. The steps, as docs/remote-execution.md tells them to users:
//!
//! 1. fetch the description by its digest and check it whole (bytes, format, cache version,
//!    paths, sizes), and refuse one keyed for another platform;
//! 2. if its result may be cached and the remote holds a usable one (every output blob
//!    there), report that and run nothing: another worker ran it;
//! 3. in a fresh scratch directory, fetch every input blob, checked against its digest, and
//!    lay the inputs out; create the workdir and the outputs' parents;
//! 4. run `/bin/sh -c COMMAND` there as the local executor runs a step (PATH and HOME from the
//!    worker's environment, the declared variables, the devices the engine assigned), what it
//!    prints copied to the worker's stdout and kept, its timeout enforced on its process
//!    group;
//! 5. on exit 0, store its outputs as a local build stores a result, upload them, and the
//!    result under the key when it may be cached;
//! 6. always store the outcome ([`super::outcome`]), remove the scratch directory, and exit
//!    with the step's code ([`Worked::exit_code`]).

mod inputs;
pub mod scratch;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::description::{ActionDescription, ZENBUILD_VERSION};
use super::outcome::{End, OUTCOME_FORMAT, WorkerOutcome, outcome_key};
use crate::exec::event::Printed;
use crate::exec::interrupt::Interrupt;
use crate::exec::local::{self, RunOutcome};
use crate::exec::log_pipe::{KEPT_OUTPUT, read_kept};
use crate::exec::run_result::{RunFacts, store_run_result};
use crate::hash::{Digest, Platform, StatCache};
use crate::remote::{Remote, RemoteError, upload_blobs};
use crate::store::{
    ActionResult, LocalStore, Store, check_result, clear_outputs, create_dir_beneath,
    create_output_parents,
};
use scratch::Scratch;

/// The worker's exit code when the command timed out, as `timeout(1)` has it.
pub const EXIT_TIMED_OUT: u8 = 124;
/// The worker's exit code when it failed itself: the remote could not be reached or written,
/// the description or an input could not be had or trusted, the outputs could not be stored.
pub const EXIT_WORKER_FAILED: u8 = 125;
/// The worker's exit code when it was told to stop (SIGINT, SIGTERM, SIGHUP).
pub const EXIT_INTERRUPTED: u8 = crate::error::EXIT_INTERRUPTED;

/// How long a command that must stop gets between SIGTERM and SIGKILL: less than engines
/// give the worker itself before they kill it (Ray: 3 s), so that the worker, and not the
/// engine, stops the command's whole process group and reports.
const GRACE: Duration = Duration::from_secs(2);

/// The variables an engine sets to give a job its devices, which the worker hands on to the
/// command as the local scheduler hands on those it assigns.
const ENGINE_DEVICES: [&str; 1] = ["CUDA_VISIBLE_DEVICES"];

/// One attempt to make.
pub struct WorkRequest<'a> {
    pub remote: &'a dyn Remote,
    /// The digest of the description in the remote's CAS.
    pub description: Digest,
    /// Where the scratch directory is made; the system's temporary directory when `None`.
    pub scratch: Option<&'a Path>,
}

/// How the attempt went, and whether the remote has the outcome.
#[derive(Debug)]
pub struct Worked {
    pub outcome: WorkerOutcome,
    /// Whether the outcome was stored in the remote; why not, else.
    pub stored: Result<(), RemoteError>,
}

impl Worked {
    /// The worker's exit code: the step's own when it exited (0 when its result was in the
    /// remote already), 128 + N when its shell died of signal N, [`EXIT_TIMED_OUT`],
    /// [`EXIT_INTERRUPTED`], and [`EXIT_WORKER_FAILED`] for the worker's own failures,
    /// including an outcome that could not be stored. The outcome says which for certain.
    pub fn exit_code(&self) -> u8 {
        if self.stored.is_err() {
            return EXIT_WORKER_FAILED;
        }
        match &self.outcome.end {
            End::Reused => 0,
            End::Exited { code } => u8::try_from(*code).unwrap_or(EXIT_WORKER_FAILED),
            End::Signalled { signal } => u8::try_from(128 + signal).unwrap_or(EXIT_WORKER_FAILED),
            End::TimedOut { .. } => EXIT_TIMED_OUT,
            End::Interrupted => EXIT_INTERRUPTED,
            End::NotRun { .. } | End::Failed { .. } => EXIT_WORKER_FAILED,
        }
    }
}

/// What an attempt learns besides how it ended.
#[derive(Default)]
struct Learned {
    key: Option<Digest>,
    log: Option<Digest>,
    log_cut: bool,
    result: Option<ActionResult>,
}

/// Makes the attempt `request` names, stopping the command when `interrupt` is raised, and
/// stores its outcome. `note` hears what the worker is doing, a line at a time.
pub fn work(request: &WorkRequest<'_>, interrupt: &Interrupt, note: &dyn Fn(&str)) -> Worked {
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut learned = Learned::default();
    let end = match Scratch::create(request.scratch) {
        // The scratch directory goes when the attempt is over, before the outcome is stored.
        Ok(scratch) => attempt(request, &scratch, interrupt, note, &mut learned),
        Err(e) => End::NotRun {
            message: e.to_string(),
        },
    };
    let outcome = WorkerOutcome {
        format: OUTCOME_FORMAT.to_string(),
        description: request.description,
        key: learned.key,
        end,
        log: learned.log,
        log_cut: learned.log_cut,
        host: host(),
        started_ms: started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64),
        duration_ms: clock.elapsed().as_millis() as u64,
        zenbuild: ZENBUILD_VERSION.to_string(),
        result: learned.result,
    };
    let stored = serde_json::to_vec(&outcome)
        .map_err(|e| RemoteError::Local(format!("cannot encode the outcome: {e}")))
        .and_then(|json| {
            request
                .remote
                .put_action_result(&outcome_key(&request.description), &json)
        });
    Worked { outcome, stored }
}

fn attempt(
    request: &WorkRequest<'_>,
    scratch: &Scratch,
    interrupt: &Interrupt,
    note: &dyn Fn(&str),
    learned: &mut Learned,
) -> End {
    let remote = request.remote;
    let description = match inputs::fetch_description(remote, scratch, &request.description) {
        Ok(description) => description,
        Err(message) => return End::NotRun { message },
    };
    learned.key = Some(description.key);
    let here = Platform::current();
    if let Some(keyed) = description
        .platform
        .as_ref()
        .filter(|keyed| **keyed != here)
    {
        return End::NotRun {
            message: format!(
                "it was keyed for {}-{}, and this worker is {}-{}: its result would be cached \
                 for a platform it did not run on",
                keyed.os, keyed.arch, here.os, here.arch
            ),
        };
    }
    if description.cache
        && let Some(result) = stored_result(remote, &description)
    {
        note(&format!(
            "{}: its result is in the remote already; nothing to run",
            description.name
        ));
        learned.result = Some(result);
        return End::Reused;
    }
    note(&format!("{}: fetching its inputs", description.name));
    match inputs::lay_out(remote, &description, scratch) {
        Ok(bytes) => note(&format!(
            "{}: {} of inputs laid out",
            description.name,
            crate::ui::size::bytes(bytes)
        )),
        Err(message) => return End::NotRun { message },
    }
    if let Err(message) = prepare(&description, &scratch.work()) {
        return End::NotRun { message };
    }
    note(&format!(
        "{}: running `{}`",
        description.name, description.command
    ));
    let ran = run(&description, scratch, interrupt);
    let printed = read_kept(&scratch.log(), KEPT_OUTPUT).unwrap_or(Printed::Nothing);
    let store = match LocalStore::open(scratch.output_store()) {
        Ok(store) => store,
        Err(e) => {
            return End::Failed {
                message: format!("cannot make a store for its outputs: {e}"),
            };
        }
    };
    (learned.log, learned.log_cut) = keep_log(remote, &store, &printed, note);
    match ran {
        RunOutcome::Exited { code: 0, duration } => {
            match collect(remote, &store, &description, scratch, &printed, duration) {
                Ok(result) => {
                    learned.result = Some(result);
                    End::Exited { code: 0 }
                }
                Err(message) => End::Failed { message },
            }
        }
        RunOutcome::Exited { code, .. } => End::Exited { code },
        RunOutcome::Signalled { signal, .. } => End::Signalled { signal },
        RunOutcome::TimedOut { after } => End::TimedOut {
            after_ms: after.as_millis() as u64,
        },
        RunOutcome::Interrupted => End::Interrupted,
        RunOutcome::SpawnFailed(e) => End::NotRun {
            message: e.to_string(),
        },
        RunOutcome::WaitFailed(e) => End::Failed {
            message: format!("it could not be waited for: {e}"),
        },
    }
}

/// The result the remote holds for the description's key, if it can be used as any cached
/// result is: it decodes, holds exactly the declared outputs, and every output blob is there.
/// A remote that cannot say is taken to hold none: the command runs.
fn stored_result(remote: &dyn Remote, description: &ActionDescription) -> Option<ActionResult> {
    let bytes = remote.get_action_result(&description.key).ok()??;
    let result: ActionResult = serde_json::from_slice(&bytes).ok()?;
    if result.exit_code != 0 || check_result(&result, &description.declared_outputs()).is_err() {
        return None;
    }
    let missing = remote.missing_blobs(&result.output_blobs()).ok()?;
    missing.is_empty().then_some(result)
}

/// Readies the laid-out inputs for the command as a local build readies the workspace: no
/// output there yet, their directories and the workdir made.
fn prepare(description: &ActionDescription, work: &Path) -> Result<(), String> {
    let declared = description.declared_outputs();
    clear_outputs(work, &declared).map_err(|e| format!("cannot clear its outputs: {e}"))?;
    create_output_parents(work, &declared)
        .map_err(|e| format!("cannot create the directories of its outputs: {e}"))?;
    create_dir_beneath(work, &description.workdir)
        .map_err(|e| format!("cannot create its workdir `{}`: {e}", description.workdir))
}

fn run(description: &ActionDescription, scratch: &Scratch, interrupt: &Interrupt) -> RunOutcome {
    let work = scratch.work();
    let workdir = if description.workdir == "." {
        work
    } else {
        work.join(&description.workdir)
    };
    let log = scratch.log();
    let devices = ENGINE_DEVICES
        .iter()
        .filter_map(|name| {
            std::env::var(name)
                .ok()
                .map(|value| (name.to_string(), value))
        })
        .collect();
    let command = local::Command {
        cmd: &description.command,
        workdir: &workdir,
        env: &description.env,
        extra_env: devices,
        timeout: description.timeout_ms.map(Duration::from_millis),
        grace: GRACE,
        log_path: &log,
        echo: true,
    };
    local::run(&command, interrupt)
}

/// Uploads the end of what the command printed, for the outcome; a log that cannot be kept
/// loses the text, never the attempt.
fn keep_log(
    remote: &dyn Remote,
    store: &LocalStore,
    printed: &Printed,
    note: &dyn Fn(&str),
) -> (Option<Digest>, bool) {
    let Printed::Kept { text, cut } = printed else {
        return (None, false);
    };
    let kept = store.put_bytes(text.as_bytes()).map_err(|e| e.to_string());
    let uploaded = kept.and_then(|digest| {
        remote
            .put_blob(&digest, &store.blob_path(&digest))
            .map(|()| digest)
            .map_err(|e| e.to_string())
    });
    match uploaded {
        Ok(digest) => (Some(digest), *cut),
        Err(e) => {
            note(&format!("what the command printed is not kept: {e}"));
            (None, false)
        }
    }
}

/// Stores what the command left as its result, as a local build would, and uploads it: the
/// blobs, then the result under the key when it may be cached.
fn collect(
    remote: &dyn Remote,
    store: &LocalStore,
    description: &ActionDescription,
    scratch: &Scratch,
    printed: &Printed,
    duration: Duration,
) -> Result<ActionResult, String> {
    let declared = description.declared_outputs();
    let worker = host();
    let facts = RunFacts {
        declared: &declared,
        metrics: &description.metrics,
        printed,
        duration,
        attempts: description.attempt,
        worker: &worker,
    };
    let result = store_run_result(store, &scratch.work(), &StatCache::in_memory(), &facts)
        .map_err(|e| e.to_string())?;
    upload_blobs(remote, store, &result).map_err(|e| format!("cannot upload its outputs: {e}"))?;
    if description.cache {
        let json =
            serde_json::to_vec(&result).map_err(|e| format!("cannot encode its result: {e}"))?;
        remote
            .put_action_result(&description.key, &json)
            .map_err(|e| format!("cannot store its result: {e}"))?;
    }
    Ok(result)
}

/// This machine's name, as results and outcomes record where they ran.
fn host() -> String {
    let name = rustix::system::uname();
    let name = name.nodename().to_string_lossy();
    if name.is_empty() {
        "worker".to_string()
    } else {
        name.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worked(end: End, stored: Result<(), RemoteError>) -> Worked {
        Worked {
            outcome: WorkerOutcome {
                format: OUTCOME_FORMAT.to_string(),
                description: Digest::of(b"description"),
                key: None,
                end,
                log: None,
                log_cut: false,
                host: host(),
                started_ms: 0,
                duration_ms: 0,
                zenbuild: ZENBUILD_VERSION.to_string(),
                result: None,
            },
            stored,
        }
    }

    #[test]
    fn the_exit_code_is_the_steps_or_the_workers_own() {
        for (end, code) in [
            (End::Reused, 0),
            (End::Exited { code: 0 }, 0),
            (End::Exited { code: 3 }, 3),
            (End::Exited { code: 300 }, EXIT_WORKER_FAILED),
            (End::Signalled { signal: 9 }, 137),
            (End::TimedOut { after_ms: 5 }, EXIT_TIMED_OUT),
            (End::Interrupted, EXIT_INTERRUPTED),
            (
                End::NotRun {
                    message: String::new(),
                },
                EXIT_WORKER_FAILED,
            ),
            (
                End::Failed {
                    message: String::new(),
                },
                EXIT_WORKER_FAILED,
            ),
        ] {
            assert_eq!(worked(end.clone(), Ok(())).exit_code(), code, "{end:?}");
        }
        let unstored = worked(
            End::Exited { code: 0 },
            Err(RemoteError::Local("down".into())),
        );
        assert_eq!(unstored.exit_code(), EXIT_WORKER_FAILED);
        assert!(!host().is_empty());
    }
}
