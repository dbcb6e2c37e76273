//! The end of a Slurm job whose action travels through a remote (`remote=`). The node shares
//! nothing with the workspace, so no exit file says how the command ended: the worker's
//! report in the remote does, read once Slurm says the job is over. Slurm's own state says
//! what the worker could not (the job never started, was killed for its time or memory, was
//! lost with its node), and its exit code 127 that the batch script found no `zenbuild`.

use std::time::{Duration, Instant};

use super::ending::{never_starts, on_node};
use super::states::{EndState, JobState, parse_exit_code};
use super::{Job, Shared, commands};
use crate::exec::courier::{NOT_INSTALLED, Received};
use crate::exec::executor::{Ended, Ending};

/// How long a submitted job may go unlisted before its report is looked for anyway: Slurm
/// forgets an ended job after a while (`MinJobAge`), and a query may miss one.
const MISSING_FOR: Duration = Duration::from_secs(30);

/// Whether `job` is over, as far as Slurm's answers tell.
pub(super) fn is_over(job: &Job, now: Instant) -> bool {
    let missing = job.missing_since;
    matches!(job.state, Some(JobState::Over(_)))
        || never_starts(job).is_some()
        || (job.cancelled && missing.is_some())
        || missing.is_some_and(|since| now.saturating_duration_since(since) >= MISSING_FOR)
}

/// What the scheduler is told of `job`'s end (`again`: Slurm lost it to its node and the
/// action may run elsewhere, unless its worker reported an end of its own).
pub(super) fn ended(shared: &Shared, job: &Job, again: bool, now: Instant) -> Ended {
    let executor = &shared.config.executor;
    let node = if job.nodes.is_empty() {
        executor.clone()
    } else {
        job.nodes.clone()
    };
    let over = match &job.state {
        Some(JobState::Over(end)) => Some(end),
        _ => None,
    };
    let received = match (&shared.courier, &job.sent) {
        _ if job.cancelled => None,
        (Some(courier), Some(sent)) => Some(courier.receive(sent, &job.spec)),
        _ => None,
    };
    let mut ended = match received {
        None => Ended::new(Ending::Cancelled, node),
        Some(Received::Reported(report)) => {
            let mut ended = report.into_ended();
            // Slurm's cgroup killed the command for its memory; the worker saw only a kill.
            if !ended.how.succeeded() && over == Some(&EndState::OutOfMemory) {
                ended.how = Ending::OutOfMemory;
            }
            ended
        }
        Some(Received::Broken(why)) => Ended::new(Ending::Lost(why), node),
        Some(Received::Silent) => Ended::new(silent(job, over, executor, now), node),
    };
    ended.again = again && matches!(ended.how, Ending::Lost(_) | Ending::Preempted);
    let _ = std::fs::remove_file(&job.files.script);
    ended.of_job(&job.id, (job.submitted, job.started), now, &job.spec.log)
}

/// How a job ended whose worker left no report: it never ran, or died before it could say.
fn silent(job: &Job, over: Option<&EndState>, executor: &str, now: Instant) -> Ending {
    if let Some(why) = never_starts(job) {
        return Ending::NotStarted(why);
    }
    let id = &job.id;
    let on = on_node(&job.nodes);
    match over {
        Some(EndState::OutOfMemory) => Ending::OutOfMemory,
        Some(EndState::Timeout) => Ending::TimedOut(job.spec.timeout.unwrap_or_else(|| {
            job.started
                .map_or(Duration::ZERO, |at| now.saturating_duration_since(at))
        })),
        Some(EndState::Preempted) => Ending::Preempted,
        Some(EndState::NodeFailed(name)) => {
            Ending::Lost(format!("was lost: its Slurm job {id} ended as {name}{on}"))
        }
        Some(EndState::Cancelled) => Ending::Lost(format!(
            "was cancelled outside this build: its Slurm job {id} is CANCELLED (by `scancel` or an administrator)"
        )),
        _ => {
            let code = exit_code(id);
            if code == Some(127) {
                return Ending::NotStarted(format!(
                    "{NOT_INSTALLED} on the nodes of Slurm executor `{executor}` (job {id}{on} \
                     found no `zenbuild` on its PATH); install zenbuild {} on every node, on \
                     the PATH its jobs get (see docs/remote-execution.md)",
                    env!("CARGO_PKG_VERSION"),
                ));
            }
            let state = match over {
                Some(EndState::Other(name)) => format!(" as {name}"),
                Some(EndState::Failed) => " as FAILED".to_string(),
                Some(EndState::Completed) => " as COMPLETED".to_string(),
                _ => String::new(),
            };
            let code = code.map_or(String::new(), |code| format!(", exit code {code}"));
            Ending::Lost(format!(
                "its Slurm job {id} ended{on}{state}{code} without a report from `zenbuild \
                 worker` in the remote (the worker could not reach the remote, or was killed)"
            ))
        }
    }
}

/// The exit code Slurm keeps for job `id` (its batch script's), while the controller still
/// knows the job.
fn exit_code(id: &str) -> Option<i32> {
    let said = commands::run(
        "scontrol",
        &["--oneliner".into(), "show".into(), "job".into(), id.into()],
    )
    .ok()?;
    parse_exit_code(&said)
}
