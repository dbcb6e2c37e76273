//! A blocking client of Ray's Jobs REST API, served by the dashboard of a cluster's head
//! (`http://head:8265`): submit a job, list every job with its status, read a job's log,
//! stop a job, delete a finished one.
//!
//! Answers are untrusted: each body is read up to a bound set per request (a listing of
//! thousands of jobs fits, an endless stream does not), fields this client does not know are
//! ignored, and what goes wrong is a [`RayError`] that says whether the dashboard could not
//! be reached, refused (with Ray's reason), or answered something that does not read.
//!
//! Requests that change nothing, and `stop` and `delete` (which Ray answers the same when
//! repeated), are tried twice more after 100 and 300 ms when the connection fails or Ray
//! answers 5xx. A submission is retried only when it names its `submission_id`: then a retry
//! that Ray refuses because the id already exists means the first try went through.

mod error;
mod job;
mod logs;
mod request;

use std::io::Read;
use std::time::Duration;

use serde_json::Value;
use ureq::Agent;

pub use error::RayError;
pub use job::{Job, JobKind, JobStatus};
pub use logs::JobLogs;
pub use request::{JobRequest, check_id};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Until the first byte of an answer: a listing of thousands of jobs takes Ray a while.
const RESPONSE_TIMEOUT: Duration = Duration::from_mins(1);
/// For a whole exchange, body included: a log of the largest size taken is read well within.
const EXCHANGE_TIMEOUT: Duration = Duration::from_mins(3);
const BACKOFF: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(300)];

/// The largest answer taken for a version, a submission, a stop, a deletion, one job, or
/// an error's text (of which only the first bytes are kept).
const SMALL_BODY: u64 = 1 << 20;
/// The largest listing taken: about 1 KiB a job, so tens of thousands of jobs.
const LIST_BODY: u64 = 64 << 20;
/// The largest log answer taken; [`RayJobs::logs`] keeps only its tail.
pub const LOGS_BODY: u64 = 64 << 20;

/// What `GET /api/version` says of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RayVersion {
    /// Ray's release (`2.60.0`).
    pub ray_version: String,
    pub ray_commit: Option<String>,
    /// The version of the Jobs API itself (`"4"`), which Ray bumps on incompatible changes.
    pub api_version: Option<String>,
    /// The cluster's session, new at each start of its head.
    pub session_name: Option<String>,
}

/// The Jobs API of one cluster.
pub struct RayJobs {
    /// The dashboard's URL without a trailing `/`.
    base: String,
    agent: Agent,
}

/// An HTTP answer of any status, its body read up to a bound.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

/// Whether a try may go better the next time: no connection, or Ray's internal error.
fn transient(outcome: &Result<Answer, RayError>) -> bool {
    match outcome {
        Ok(answer) => answer.status >= 500,
        Err(error) => matches!(error, RayError::Unreachable { .. }),
    }
}

impl RayJobs {
    /// The client of the dashboard at `url` (`http://host:8265`); a password in it is sent
    /// as basic auth and hidden in every message. Nothing is sent yet.
    pub fn new(url: &str) -> Result<RayJobs, RayError> {
        let base = url.trim_end_matches('/').to_string();
        let http = base.starts_with("http://") || base.starts_with("https://");
        if !http || base.contains(['?', '#']) || base.contains(char::is_whitespace) {
            return Err(RayError::Invalid(format!(
                "{base:?} is not the URL of a Ray dashboard (http://host:port)"
            )));
        }
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .timeout_global(Some(EXCHANGE_TIMEOUT))
            // A redirect is the dashboard's to explain, not one to follow elsewhere.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .build()
            .into();
        Ok(RayJobs { base, agent })
    }

