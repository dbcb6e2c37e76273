//! What `squeue` and `sacct` say of a build's jobs, read into states, and what an ended job
//! means for its attempt.

use std::collections::HashMap;

/// The `squeue --format` that [`parse_squeue`] reads: id, state, reason, nodes.
pub const SQUEUE_FORMAT: &str = "%i|%T|%r|%N";
/// The `sacct --format` that [`parse_sacct`] reads.
pub const SACCT_FORMAT: &str = "JobID,State,ExitCode,NodeList";

/// Where a job is, as Slurm says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for resources; why (`Resources`, `Priority`, `QOSMaxJobsPerUserLimit`).
    Pending(String),
    /// Started and not yet over (running, completing, suspended, requeued, …).
    Active,
    /// Over, in one of Slurm's end states.
    Over(EndState),
}

/// Slurm's end states that mean different things to a build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndState {
    Completed,
    Failed,
    Cancelled,
    Timeout,
    OutOfMemory,
    /// The node failed under it (`NODE_FAIL`), or never booted (`BOOT_FAIL`).
    NodeFailed(String),
    Preempted,
    /// Another state (`DEADLINE`, `SPECIAL_EXIT`, …), as Slurm names it.
    Other(String),
}

/// One job as a status query saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    pub state: JobState,
    /// The node(s) it ran on, if any.
    pub nodes: String,
}

/// Reads a state name (`CANCELLED by 0` is `CANCELLED`).
pub fn state(name: &str, reason: &str) -> JobState {
    let name = name.split_whitespace().next().unwrap_or("");
    let over = |end| JobState::Over(end);
    match name {
        "PENDING" => JobState::Pending(reason.to_string()),
        "COMPLETED" => over(EndState::Completed),
        "FAILED" => over(EndState::Failed),
        "CANCELLED" => over(EndState::Cancelled),
        "TIMEOUT" => over(EndState::Timeout),
        "OUT_OF_MEMORY" => over(EndState::OutOfMemory),
        "NODE_FAIL" | "BOOT_FAIL" => over(EndState::NodeFailed(name.to_string())),
        "PREEMPTED" => over(EndState::Preempted),
        "DEADLINE" | "SPECIAL_EXIT" | "REVOKED" => over(EndState::Other(name.to_string())),
        // RUNNING, CONFIGURING, COMPLETING, SUSPENDED, STOPPED, REQUEUED, RESIZING, SIGNALING,
        // STAGE_OUT, and any state a newer Slurm adds: not over until it says so.
        _ => JobState::Active,
    }
}

/// `squeue --noheader --format=SQUEUE_FORMAT` output, by job id. Lines that do not read are
/// skipped: a job missing from the answer is looked for again next time.
pub fn parse_squeue(text: &str) -> HashMap<String, JobStatus> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().splitn(4, '|');
            let id = fields.next()?.trim();
            let state_name = fields.next()?.trim();
            let reason = fields.next()?.trim();
            let nodes = fields.next().unwrap_or("").trim();
            if id.is_empty() || state_name.is_empty() {
                return None;
            }
            Some((
                id.to_string(),
                JobStatus {
                    state: state(state_name, reason),
                    nodes: if nodes.starts_with('(') {
                        String::new()
                    } else {
                        nodes.to_string()
                    },
                },
            ))
        })
        .collect()
}

/// `sacct --noheader --parsable2 --allocations --format=SACCT_FORMAT` output, by job id.
/// Job steps (`123.batch`) are left out; so is a job array's line of pending tasks.
pub fn parse_sacct(text: &str) -> HashMap<String, JobStatus> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split('|');
            let id = fields.next()?.trim();
            let state_name = fields.next()?.trim();
            let _exit_code = fields.next()?;
            let nodes = fields.next().unwrap_or("").trim();
            if id.is_empty() || id.contains('.') || state_name.is_empty() {
                return None;
            }
            Some((
                id.to_string(),
                JobStatus {
                    state: state(state_name, ""),
                    nodes: if nodes == "None assigned" {
                        String::new()
                    } else {
                        nodes.to_string()
                    },
                },
            ))
        })
        .collect()
}

/// The job's exit code in `scontrol --oneliner show job` output (`ExitCode=127:0`: the
/// code, then the signal that ended it); `None` for a job ended by a signal.
pub fn parse_exit_code(text: &str) -> Option<i32> {
    let field = text
        .split_whitespace()
        .find_map(|word| word.strip_prefix("ExitCode="))?;
    let (code, signal) = field.split_once(':')?;
    if signal != "0" {
        return None;
    }
    code.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_code_is_read_from_scontrol() {
        let said = "JobId=41 JobName=zenbuild-ab JobState=FAILED Reason=NonZeroExitCode \
                    Dependency=(null) Requeue=0 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=127:0 \
                    DerivedExitCode=0:0";
        assert_eq!(parse_exit_code(said), Some(127));
        assert_eq!(parse_exit_code("JobId=41 ExitCode=0:9"), None);
        assert_eq!(parse_exit_code("JobId=41 DerivedExitCode=2:0"), None);
        assert_eq!(parse_exit_code(""), None);
    }

    #[test]
    fn squeue_lines_are_read_by_job() {
        let jobs = parse_squeue(
            "41|PENDING|Resources|\n42|RUNNING|None|vm\n43|OUT_OF_MEMORY|OutOfMemory|vm\n\ngarbage\n44|COMPLETING|None|vm\n",
        );
        assert_eq!(jobs["41"].state, JobState::Pending("Resources".into()));
        assert_eq!(jobs["42"].state, JobState::Active);
        assert_eq!(jobs["42"].nodes, "vm");
        assert_eq!(jobs["43"].state, JobState::Over(EndState::OutOfMemory));
        assert_eq!(jobs["44"].state, JobState::Active);
        assert_eq!(jobs.len(), 4);
    }

    #[test]
    fn sacct_lines_skip_steps_and_read_cancelled_by() {
        let jobs = parse_sacct(
            "50|CANCELLED by 0|0:15|vm\n50.batch|CANCELLED|0:15|vm\n51|NODE_FAIL|0:0|n3\n52|PENDING|0:0|None assigned\n",
        );
        assert_eq!(jobs["50"].state, JobState::Over(EndState::Cancelled));
        assert_eq!(
            jobs["51"].state,
            JobState::Over(EndState::NodeFailed("NODE_FAIL".into()))
        );
        assert_eq!(jobs["51"].nodes, "n3");
        assert_eq!(jobs["52"].nodes, "");
        assert_eq!(jobs.len(), 3);
    }

    #[test]
    fn states_a_newer_slurm_adds_are_not_taken_for_an_end() {
        assert_eq!(state("SOMETHING_NEW", ""), JobState::Active);
        assert_eq!(state("TIMEOUT", ""), JobState::Over(EndState::Timeout));
        assert_eq!(state("PREEMPTED", ""), JobState::Over(EndState::Preempted));
    }
}
