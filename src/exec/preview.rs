//! What a build would do with each action, decided without running or restoring anything:
//! what `plan`, `explain` and `status` show.

use std::collections::HashMap;

use super::build::Builder;
use crate::graph::ActionId;
use crate::hash::Digest;
use crate::store::check_result;

/// What a build would do with one action, found without running or restoring anything.
#[derive(Clone, Debug)]
pub enum Preview {
    /// A result is cached; `restore` when the workspace does not hold its outputs.
    Cached {
        key: Digest,
        restore: bool,
    },
    Runs {
        key: Digest,
        reasons: Vec<String>,
    },
    /// It can only be decided once an action it depends on has run.
    AfterRun {
        dependency: ActionId,
    },
    Fails {
        message: String,
    },
}

impl Builder<'_> {
    /// What building `id` would do now. Dependencies must have been previewed first (a
    /// cached one makes its outputs' digests known here); `Runs`/`AfterRun` dependencies make
    /// this one `AfterRun`.
    pub fn preview(&self, id: ActionId, decided: &HashMap<ActionId, Preview>) -> Preview {
        let action = self.graph.action(id);
        // A forced action runs whatever its dependencies write (its key is the one of the
        // files on disk now; it may change once they have run).
        if self.forced.contains(&id)
            && let Ok(key) = self.key(action)
        {
            return Preview::Runs {
                key: key.digest(),
                reasons: self.forced_reasons(action, &key),
            };
        }
        for dep in &action.deps {
            if let Some(Preview::Runs { .. } | Preview::AfterRun { .. } | Preview::Fails { .. }) =
                decided.get(dep)
            {
                return Preview::AfterRun { dependency: *dep };
            }
        }
        let key = match self.key(action) {
            Ok(key) => key,
            Err(e) => {
                return Preview::Fails {
                    message: e.to_string(),
                };
            }
        };
        let digest = key.digest();
        if action.cache && self.unchanged(action, digest).is_some() {
            return Preview::Cached {
                key: digest,
                restore: false,
            };
        }
        if action.cache
            && let Ok(Some(result)) = self.cx.store.get_action_result(&digest)
        {
            if let Err(unusable) = check_result(&result, &self.graph.output_paths(action)) {
                return Preview::Runs {
                    key: digest,
                    reasons: vec![format!("its cached result cannot be used: {unusable}")],
                };
            }
            let restore = !self.outputs_in_place(&result);
            self.record(action, &result);
            return Preview::Cached {
                key: digest,
                restore,
            };
        }
        Preview::Runs {
            key: digest,
            reasons: self.reasons(action, &key),
        }
    }
}
