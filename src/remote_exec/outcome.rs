//! The worker's report of one attempt, format [`OUTCOME_FORMAT`]: how it ended, where the end
//! of what it printed is, where and when it ran, and on success its result. The worker
//! stores it in the remote's action cache under [`outcome_key`] of the description's digest,
//! whatever happened (as long as the remote can be written), so that the client learns how
//! the attempt went from the remote alone once its engine says the job ended, whatever the
//! engine, and so that a step that may not be cached still hands its result over.

use std::fs;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::description::{ActionDescription, ZENBUILD_VERSION};
use crate::exec::ended::Ending;
use crate::exec::event::Printed;
use crate::exec::log_pipe::KEPT_OUTPUT;
use crate::hash::Digest;
use crate::remote::{Remote, RemoteError};
use crate::store::{ActionResult, check_result};

/// The format of an outcome.
pub const OUTCOME_FORMAT: &str = "zenbuild-outcome/1";

/// The most bytes of an outcome a client reads: it holds a result, which lists every file of
/// the output directories.
pub const MAX_OUTCOME_BYTES: usize = 1 << 30;

/// Starts what the outcome key is the digest of; the NUL keeps it apart from any text.
const OUTCOME_DOMAIN: &[u8] = b"zenbuild worker outcome 1\0";

/// Where the outcome of the attempt described by `description` is kept in the action cache:
/// a digest no action key can be, being taken over another domain.
pub fn outcome_key(description: &Digest) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(OUTCOME_DOMAIN);
    hasher.update(description.as_bytes());
    Digest::from_hasher(&hasher)
}

/// How one attempt went, as its worker tells it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerOutcome {
    /// [`OUTCOME_FORMAT`].
    pub format: String,
    /// The description it is the outcome of.
    pub description: Digest,
    /// The description's action key; `None` when the description could not be read.
    pub key: Option<Digest>,
    pub end: End,
    /// The end of what the command printed (stdout and stderr as written), at most
    /// [`KEPT_OUTPUT`], as a blob; `None` when it printed nothing or did not run.
    pub log: Option<Digest>,
    /// Whether it printed more than `log` keeps.
    pub log_cut: bool,
    /// The machine the worker ran on.
    pub host: String,
    /// When the worker started, in milliseconds since the Unix epoch, and how long it took.
    pub started_ms: u64,
    pub duration_ms: u64,
    /// The worker's version.
    pub zenbuild: String,
    /// The result, when the command succeeded and its outputs were stored (or another worker
    /// had stored them): its blobs are in the remote.
    pub result: Option<ActionResult>,
}

/// The ways an attempt ends on a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum End {
    /// Its result was in the remote already (another worker ran it): nothing ran.
    Reused,
    /// The command exited with this code (`sh` reports one killed by signal N as 128 + N).
    Exited { code: i32 },
    /// The shell itself died of this signal.
    Signalled { signal: i32 },
    /// Its timeout passed and it was stopped, after this long.
    TimedOut { after_ms: u64 },
    /// The worker was told to stop (SIGTERM, SIGINT), and stopped the command.
    Interrupted,
    /// The command never ran: the description or an input could not be had or trusted
    /// (a digest mismatch, a missing blob, another format or platform), or it could not
    /// be started.
    NotRun { message: String },
    /// The command ran, but its end could not be made a result: it exited 0 leaving an
    /// output missing or unusable, the outputs could not be uploaded, it could not be waited
    /// for.
    Failed { message: String },
}

impl End {
    /// What happened, as the words after the action's name.
    pub fn describe(&self) -> String {
        match self {
            End::Reused => "was run by another worker".to_string(),
            End::Exited { code } => format!("exited with code {code}"),
            End::Signalled { signal } => format!("was killed by signal {signal}"),
            End::TimedOut { after_ms } => format!(
                "timed out after {}",
                crate::ui::time::duration(Duration::from_millis(*after_ms))
            ),
            End::Interrupted => "was stopped on its worker".to_string(),
            End::NotRun { message } => format!("did not run on its worker: {message}"),
            End::Failed { message } => format!("failed on its worker: {message}"),
        }
    }

    /// The end as an executor reports it to the build. A success is [`Ending::Exited`] with
    /// 0 only when the outcome holds a result.
    pub fn ending(&self) -> Ending {
        match self {
            End::Reused => Ending::Exited(0),
            End::Exited { code } => Ending::Exited(*code),
            End::Signalled { signal } => Ending::Signalled(*signal),
            End::TimedOut { after_ms } => Ending::TimedOut(Duration::from_millis(*after_ms)),
            End::Interrupted => Ending::Cancelled,
            End::NotRun { message } => Ending::NotStarted(format!("on its worker: {message}")),
            End::Failed { message } => Ending::Lost(format!("failed on its worker: {message}")),
        }
    }
}

impl WorkerOutcome {
    /// Whether the attempt succeeded and its result is in the remote.
    pub fn succeeded(&self) -> bool {
        self.result.is_some()
    }
}

