//! An HTTP cache in Bazel's layout (`http://host/prefix`): `GET|HEAD|PUT {prefix}/ac/{key}`
//! and `{prefix}/cas/{digest}`, 404 for a miss. bazel-remote-style servers and a plain nginx
//! with WebDAV `PUT` serve as one.
//!
//! Credentials come from the environment, never the manifest: for a remote named `team`,
//! `ZENBUILD_REMOTE_TEAM_TOKEN` (sent as a bearer token), or `ZENBUILD_REMOTE_TEAM_USER` and
//! `ZENBUILD_REMOTE_TEAM_PASSWORD` (basic auth). Connections time out after a few seconds;
//! a request that fails to connect or gets a 5xx is tried again, twice, after 100 and 300 ms.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::Duration;

use ureq::Agent;
use ureq::http::Response;

use super::{Remote, RemoteError};
use crate::hash::Digest;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Until the first byte of a response: a server that accepted a connection but hangs.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
const BACKOFF: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(300)];

pub struct HttpRemote {
    name: String,
    base: String,
    agent: Agent,
    authorization: Option<String>,
}

impl HttpRemote {
    pub fn new(name: &str, url: &str) -> HttpRemote {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .build()
            .into();
        HttpRemote {
            name: name.to_string(),
            base: url.trim_end_matches('/').to_string(),
            agent,
            authorization: authorization(name),
        }
    }

    fn url(&self, area: &str, digest: &Digest) -> String {
        format!("{}/{area}/{}", self.base, digest.to_hex())
    }

    /// Sends a request made by `request`, trying again on failures that may pass.
    fn send(
        &self,
        request: impl Fn() -> Result<Response<ureq::Body>, ureq::Error>,
    ) -> Result<Response<ureq::Body>, RemoteError> {
        let mut attempt = 0;
        loop {
            let outcome = request();
            let retry = match &outcome {
                Ok(response) => response.status().is_server_error(),
                Err(
                    ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::Timeout(_),
                ) => true,
                Err(_) => false,
            };
            if !retry || attempt >= BACKOFF.len() {
                return match outcome {
                    Ok(response) => self.check(response),
                    Err(e) => Err(RemoteError::Refused(format!("{}: {e}", self.base))),
                };
            }
            std::thread::sleep(BACKOFF[attempt]);
            attempt += 1;
        }
    }

    /// Passes 2xx and 404 through; anything else is the remote's failure.
    fn check(&self, response: Response<ureq::Body>) -> Result<Response<ureq::Body>, RemoteError> {
        let status = response.status().as_u16();
        match status {
            200..=299 | 404 => Ok(response),
            401 | 403 => Err(RemoteError::Refused(format!(
                "{} refused the credentials (HTTP {status}); set {}_TOKEN, or {}_USER and {}_PASSWORD",
                self.base,
                variable_prefix(&self.name),
                variable_prefix(&self.name),
                variable_prefix(&self.name),
            ))),
            _ => Err(RemoteError::Refused(format!(
                "{} answered HTTP {status}",
                self.base
            ))),
        }
    }

    fn get(&self, url: &str) -> Result<Response<ureq::Body>, RemoteError> {
        self.send(|| {
            let request = self.agent.get(url);
            match &self.authorization {
                Some(value) => request.header("Authorization", value).call(),
                None => request.call(),
            }
        })
    }

    fn put_bytes(&self, url: &str, bytes: &[u8]) -> Result<(), RemoteError> {
        self.send(|| {
            let request = self.agent.put(url);
            match &self.authorization {
                Some(value) => request.header("Authorization", value).send(bytes),
                None => request.send(bytes),
            }
        })?;
        Ok(())
    }
}

impl Remote for HttpRemote {
    fn get_action_result(&self, key: &Digest) -> Result<Option<Vec<u8>>, RemoteError> {
        let mut response = self.get(&self.url("ac", key))?;
        if response.status().as_u16() == 404 {
            return Ok(None);
        }
        let bytes = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| RemoteError::Refused(format!("{}: {e}", self.base)))?;
        Ok(Some(bytes))
    }

    fn put_action_result(&self, key: &Digest, json: &[u8]) -> Result<(), RemoteError> {
        self.put_bytes(&self.url("ac", key), json)
    }

    fn contains_blob(&self, digest: &Digest) -> Result<bool, RemoteError> {
        let url = self.url("cas", digest);
        let response = self.send(|| {
            let request = self.agent.head(&url);
            match &self.authorization {
                Some(value) => request.header("Authorization", value).call(),
                None => request.call(),
            }
        })?;
        Ok(response.status().is_success())
    }

    fn get_blob(&self, digest: &Digest, destination: &Path) -> Result<bool, RemoteError> {
        let mut response = self.get(&self.url("cas", digest))?;
        if response.status().as_u16() == 404 {
            return Ok(false);
        }
        let mut file = File::create(destination)?;
        let mut body = response.body_mut().with_config().limit(u64::MAX).reader();
        io::copy(&mut body, &mut file)?;
        Ok(true)
    }

    fn put_blob(&self, digest: &Digest, source: &Path) -> Result<(), RemoteError> {
        let url = self.url("cas", digest);
        // Streamed from the file, opened again for each attempt: blobs can be gigabytes.
        self.send(|| {
            let file = File::open(source).map_err(ureq::Error::Io)?;
            let request = self.agent.put(&url);
            match &self.authorization {
                Some(value) => request.header("Authorization", value).send(file),
                None => request.send(file),
            }
        })?;
        Ok(())
    }
}

/// `ZENBUILD_REMOTE_TEAM` for a remote named `team` (letters and digits upper-cased, the
/// rest `_`).
fn variable_prefix(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("ZENBUILD_REMOTE_{name}")
}

/// The `Authorization` header the environment gives the remote `name`, if any.
fn authorization(name: &str) -> Option<String> {
    let prefix = variable_prefix(name);
    let var = |suffix: &str| std::env::var(format!("{prefix}_{suffix}")).ok();
    if let Some(token) = var("TOKEN") {
        return Some(format!("Bearer {token}"));
    }
    let (user, password) = (var("USER")?, var("PASSWORD").unwrap_or_default());
    Some(format!(
        "Basic {}",
        base64(format!("{user}:{password}").as_bytes())
    ))
}

/// Standard base64 with padding, for basic auth.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (index, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if index <= chunk.len() {
                out.push(ALPHABET[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_known_strings() {
        for (text, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("user:pass", "dXNlcjpwYXNz"),
        ] {
            assert_eq!(base64(text.as_bytes()), encoded);
        }
    }

    #[test]
    fn variable_names() {
        assert_eq!(variable_prefix("team"), "ZENBUILD_REMOTE_TEAM");
        assert_eq!(variable_prefix("ci-cache.1"), "ZENBUILD_REMOTE_CI_CACHE_1");
    }
}