    /// The dashboard's URL, as given (with its password: redact before showing it).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET /api/version`: whether the dashboard answers, and which Ray it is.
    pub fn version(&self) -> Result<RayVersion, RayError> {
        let what = "GET /api/version";
        let answer = self.exchange("GET", "/api/version", None, SMALL_BODY)?;
        let value = self.json(what, &answer)?;
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        let ray_version = text("ray_version").ok_or_else(|| self.bad(what, "no ray_version"))?;
        Ok(RayVersion {
            ray_version,
            ray_commit: text("ray_commit"),
            api_version: text("version"),
            session_name: text("session_name"),
        })
    }

    /// `POST /api/jobs/`: queues the job and returns its submission id.
    pub fn submit(&self, request: &JobRequest) -> Result<String, RayError> {
        let what = "POST /api/jobs/";
        let body = request.body()?.to_string();
        let url = format!("{}/api/jobs/", self.base);
        let mut tries = 0;
        let answer = loop {
            tries += 1;
            let outcome = self.once("POST", &url, Some(body.as_bytes()), SMALL_BODY);
            if let (Some(id), Ok(answer)) = (&request.submission_id, &outcome)
                && answer.status >= 400
                && error::is_duplicate(&answer.body)
            {
                // On a retry, the id is taken by the first try, which went through with
                // its answer lost; on the first, by another job.
                if tries > 1 {
                    return Ok(id.clone());
                }
                return Err(RayError::Duplicate {
                    place: self.base.clone(),
                    id: id.clone(),
                });
            }
            let retry = request.submission_id.is_some() && tries <= BACKOFF.len();
            if !(retry && transient(&outcome)) {
                break outcome?;
            }
            std::thread::sleep(BACKOFF[tries - 1]);
        };
        let value = self.json(what, &answer)?;
        let id = value
            .get("submission_id")
            .or_else(|| value.get("job_id"))
            .and_then(Value::as_str)
            .ok_or_else(|| self.bad(what, "no submission_id"))?;
        check_id(id).map_err(|e| self.bad(what, &e.to_string()))?;
        if request
            .submission_id
            .as_deref()
            .is_some_and(|asked| asked != id)
        {
            return Err(self.bad(what, &format!("the id {id:?}, not the one asked for")));
        }
        Ok(id.to_string())
    }

    /// `GET /api/jobs/`: every job the cluster keeps (submitted ones and drivers), finished
    /// ones included until deleted. Entries that do not read are left out.
    pub fn list(&self) -> Result<Vec<Job>, RayError> {
        let what = "GET /api/jobs/";
        let answer = self.exchange("GET", "/api/jobs/", None, LIST_BODY)?;
        let value = self.json(what, &answer)?;
        job::parse_list(&value).ok_or_else(|| self.bad(what, "no list of jobs"))
    }

    /// `GET /api/jobs/{id}`: one job.
    pub fn job(&self, id: &str) -> Result<Job, RayError> {
        check_id(id)?;
        let path = format!("/api/jobs/{id}");
        let what = format!("GET {path}");
        let answer = self.job_exchange(id, "GET", &path, SMALL_BODY)?;
        Job::from_value(&self.json(&what, &answer)?).ok_or_else(|| self.bad(&what, "no job"))
    }

    /// `GET /api/jobs/{id}/logs`: the last `tail` bytes of the job's log (at a character
    /// boundary). A log whose answer is over [`LOGS_BODY`] is [`RayError::TooLarge`].
    pub fn logs(&self, id: &str, tail: usize) -> Result<JobLogs, RayError> {
        check_id(id)?;
        let path = format!("/api/jobs/{id}/logs");
        let what = format!("GET {path}");
        let answer = self.job_exchange(id, "GET", &path, LOGS_BODY)?;
        let value = self.json(&what, &answer)?;
        let text = value
            .get("logs")
            .and_then(Value::as_str)
            .ok_or_else(|| self.bad(&what, "no logs"))?;
        let mut start = text.len().saturating_sub(tail);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        Ok(JobLogs {
            text: text[start..].to_string(),
            truncated: start > 0,
        })
    }

