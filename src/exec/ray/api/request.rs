//! A job to submit (`POST /api/jobs/`), checked before it is sent.
//!
//! It holds only what zenbuild needs: a shell command and the resources Ray reserves for it.
//! No runtime environment and no environment variables: Ray keeps a job's request in its job
//! table, which everyone who reaches the dashboard can list, so a secret must never travel in
//! one. A worker takes its credentials from the environment of the Ray node it runs on. For
//! the same reason a request whose entrypoint or metadata holds a URL with a password is
//! refused before anything is sent.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::error::RayError;
use crate::remote::redact;

/// The longest submission id taken, here and from a listing.
const MAX_ID_LEN: usize = 128;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobRequest {
    /// The job's id, chosen by the caller so that it can be found again (and a submission
    /// retried after a lost answer is recognised); Ray makes one up when `None`.
    pub submission_id: Option<String>,
    /// The shell command Ray runs (`sh -c`-like, through Python's `shell=True`).
    pub entrypoint: String,
    /// CPUs, GPUs and bytes of memory Ray reserves for the entrypoint; the job stays
    /// `PENDING` until a node has them free. `None` reserves none of it.
    pub num_cpus: Option<f64>,
    pub num_gpus: Option<f64>,
    pub memory: Option<u64>,
    /// Custom resources the cluster's nodes declare (`{"accelerator_type:A100": 1}`).
    pub resources: BTreeMap<String, f64>,
    /// Shown beside the job in listings (the step's name, the build).
    pub metadata: BTreeMap<String, String>,
}

impl JobRequest {
    pub fn new(entrypoint: &str) -> JobRequest {
        JobRequest {
            entrypoint: entrypoint.to_string(),
            ..JobRequest::default()
        }
    }

    /// The JSON body Ray's `JobSubmitRequest` reads, after the checks.
    pub(super) fn body(&self) -> Result<Value, RayError> {
        self.check()?;
        let mut body = Map::new();
        body.insert("entrypoint".into(), json!(self.entrypoint));
        if let Some(id) = &self.submission_id {
            body.insert("submission_id".into(), json!(id));
        }
        if let Some(cpus) = self.num_cpus {
            body.insert("entrypoint_num_cpus".into(), json!(cpus));
        }
        if let Some(gpus) = self.num_gpus {
            body.insert("entrypoint_num_gpus".into(), json!(gpus));
        }
        if let Some(memory) = self.memory {
            body.insert("entrypoint_memory".into(), json!(memory));
        }
        if !self.resources.is_empty() {
            body.insert("entrypoint_resources".into(), json!(self.resources));
        }
        if !self.metadata.is_empty() {
            body.insert("metadata".into(), json!(self.metadata));
        }
        Ok(Value::Object(body))
    }

    fn check(&self) -> Result<(), RayError> {
        let invalid = |why: String| Err(RayError::Invalid(why));
        if self.entrypoint.trim().is_empty() {
            return invalid("a Ray job needs an entrypoint".into());
        }
        if self.entrypoint.contains('\0') {
            return invalid("a Ray job's entrypoint cannot hold a NUL byte".into());
        }
        if let Some(id) = &self.submission_id {
            check_id(id)?;
        }
        for (what, amount) in [("CPUs", self.num_cpus), ("GPUs", self.num_gpus)] {
            if let Some(amount) = amount
                && (!amount.is_finite() || amount < 0.0)
            {
                return invalid(format!("a Ray job cannot ask for {amount} {what}"));
            }
        }
        if let Some((name, amount)) = self
            .resources
            .iter()
            .find(|(name, n)| name.is_empty() || !n.is_finite() || **n < 0.0)
        {
            return invalid(format!(
                "a Ray job cannot ask for {amount} of resource {name:?}"
            ));
        }
        let texts = std::iter::once(("entrypoint", self.entrypoint.as_str())).chain(
            self.metadata
                .iter()
                .flat_map(|(k, v)| [("metadata", k.as_str()), ("metadata", v.as_str())]),
        );
        for (what, text) in texts {
            if redact(text) != text {
                return invalid(format!(
                    "a Ray job's {what} would carry a URL with a password ({}), which Ray \
                     shows to everyone who lists jobs; workers take credentials from their \
                     own environment",
                    redact(text)
                ));
            }
        }
        Ok(())
    }
}

/// Refuses an id that would not stay one segment of a URL path: a submission id is sent
/// in `/api/jobs/{id}`, and ids also come from the cluster's listing.
pub fn check_id(id: &str) -> Result<(), RayError> {
    let plain = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let starts_plain = id.starts_with(|c: char| c.is_ascii_alphanumeric());
    if plain && starts_plain && id.len() <= MAX_ID_LEN {
        Ok(())
    } else {
        Err(RayError::Invalid(format!(
            "{:?} is not a Ray submission id this client uses (letters, digits, `_`, `-` \
             and `.`, starting with a letter or digit, at most {MAX_ID_LEN})",
            id.chars().take(MAX_ID_LEN).collect::<String>()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_what_was_asked_and_nothing_else() {
        let mut request = JobRequest::new("zenbuild worker --remote s3://b/p abc");
        request.submission_id = Some("zb-1-abc".into());
        request.num_cpus = Some(2.0);
        request.num_gpus = Some(0.5);
        request.memory = Some(1 << 30);
        request.metadata.insert("step".into(), "train".into());
        assert_eq!(
            request.body().expect("a valid request"),
            json!({
                "entrypoint": "zenbuild worker --remote s3://b/p abc",
                "submission_id": "zb-1-abc",
                "entrypoint_num_cpus": 2.0,
                "entrypoint_num_gpus": 0.5,
                "entrypoint_memory": 1_u64 << 30,
                "metadata": {"step": "train"},
            })
        );
        assert_eq!(
            JobRequest::new("true").body().expect("a valid request"),
            json!({"entrypoint": "true"})
        );
    }

    #[test]
    fn passwords_and_odd_values_are_refused_before_sending() {
        let refused = |request: JobRequest| match request.body() {
            Err(RayError::Invalid(why)) => why,
            other => panic!("{request:?} was not refused: {other:?}"),
        };
        let why = refused(JobRequest::new(
            "zenbuild worker --remote http://u:hunter2@cache:9/x d",
        ));
        assert!(!why.contains("hunter2"), "{why}");
        let mut secret_metadata = JobRequest::new("true");
        secret_metadata
            .metadata
            .insert("remote".into(), "https://token@cache".into());
        refused(secret_metadata);
        refused(JobRequest::new("  "));
        refused(JobRequest::new("a\0b"));
        for cpus in [f64::NAN, -1.0, f64::INFINITY] {
            let mut request = JobRequest::new("true");
            request.num_cpus = Some(cpus);
            refused(request);
        }
        let mut resource = JobRequest::new("true");
        resource.resources.insert(String::new(), 1.0);
        refused(resource);
    }

    #[test]
    fn ids_stay_one_path_segment() {
        for good in ["raysubmit_AbC123", "zb-1700000000-3.train"] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_ID_LEN + 1);
        for bad in [
            "",
            "..",
            "../stop",
            "a/b",
            "a b",
            "a?b",
            "-x",
            "é",
            long.as_str(),
        ] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