/// Why a stored outcome cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum OutcomeError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// It does not decode, or says what cannot be: another description's, a result that does
    /// not hold the declared outputs.
    #[error("the worker's outcome cannot be used: {0}")]
    Unusable(String),
}

/// The outcome the worker stored for the description `description` (whose digest is
/// `digest`), checked as anything from a remote is; `None` when there is none (yet).
pub fn read_outcome(
    remote: &dyn Remote,
    digest: &Digest,
    description: &ActionDescription,
) -> Result<Option<WorkerOutcome>, OutcomeError> {
    let Some(bytes) = remote.get_action_result(&outcome_key(digest))? else {
        return Ok(None);
    };
    decode_outcome(&bytes, digest, description).map(Some)
}

fn decode_outcome(
    bytes: &[u8],
    digest: &Digest,
    description: &ActionDescription,
) -> Result<WorkerOutcome, OutcomeError> {
    let unusable = OutcomeError::Unusable;
    if bytes.len() > MAX_OUTCOME_BYTES {
        return Err(unusable(format!("it is {} bytes", bytes.len())));
    }
    let head: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| unusable(e.to_string()))?;
    if head.get("format").and_then(serde_json::Value::as_str) != Some(OUTCOME_FORMAT) {
        return Err(unusable(format!(
            "it is not in format {OUTCOME_FORMAT} (a worker of another zenbuild than \
             {ZENBUILD_VERSION}?)"
        )));
    }
    let outcome: WorkerOutcome =
        serde_json::from_value(head).map_err(|e| unusable(e.to_string()))?;
    if outcome.description != *digest {
        return Err(unusable(format!(
            "it is the outcome of description {}",
            outcome.description.short()
        )));
    }
    if outcome.key.is_some_and(|key| key != description.key) {
        return Err(unusable("it names another action key".to_string()));
    }
    if outcome.host.len() > 255 || outcome.host.chars().any(char::is_control) {
        return Err(unusable("it names no usable host".to_string()));
    }
    match (&outcome.end, &outcome.result) {
        (End::Reused | End::Exited { code: 0 }, Some(result)) => {
            if result.exit_code != 0 {
                return Err(unusable("its result is of a failed run".to_string()));
            }
            check_result(result, &description.declared_outputs())
                .map_err(|problem| unusable(format!("its result: {problem}")))?;
        }
        (End::Reused | End::Exited { code: 0 }, None) => {
            return Err(unusable("it succeeded without a result".to_string()));
        }
        (_, Some(_)) => return Err(unusable("it failed with a result".to_string())),
        (_, None) => {}
    }
    Ok(outcome)
}

