//! The remotes as `plan` and `explain` ask them: whether a result exists, without
//! downloading a blob or writing anything.
//!
//! For a key it reads the small result entry (`ac/<key>`) of each readable remote in the
//! manifest's order and asks (`HEAD`, or a file's existence) for every blob it names that the
//! local store lacks; the first remote that has the result and all its blobs answers, as a
//! build's lookup would. What it cannot know without downloading is whether a blob's bytes
//! match their digest: a build that finds otherwise discards the blob and runs the step.
//!
//! Keys are asked in batches, many at once ([`pool::REQUESTS`]), so a plan of a thousand actions
//! costs a few rounds of parallel requests, not a thousand in a row. A remote that fails is
//! reported once and not asked again; its keys are then misses, which the warnings say.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::pool;
use super::{OpenRemote, Remote, RemoteConfig, RemoteError};
use crate::hash::Digest;
use crate::store::{ActionResult, Blob, LinkMode, LocalStore, Place, Store, StoreError};

struct Asked {
    config: RemoteConfig,
    remote: Box<dyn Remote>,
    failed: AtomicBool,
}

/// What the remotes said about one key.
enum Answer {
    Hit {
        remote: String,
        result: Box<ActionResult>,
    },
    Miss,
}

pub struct RemoteProbe<'a> {
    local: &'a LocalStore,
    remotes: Vec<Asked>,
    answers: Mutex<HashMap<Digest, Answer>>,
    warnings: Mutex<Vec<String>>,
}

