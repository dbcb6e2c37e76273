//! An HTTP cache in the paths of Bazel's layout (`http://host/prefix`): `GET|HEAD|PUT
//! {prefix}/ac/{key}` and `{prefix}/cas/{digest}`, 404 for a miss, with BLAKE3 keys and
//! digests and zenbuild's JSON results. Any server that keeps what is `PUT` under its path
//! serves as one (a plain nginx with WebDAV `PUT` is what the tests run). Servers of Bazel's
//! protocol do not: bazel-remote checks that a CAS upload's name is its SHA-256 and that an
//! AC entry is an `ActionResult` protocol buffer (docs/building.md lists which work).
//!
//! Credentials come from the environment, never the manifest: for a remote named `team`,
//! `ZENBUILD_REMOTE_TEAM_TOKEN` (sent as a bearer token), or `ZENBUILD_REMOTE_TEAM_USER` and
//! `ZENBUILD_REMOTE_TEAM_PASSWORD` (basic auth).

use std::fs::File;
use std::path::Path;

use super::transport::{Reply, Transport};
use super::{Remote, RemoteError, env_prefix};
use crate::hash::Digest;

pub struct HttpRemote {
    base: String,
    transport: Transport,
    authorization: Option<String>,
}

impl HttpRemote {
    pub fn new(name: &str, url: &str) -> HttpRemote {
        let base = url.trim_end_matches('/').to_string();
        let prefix = env_prefix(name);
        let help = format!("set {prefix}_TOKEN, or {prefix}_USER and {prefix}_PASSWORD");
        HttpRemote {
            transport: Transport::new(&base, help),
            base,
            authorization: authorization(name),
        }
    }

    fn url(&self, area: &str, digest: &Digest) -> String {
        format!("{}/{area}/{}", self.base, digest.to_hex())
    }

    fn request(&self, method: &str, url: &str) -> Result<Reply, RemoteError> {
        let agent = &self.transport.agent;
        self.transport.send(|| {
            let request = match method {
                "HEAD" => agent.head(url),
                _ => agent.get(url),
            };
            match &self.authorization {
                Some(value) => request.header("Authorization", value).call(),
                None => request.call(),
            }
        })
    }
}

impl Remote for HttpRemote {
    fn get_action_result(&self, key: &Digest) -> Result<Option<Vec<u8>>, RemoteError> {
        let response = self.request("GET", &self.url("ac", key))?;
        if response.status().as_u16() == 404 {
            return Ok(None);
        }
        self.transport.bytes(response).map(Some)
    }

    fn put_action_result(&self, key: &Digest, json: &[u8]) -> Result<(), RemoteError> {
        let url = self.url("ac", key);
        let agent = &self.transport.agent;
        self.transport.send(|| {
            let request = agent.put(&url);
            match &self.authorization {
                Some(value) => request.header("Authorization", value).send(json),
                None => request.send(json),
            }
        })?;
        Ok(())
    }

    fn contains_blob(&self, digest: &Digest) -> Result<bool, RemoteError> {
        let response = self.request("HEAD", &self.url("cas", digest))?;
        Ok(response.status().is_success())
    }

    fn get_blob(&self, digest: &Digest, destination: &Path) -> Result<bool, RemoteError> {
        let response = self.request("GET", &self.url("cas", digest))?;
        if response.status().as_u16() == 404 {
            return Ok(false);
        }
        self.transport
            .save(response, &mut File::create(destination)?)?;
        Ok(true)
    }

    fn put_blob(&self, digest: &Digest, source: &Path) -> Result<(), RemoteError> {
        let url = self.url("cas", digest);
        let agent = &self.transport.agent;
        // Streamed from the file, opened again for each attempt: blobs can be gigabytes.
        self.transport.send(|| {
            let file = File::open(source).map_err(ureq::Error::Io)?;
            let request = agent.put(&url);
            match &self.authorization {
                Some(value) => request.header("Authorization", value).send(file),
                None => request.send(file),
            }
        })?;
        Ok(())
    }
}

/// The `Authorization` header the environment gives the remote `name`, if any.
fn authorization(name: &str) -> Option<String> {
    let prefix = env_prefix(name);
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
}
