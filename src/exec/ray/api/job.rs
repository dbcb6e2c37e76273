//! A job as `GET /api/jobs/` and `GET /api/jobs/{id}` describe it, read from an untrusted
//! answer: every field but the status is optional and of a tolerated type (Ray writes times
//! as integers, a newer or patched one may write floats), and fields this reader does not
//! know are ignored.

use std::collections::BTreeMap;

use serde_json::Value;

/// Where a job is, as Ray says. `PENDING` covers both waiting for resources and waiting for
/// its runtime environment; `STOPPED` is a job someone stopped (`POST …/stop`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Running,
    Stopped,
    Succeeded,
    Failed,
    /// A status a newer Ray may add, as it names it: not over until Ray says one of the above.
    Other(String),
}

impl JobStatus {
    pub fn parse(name: &str) -> JobStatus {
        match name {
            "PENDING" => JobStatus::Pending,
            "RUNNING" => JobStatus::Running,
            "STOPPED" => JobStatus::Stopped,
            "SUCCEEDED" => JobStatus::Succeeded,
            "FAILED" => JobStatus::Failed,
            other => JobStatus::Other(other.to_string()),
        }
    }

    /// Whether the job is over: Ray never moves a job out of these.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobStatus::Stopped | JobStatus::Succeeded | JobStatus::Failed
        )
    }

    pub fn as_str(&self) -> &str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::Running => "RUNNING",
            JobStatus::Stopped => "STOPPED",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::Other(name) => name,
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the job came to be: submitted through the Jobs API, or a driver (`ray.init()` in a
/// script someone ran on the cluster), which has no submission id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobKind {
    Submission,
    Driver,
    Other(String),
}

/// One job of the listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The id the job was submitted under; `None` for a driver.
    pub submission_id: Option<String>,
    /// Ray's internal job id (hex), once the job has a driver that connected to the cluster.
    pub job_id: Option<String>,
    pub kind: JobKind,
    pub status: JobStatus,
    /// Ray's sentence about the status: why it is pending, how it failed (for a failed
    /// entrypoint, with the last 20,000 characters of its log).
    pub message: String,
    /// Ray's class of failure when it has one.
    pub error_type: Option<String>,
    pub entrypoint: String,
    /// When the job was submitted (Ray calls it `start_time`; a pending job has it) and
    /// when it ended, in milliseconds since the Unix epoch.
    pub start_time_ms: Option<u64>,
    pub end_time_ms: Option<u64>,
    /// The entrypoint's exit code, once it ended by itself: negative for a signal (`-9`),
    /// `127` for a command the shell did not find; `None` while it runs, for a job stopped,
    /// and for one that failed before its entrypoint ran.
    pub driver_exit_code: Option<i32>,
    /// What the submission carried (`JobRequest::metadata`), values that are not strings
    /// left out.
    pub metadata: BTreeMap<String, String>,
}

impl Job {
    /// Reads one job object; `None` when it is not an object with a status.
    pub fn from_value(value: &Value) -> Option<Job> {
        let object = value.as_object()?;
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_string);
        let status = JobStatus::parse(object.get("status")?.as_str()?);
        let kind = match text("type").as_deref() {
            Some("SUBMISSION") | None => JobKind::Submission,
            Some("DRIVER") => JobKind::Driver,
            Some(other) => JobKind::Other(other.to_string()),
        };
        let metadata = object
            .get("metadata")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Some(Job {
            submission_id: text("submission_id"),
            job_id: text("job_id"),
            kind,
            status,
            message: text("message").unwrap_or_default(),
            error_type: text("error_type"),
            entrypoint: text("entrypoint").unwrap_or_default(),
            start_time_ms: millis(object.get("start_time")),
            end_time_ms: millis(object.get("end_time")),
            driver_exit_code: object
                .get("driver_exit_code")
                .and_then(Value::as_i64)
                .and_then(|code| i32::try_from(code).ok()),
            metadata,
        })
    }
}

