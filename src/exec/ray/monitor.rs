//! The Ray executor's monitor: one listing of the cluster's jobs per polling cycle for all the
//! build's jobs, the stops the scheduler asks for, and the end of each job, read from the
//! worker's report in the remote. The Jobs API and the remote are never asked with the
//! state's lock held, so that `submit`, `poll` and `cancel` never wait for them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::api::{Job as JobInfo, JobStatus};
use super::{Job, Shared, lock};
use crate::exec::courier::{NOT_INSTALLED, Received, note_not_installed};
use crate::exec::executor::{Ended, Ending, Ticket};

/// How long a submitted job may go unlisted before it counts as lost.
const MISSING_FOR: Duration = Duration::from_secs(30);
/// How much of a job's own log is kept when its worker left no report.
const LOG_TAIL: usize = 64 * 1024;

/// The monitor's loop, until the executor is dropped.
pub(super) fn run(shared: &Shared) {
    let config = &shared.config;
    let mut poll_every = config.poll_min;
    let mut next_query = Instant::now();
    loop {
        let mut state = lock(&shared.state);
        if config.interrupt.is_triggered() {
            let all: Vec<Ticket> = state
                .jobs
                .iter()
                .filter(|(_, job)| !job.cancelled)
                .map(|(ticket, _)| *ticket)
                .chain(state.queued.iter().map(|q| q.ticket))
                .collect();
            state.cancels.extend(all);
        }
        if state.closing {
            let left: Vec<String> = state.jobs.values().map(|job| job.id.clone()).collect();
            drop(state);
            // A build that ends with jobs in flight (a bug or a panic) must not leave them
            // running on the cluster.
            for id in left {
                let _ = shared.jobs_api.stop(&id);
            }
            return;
        }
        let mut stops = Vec::new();
        for ticket in std::mem::take(&mut state.cancels) {
            if let Some(position) = state.queued.iter().position(|q| q.ticket == ticket) {
                if let Some(queued) = state.queued.remove(position) {
                    super::sender::finish(&mut state, &queued, Ending::Cancelled, &config.executor);
                }
            } else if let Some(job) = state.jobs.get_mut(&ticket)
                && !job.cancelled
            {
                job.cancelled = true;
                stops.push(job.id.clone());
            } else if state.sending.contains(&ticket) {
                // Its sender stops it once Ray has it.
                state.stop_after_send.insert(ticket);
            }
        }
        let in_flight = !state.jobs.is_empty();
        if !in_flight && stops.is_empty() {
            let _unused = shared
                .work
                .wait_timeout(state, Duration::from_secs(1))
                .map(|(guard, _)| guard);
            continue;
        }
        drop(state);
        for id in &stops {
            let _ = shared.jobs_api.stop(id);
        }
        if !stops.is_empty() {
            next_query = next_query.min(Instant::now() + Duration::from_millis(300));
        }
        if in_flight && Instant::now() >= next_query {
            let changed = query(shared);
            poll_every = if changed {
                config.poll_min
            } else {
                poll_every.mul_f32(1.5).min(config.poll_max)
            };
            next_query = Instant::now() + poll_every;
            decide(shared);
        }
        let state = lock(&shared.state);
        if state.closing || !state.cancels.is_empty() {
            continue;
        }
        let pause = next_query.saturating_duration_since(Instant::now());
        if !pause.is_zero() {
            let _unused = shared.work.wait_timeout(state, pause);
        }
    }
}

/// Lists the cluster's jobs once; whether any of the build's changed.
fn query(shared: &Shared) -> bool {
    let Ok(listed) = shared.jobs_api.list() else {
        // The dashboard did not answer: the jobs keep their last known states and the next
        // listing comes later.
        return false;
    };
    let listed: HashMap<&str, &JobInfo> = listed
        .iter()
        .filter_map(|job| Some((job.submission_id.as_deref()?, job)))
        .collect();
    let now = Instant::now();
    let mut state = lock(&shared.state);
    let mut changed = false;
    for job in state.jobs.values_mut() {
        let Some(info) = listed.get(job.id.as_str()) else {
            job.missing_since.get_or_insert(now);
            continue;
        };
        job.missing_since = None;
        if info.status != JobStatus::Pending && job.started.is_none() {
            job.started = Some(now);
        }
        changed |= job.status.as_ref() != Some(&info.status);
        job.status = Some(info.status.clone());
        job.message.clone_from(&info.message);
        job.exit_code = info.driver_exit_code;
    }
    changed
}

