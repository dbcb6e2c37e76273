//! Moving an action through a team remote, for the executors whose machines do not see the
//! workspace (Ray, and Slurm with `remote=`): before the job, the inputs the remote lacks and
//! a description of the action go up ([`Courier::send`]); the job runs `zenbuild worker`
//! (docs/remote-execution.md); after it, the worker's report comes back with the outputs'
//! blobs fetched into the local store ([`Courier::receive`]), so that the build restores them
//! as it would any cache hit. Everything the remote gives back is checked as a remote cache
//! entry is: a worker is trusted no more than a remote.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::event::Printed;
use super::executor::{ActionSpec, Ended, Ending, OutputsAt};
use crate::hash::{Digest, StatCache};
use crate::remote::{self, Remote, RemoteConfig};
use crate::remote_exec::ActionDescription;
use crate::remote_exec::command_line::{WorkerCommand, without_userinfo};
use crate::remote_exec::outcome::{read_log, read_outcome};
use crate::remote_exec::stage::{Stager, StepTerms};
use crate::store::{ActionResult, Downloaded, LocalStore, Store};

/// Attempts an executor uploads at once: enough to keep a cluster fed while a large input
/// travels, few enough not to flood the remote.
pub const SENDERS: usize = 4;

/// How the ending that says zenbuild is missing on a cluster's machines starts: every later
/// attempt on that cluster ends with it at once, so that the build fails with one message.
pub const NOT_INSTALLED: &str = "zenbuild is not installed";

/// Takes note of an attempt on `executor` that found no zenbuild on the cluster: `broken`
/// then says why every later attempt ends at once, briefly, since the first one's message
/// (kept as it is) said what to install; an attempt that ended so after the first says it
/// briefly too.
pub fn note_not_installed(ended: &mut Ended, broken: &mut Option<String>, executor: &str) {
    if !matches!(&ended.how, Ending::NotStarted(why) if why.starts_with(NOT_INSTALLED)) {
        return;
    }
    let again = format!("{NOT_INSTALLED} on the machines of executor `{executor}` (as said above)");
    if broken.is_some() {
        ended.how = Ending::NotStarted(again);
    } else {
        *broken = Some(again);
    }
}

/// One remote as an executor's way to its workers.
pub struct Courier {
    /// The remote's name in the manifest, which names the worker's credential variables.
    name: String,
    /// Its URL without credentials: what the worker is given.
    worker_url: String,
    remote: Box<dyn Remote>,
    local: LocalStore,
    stat_cache: Arc<StatCache>,
    /// Bytes sent up and brought back, for progress and the report.
    uploaded: AtomicU64,
    downloaded: AtomicU64,
}

/// An attempt in the remote, ready for its worker.
pub struct Sent {
    /// The description's digest, and the description itself (to check the report against).
    pub digest: Digest,
    pub description: ActionDescription,
    /// The shell line the engine runs: `zenbuild worker --remote URL … DIGEST`.
    pub command: String,
}

/// What the worker said of an attempt.
pub enum Received {
    Reported(Report),
    /// No report (yet): the worker never ran, or died before it could say.
    Silent,
    /// A report that cannot be used, or outputs that could not be brought back.
    Broken(String),
}

/// A worker's report, its outputs (on success) in the local store.
pub struct Report {
    pub how: Ending,
    pub result: Option<Arc<ActionResult>>,
    /// The machine it ran on.
    pub host: String,
}

impl Report {
    /// The attempt's end as the scheduler takes it: after a success, its outputs are in the
    /// local store and its result is the one the worker stored.
    pub fn into_ended(self) -> Ended {
        let mut ended = Ended::new(self.how, self.host);
        if ended.how.succeeded() {
            ended.outputs = OutputsAt::Store;
            ended.result = self.result;
        }
        ended
    }
}

impl Courier {
    /// A courier through the remote `config` names, for a workspace whose store is `local`.
    pub fn open(
        config: &RemoteConfig,
        local: LocalStore,
        stat_cache: Arc<StatCache>,
    ) -> Result<Courier, String> {
        let remote = remote::open(config).map_err(|e| e.to_string())?;
        Ok(Courier {
            name: config.name.clone(),
            worker_url: without_userinfo(&config.url),
            remote,
            local,
            stat_cache,
            uploaded: AtomicU64::new(0),
            downloaded: AtomicU64::new(0),
        })
    }

