//! How a job's end is decided from what the build knows of it: the exit file its script
//! wrote, the state the last status query gave, and Slurm's own words in its output. The
//! exit file is the source of truth for how the command ended; Slurm's state says what the
//! command could not (it was killed for its memory, its node failed, it never started).

use std::fs;
use std::time::{Duration, Instant};

use super::Job;
use super::script::Written;
use super::states::{EndState, JobState};
use crate::exec::executor::Ending;

/// Slurm's reasons for a pending job that no wait will change, with what they mean: such a
/// job would wait forever.
const NEVER: &[(&str, &str)] = &[
    (
        "PartitionConfig",
        "no node of the partition has the CPUs, memory or GPUs it asks for, or the partition's limits forbid them",
    ),
    (
        "BadConstraints",
        "no node has the features or resources it asks for",
    ),
    (
        "PartitionNodeLimit",
        "it asks for more nodes than the partition allows",
    ),
    (
        "PartitionTimeLimit",
        "its time limit (from its `timeout`) is longer than the partition allows",
    ),
    (
        "InvalidAccount",
        "the executor's `account` is not valid on this cluster",
    ),
    (
        "InvalidQOS",
        "the executor's `qos` is not valid on this cluster",
    ),
    (
        "AccountNotAllowed",
        "the partition does not take the executor's `account`",
    ),
    (
        "QOSNotAllowed",
        "the partition does not take the executor's `qos`",
    ),
    (
        "DependencyNeverSatisfied",
        "a dependency it was given can never be met",
    ),
];

/// Why Slurm will never start `job`, if that is what its pending reason says.
pub(super) fn never_starts(job: &Job) -> Option<String> {
    let Some(JobState::Pending(reason)) = &job.state else {
        return None;
    };
    let (_, meaning) = NEVER.iter().find(|(name, _)| reason == name)?;
    Some(format!(
        "Slurm will never start its job {} ({reason}): {meaning}",
        job.id
    ))
}

/// Whether Slurm took the job from its node (failure, preemption): another attempt,
/// elsewhere, may well succeed.
pub(super) fn lost_to_node(job: &Job) -> bool {
    matches!(
        job.state,
        Some(JobState::Over(
            EndState::NodeFailed(_) | EndState::Preempted
        ))
    )
}

/// How `job` ended, once that is known.
pub(super) fn ending(job: &Job, latency_wait: Duration, now: Instant) -> Option<Ending> {
    let over = match &job.state {
        Some(JobState::Over(end)) => Some(end),
        _ => None,
    };
    if job.cancelled {
        let gone = over.is_some() || job.missing_since.is_some() || job.exit.is_some();
        return gone.then_some(Ending::Cancelled);
    }
    if let Some(why) = never_starts(job) {
        return Some(Ending::NotStarted(why));
    }
    if let Some((written, seen)) = job.exit {
        return match written {
            Written::TimedOut(seconds) => Some(Ending::TimedOut(Duration::from_secs(seconds))),
            Written::Exited(0) => {
                // Written after the command, so the outputs are usually there; on a shared
                // file system with caching they may show up a little later.
                let visible = job.spec.outputs.iter().all(|output| {
                    fs::symlink_metadata(job.spec.root.join(output.trim_end_matches('/'))).is_ok()
                });
                (visible || now >= seen + latency_wait).then_some(Ending::Exited(0))
            }
            Written::Exited(code) => {
                // A command killed for its memory exits like any killed command; only Slurm
                // knows it was for memory, so its state is asked once more.
                if over == Some(&EndState::OutOfMemory) || out_of_memory(job) {
                    Some(Ending::OutOfMemory)
                } else if over.is_some() || job.queried_after_exit || now >= seen + latency_wait {
                    Some(Ending::Exited(code))
                } else {
                    None
                }
            }
        };
    }
    let since = job.over_since.or(job.missing_since)?;
    let end = over.cloned();
    // Some configurations (memory enforced by sampling) kill the whole job, script and all,
    // and end it as FAILED: only Slurm's own words say why.
    if out_of_memory(job) {
        return Some(Ending::OutOfMemory);
    }
    match end {
        Some(EndState::OutOfMemory) => Some(Ending::OutOfMemory),
        Some(EndState::Timeout) => {
            Some(Ending::TimedOut(job.spec.timeout.unwrap_or_else(|| {
                job.started.map_or(Duration::ZERO, |at| now - at)
            })))
        }
        Some(EndState::Preempted) => Some(Ending::Preempted),
        Some(EndState::NodeFailed(name)) => Some(Ending::Lost(format!(
            "was lost: its Slurm job {} ended as {name}{}",
            job.id,
            on_node(&job.nodes)
        ))),
        Some(EndState::Cancelled) => Some(Ending::Lost(format!(
            "was cancelled outside this build: its Slurm job {} is CANCELLED (by `scancel` or an administrator)",
            job.id
        ))),
        // Over without an exit file: it may yet appear on a file system that caches.
        _ if now < since + latency_wait => None,
        Some(EndState::Completed | EndState::Failed) | None => Some(Ending::Lost(format!(
            "did not run: its Slurm job {} ended{} without leaving its exit code in the workspace; \
             the node may not see `{}` (the Slurm executor needs the workspace on a file system \
             the nodes share; what Slurm said is at the end of the log)",
            job.id,
            on_node(&job.nodes),
            job.spec.root.display(),
        ))),
        Some(EndState::Other(name)) => Some(Ending::Lost(format!(
            "ended as {name}: its Slurm job {}{}",
            job.id,
            on_node(&job.nodes)
        ))),
    }
}

