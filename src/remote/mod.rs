//! Remote caches: an action cache and a CAS that teammates and CI share, reached through one
//! small trait, [`Remote`]. Each backend is a file: a shared directory (`file://`), an HTTP
//! cache (`http://`, `https://`) and S3 or a store that speaks its API (`s3://`). [`crate::store::TieredStore`] puts them behind the
//! local store: lookups go local, then remote by remote; results are uploaded where writing
//! is allowed.
//!
//! The paths are those of Bazel's HTTP cache: `ac/<key>` holds an action result (zenbuild's
//! JSON, not Bazel's protocol buffer), `cas/<digest>` a blob (named by its BLAKE3, not its
//! SHA-256); a missing name is a miss. So a remote is a store of bytes by path, never a
//! server of Bazel's protocol.

pub mod choice;
mod dir;
mod error;
#[cfg(feature = "remote-http")]
mod http;
pub(crate) mod pool;
mod probe;
mod redact;
#[cfg(feature = "remote-s3")]
mod s3;
#[cfg(feature = "remote-http")]
mod transport;
mod upload;

use std::path::Path;

pub use dir::DirRemote;
pub use error::RemoteError;
#[cfg(feature = "remote-http")]
pub use http::HttpRemote;
pub use probe::RemoteProbe;
pub use redact::redact;
#[cfg(feature = "remote-s3")]
pub use s3::S3Remote;
pub use upload::{Sent, upload, upload_blobs};

use crate::hash::Digest;

/// One remote as the manifest declares it. Its `Debug` hides the URL's password.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    pub name: String,
    pub url: String,
    /// Look results up in it.
    pub read: bool,
    /// Upload results to it.
    pub write: bool,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("name", &self.name)
            .field("url", &redact(&self.url))
            .field("read", &self.read)
            .field("write", &self.write)
            .finish()
    }
}

/// A remote as configured, with its backend open.
pub type OpenRemote = (RemoteConfig, Box<dyn Remote>);

pub trait Remote: Send + Sync {
    /// The action result stored under `key`, as its JSON bytes; `None` on a miss.
    fn get_action_result(&self, key: &Digest) -> Result<Option<Vec<u8>>, RemoteError>;
    fn put_action_result(&self, key: &Digest, json: &[u8]) -> Result<(), RemoteError>;
    fn contains_blob(&self, digest: &Digest) -> Result<bool, RemoteError>;
    /// Writes the blob's bytes to `destination`; `false` when the remote does not have it.
    /// The bytes are unchecked: the caller verifies them against `digest`.
    fn get_blob(&self, digest: &Digest, destination: &Path) -> Result<bool, RemoteError>;
    fn put_blob(&self, digest: &Digest, source: &Path) -> Result<(), RemoteError>;

    /// Of `digests`, those the remote does not have, in the order given: what an upload must
    /// send. By default each is asked after with [`Remote::contains_blob`], 16 at once on the
    /// threads that talk to remotes, since every question is a round trip; a backend that can
    /// answer many at once more cheaply answers for itself.
    fn missing_blobs(&self, digests: &[Digest]) -> Result<Vec<Digest>, RemoteError> {
        use rayon::prelude::*;
        let present: Vec<bool> = pool::requests().install(|| {
            digests
                .par_iter()
                .map(|digest| self.contains_blob(digest))
                .collect::<Result<_, _>>()
        })?;
        Ok(digests
            .iter()
            .zip(present)
            .filter(|(_, present)| !present)
            .map(|(digest, _)| *digest)
            .collect())
    }
}

/// `ZENBUILD_REMOTE_TEAM` for a remote named `team` (letters and digits upper-cased, the
/// rest `_`): the start of the environment variables that configure it on this machine.
pub fn env_prefix(name: &str) -> String {
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

/// `config` with the switches this machine's environment sets: `…_READ` and `…_WRITE`
/// (`1`, `true`, `yes` or `0`, `false`, `no`), so that CI can write where laptops only read
/// without two manifests.
pub fn with_env_switches(mut config: RemoteConfig) -> RemoteConfig {
    let prefix = env_prefix(&config.name);
    let switch = |suffix: &str| {
        let value = std::env::var(format!("{prefix}_{suffix}")).ok()?;
        match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => Some(true),
            "0" | "false" | "no" => Some(false),
            _ => None,
        }
    };
    if let Some(read) = switch("READ") {
        config.read = read;
    }
    if let Some(write) = switch("WRITE") {
        config.write = write;
    }
    config
}