/// A time in milliseconds, integer or float; Ray writes 0 for "not yet", which is `None`.
fn millis(value: Option<&Value>) -> Option<u64> {
    let value = value?;
    let ms = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })?;
    (ms > 0).then_some(ms)
}

/// The jobs of a listing: a JSON array of job objects. Entries that do not read (not an
/// object, no status) are left out rather than failing the listing: one odd driver on a
/// shared cluster must not blind a build to its own jobs, which are looked for again at
/// the next listing.
pub fn parse_list(value: &Value) -> Option<Vec<Job>> {
    Some(
        value
            .as_array()?
            .iter()
            .filter_map(Job::from_value)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `GET /api/jobs/` of Ray 2.60.0, one job in each status.
    const LIST: &str = include_str!("testdata/list-2.60.json");

    fn job<'a>(jobs: &'a [Job], id: &str) -> &'a Job {
        jobs.iter()
            .find(|job| job.submission_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no job {id} in {jobs:?}"))
    }

    #[test]
    fn a_real_listing_reads_with_every_status() {
        let value: Value = serde_json::from_str(LIST).expect("JSON");
        let jobs = parse_list(&value).expect("a listing");
        assert_eq!(jobs.len(), 7);
        let failed = job(&jobs, "f1");
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.kind, JobKind::Submission);
        assert_eq!(failed.driver_exit_code, Some(3));
        assert_eq!(
            failed.error_type.as_deref(),
            Some("JOB_ENTRYPOINT_COMMAND_ERROR")
        );
        assert_eq!(failed.entrypoint, "echo fail >&2; exit 3");
        assert_eq!(
            failed.metadata.get("step").map(String::as_str),
            Some("train")
        );
        assert_eq!(failed.start_time_ms, Some(1_796_677_920_205));
        assert_eq!(failed.end_time_ms, Some(1_796_677_922_156));
        assert!(
            failed
                .message
                .starts_with("Job entrypoint command failed with exit code 3")
        );

        let pending = job(&jobs, "big");
        assert_eq!(pending.status, JobStatus::Pending);
        assert!(pending.start_time_ms.is_some() && pending.end_time_ms.is_none());
        assert!(pending.metadata.is_empty());
        assert_eq!(job(&jobs, "r1").status, JobStatus::Running);
        assert_eq!(job(&jobs, "dup").driver_exit_code, Some(0));
        let stopped = job(&jobs, "s1");
        assert_eq!(
            (&stopped.status, stopped.driver_exit_code),
            (&JobStatus::Stopped, None)
        );
        assert!(stopped.status.is_terminal() && !pending.status.is_terminal());
    }

    #[test]
    fn odd_entries_are_left_out_and_odd_fields_tolerated() {
        let value = serde_json::json!([
            "not an object",
            {"submission_id": "no-status"},
            {"status": 7},
            {
                "type": "DRIVER",
                "job_id": "02000000",
                "status": "SUCCEEDED",
                "start_time": 1.5e12,
                "end_time": 0,
                "driver_exit_code": 1e20,
                "metadata": {"a": "b", "n": 1},
                "new_field": {"nested": [1, 2]},
            },
            {"submission_id": "x", "status": "SOMETHING_NEW"},
        ]);
        let jobs = parse_list(&value).expect("a listing");
        assert_eq!(jobs.len(), 2);
        let driver = &jobs[0];
        assert_eq!(driver.kind, JobKind::Driver);
        assert_eq!(driver.submission_id, None);
        assert_eq!(driver.start_time_ms, Some(1_500_000_000_000));
        assert_eq!(driver.end_time_ms, None);
        assert_eq!(driver.driver_exit_code, None);
        assert_eq!(driver.metadata.len(), 1);
        let new = &jobs[1].status;
        assert_eq!(new, &JobStatus::Other("SOMETHING_NEW".into()));
        assert!(!new.is_terminal());
        assert!(parse_list(&serde_json::json!({"jobs": []})).is_none());
    }
}
