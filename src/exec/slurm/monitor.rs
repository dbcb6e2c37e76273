//! The one thread of a Slurm executor that talks to Slurm: it submits queued attempts at a
//! bounded rate, cancels what the scheduler asks to stop, reads the exit files the jobs
//! leave, and asks Slurm about all of the build's jobs once per polling cycle. Slurm's
//! commands run without the state's lock held, so that `submit`, `poll` and `cancel` never
//! wait for the controller.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use super::commands;
use super::ending::{ending, lost_to_node, never_starts, on_node};
use super::ledger::Ledger;
use super::script::{self, AttemptFiles, Written};
use super::states::{self, JobState, JobStatus};
use super::{Job, Queued, Shared, State, lock, stager, through_remote};
use crate::exec::courier::note_not_installed;
use crate::exec::executor::{Ended, Ending, Ticket};

/// How often the jobs' exit files are looked at between status queries.
const FILE_CHECK: Duration = Duration::from_millis(250);
/// Ids per `scancel`: a build of thousands of jobs is cancelled in a few commands.
const CANCEL_CHUNK: usize = 200;
/// How long a job may go unlisted by `sacct` after its submission before it counts as
/// missing.
const ACCOUNTING_LAG: Duration = Duration::from_mins(2);

/// The monitor's loop, until the executor is dropped.
pub(super) fn run(shared: &Shared, mut ledger: Ledger) {
    let config = &shared.config;
    let mut poll_every = config.poll_min;
    let mut next_query = Instant::now() + poll_every;
    let mut last_submit: Option<Instant> = None;
    let mut accounting: Option<bool> = None;
    loop {
        let now = Instant::now();
        let mut state = lock(&shared.state);
        if state.closing {
            let left: Vec<String> = state.jobs.values().map(|job| job.id.clone()).collect();
            drop(state);
            // A build that ends with jobs in flight (it can only be a bug or a panic) must
            // not leave them running: they would write into the workspace later.
            if left.is_empty() {
                ledger.clear();
                let _ = fs::remove_dir_all(&config.dir);
            } else {
                cancel_ids(&left);
            }
            return;
        }
        // What to do now, taken out of the state so that Slurm's commands run without it.
        let cancel_ids_now = take_cancels(shared, &mut state);
        let through_remote = shared.courier.is_some();
        let may_submit = last_submit.is_none_or(|at| now >= at + config.submit_every);
        let submitting = if may_submit {
            state.ready(through_remote).pop_front()
        } else {
            None
        };
        let waiting = !state.ready(through_remote).is_empty();
        let in_flight = !state.jobs.is_empty();
        let query_now = in_flight && now >= next_query;
        if !in_flight && !waiting && submitting.is_none() && cancel_ids_now.is_empty() {
            // Nothing to watch: sleep until the executor is given something.
            let _unused = shared
                .work
                .wait_timeout(state, Duration::from_secs(1))
                .map(|(guard, _)| guard);
            continue;
        }
        drop(state);

        if !cancel_ids_now.is_empty() {
            cancel_ids(&cancel_ids_now);
            // Slurm says they are over at the next query; ask soon.
            next_query = next_query.min(Instant::now() + Duration::from_millis(500));
        }
        if let Some(queued) = submitting {
            last_submit = Some(Instant::now());
            submit(shared, &mut ledger, queued);
        }
        check_exit_files(shared);
        if query_now {
            let accounting = *accounting.get_or_insert_with(accounting_is_on);
            let changed = query(shared, accounting);
            poll_every = if changed {
                config.poll_min
            } else {
                poll_every.mul_f32(1.5).min(config.poll_max)
            };
            next_query = Instant::now() + poll_every;
        }
        decide(shared);

        // Sleep until the next thing is due, or the executor is given something.
        let mut state = lock(&shared.state);
        if state.closing || !state.cancels.is_empty() {
            continue;
        }
        let mut until = next_query.min(Instant::now() + FILE_CHECK);
        if !state.ready(through_remote).is_empty() {
            until = until.min(last_submit.map_or_else(Instant::now, |at| at + config.submit_every));
        }
        let pause = until.saturating_duration_since(Instant::now());
        if !pause.is_zero() {
            let _unused = shared.work.wait_timeout(state, pause);
        }
    }
}

