//! What can go wrong talking to a Ray dashboard, sorted by what the caller does next: a
//! request not to be sent is a bug or a manifest to fix; a dashboard that does not answer
//! may answer later; a job it does not know is over for the caller; an HTTP refusal or an
//! answer that does not read is the cluster's to explain, with its words kept short.
//!
//! Every message goes through [`redact`]: the dashboard's URL may carry a password (a
//! dashboard behind a proxy with basic auth), and an answer may quote what it was sent.

use crate::remote::redact;

#[derive(thiserror::Error)]
pub enum RayError {
    /// Not sent: the request is not one to send (a submission id that is not a plain word,
    /// a password in an entrypoint, an entrypoint that is empty).
    #[error("{}", redact(.0))]
    Invalid(String),

    /// No answer: the connection was refused or timed out, the host is unknown (after the
    /// retries, for a request that can be retried).
    #[error("cannot reach the Ray dashboard at {} ({what}): {}", redact(.place), redact(.detail))]
    Unreachable {
        place: String,
        what: String,
        detail: String,
    },

    /// The dashboard has no job of that id (HTTP 404 on the job's URL).
    #[error("the Ray cluster at {} has no job {id}", redact(.place))]
    NoSuchJob { place: String, id: String },

    /// A submission under an id that another job of the cluster already has.
    #[error("the Ray cluster at {} already has a job {id}", redact(.place))]
    Duplicate { place: String, id: String },

    /// An HTTP status other than success: Ray's reason (the last line of its text, which
    /// for an internal error is a Python traceback's), cut short.
    #[error("the Ray dashboard at {} answered {what} with HTTP {status}: {}", redact(.place), redact(.reason))]
    Http {
        place: String,
        what: String,
        status: u16,
        reason: String,
    },

    /// An answer that is not what the Jobs API sends: not JSON, not of the expected shape.
    #[error("the Ray dashboard at {} answered {what} with {}", redact(.place), redact(.detail))]
    BadBody {
        place: String,
        what: String,
        detail: String,
    },

    /// An answer larger than the client takes for that request.
    #[error("the answer of the Ray dashboard at {} to {what} is larger than {limit} bytes", redact(.place))]
    TooLarge {
        place: String,
        what: String,
        limit: u64,
    },
}

impl RayError {
    fn variant(&self) -> &'static str {
        match self {
            RayError::Invalid(_) => "Invalid",
            RayError::Unreachable { .. } => "Unreachable",
            RayError::NoSuchJob { .. } => "NoSuchJob",
            RayError::Duplicate { .. } => "Duplicate",
            RayError::Http { .. } => "Http",
            RayError::BadBody { .. } => "BadBody",
            RayError::TooLarge { .. } => "TooLarge",
        }
    }
}

/// The variant and the message, never the fields as they are: a derived `Debug` would show
/// the URL's password.
impl std::fmt::Debug for RayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({:?})", self.variant(), self.to_string())
    }
}

/// The most a reason quoted from an answer keeps.
const REASON_CHARS: usize = 300;

/// Ray's reason for an HTTP error from the body's text, without control characters and at
/// most [`REASON_CHARS`] long. Ray answers an error with plain text: a sentence (`Job x does
/// not exist`), or a Python traceback, whose last exception line says what happened (a
/// refused submission is a traceback of the job agent's traceback, ending in `.`).
pub(super) fn reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let lines = || text.lines().map(str::trim);
    let line = lines()
        .rfind(|line| is_exception(line))
        .or_else(|| lines().rfind(|line| line.contains(char::is_alphanumeric)))
        .unwrap_or("(no reason given)");
    let mut reason: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(REASON_CHARS)
        .collect();
    if line.chars().count() > REASON_CHARS {
        reason.push('…');
    }
    reason
}

/// Whether `line` is a Python exception's (`ValueError: …`, `ray.exceptions.RaySystemError: …`).
fn is_exception(line: &str) -> bool {
    line.split_once(": ").is_some_and(|(name, _)| {
        let dotted = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        dotted && (name.ends_with("Error") || name.ends_with("Exception"))
    })
}

/// Whether Ray refused a submission because its id is taken (HTTP 500 in Ray 2.60: the job
/// agent's `ValueError` comes back as the dashboard's internal error).
pub(super) fn is_duplicate(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains("Job with submission_id") && text.contains("already exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Ray 2.60 answers a second submission under one id (HTTP 500).
    const DUPLICATE: &str = r#"Traceback (most recent call last):
  File "/v/lib/python3.11/site-packages/ray/dashboard/modules/job/job_head.py", line 419, in submit_job
    resp = await job_agent_client.submit_job_internal(submit_request)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/v/lib/python3.11/site-packages/ray/dashboard/modules/job/job_head.py", line 134, in _raise_error
    raise RuntimeError(f"Request failed with status code {status}: {error_text}.")
RuntimeError: Request failed with status code 400: Traceback (most recent call last):
  File "/v/lib/python3.11/site-packages/ray/dashboard/modules/job/job_manager.py", line 553, in submit_job
    raise ValueError(
ValueError: Job with submission_id dup already exists. Please use a different submission_id.
.
"#;

    #[test]
    fn the_reason_is_the_last_exception_or_line_cut_short() {
        assert_eq!(
            reason(DUPLICATE.as_bytes()),
            "ValueError: Job with submission_id dup already exists. Please use a different \
             submission_id."
        );
        assert!(is_duplicate(DUPLICATE.as_bytes()));
        assert!(!is_duplicate(b"Job dup does not exist"));
        assert_eq!(reason(b"Job x does not exist"), "Job x does not exist");
        assert_eq!(
            reason(b"TypeError: JobSubmitRequest.__init__() got an unexpected keyword argument 'bogus'\n"),
            "TypeError: JobSubmitRequest.__init__() got an unexpected keyword argument 'bogus'"
        );
        assert_eq!(
            reason(b"Server got itself in trouble"),
            "Server got itself in trouble"
        );
        assert_eq!(reason(b""), "(no reason given)");
        assert_eq!(reason(b"a\x1bb"), "a b");
        let long = reason("x".repeat(1000).as_bytes());
        assert_eq!(long.chars().count(), REASON_CHARS + 1);
    }

    #[test]
    fn passwords_in_places_and_reasons_are_hidden() {
        let error = RayError::Http {
            place: "http://u:secret@127.0.0.1:8265".into(),
            what: "POST /api/jobs/".into(),
            status: 400,
            reason: "bad entrypoint zenbuild worker --remote http://a:b@h".into(),
        };
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("secret") && !text.contains(":b@"), "{text}");
        }
    }
}