    /// Uploads what the worker of `spec` needs and returns the command that runs it.
    pub fn send(&self, spec: &ActionSpec) -> Result<Sent, String> {
        let terms = StepTerms {
            platform: spec.platform.clone(),
            cache: spec.cache,
            metrics: spec.metrics.clone(),
        };
        let stager = Stager {
            remote: self.remote.as_ref(),
            local: &self.local,
            cache: &self.stat_cache,
            on_upload: None,
        };
        let staged = stager
            .stage(spec, &terms)
            .map_err(|e| format!("cannot send it to remote `{}`: {e}", self.name))?;
        self.uploaded
            .fetch_add(staged.uploaded_bytes, Ordering::Relaxed);
        let command = WorkerCommand {
            program: "zenbuild".to_string(),
            remote_name: self.name.clone(),
            url: self.worker_url.clone(),
            description: staged.digest,
            scratch: None,
        }
        .shell_line()?;
        Ok(Sent {
            digest: staged.digest,
            description: staged.description,
            command,
        })
    }

    /// What the worker of `sent` reported, its log written to `spec.log` and, when it
    /// succeeded, its outputs' blobs brought into the local store.
    pub fn receive(&self, sent: &Sent, spec: &ActionSpec) -> Received {
        let outcome = match read_outcome(self.remote.as_ref(), &sent.digest, &sent.description) {
            Ok(Some(outcome)) => outcome,
            Ok(None) => return Received::Silent,
            Err(e) => {
                return Received::Broken(format!(
                    "cannot read its worker's report from remote `{}`: {e}",
                    self.name
                ));
            }
        };
        keep_log(self.remote.as_ref(), &outcome, &spec.log, &self.local);
        let how = outcome.end.ending();
        let result = match outcome.result {
            Some(result) if how.succeeded() => {
                if let Err(why) = self.bring_home(&result) {
                    return Received::Broken(why);
                }
                // Kept here as a remote hit is, so that the next build looks no further; a
                // step whose results are not cached left none in the remote either.
                if spec.cache {
                    let _ = Store::put_action_result(&self.local, &spec.key, &result);
                }
                Some(Arc::new(result))
            }
            _ => None,
        };
        Received::Reported(Report {
            how,
            result,
            host: outcome.host,
        })
    }

    /// Fetches every blob of `result` the local store lacks, checked: all of its outputs',
    /// and what the step printed when the remote has it (worth having, not worth failing
    /// for, as with a remote hit).
    fn bring_home(&self, result: &ActionResult) -> Result<(), String> {
        let missing: Vec<(Digest, bool)> = (result.output_blobs().into_iter())
            .map(|digest| (digest, true))
            .chain(result.log_blobs().into_iter().map(|digest| (digest, false)))
            .filter(|(digest, _)| !Store::contains_blob(&self.local, digest).unwrap_or(false))
            .collect();
        // Each download is a round trip: several at once, as a remote cache hit's are.
        remote::pool::requests().install(|| {
            missing
                .par_iter()
                .try_for_each(|(digest, needed)| match self.bring_blob(digest) {
                    Err(why) if *needed => Err(why),
                    _ => Ok(()),
                })
        })
    }

    /// Fetches one output blob into the local store, checked against its digest.
    fn bring_blob(&self, digest: &Digest) -> Result<(), String> {
        match self.local.download(self.remote.as_ref(), digest) {
            Ok(Downloaded::Stored(blob)) => {
                self.downloaded.fetch_add(blob.size, Ordering::Relaxed);
                Ok(())
            }
            Ok(Downloaded::Missing) => Err(format!(
                "remote `{}` lacks output blob {} its worker reported",
                self.name,
                digest.short()
            )),
            Ok(Downloaded::Refused(e)) => Err(format!(
                "remote `{}` sent other bytes for output blob {}: {e}",
                self.name,
                digest.short()
            )),
            Err(e) => Err(format!("remote `{}`: {e}", self.name)),
        }
    }

    /// Bytes uploaded (inputs and descriptions the remote lacked) and downloaded (output
    /// blobs the local store lacked) so far.
    pub fn moved(&self) -> (u64, u64) {
        (
            self.uploaded.load(Ordering::Relaxed),
            self.downloaded.load(Ordering::Relaxed),
        )
    }
}

/// Writes what the worker's command printed to the action's log, where the user looks; a log
/// that cannot be had loses the text, never the ending.
fn keep_log(
    remote: &dyn Remote,
    outcome: &crate::remote_exec::outcome::WorkerOutcome,
    log: &Path,
    local: &LocalStore,
) {
    let dir: PathBuf = local.temp_dir();
    if let Ok(Printed::Kept { text, .. }) = read_log(remote, outcome, &dir) {
        if let Some(parent) = log.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(log, text.as_bytes());
    }
}
