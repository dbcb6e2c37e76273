//! What the caches hold for an action's current key: its outputs already in place (the
//! up-to-date shortcut), a result to restore, nothing, or something that cannot be used.

use std::collections::BTreeMap;

use super::build::Builder;
use crate::graph::Action;
use crate::hash::{ActionKey, Digest};
use crate::store::{ActionResult, StoreError, check_result, restore_outputs};

/// What a look-up found.
pub(super) enum Found {
    /// The outputs are in place for the key: restored, or there already.
    Hit(Hit),
    /// Nothing is cached under the key.
    Miss,
    /// Something is, but it cannot be used: why, as the rerun's reason.
    Unusable(String),
    /// The cache cannot be read, or its result not restored: the action fails with this.
    Broken(String),
}

/// A cached result whose outputs are in place.
pub(super) struct Hit {
    /// Output path → digest, as the report and dependents see them.
    pub outputs: BTreeMap<String, Digest>,
    /// Where it came from: `local`, or `remote:NAME`.
    pub source: String,
    /// The blobs of what the step printed when it ran.
    pub logs: Vec<Digest>,
    pub logs_cut: bool,
    /// Whether the outputs were put back (false when they were already in place).
    pub restored: bool,
}

impl Builder<'_> {
    /// Looks `action`'s `key` (whose digest is `digest`) up: first whether its outputs are
    /// still those of its last build under that key, then in the store, restoring a hit.
    pub(super) fn look_up(&self, action: &Action, key: &ActionKey, digest: Digest) -> Found {
        if let Some(finished) = self.unchanged(action, digest) {
            return Found::Hit(Hit {
                outputs: finished
                    .outputs
                    .iter()
                    .map(|(path, d, _)| (path.clone(), *d))
                    .collect(),
                source: "local".into(),
                logs: finished.logs.unwrap_or_default(),
                logs_cut: false,
                restored: false,
            });
        }
        let result = match self.cx.store.get_action_result(&digest) {
            Ok(Some(result)) => result,
            Ok(None) => return Found::Miss,
            Err(e) if e.is_corrupt() => {
                return Found::Unusable(format!("its cached result is unusable: {e}"));
            }
            Err(e) => return Found::Broken(format!("cannot read the cache: {e}")),
        };
        let result = match self.usable(action, &digest, result) {
            Ok(result) => result,
            Err(unusable) => return Found::Unusable(unusable),
        };
        let in_place = self.outputs_in_place(&result);
        if !in_place {
            match restore_outputs(self.cx.store, self.cx.root, &result, self.cx.link_mode) {
                Ok(()) => {}
                Err(e) if e.is_corrupt() || matches!(e, StoreError::MissingBlob { .. }) => {
                    return Found::Unusable(format!("its cached result is unusable: {e}"));
                }
                Err(e) => return Found::Broken(format!("cannot restore its outputs: {e}")),
            }
        }
        let outputs = self.record(action, &result);
        self.remember(action, key, digest, result.log_blobs());
        Found::Hit(Hit {
            outputs,
            source: self
                .cx
                .store
                .source_of(&digest)
                .unwrap_or_else(|| "local".into()),
            logs: result.log_blobs(),
            logs_cut: result.stdout_cut,
            restored: !in_place,
        })
    }

    /// `result` if it may be restored for `action` (see [`check_result`]). One that may not is
    /// removed from this machine's cache, so that it is never trusted again, and the build is
    /// told once; the reason comes back for the rerun's explanation.
    pub(super) fn usable(
        &self,
        action: &Action,
        digest: &Digest,
        result: ActionResult,
    ) -> Result<ActionResult, String> {
        let declared = self.graph.output_paths(action);
        let Err(unusable) = check_result(&result, &declared) else {
            return Ok(result);
        };
        let from = match self.cx.store.source_of(digest) {
            Some(source) => format!(
                " from remote `{}`",
                source.strip_prefix("remote:").unwrap_or(&source)
            ),
            None => String::new(),
        };
        let dropped = match self.cx.store.forget_action_result(digest) {
            Ok(()) => "was dropped",
            Err(_) => "is ignored",
        };
        let warning = format!(
            "the cached result of `{}`{from} (key {}) cannot be used and {dropped}, so the step runs: {unusable}",
            action.name,
            digest.short()
        );
        self.warnings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(warning);
        Err(format!("its cached result cannot be used: {unusable}"))
    }
}