impl<'a> RemoteProbe<'a> {
    /// Asks the readable ones of `remotes`, behind `local`.
    pub fn new(local: &'a LocalStore, remotes: Vec<OpenRemote>) -> RemoteProbe<'a> {
        RemoteProbe {
            local,
            remotes: remotes
                .into_iter()
                .filter(|(config, _)| config.read)
                .map(|(config, remote)| Asked {
                    config,
                    remote,
                    failed: AtomicBool::new(false),
                })
                .collect(),
            answers: Mutex::new(HashMap::new()),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// Whether `key` has been asked about already (hit or miss).
    pub fn asked(&self, key: &Digest) -> bool {
        lock(&self.answers).contains_key(key)
    }

    /// Asks the remotes about every key of `keys`, `pool::REQUESTS` at a time.
    pub fn ask(&self, keys: &[Digest]) {
        let answers: Vec<(Digest, Answer)> = pool::requests().install(|| {
            keys.par_iter()
                .map(|key| (*key, self.lookup(key)))
                .collect()
        });
        lock(&self.answers).extend(answers);
    }

    /// The remote that holds `key`'s result, when one does.
    pub fn holder(&self, key: &Digest) -> Option<String> {
        match lock(&self.answers).get(key) {
            Some(Answer::Hit { remote, .. }) => Some(remote.clone()),
            _ => None,
        }
    }

    /// What went wrong with remotes, a line each, once per remote.
    pub fn warnings(&self) -> Vec<String> {
        lock(&self.warnings).clone()
    }

    fn lookup(&self, key: &Digest) -> Answer {
        for asked in &self.remotes {
            if asked.failed.load(Ordering::SeqCst) {
                continue;
            }
            match self.lookup_in(asked, key) {
                Ok(Some(result)) => {
                    return Answer::Hit {
                        remote: asked.config.name.clone(),
                        result: Box::new(result),
                    };
                }
                Ok(None) => {}
                Err(e) => {
                    if !asked.failed.swap(true, Ordering::SeqCst) {
                        self.warn(format!(
                            "remote `{}` could not be asked, so this plan does not know what it \
                             holds: {e}",
                            asked.config.name
                        ));
                    }
                }
            }
        }
        Answer::Miss
    }

    /// `key`'s result in one remote, when the remote has it and every blob it names.
    fn lookup_in(&self, asked: &Asked, key: &Digest) -> Result<Option<ActionResult>, RemoteError> {
        let Some(json) = asked.remote.get_action_result(key)? else {
            return Ok(None);
        };
        // A miss, as the build finds it.
        let Ok(result) = serde_json::from_slice::<ActionResult>(&json) else {
            self.warn(format!(
                "remote `{}` holds an unreadable result for {}: a build ignores it",
                asked.config.name,
                key.short()
            ));
            return Ok(None);
        };
        for digest in result.blobs() {
            if self.local.contains_blob(&digest).unwrap_or(false) {
                continue;
            }
            if !asked.remote.contains_blob(&digest)? {
                return Ok(None);
            }
        }
        Ok(Some(result))
    }

    fn warn(&self, message: String) {
        lock(&self.warnings).push(message);
    }
}

/// Reads go local first, then to what the remotes answered; writes go to the local store
/// (a plan makes none). Nothing here sends a request: [`RemoteProbe::ask`] does, in bulk.
impl Store for RemoteProbe<'_> {
    fn get_action_result(&self, key: &Digest) -> Result<Option<ActionResult>, StoreError> {
        if let Some(result) = self.local.get_action_result(key)? {
            return Ok(Some(result));
        }
        Ok(match lock(&self.answers).get(key) {
            Some(Answer::Hit { result, .. }) => Some(ActionResult::clone(result)),
            _ => None,
        })
    }

    fn put_action_result(&self, key: &Digest, result: &ActionResult) -> Result<(), StoreError> {
        self.local.put_action_result(key, result)
    }

    fn contains_blob(&self, digest: &Digest) -> Result<bool, StoreError> {
        self.local.contains_blob(digest)
    }

    fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        self.local.put_bytes(bytes)
    }

    fn put_file(&self, path: &Path, known: Option<&Digest>) -> Result<Blob, StoreError> {
        self.local.put_file(path, known)
    }

    fn restore_blob(
        &self,
        digest: &Digest,
        place: &Place,
        executable: bool,
        mode: LinkMode,
    ) -> Result<(), StoreError> {
        self.local.restore_blob(digest, place, executable, mode)
    }

    fn forget_action_result(&self, key: &Digest) -> Result<(), StoreError> {
        self.local.forget_action_result(key)
    }

    fn source_of(&self, key: &Digest) -> Option<String> {
        if self.local.get_action_result(key).ok().flatten().is_some() {
            return None;
        }
        self.holder(key).map(|remote| format!("remote:{remote}"))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// A remote that holds nothing and answers each request after a while, counting how many
    /// requests it serves at once.
    #[derive(Default)]
    struct Slow {
        in_flight: AtomicUsize,
        most: AtomicUsize,
        requests: AtomicUsize,
    }

    impl Remote for Slow {
        fn get_action_result(&self, _key: &Digest) -> Result<Option<Vec<u8>>, RemoteError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.requests.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(None)
        }
        fn put_action_result(&self, _: &Digest, _: &[u8]) -> Result<(), RemoteError> {
            unreachable!("a plan writes nothing")
        }
        fn contains_blob(&self, _: &Digest) -> Result<bool, RemoteError> {
            Ok(false)
        }
        fn get_blob(&self, _: &Digest, _: &Path) -> Result<bool, RemoteError> {
            unreachable!("a plan downloads no blob")
        }
        fn put_blob(&self, _: &Digest, _: &Path) -> Result<(), RemoteError> {
            unreachable!("a plan writes nothing")
        }
    }

    impl Remote for std::sync::Arc<Slow> {
        fn get_action_result(&self, key: &Digest) -> Result<Option<Vec<u8>>, RemoteError> {
            (**self).get_action_result(key)
        }
        fn put_action_result(&self, key: &Digest, json: &[u8]) -> Result<(), RemoteError> {
            (**self).put_action_result(key, json)
        }
        fn contains_blob(&self, digest: &Digest) -> Result<bool, RemoteError> {
            (**self).contains_blob(digest)
        }
        fn get_blob(&self, digest: &Digest, destination: &Path) -> Result<bool, RemoteError> {
            (**self).get_blob(digest, destination)
        }
        fn put_blob(&self, digest: &Digest, source: &Path) -> Result<(), RemoteError> {
            (**self).put_blob(digest, source)
        }
    }

    #[test]
    fn many_keys_are_asked_at_once_but_no_more_than_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalStore::open(dir.path()).unwrap();
        let slow = std::sync::Arc::new(Slow::default());
        let config = RemoteConfig {
            name: "team".into(),
            url: "test://".into(),
            read: true,
            write: false,
        };
        let probe = RemoteProbe::new(&local, vec![(config, Box::new(slow.clone()))]);
        let keys: Vec<Digest> = (0..200u32).map(|n| Digest::of(&n.to_le_bytes())).collect();
        probe.ask(&keys);
        assert_eq!(slow.requests.load(Ordering::SeqCst), 200);
        let most = slow.most.load(Ordering::SeqCst);
        assert!(
            most > 4 && most <= pool::REQUESTS,
            "{most} requests at once"
        );
        assert!(
            keys.iter()
                .all(|key| probe.asked(key) && probe.holder(key).is_none())
        );
        assert!(probe.warnings().is_empty());
    }
}