    /// `POST /api/jobs/{id}/stop`: stops a pending or running job (its entrypoint's process
    /// group gets SIGTERM, then SIGKILL). `false` when the job had already ended.
    pub fn stop(&self, id: &str) -> Result<bool, RayError> {
        self.flag(id, "POST", &format!("/api/jobs/{id}/stop"), "stopped")
    }

    /// `DELETE /api/jobs/{id}`: forgets a finished job, so that listings stay short. Ray
    /// refuses (HTTP 400) to delete a job that has not ended.
    pub fn delete(&self, id: &str) -> Result<bool, RayError> {
        self.flag(id, "DELETE", &format!("/api/jobs/{id}"), "deleted")
    }

    /// A request on a job that Ray answers with `{"<key>": bool}`.
    fn flag(&self, id: &str, method: &str, path: &str, key: &str) -> Result<bool, RayError> {
        check_id(id)?;
        let what = format!("{method} {path}");
        let answer = self.job_exchange(id, method, path, SMALL_BODY)?;
        let value = self.json(&what, &answer)?;
        value
            .get(key)
            .and_then(Value::as_bool)
            .ok_or_else(|| self.bad(&what, &format!("no {key}")))
    }

    /// An exchange on one job's URL, where 404 means Ray does not know the job.
    fn job_exchange(
        &self,
        id: &str,
        method: &str,
        path: &str,
        limit: u64,
    ) -> Result<Answer, RayError> {
        let body = (method == "POST").then_some(&b"{}"[..]);
        let answer = self.exchange(method, path, body, limit)?;
        if answer.status == 404 {
            return Err(RayError::NoSuchJob {
                place: self.base.clone(),
                id: id.to_string(),
            });
        }
        Ok(answer)
    }

    /// Sends a request, again after a failed connection or a 5xx, and reads the answer's
    /// body up to `limit` (an error's up to [`SMALL_BODY`], kept short).
    fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        limit: u64,
    ) -> Result<Answer, RayError> {
        let url = format!("{}{path}", self.base);
        let mut tries = 0;
        loop {
            tries += 1;
            let outcome = self.once(method, &url, body, limit);
            if tries > BACKOFF.len() || !transient(&outcome) {
                return outcome;
            }
            std::thread::sleep(BACKOFF[tries - 1]);
        }
    }

    fn once(
        &self,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
        limit: u64,
    ) -> Result<Answer, RayError> {
        let what = || format!("{method} {}", &url[self.base.len()..]);
        let sent = match method {
            "POST" => self
                .agent
                .post(url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_default()),
            "DELETE" => self.agent.delete(url).call(),
            _ => self.agent.get(url).call(),
        };
        let unreachable = |detail: String| RayError::Unreachable {
            place: self.base.clone(),
            what: what(),
            detail,
        };
        let mut response = sent.map_err(|e| unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let success = (200..300).contains(&status);
        let bound = if success { limit } else { SMALL_BODY };
        let mut bytes = Vec::new();
        response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .reader()
            .take(bound + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| unreachable(format!("the answer broke off: {e}")))?;
        if bytes.len() as u64 > bound {
            if success {
                return Err(RayError::TooLarge {
                    place: self.base.clone(),
                    what: what(),
                    limit,
                });
            }
            bytes.truncate(bound as usize);
        }
        Ok(Answer {
            status,
            body: bytes,
        })
    }

    /// The JSON of a successful answer; an HTTP error otherwise.
    fn json(&self, what: &str, answer: &Answer) -> Result<Value, RayError> {
        if !(200..300).contains(&answer.status) {
            return Err(RayError::Http {
                place: self.base.clone(),
                what: what.to_string(),
                status: answer.status,
                reason: error::reason(&answer.body),
            });
        }
        serde_json::from_slice(&answer.body)
            .map_err(|e| self.bad(what, &format!("a body that is not JSON ({e})")))
    }

    fn bad(&self, what: &str, detail: &str) -> RayError {
        RayError::BadBody {
            place: self.base.clone(),
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }
}