/// Takes the stops asked for (all, on an interrupt) out of the state: attempts not yet
/// submitted end at once, a stager's ends once uploaded; returns the ids of the jobs to
/// cancel. Through a remote, what waits for `sbatch` ends too once a job found no zenbuild
/// on the cluster.
fn take_cancels(shared: &Shared, state: &mut State) -> Vec<String> {
    let executor = &shared.config.executor;
    if shared.config.interrupt.is_triggered() {
        let all: Vec<Ticket> = state
            .jobs
            .iter()
            .filter(|(_, job)| !job.cancelled)
            .map(|(ticket, _)| *ticket)
            .chain(state.queued.iter().map(|q| q.ticket))
            .chain(state.staged.iter().map(|q| q.ticket))
            .collect();
        state.cancels.extend(all);
    }
    let mut ids = Vec::new();
    for ticket in std::mem::take(&mut state.cancels) {
        if let Some(queued) =
            take(&mut state.queued, ticket).or_else(|| take(&mut state.staged, ticket))
        {
            stager::finish(state, &queued, Ending::Cancelled, executor);
        } else if let Some(job) = state.jobs.get_mut(&ticket) {
            if !job.cancelled {
                job.cancelled = true;
                ids.push(job.id.clone());
            }
        } else if state.sending.contains(&ticket) {
            // Its stager ends it once the upload is over.
            state.stop_after_send.insert(ticket);
        }
    }
    if let Some(why) = state.broken.clone() {
        for queued in std::mem::take(&mut state.staged) {
            stager::finish(state, &queued, Ending::NotStarted(why.clone()), executor);
        }
    }
    ids
}

/// Takes `ticket`'s attempt out of a queue.
fn take(queue: &mut std::collections::VecDeque<Queued>, ticket: Ticket) -> Option<Queued> {
    let position = queue.iter().position(|q| q.ticket == ticket)?;
    queue.remove(position)
}

/// Hands one attempt to `sbatch`; an attempt that cannot be submitted ends at once.
fn submit(shared: &Shared, ledger: &mut Ledger, queued: Queued) {
    let config = &shared.config;
    let Queued {
        ticket,
        spec,
        wake,
        sent,
    } = queued;
    let files = AttemptFiles::new(&config.dir, &format!("{}", ticket.0));
    let exclude = lock(&shared.state)
        .failed_nodes
        .get(&spec.key)
        .cloned()
        .unwrap_or_default();
    let text = match &sent {
        Some(sent) => script::worker_script(&spec, &sent.command),
        None => script::batch_script(&spec, &files, &config.inherited),
    };
    let submitted = write_script(&config.dir, &spec, &files, &text).and_then(|()| {
        let args = script::sbatch_args(
            &spec,
            &config.settings,
            &config.job_name,
            &files,
            &exclude,
            sent.is_some(),
        );
        commands::run("sbatch", &args)
    });
    let mut state = lock(&shared.state);
    match submitted.map(|out| job_id(&out)) {
        Ok(Some(id)) => {
            if let Err(e) = ledger.record(&id, &config.job_name) {
                // Without the ledger a killed build's job would not be found again; the
                // build itself still sees it end.
                eprintln!("zenbuild: cannot write down Slurm job {id}: {e}");
            }
            let cancelled = config.interrupt.is_triggered();
            state.jobs.insert(
                ticket,
                Job {
                    id: id.clone(),
                    spec,
                    files,
                    sent,
                    wake,
                    submitted: Instant::now(),
                    started: None,
                    state: None,
                    nodes: String::new(),
                    missing_since: None,
                    over_since: None,
                    exit: None,
                    queried_after_exit: false,
                    cancelled,
                },
            );
            if cancelled {
                drop(state);
                cancel_ids(&[id]);
            }
        }
        Ok(None) => {
            let why = "`sbatch --parsable` printed no job id".to_string();
            state.ended.push((
                ticket,
                Ended::new(Ending::NotStarted(why), config.executor.clone()),
            ));
            wake.wake();
        }
        Err(why) => {
            state.ended.push((
                ticket,
                Ended::new(Ending::NotStarted(why), config.executor.clone()),
            ));
            wake.wake();
        }
    }
}

fn write_script(
    dir: &Path,
    spec: &crate::exec::executor::ActionSpec,
    files: &AttemptFiles,
    text: &str,
) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    // An exit file of an earlier attempt with this name must not end this one.
    let _ = fs::remove_file(&files.exit);
    if let Some(parent) = spec.log.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
    }
    fs::write(&files.script, text).map_err(|e| format!("cannot write its batch script: {e}"))
}