/// Ends every job that Ray says is over (or that it lost), waking the scheduler.
fn decide(shared: &Shared) {
    let now = Instant::now();
    let over: Vec<(Ticket, Job)> = {
        let mut state = lock(&shared.state);
        let tickets: Vec<Ticket> = state
            .jobs
            .iter()
            .filter(|(_, job)| {
                job.status.as_ref().is_some_and(JobStatus::is_terminal)
                    || job
                        .missing_since
                        .is_some_and(|since| now.saturating_duration_since(since) >= MISSING_FOR)
            })
            .map(|(ticket, _)| *ticket)
            .collect();
        tickets
            .into_iter()
            .filter_map(|ticket| Some((ticket, state.jobs.remove(&ticket)?)))
            .collect()
    };
    for (ticket, job) in over {
        // Bringing the outputs home can take a while; the state is not held meanwhile.
        let mut ended = ended(shared, &job, now);
        let mut state = lock(&shared.state);
        note_not_installed(&mut ended, &mut state.broken, &shared.config.executor);
        state.ended.push((ticket, ended));
        job.wake.wake();
    }
}

/// What the scheduler is told of a job Ray says is over.
fn ended(shared: &Shared, job: &Job, now: Instant) -> Ended {
    let executor = &shared.config.executor;
    let stopped = job.status == Some(JobStatus::Stopped);
    let ended = if stopped && job.cancelled {
        Ended::new(Ending::Cancelled, executor.clone())
    } else {
        match shared.courier.receive(&job.sent, &job.spec) {
            Received::Reported(report) => report.into_ended(),
            Received::Broken(why) => Ended::new(Ending::Lost(why), executor.clone()),
            Received::Silent => without_report(shared, job),
        }
    };
    ended.of_job(&job.id, (job.submitted, job.started), now, &job.spec.log)
}

/// The end of a job whose worker left no report: it never ran (zenbuild is missing on the
/// cluster, Ray could not start it) or died before reporting. What Ray kept of its output
/// goes to the action's log, where the user looks.
fn without_report(shared: &Shared, job: &Job) -> Ended {
    let executor = &shared.config.executor;
    let said = shared
        .jobs_api
        .logs(&job.id, LOG_TAIL)
        .map(|logs| logs.text)
        .unwrap_or_default();
    if !said.trim().is_empty() {
        let _ = std::fs::write(&job.spec.log, said.as_bytes());
    }
    let how = match &job.status {
        None => Ending::Lost("its Ray job is no longer listed by the cluster".to_string()),
        Some(JobStatus::Stopped) => {
            Ending::Lost("its Ray job was stopped outside this build".to_string())
        }
        Some(_) if job.exit_code == Some(127) || worker_not_found(&said) => {
            Ending::NotStarted(format!(
                "{NOT_INSTALLED} on the Ray cluster `{}` (its job said: {}); install \
             zenbuild {} on every machine of the cluster, on the PATH of the user that \
             started Ray (see docs/remote-execution.md)",
                executor,
                last_line(&said),
                env!("CARGO_PKG_VERSION"),
            ))
        }
        Some(_) => Ending::Lost(format!(
            "its Ray job ended without a report from `zenbuild worker`{}",
            if job.message.is_empty() {
                String::new()
            } else {
                format!(" ({})", job.message)
            }
        )),
    };
    Ended::new(how, executor.clone())
}

/// Whether a job's output says that its shell found no `zenbuild` to run.
fn worker_not_found(said: &str) -> bool {
    said.lines().any(|line| {
        line.contains("zenbuild") && (line.contains("not found") || line.contains("No such file"))
    })
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_that_finds_no_zenbuild_is_recognised() {
        assert!(worker_not_found("sh: 1: zenbuild: not found\n"));
        assert!(worker_not_found(
            "/bin/sh: line 1: zenbuild: No such file or directory"
        ));
        assert!(!worker_not_found(
            "error: input `a.txt` does not match its digest"
        ));
        assert!(!worker_not_found("file not found\n"));
    }

    #[test]
    fn the_last_line_said_is_quoted() {
        assert_eq!(last_line("a\nb: not found\n\n"), "b: not found");
        assert_eq!(last_line(""), "");
    }
}