/// The end of what the command printed, from the outcome's log blob, its bytes checked;
/// `dir` holds the download meanwhile. [`Printed::NotInCache`] when the remote lacks the blob.
pub fn read_log(
    remote: &dyn Remote,
    outcome: &WorkerOutcome,
    dir: &Path,
) -> Result<Printed, OutcomeError> {
    let Some(digest) = outcome.log else {
        return Ok(Printed::Nothing);
    };
    let file = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| RemoteError::Local(format!("cannot hold a log: {e}")))?;
    if !remote.get_blob(&digest, file.path())? {
        return Ok(Printed::NotInCache);
    }
    let size = fs::metadata(file.path()).map_err(RemoteError::Io)?.len();
    // The worker keeps at most KEPT_OUTPUT, cut at a line's start: never more.
    if size > KEPT_OUTPUT {
        return Err(OutcomeError::Unusable(format!("its log is {size} bytes")));
    }
    let bytes = fs::read(file.path()).map_err(RemoteError::Io)?;
    if Digest::of(&bytes) != digest {
        return Err(OutcomeError::Unusable(format!(
            "its log does not hash to {}",
            digest.short()
        )));
    }
    Ok(Printed::Kept {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        cut: outcome.log_cut,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::DirRemote;
    use crate::store::OutputFile;

    fn description() -> ActionDescription {
        ActionDescription {
            format: super::super::FORMAT.to_string(),
            zenbuild: ZENBUILD_VERSION.to_string(),
            cache_version: crate::hash::CACHE_VERSION,
            name: "train".to_string(),
            key: Digest::of(b"key"),
            command: "true".to_string(),
            env: std::collections::BTreeMap::new(),
            workdir: ".".to_string(),
            inputs: super::super::description::Inputs::default(),
            outputs: vec!["model.bin".to_string()],
            metrics: Vec::new(),
            timeout_ms: None,
            cache: true,
            attempt: 1,
            platform: None,
        }
    }

    fn result(path: &str) -> ActionResult {
        ActionResult {
            output_files: vec![OutputFile {
                path: path.to_string(),
                digest: Digest::of(b"weights"),
                size: 7,
                executable: false,
            }],
            ..ActionResult::default()
        }
    }

    fn outcome(end: End, result: Option<ActionResult>) -> WorkerOutcome {
        WorkerOutcome {
            format: OUTCOME_FORMAT.to_string(),
            description: Digest::of(b"description"),
            key: Some(Digest::of(b"key")),
            end,
            log: None,
            log_cut: false,
            host: "node-1".to_string(),
            started_ms: 1,
            duration_ms: 2,
            zenbuild: ZENBUILD_VERSION.to_string(),
            result,
        }
    }

    fn read(outcome: &WorkerOutcome) -> Result<WorkerOutcome, OutcomeError> {
        let bytes = serde_json::to_vec(outcome).unwrap();
        decode_outcome(&bytes, &Digest::of(b"description"), &description())
    }

    #[test]
    fn the_key_is_the_descriptions_under_a_domain_of_its_own() {
        let digest = Digest::of(b"description");
        assert_eq!(outcome_key(&digest), outcome_key(&digest));
        assert_ne!(outcome_key(&digest), digest);
        assert_ne!(outcome_key(&digest), outcome_key(&Digest::of(b"other")));
    }

    #[test]
    fn outcomes_round_trip_and_read_as_endings() {
        for (end, result, ending) in [
            (
                End::Exited { code: 0 },
                Some(result("model.bin")),
                Ending::Exited(0),
            ),
            (End::Reused, Some(result("model.bin")), Ending::Exited(0)),
            (End::Exited { code: 3 }, None, Ending::Exited(3)),
            (End::Signalled { signal: 9 }, None, Ending::Signalled(9)),
            (
                End::TimedOut { after_ms: 1500 },
                None,
                Ending::TimedOut(Duration::from_millis(1500)),
            ),
            (End::Interrupted, None, Ending::Cancelled),
            (
                End::NotRun {
                    message: "blob x is not in the remote".into(),
                },
                None,
                Ending::NotStarted("on its worker: blob x is not in the remote".into()),
            ),
        ] {
            let written = outcome(end, result);
            let back = read(&written).unwrap();
            assert_eq!(back, written);
            assert_eq!(back.end.ending(), ending);
            assert_eq!(back.succeeded(), back.result.is_some());
        }
        let json = serde_json::to_string(&outcome(End::Exited { code: 3 }, None)).unwrap();
        assert!(
            json.contains(r#""end":{"how":"exited","code":3}"#),
            "{json}"
        );
    }

    #[test]
    fn an_outcome_that_says_what_cannot_be_is_refused() {
        let cases = [
            (outcome(End::Exited { code: 0 }, None), "without a result"),
            (
                outcome(End::Exited { code: 1 }, Some(result("model.bin"))),
                "failed with a result",
            ),
            (
                outcome(End::Exited { code: 0 }, Some(result("../escape"))),
                "its result",
            ),
            (
                outcome(End::Reused, Some(result("other.bin"))),
                "its result",
            ),
            (
                WorkerOutcome {
                    description: Digest::of(b"another"),
                    ..outcome(End::Exited { code: 2 }, None)
                },
                "of description",
            ),
            (
                WorkerOutcome {
                    key: Some(Digest::of(b"another key")),
                    ..outcome(End::Exited { code: 2 }, None)
                },
                "another action key",
            ),
            (
                WorkerOutcome {
                    host: "a\nb".into(),
                    ..outcome(End::Exited { code: 2 }, None)
                },
                "no usable host",
            ),
            (
                WorkerOutcome {
                    format: "zenbuild-outcome/9".into(),
                    ..outcome(End::Exited { code: 2 }, None)
                },
                "not in format",
            ),
        ];
        for (written, expected) in cases {
            let error = read(&written).unwrap_err().to_string();
            assert!(
                error.contains(expected),
                "expected `{expected}` in: {error}"
            );
        }
        let digest = Digest::of(b"description");
        assert!(decode_outcome(b"{", &digest, &description()).is_err());
    }

    #[test]
    fn the_log_is_read_back_only_when_its_bytes_check() {
        let dir = tempfile::tempdir().unwrap();
        let remote = DirRemote::new(&dir.path().join("remote"));
        let text = "step 1\nloss 0.5\n";
        let digest = Digest::of(text.as_bytes());
        let mut written = outcome(End::Exited { code: 2 }, None);
        written.log = Some(digest);
        written.log_cut = true;
        assert_eq!(
            read_log(&remote, &written, dir.path()).unwrap(),
            Printed::NotInCache
        );
        let file = dir.path().join("log");
        std::fs::write(&file, text).unwrap();
        remote.put_blob(&digest, &file).unwrap();
        assert_eq!(
            read_log(&remote, &written, dir.path()).unwrap(),
            Printed::Kept {
                text: text.to_string(),
                cut: true
            }
        );
        // Other bytes under its name: refused, not shown.
        std::fs::write(&file, "forged\n").unwrap();
        remote.put_blob(&digest, &file).unwrap();
        assert!(read_log(&remote, &written, dir.path()).is_err());
        written.log = None;
        assert_eq!(
            read_log(&remote, &written, dir.path()).unwrap(),
            Printed::Nothing
        );
    }
}
