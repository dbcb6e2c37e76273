//! How an executor says an attempt ended: the way it ended, where its log is, how long it
//! waited and ran, what it used where the backend knows, the backend's own id for it, and
//! where its outputs are.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::ActionResult;

/// The end of one attempt, as an executor reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Ended {
    pub how: Ending,
    /// Where what it printed is now, if it printed anything and the log could be kept.
    pub log: Option<PathBuf>,
    pub timings: Timings,
    pub used: Usage,
    /// The backend's own id for the attempt (a Slurm job id, a Ray submission id); `None`
    /// where there is none worth showing (a local process).
    pub backend_id: Option<String>,
    /// Where a successful attempt left its outputs.
    pub outputs: OutputsAt,
    /// With [`OutputsAt::Store`]: the result the backend brought back, its blobs already in
    /// the local store, used instead of looking the key up (so that a step whose results
    /// are never cached can still run where the workspace is not). Checked before use like
    /// any cached result.
    pub result: Option<Arc<ActionResult>>,
    /// Which backend or machine ran it, as its result records (`local`, a node's name).
    pub worker: String,
    /// The backend lost the attempt to its machine (a node failed, the job was preempted)
    /// and asks for another, which does not count against the step's own `retries`; the
    /// backend bounds how often it asks.
    pub again: bool,
}

impl Ended {
    /// `self` with what a cluster tells of the job that ran it: its `id`, how long it waited
    /// in the cluster's queue (from `submitted` to `started`, when that was seen) and ran (to
    /// `now`), and the action's `log` when the attempt left one there.
    #[must_use]
    pub fn of_job(
        mut self,
        id: &str,
        (submitted, started): (Instant, Option<Instant>),
        now: Instant,
        log: &Path,
    ) -> Ended {
        self.backend_id = Some(id.to_string());
        let started = started.unwrap_or(submitted);
        self.timings.queued = started.saturating_duration_since(submitted);
        self.timings.ran = now.saturating_duration_since(started);
        self.log = std::fs::metadata(log)
            .is_ok_and(|meta| meta.len() > 0)
            .then(|| log.to_path_buf());
        self
    }

    /// An attempt that ended `how` on `worker`, with nothing else known: its outputs, if
    /// any, in the workspace.
    pub fn new(how: Ending, worker: impl Into<String>) -> Ended {
        Ended {
            how,
            log: None,
            timings: Timings::default(),
            used: Usage::default(),
            backend_id: None,
            outputs: OutputsAt::Workspace,
            result: None,
            worker: worker.into(),
            again: false,
        }
    }
}

/// The ways an attempt can end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The command exited with this code (`sh` reports a command killed by signal N as
    /// 128 + N).
    Exited(i32),
    /// The shell itself died of this signal.
    Signalled(i32),
    /// Its timeout passed and it was stopped; how long it had run by then.
    TimedOut(Duration),
    /// The backend stopped it for using more memory than it was given.
    OutOfMemory,
    /// The backend took its resources back for other work (a preempted Slurm job).
    Preempted,
    /// Nobody can say how it ended (its node died, its status could not be read); what
    /// happened, as a phrase that follows the action's name.
    Lost(String),
    /// It was stopped on request: Ctrl-C, or watch mode cancelling it.
    Cancelled,
    /// It never started; why, as a phrase that follows "could not start: ".
    NotStarted(String),
}

impl Ending {
    /// Whether the command ran to the end and said it succeeded.
    pub fn succeeded(&self) -> bool {
        *self == Ending::Exited(0)
    }

    /// What happened, as the words after the action's name: "exited with code 2".
    pub fn describe(&self) -> String {
        match self {
            Ending::Exited(code) => format!("exited with code {code}"),
            Ending::Signalled(signal) => format!("was killed by signal {signal}"),
            Ending::TimedOut(after) => {
                format!("timed out after {}", crate::ui::time::duration(*after))
            }
            Ending::OutOfMemory => "ran out of memory".to_string(),
            Ending::Preempted => "was preempted".to_string(),
            Ending::Lost(what) => what.clone(),
            Ending::Cancelled => "interrupted".to_string(),
            Ending::NotStarted(why) => format!("could not start: {why}"),
        }
    }

    /// The exit code, when the command exited.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Ending::Exited(code) => Some(*code),
            _ => None,
        }
    }
}

/// How long an attempt waited and ran, as far as the backend can tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    /// From its submission to its start (a cluster's queue); zero where it starts at once.
    pub queued: Duration,
    /// From its start to its end.
    pub ran: Duration,
}

/// What an attempt used, where the backend measures it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// The most memory it held at once, in bytes.
    pub peak_memory: Option<u64>,
    /// CPU time, user and system together.
    pub cpu_time: Option<Duration>,
}

/// Where a successful attempt's outputs are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputsAt {
    /// In the workspace, at their declared paths (a local process, a cluster that shares
    /// the file system): the build stores them.
    #[default]
    Workspace,
    /// In the store, as [`Ended::result`] or else as the result of the spec's key (a worker
    /// without the workspace wrote them to the team remote): the build restores them as it
    /// would a cache hit.
    Store,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exit_code_zero_succeeds() {
        assert!(Ending::Exited(0).succeeded());
        for other in [
            Ending::Exited(1),
            Ending::Signalled(9),
            Ending::OutOfMemory,
            Ending::Preempted,
            Ending::Cancelled,
            Ending::NotStarted("no shell".into()),
        ] {
            assert!(!other.succeeded(), "{other:?}");
        }
    }

    #[test]
    fn each_ending_reads_after_the_action_name() {
        assert_eq!(Ending::Exited(3).describe(), "exited with code 3");
        assert_eq!(Ending::Signalled(9).describe(), "was killed by signal 9");
        assert_eq!(
            Ending::TimedOut(Duration::from_secs(2)).describe(),
            "timed out after 2.0s"
        );
        assert_eq!(
            Ending::NotStarted("no such file".into()).describe(),
            "could not start: no such file"
        );
        assert_eq!(Ending::Cancelled.describe(), "interrupted");
    }
}