/// Whether Slurm's own output for the job says it was killed for its memory: slurmstepd
/// writes "exceeded memory limit" (sampled enforcement) or "oom-kill event" (cgroups) there.
fn out_of_memory(job: &Job) -> bool {
    let Ok(said) = fs::read(&job.files.slurm_out) else {
        return false;
    };
    let said = String::from_utf8_lossy(&said).to_ascii_lowercase();
    [
        "exceeded memory limit",
        "exceeded job memory limit",
        "oom-kill",
        "oom_kill",
        "out of memory",
    ]
    .iter()
    .any(|words| said.contains(words))
}

pub(super) fn on_node(nodes: &str) -> String {
    if nodes.is_empty() {
        String::new()
    } else {
        format!(" on {nodes}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::executor::{ActionSpec, Wake};
    use crate::exec::slurm::script::AttemptFiles;
    use crate::graph::Resources;
    use crate::hash::Digest;
    use std::path::{Path, PathBuf};

    fn job(dir: &Path, state: Option<JobState>) -> Job {
        let spec = ActionSpec {
            name: "train".into(),
            executor: "cluster".into(),
            key: Digest::of(b"train"),
            command: "true".into(),
            env: std::collections::BTreeMap::new(),
            root: dir.to_path_buf(),
            workdir: String::new(),
            inputs: Vec::new(),
            outputs: vec!["model.txt".into()],
            resources: Resources::default(),
            gpus: Vec::new(),
            timeout: Some(Duration::from_mins(1)),
            attempt: 1,
            log: PathBuf::from(dir).join("train.log"),
            platform: None,
            cache: true,
            metrics: Vec::new(),
        };
        Job {
            id: "42".into(),
            spec,
            files: AttemptFiles::new(dir, "0"),
            sent: None,
            wake: Wake::new(|| {}),
            submitted: Instant::now(),
            started: None,
            over_since: state
                .as_ref()
                .filter(|s| matches!(s, JobState::Over(_)))
                .map(|_| Instant::now()),
            state,
            nodes: "n3".into(),
            missing_since: None,
            exit: None,
            queried_after_exit: false,
            cancelled: false,
        }
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[test]
    fn each_end_state_without_an_exit_file_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let now = Instant::now();
        let over = |end| ending(&job(dir.path(), Some(JobState::Over(end))), WAIT, now);
        assert_eq!(over(EndState::OutOfMemory), Some(Ending::OutOfMemory));
        assert_eq!(
            over(EndState::Timeout),
            Some(Ending::TimedOut(Duration::from_mins(1)))
        );
        assert_eq!(over(EndState::Preempted), Some(Ending::Preempted));
        let Some(Ending::Lost(lost)) = over(EndState::NodeFailed("NODE_FAIL".into())) else {
            panic!("a node failure is a lost attempt");
        };
        assert!(lost.contains("NODE_FAIL on n3"), "{lost}");
        let Some(Ending::Lost(cancelled)) = over(EndState::Cancelled) else {
            panic!("a job cancelled from outside is lost");
        };
        assert!(
            cancelled.contains("cancelled outside this build"),
            "{cancelled}"
        );
        // Completed without an exit file: the file may still be on its way.
        assert_eq!(over(EndState::Completed), None);
        let Some(Ending::Lost(unseen)) = ending(
            &job(dir.path(), Some(JobState::Over(EndState::Completed))),
            WAIT,
            now + 2 * WAIT,
        ) else {
            panic!("no exit file after the wait");
        };
        assert!(unseen.contains("may not see"), "{unseen}");
    }

    #[test]
    fn the_exit_file_decides_and_a_killed_command_asks_slurm_why() {
        let dir = tempfile::tempdir().expect("temp dir");
        let now = Instant::now();
        let mut running = job(dir.path(), Some(JobState::Active));
        running.exit = Some((Written::Exited(3), now));
        // Not yet: Slurm is asked once more whether it was for memory.
        assert_eq!(ending(&running, WAIT, now), None);
        running.queried_after_exit = true;
        assert_eq!(ending(&running, WAIT, now), Some(Ending::Exited(3)));
        running.state = Some(JobState::Over(EndState::OutOfMemory));
        assert_eq!(ending(&running, WAIT, now), Some(Ending::OutOfMemory));
        // Success waits for the outputs to be visible, up to the latency wait.
        let mut done = job(dir.path(), Some(JobState::Active));
        done.exit = Some((Written::Exited(0), now));
        assert_eq!(ending(&done, WAIT, now), None);
        assert_eq!(ending(&done, WAIT, now + WAIT), Some(Ending::Exited(0)));
        std::fs::write(dir.path().join("model.txt"), "m").expect("output");
        assert_eq!(ending(&done, WAIT, now), Some(Ending::Exited(0)));
    }

    #[test]
    fn slurms_own_words_say_out_of_memory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut failed = job(dir.path(), Some(JobState::Over(EndState::Failed)));
        failed.over_since = Some(Instant::now());
        std::fs::write(
            &failed.files.slurm_out,
            "slurmstepd-vm: error: StepId=5.batch exceeded memory limit (436228096 > 52428800), being killed\n",
        )
        .expect("slurm output");
        assert_eq!(
            ending(&failed, WAIT, Instant::now()),
            Some(Ending::OutOfMemory)
        );
    }

    #[test]
    fn a_job_that_can_never_start_is_not_waited_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stuck = job(
            dir.path(),
            Some(JobState::Pending("PartitionConfig".into())),
        );
        let Some(Ending::NotStarted(why)) = ending(&stuck, WAIT, Instant::now()) else {
            panic!("PartitionConfig never changes");
        };
        assert!(why.contains("no node of the partition has"), "{why}");
        let waiting = job(dir.path(), Some(JobState::Pending("Resources".into())));
        assert_eq!(ending(&waiting, WAIT, Instant::now()), None);
    }

    #[test]
    fn a_cancelled_job_ends_once_slurm_no_longer_runs_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cancelled = job(dir.path(), Some(JobState::Active));
        cancelled.cancelled = true;
        assert_eq!(ending(&cancelled, WAIT, Instant::now()), None);
        cancelled.state = Some(JobState::Over(EndState::Cancelled));
        assert_eq!(
            ending(&cancelled, WAIT, Instant::now()),
            Some(Ending::Cancelled)
        );
    }
}
