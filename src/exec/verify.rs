//! Verifying cached results: rerun an action whose result is cached, compare what it writes
//! with what the cache holds, then put the cached outputs back. The cache is never written,
//! so a step found non-deterministic keeps its first result; the verdict is what changes.
//!
//! Actions are verified in dependency order, each against the cached outputs of those before
//! it (restored after their own rerun), so each runs on exactly the inputs its cached result
//! was computed from.

use super::build::{Builder, Pending};
use super::event::Outcome;
use super::executor::Executor;
use super::key::recorded_outputs;
use super::resources::Grant;
use crate::graph::ActionId;
use crate::hash::{Digest, hash_tree};
use crate::store::{check_result, restore_outputs};

/// What rerunning one action showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every output came out with the cached bytes.
    Same,
    /// Some did not: (path, cached digest, rerun digest; `None` when it was not written).
    Differs(Vec<(String, Digest, Option<Digest>)>),
    /// Nothing cached under its current key (not built since its inputs changed, or
    /// `cache #false`): nothing to compare with.
    NotCached(String),
    /// The rerun failed; the cached outputs were put back.
    Failed(String),
}

impl Builder<'_> {
    /// Reruns `id` on `executor` and compares; see the module's doc.
    pub fn verify(&self, id: ActionId, executor: &dyn Executor) -> Verdict {
        let action = self.graph.action(id);
        if !action.cache {
            return Verdict::NotCached("cache #false: never cached".into());
        }
        let key = match self.key(action) {
            Ok(key) => key,
            Err(e) => return Verdict::NotCached(e.to_string()),
        };
        let result = match self.cx.store.get_action_result(&key.digest()) {
            Ok(Some(result)) => result,
            Ok(None) => {
                return Verdict::NotCached(
                    "no cached result for its current inputs: build it first".into(),
                );
            }
            Err(e) => return Verdict::Failed(format!("cannot read the cache: {e}")),
        };
        // Put back after the rerun, so held to what any restore is held to.
        if let Err(unusable) = check_result(&result, &self.graph.output_paths(action)) {
            return Verdict::NotCached(format!(
                "its cached result cannot be used (a build drops it and runs the step): {unusable}"
            ));
        }
        let grant = Grant {
            cpus: action.resources.cpus,
            memory: action.resources.memory.unwrap_or(0),
            gpus: Vec::new(),
            lane: 0,
        };
        let mut pending = Pending::new(key.clone(), key.digest(), Vec::new());
        let verdict =
            if let Err(outcome) = self.run_attempts(action, &mut pending, &grant, executor) {
                Verdict::Failed(match *outcome {
                    Outcome::Failed(failure) => failure.message,
                    _ => "interrupted".to_string(),
                })
            } else {
                let differs: Vec<_> = recorded_outputs(&result)
                    .into_iter()
                    .filter_map(|(path, cached, executable)| {
                        let now = self.current_digest(&path);
                        let same = now == Some((cached, executable));
                        (!same).then_some((path, cached, now.map(|(digest, _)| digest)))
                    })
                    .collect();
                if differs.is_empty() {
                    Verdict::Same
                } else {
                    Verdict::Differs(differs)
                }
            };
        // Whatever the rerun left, the workspace goes back to the cached result, which is
        // also what dependents are verified against.
        if let Err(e) = restore_outputs(self.cx.store, self.cx.root, &result, self.cx.link_mode) {
            return Verdict::Failed(format!("cannot put its cached outputs back: {e}"));
        }
        self.record(action, &result);
        verdict
    }

    /// The digest and executable bit of what the workspace holds at `path` (a directory
    /// when it ends in `/`).
    fn current_digest(&self, path: &str) -> Option<(Digest, bool)> {
        let absolute = self.cx.root.join(path.trim_end_matches('/'));
        if path.ends_with('/') {
            return hash_tree(&absolute, self.cx.stat_cache)
                .ok()
                .map(|tree| (tree.digest, false));
        }
        self.cx
            .stat_cache
            .digest_file(&absolute)
            .ok()
            .map(|file| (file.digest, file.executable))
    }
}
