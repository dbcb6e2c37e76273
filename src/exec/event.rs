//! What the engine reports while it builds. The terminal UI, the JSON report and the lineage
//! recorder consume these; nothing in the engine prints.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::graph::ActionId;
use crate::hash::{ActionKey, Digest};

#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// The build begins with this many actions to bring up to date.
    Started { total: usize },
    /// The action's command starts (its cache check missed); `key` is its action key, when
    /// the work knows it, for the progress view's estimate.
    Running { id: ActionId, key: Option<Digest> },
    /// The action's attempt waits in its executor's own queue (a cluster's) for `reason`
    /// (Slurm's: `Resources`, `Priority`, `QOSMaxJobsPerUserLimit`); `None` once it left it.
    Queued {
        id: ActionId,
        reason: Option<String>,
    },
    /// The bytes the build's executors have sent to their remotes and brought back so far
    /// (for actions that run where the workspace is not), told as they grow.
    Transferred { sent: u64, received: u64 },
    /// The action reached a final state.
    Finished { id: ActionId, outcome: Outcome },
    /// Something the user should know that is not an action's result.
    Note { message: String },
    /// Nothing has finished for a moment while steps run: a chance to write down what
    /// finished before, since the running steps may take hours.
    Waiting,
}

/// How an action ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Nothing ran: the outputs came from a cache (or were already in place).
    Cached(Box<Done>),
    /// The command ran and its outputs were stored.
    Ran(Box<Done>),
    Failed(Failure),
    /// Not attempted because an action it depends on failed or was interrupted.
    Skipped {
        because: ActionId,
    },
    /// Not started because the build stopped: a failure without `--keep-going`, or Ctrl-C.
    Stopped,
    Interrupted,
}

impl Outcome {
    /// The word the report and the UI use: ran, cached, failed, skipped, interrupted.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Cached(_) => "cached",
            Outcome::Ran(_) => "ran",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped { .. } | Outcome::Stopped => "skipped",
            Outcome::Interrupted => "interrupted",
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Cached(_) | Outcome::Ran(_))
    }
}

/// A finished action: its key and the digests of what it produced.
#[derive(Clone, Debug, Default)]
pub struct Done {
    pub key: Option<Digest>,
    /// The fields `key` is the digest of: the command, the input digests, params and the
    /// rest, for the lineage and the lockfile.
    pub fields: Option<ActionKey>,
    /// Output path (directories end in `/`) → digest (a tree digest for directories).
    pub outputs: BTreeMap<String, Digest>,
    pub duration: Duration,
    /// Why it ran (empty when cached): "data/raw.csv changed 3f2a…→9c1e…".
    pub reasons: Vec<String>,
    /// Where a cached result came from (`local`, or a remote's name).
    pub source: Option<String>,
    /// The blobs of its captured output in the store, in order (one for a result of this
    /// zenbuild; stdout then stderr for an older one), for replaying a cached step's output.
    pub logs: Vec<Digest>,
    /// Whether `logs` holds only the end of what it printed.
    pub logs_cut: bool,
    /// Whether the outputs were put back from a cache (false when they were already in place).
    pub restored: bool,
    /// What it printed, read from `logs` by the view that shows it; the engine leaves it
    /// `None`, so that a build of many chatty steps does not hold all their output at once.
    pub printed: Option<Printed>,
    /// Where it ran, when it ran in this build.
    pub ran_on: Option<Box<RanOn>>,
}

/// Where an action's command ran: the executor, and that executor's own names for the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RanOn {
    /// The executor's name in the manifest (`local`, `cluster`).
    pub executor: String,
    /// The backend's id for its last attempt (a Slurm job id); `None` for a local process.
    pub job_id: Option<String>,
    /// The machine it ran on, where the backend says (a Slurm node).
    pub node: Option<String>,
}

/// How many of its last lines a failure carries; the log has the rest.
pub const FAILURE_LINES: usize = 20;

/// What a step printed, stdout and stderr interleaved as written, as far as it is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Printed {
    /// It printed nothing.
    #[default]
    Nothing,
    /// The text, or its end when `cut` (see [`crate::exec::log_pipe::KEPT_OUTPUT`]).
    Kept { text: String, cut: bool },
    /// The result names output that the store does not hold (pruned, or a remote that lacked
    /// it): the outputs are good, the text is gone.
    NotInCache,
}

#[derive(Clone, Debug, Default)]
pub struct Failure {
    pub key: Option<Digest>,
    pub message: String,
    /// The command's exit code, when it ran and exited.
    pub exit_code: Option<i32>,
    /// The last [`FAILURE_LINES`] lines the command printed, stdout and stderr as written.
    pub printed: Printed,
    /// How many lines it printed before those, in the part of its output that was kept.
    pub earlier_lines: usize,
    /// Where all of it is: only a log file that exists.
    pub log: Option<PathBuf>,
    pub duration: Duration,
    /// Where its last attempt ran, if one started (boxed: every outcome is as large as a
    /// failure, and most actions never fail).
    pub ran_on: Option<Box<RanOn>>,
}

impl Printed {
    /// What the end of a log says, `bytes` of it, `cut` when the log held more: output that
    /// was cut starts at a line's beginning, so that no half line (or half character) leads
    /// it; nothing at all is `Nothing`.
    pub fn from_end(mut bytes: Vec<u8>, cut: bool) -> Printed {
        if cut {
            let start = bytes.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
            bytes.drain(..start);
        }
        if bytes.is_empty() && !cut {
            return Printed::Nothing;
        }
        Printed::Kept {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            cut,
        }
    }

    /// Its last `count` lines (trailing blank lines aside), and how many came before them.
    pub fn last_lines(self, count: usize) -> (Printed, usize) {
        let Printed::Kept { text, cut } = self else {
            return (self, 0);
        };
        let lines: Vec<&str> = text.trim_end().lines().collect();
        let earlier = lines.len().saturating_sub(count);
        let mut kept = lines[earlier..].join("\n");
        kept.push('\n');
        (Printed::Kept { text: kept, cut }, earlier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_keeps_the_end_and_counts_the_rest() {
        let text: String = (1..=25).map(|n| format!("{n}\n")).collect();
        let printed = Printed::Kept { text, cut: true };
        let (end, earlier) = printed.last_lines(20);
        assert_eq!(earlier, 5);
        let Printed::Kept { text, cut } = end else {
            panic!("{end:?}");
        };
        assert!(cut);
        assert!(
            text.starts_with("6\n") && text.ends_with("25\n"),
            "{text:?}"
        );
        let short = Printed::Kept {
            text: "a\nb\n\n".into(),
            cut: false,
        };
        assert_eq!(
            short.last_lines(20),
            (
                Printed::Kept {
                    text: "a\nb\n".into(),
                    cut: false
                },
                0
            )
        );
        assert_eq!(Printed::Nothing.last_lines(20), (Printed::Nothing, 0));
    }
}