/// The job id of `sbatch --parsable` (`123` or `123;cluster`).
fn job_id(out: &str) -> Option<String> {
    let id = out.trim().split(';').next()?.trim();
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
}

/// Reads the exit file of every job that has none yet.
fn check_exit_files(shared: &Shared) {
    let waiting: Vec<(Ticket, std::path::PathBuf)> = lock(&shared.state)
        .jobs
        .iter()
        .filter(|(_, job)| job.exit.is_none() && job.sent.is_none())
        .map(|(ticket, job)| (*ticket, job.files.exit.clone()))
        .collect();
    let read: Vec<(Ticket, (Written, String))> = waiting
        .into_iter()
        .filter_map(|(ticket, path)| {
            let text = fs::read_to_string(path).ok()?;
            Some((ticket, script::read_exit_file(&text)?))
        })
        .collect();
    if read.is_empty() {
        return;
    }
    let now = Instant::now();
    let mut state = lock(&shared.state);
    for (ticket, (written, host)) in read {
        if let Some(job) = state.jobs.get_mut(&ticket) {
            job.exit = Some((written, now));
            if job.nodes.is_empty() {
                job.nodes = host;
            }
        }
    }
}

/// Asks Slurm about every job of the build, once; whether any job's state changed.
fn query(shared: &Shared, accounting: bool) -> bool {
    let config = &shared.config;
    let answer = if accounting {
        // By id: sacct lists only today's jobs unless told which, and a build may span
        // midnight.
        let ids: Vec<String> = lock(&shared.state)
            .jobs
            .values()
            .map(|job| job.id.clone())
            .collect();
        commands::run(
            "sacct",
            &[
                "--noheader".into(),
                "--parsable2".into(),
                "--allocations".into(),
                format!("--jobs={}", ids.join(",")),
                format!("--format={}", states::SACCT_FORMAT),
            ],
        )
        .map(|text| states::parse_sacct(&text))
    } else {
        commands::run(
            "squeue",
            &[
                "--noheader".into(),
                "--states=all".into(),
                format!("--name={}", config.job_name),
                format!("--format={}", states::SQUEUE_FORMAT),
            ],
        )
        .map(|text| states::parse_squeue(&text))
    };
    let mut state = lock(&shared.state);
    let Ok(statuses) = answer else {
        // The controller did not answer ("Slurm is too busy"): the jobs keep their last
        // known states, the exit files still end them, and the next query comes later.
        return false;
    };
    let now = Instant::now();
    // The controller lists a job as soon as sbatch returns; the accounting database a
    // little later (slurmdbd writes behind), so a job it does not list yet is not missing.
    let listed_after = if accounting {
        ACCOUNTING_LAG
    } else {
        Duration::ZERO
    };
    let mut changed = false;
    for job in state.jobs.values_mut() {
        if job.exit.is_some() {
            job.queried_after_exit = true;
        }
        let expected = now.saturating_duration_since(job.submitted) >= listed_after;
        changed |= update(job, statuses.get(&job.id), now, expected);
    }
    changed
}

/// Takes what a query said of `job` (`expected`: whether it should have been listed);
/// whether its state changed.
fn update(job: &mut Job, status: Option<&JobStatus>, now: Instant, expected: bool) -> bool {
    let Some(status) = status else {
        if expected {
            job.missing_since.get_or_insert(now);
        }
        return false;
    };
    job.missing_since = None;
    if !status.nodes.is_empty() {
        job.nodes.clone_from(&status.nodes);
    }
    if !matches!(status.state, JobState::Pending(_)) && job.started.is_none() {
        job.started = Some(now);
    }
    if matches!(status.state, JobState::Over(_)) && job.over_since.is_none() {
        job.over_since = Some(now);
    }
    let changed = job.state.as_ref() != Some(&status.state);
    job.state = Some(status.state.clone());
    changed
}

