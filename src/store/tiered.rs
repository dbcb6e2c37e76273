//! The local store with the team's remotes behind it. A lookup tries the local store, then
//! each readable remote in the order the manifest lists them; a remote hit has every blob
//! downloaded, checked against its digest and written to the local store before the result
//! is recorded locally and returned, so restoring is always local. A result whose blobs the
//! remote lacks is a miss; a blob whose bytes do not match its digest is discarded, reported,
//! and makes the result a miss.
//!
//! A successful action's result is uploaded to each writable remote (blobs the remote has
//! already are skipped, the result last, so nobody finds a result before its blobs).
//!
//! A remote that fails (unreachable, refusing, timing out) is reported once and not used
//! again for the rest of the build: the build goes on locally. Nothing here prints; the
//! warnings wait in [`TieredStore::take_warnings`] for the build to show them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

use super::local::Downloaded;
use super::{ActionResult, Blob, LinkMode, LocalStore, Place, Store, StoreError};
use crate::hash::Digest;
use crate::remote::{OpenRemote, Remote, RemoteConfig, RemoteError};

/// How many blobs move at once, per remote operation.
const TRANSFERS: usize = 8;

struct Tier {
    config: RemoteConfig,
    remote: Box<dyn Remote>,
    failed: AtomicBool,
}

pub struct TieredStore {
    local: LocalStore,
    tiers: Vec<Tier>,
    warnings: Mutex<Vec<String>>,
    /// Which remote each key's result came from in this build.
    sources: Mutex<HashMap<Digest, String>>,
}

impl TieredStore {
    pub fn new(local: LocalStore, remotes: Vec<OpenRemote>) -> TieredStore {
        TieredStore {
            local,
            tiers: remotes
                .into_iter()
                .map(|(config, remote)| Tier {
                    config,
                    remote,
                    failed: AtomicBool::new(false),
                })
                .collect(),
            warnings: Mutex::new(Vec::new()),
            sources: Mutex::new(HashMap::new()),
        }
    }

    pub fn local(&self) -> &LocalStore {
        &self.local
    }

    /// Uploads `key`'s result, already in the local store, to every writable remote that has
    /// not failed; says to how many.
    pub fn push(&self, key: &Digest, result: &ActionResult) -> usize {
        let mut pushed = 0;
        for tier in &self.tiers {
            if !tier.config.write || tier.failed.load(Ordering::SeqCst) {
                continue;
            }
            match self.upload(tier, key, result) {
                Ok(()) => pushed += 1,
                Err(e) => self.give_up(tier, &e),
            }
        }
        pushed
    }

    /// What went wrong with remotes since the last call, a line each.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.warnings))
    }

    fn warn(&self, message: String) {
        lock(&self.warnings).push(message);
    }

    /// Stops using a remote after its first failure, with one warning.
    fn give_up(&self, tier: &Tier, error: &RemoteError) {
        if !tier.failed.swap(true, Ordering::SeqCst) {
            self.warn(format!(
                "remote `{}` failed, going on without it: {error}",
                tier.config.name
            ));
        }
    }

    /// The result `tier` has for `key`, with every blob now in the local store.
    fn fetch(&self, tier: &Tier, key: &Digest) -> Result<Option<ActionResult>, RemoteError> {
        let Some(json) = tier.remote.get_action_result(key)? else {
            return Ok(None);
        };
        let Ok(result) = serde_json::from_slice::<ActionResult>(&json) else {
            self.warn(format!(
                "remote `{}` holds an unreadable result for {}: ignored",
                tier.config.name,
                key.short()
            ));
            return Ok(None);
        };
        let missing: Vec<(Digest, bool)> = (result.output_blobs().into_iter())
            .map(|digest| (digest, true))
            .chain(result.log_blobs().into_iter().map(|digest| (digest, false)))
            .filter(|(digest, _)| !self.local.contains_blob(digest).unwrap_or(false))
            .collect();
        let fetched: Vec<(Result<bool, RemoteError>, bool)> = transfers().install(|| {
            missing
                .par_iter()
                .map(|(digest, needed)| (self.fetch_blob(tier, digest), *needed))
                .collect()
        });
        for (outcome, needed) in fetched {
            // What the step printed is worth having, not worth a rerun: without it the result
            // restores the same outputs, and a replay says the text is not in the cache.
            if !outcome? && needed {
                return Ok(None);
            }
        }
        // Locally first, so that the next lookup is local.
        if let Err(e) = self.local.put_action_result(key, &result) {
            return Err(RemoteError::Local(format!("cannot keep its result: {e}")));
        }
        Ok(Some(result))
    }

    /// Downloads one blob into the local store; `false` when the remote lacks it or sent
    /// other bytes (which are discarded, with a warning).
    fn fetch_blob(&self, tier: &Tier, digest: &Digest) -> Result<bool, RemoteError> {
        match self.local.download(tier.remote.as_ref(), digest)? {
            Downloaded::Stored(_) => Ok(true),
            Downloaded::Missing => Ok(false),
            Downloaded::Refused(e) => {
                self.warn(format!(
                    "remote `{}` sent a blob that is not {}: discarded ({e})",
                    tier.config.name,
                    digest.short()
                ));
                Ok(false)
            }
        }
    }

    fn upload(&self, tier: &Tier, key: &Digest, result: &ActionResult) -> Result<(), RemoteError> {
        crate::remote::upload(tier.remote.as_ref(), &self.local, key, result)
    }
}

impl Store for TieredStore {
    fn get_action_result(&self, key: &Digest) -> Result<Option<ActionResult>, StoreError> {
        if let Some(result) = self.local.get_action_result(key)? {
            return Ok(Some(result));
        }
        for tier in &self.tiers {
            if !tier.config.read || tier.failed.load(Ordering::SeqCst) {
                continue;
            }
            match self.fetch(tier, key) {
                Ok(Some(result)) => {
                    lock(&self.sources).insert(*key, format!("remote:{}", tier.config.name));
                    return Ok(Some(result));
                }
                Ok(None) => {}
                Err(e) => self.give_up(tier, &e),
            }
        }
        Ok(None)
    }

    fn put_action_result(&self, key: &Digest, result: &ActionResult) -> Result<(), StoreError> {
        self.local.put_action_result(key, result)?;
        self.push(key, result);
        Ok(())
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
        lock(&self.sources).get(key).cloned()
    }
}

/// The threads that move blobs to and from remotes: more than the cores, since transfers
/// wait on the network, and few enough not to flood a server.
fn transfers() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(TRANSFERS)
            .thread_name(|index| format!("zenbuild-transfer-{index}"))
            .build()
            .unwrap_or_else(|_| {
                rayon::ThreadPoolBuilder::new()
                    .build()
                    .expect("a thread pool with default settings")
            })
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