/// The backend `config.url` names.
pub fn open(config: &RemoteConfig) -> Result<Box<dyn Remote>, RemoteError> {
    if let Some(path) = config.url.strip_prefix("file://") {
        return Ok(Box::new(DirRemote::new(Path::new(path))));
    }
    let scheme = config.url.split("://").next().unwrap_or("");
    match scheme {
        #[cfg(feature = "remote-http")]
        "http" | "https" => return Ok(Box::new(HttpRemote::new(&config.name, &config.url))),
        #[cfg(feature = "remote-s3")]
        "s3" => return Ok(Box::new(S3Remote::new(&config.url)?)),
        // Reached only when a feature is left out.
        #[allow(unreachable_patterns)]
        "http" | "https" | "s3" => {
            return Err(RemoteError::Config(format!(
                "remote `{}`: this zenbuild was built without `{scheme}://` remotes \
                 (cargo features remote-http, remote-s3)",
                config.name
            )));
        }
        _ => {}
    }
    Err(RemoteError::Config(format!(
        "remote `{}`: `{scheme}://` is not a kind of remote this zenbuild supports (file://, http://, https://, s3://)",
        config.name
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn variable_names() {
        assert_eq!(super::env_prefix("team"), "ZENBUILD_REMOTE_TEAM");
        assert_eq!(
            super::env_prefix("ci-cache.1"),
            "ZENBUILD_REMOTE_CI_CACHE_1"
        );
    }

    /// A remote that holds the blobs it was made with, and counts the questions it gets.
    struct Holding(Vec<crate::hash::Digest>, std::sync::atomic::AtomicUsize);

    impl super::Remote for Holding {
        fn get_action_result(
            &self,
            _: &crate::hash::Digest,
        ) -> Result<Option<Vec<u8>>, super::RemoteError> {
            Ok(None)
        }
        fn put_action_result(
            &self,
            _: &crate::hash::Digest,
            _: &[u8],
        ) -> Result<(), super::RemoteError> {
            Ok(())
        }
        fn contains_blob(&self, digest: &crate::hash::Digest) -> Result<bool, super::RemoteError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(self.0.contains(digest))
        }
        fn get_blob(
            &self,
            _: &crate::hash::Digest,
            _: &std::path::Path,
        ) -> Result<bool, super::RemoteError> {
            Ok(false)
        }
        fn put_blob(
            &self,
            _: &crate::hash::Digest,
            _: &std::path::Path,
        ) -> Result<(), super::RemoteError> {
            Ok(())
        }
    }

    #[test]
    fn missing_blobs_keeps_the_order_asked_and_asks_once_each() {
        use super::Remote;
        use crate::hash::Digest;
        let digests: Vec<Digest> = (0..100u32).map(|n| Digest::of(&n.to_le_bytes())).collect();
        let held: Vec<Digest> = digests.iter().step_by(3).copied().collect();
        let remote = Holding(held.clone(), std::sync::atomic::AtomicUsize::new(0));
        let missing = remote.missing_blobs(&digests).unwrap();
        let expected: Vec<Digest> = digests
            .iter()
            .filter(|digest| !held.contains(digest))
            .copied()
            .collect();
        assert_eq!(missing, expected);
        assert_eq!(remote.1.load(std::sync::atomic::Ordering::SeqCst), 100);
        assert!(remote.missing_blobs(&[]).unwrap().is_empty());
    }

    #[test]
    fn debug_output_hides_passwords() {
        let config = super::RemoteConfig {
            name: "team".into(),
            url: "https://alice:hunter2@h/x".into(),
            read: true,
            write: true,
        };
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && debug.contains("alice:***@h"),
            "{debug}"
        );
    }
}