/// Ends every job whose end is known, waking the scheduler; cancels those Slurm will never
/// start.
fn decide(shared: &Shared) {
    let config = &shared.config;
    let now = Instant::now();
    let mut state = lock(&shared.state);
    let hopeless: Vec<String> = state
        .jobs
        .values()
        .filter(|job| !job.cancelled && never_starts(job).is_some())
        .map(|job| job.id.clone())
        .collect();
    // A job through a remote ends by its worker's report, read below without the state.
    let over: Vec<(Ticket, Option<Ending>)> = state
        .jobs
        .iter()
        .filter_map(|(ticket, job)| {
            if job.sent.is_some() {
                through_remote::is_over(job, now).then_some((*ticket, None))
            } else {
                Some((*ticket, Some(ending(job, config.latency_wait, now)?)))
            }
        })
        .collect();
    let mut reports = Vec::new();
    for (ticket, how) in over {
        let Some(job) = state.jobs.remove(&ticket) else {
            continue;
        };
        let again = lost_again(&mut state, &job, config.node_retries);
        let Some(how) = how else {
            reports.push((ticket, job, again));
            continue;
        };
        let ended = ended(&job, how, again, &config.executor, now);
        job.wake.wake();
        state.ended.push((ticket, ended));
    }
    drop(state);
    if !hopeless.is_empty() {
        cancel_ids(&hopeless);
    }
    for (ticket, job, again) in reports {
        // Bringing the outputs home can take a while; the state is not held meanwhile.
        let mut ended = through_remote::ended(shared, &job, again, now);
        let mut state = lock(&shared.state);
        note_not_installed(&mut ended, &mut state.broken, &config.executor);
        state.ended.push((ticket, ended));
        job.wake.wake();
    }
}

/// Whether `job`, just over, was lost to its node (failure, preemption) and may run again
/// elsewhere: that node is avoided from now on, and an action is lost so only so often.
fn lost_again(state: &mut State, job: &Job, node_retries: u32) -> bool {
    if !lost_to_node(job) {
        return false;
    }
    let failed = state.failed_nodes.entry(job.spec.key).or_default();
    if !job.nodes.is_empty() && !failed.contains(&job.nodes) {
        failed.push(job.nodes.clone());
    }
    let losses = state.losses.entry(job.spec.key).or_default();
    *losses += 1;
    *losses <= node_retries
}

/// What the scheduler is told of `job`'s end.
fn ended(job: &Job, how: Ending, again: bool, executor: &str, now: Instant) -> Ended {
    let worker = if job.nodes.is_empty() {
        executor.to_string()
    } else {
        job.nodes.clone()
    };
    keep_slurm_output(job);
    let mut ended =
        Ended::new(how, worker).of_job(&job.id, (job.submitted, job.started), now, &job.spec.log);
    ended.again = again;
    if ended.log.is_none() {
        // A silent step leaves no log, as a local one does.
        let _ = fs::remove_file(&job.spec.log);
    }
    for file in [&job.files.script, &job.files.exit] {
        let _ = fs::remove_file(file);
    }
    ended
}

/// Appends what Slurm itself printed for the job (`slurmstepd: error: …`) to the action's
/// log, where the user looks.
fn keep_slurm_output(job: &Job) {
    use std::io::Write as _;
    let Ok(said) = fs::read(&job.files.slurm_out) else {
        return;
    };
    let _ = fs::remove_file(&job.files.slurm_out);
    if said.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    if let Ok(mut log) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&job.spec.log)
    {
        let _ = writeln!(log, "--- Slurm, job {}{} ---", job.id, on_node(&job.nodes));
        let _ = log.write_all(&said);
    }
}

/// Asks Slurm to cancel jobs, a chunk of ids per command. Failures are not reported: a job
/// that had already ended cannot be cancelled, and the next query says where each one is.
pub(super) fn cancel_ids(ids: &[String]) {
    for chunk in ids.chunks(CANCEL_CHUNK) {
        let _ = commands::run("scancel", chunk);
    }
}

/// Whether the cluster keeps accounting, so that `sacct` knows every job of the build.
fn accounting_is_on() -> bool {
    commands::run("scontrol", &["show".into(), "config".into()]).is_ok_and(|config| {
        config.lines().any(|line| {
            let mut parts = line.splitn(2, '=');
            let key = parts.next().unwrap_or("").trim();
            let value = parts.next().unwrap_or("").trim();
            key == "AccountingStorageType"
                && !value.is_empty()
                && value != "accounting_storage/none"
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_id_is_read_from_parsable_output() {
        assert_eq!(job_id("1234\n").as_deref(), Some("1234"));
        assert_eq!(job_id("77;cluster\n").as_deref(), Some("77"));
        assert_eq!(job_id("Submitted batch job 5\n"), None);
        assert_eq!(job_id(""), None);
    }
}
