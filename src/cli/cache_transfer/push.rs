//! What `cache push` does with each remote: upload every result it can, remember each
//! failure, and stop asking a remote that failed [`GIVE_UP_AFTER`] actions in a row (it is
//! down, or refuses this machine: every later upload would fail the same way, slowly).
//!
//! An action the local cache has no whole result for is not a failure: there is nothing to
//! push. An upload that fails is, and makes the command fail.

use std::collections::BTreeMap;

use crate::hash::Digest;
use crate::remote::{OpenRemote, upload};
use crate::store::{ActionResult, LocalStore, Store};

/// Failures in a row after which a remote is not asked again.
pub const GIVE_UP_AFTER: usize = 3;
/// Action names listed per failure; the rest are counted.
const NAMES_SHOWN: usize = 5;

/// One writable remote's part of a push.
struct Target {
    name: String,
    failures_in_a_row: usize,
    given_up: bool,
    /// Actions that could not be pushed, by what went wrong.
    failures: BTreeMap<String, Vec<String>>,
    /// Actions not tried once the remote was given up.
    not_tried: Vec<String>,
}

pub struct Push<'a> {
    local: &'a LocalStore,
    remotes: Vec<(Target, OpenRemote)>,
}

/// How one action went.
pub enum Pushed {
    /// To every writable remote.
    Everywhere,
    /// The local cache holds no whole result under its current key.
    NotLocal,
    /// To some remotes or none, because of failures.
    Failed,
}

impl<'a> Push<'a> {
    /// A push to the writable ones of `remotes`; `None` when none may be written.
    pub fn new(local: &'a LocalStore, remotes: Vec<OpenRemote>) -> Option<Push<'a>> {
        let remotes: Vec<_> = remotes
            .into_iter()
            .filter(|(config, _)| config.write)
            .map(|open| {
                let target = Target {
                    name: open.0.name.clone(),
                    failures_in_a_row: 0,
                    given_up: false,
                    failures: BTreeMap::new(),
                    not_tried: Vec::new(),
                };
                (target, open)
            })
            .collect();
        (!remotes.is_empty()).then_some(Push { local, remotes })
    }

    /// Pushes the action `name`'s result under `key`, when the local cache holds it.
    pub fn action(&mut self, name: &str, key: &Digest) -> Pushed {
        let Some(result) = self.whole_result(key) else {
            return Pushed::NotLocal;
        };
        let mut everywhere = true;
        for (target, (_, remote)) in &mut self.remotes {
            if target.given_up {
                target.not_tried.push(name.to_string());
                everywhere = false;
                continue;
            }
            match upload(remote.as_ref(), self.local, key, &result) {
                Ok(()) => target.failures_in_a_row = 0,
                Err(e) => {
                    everywhere = false;
                    target
                        .failures
                        .entry(e.to_string())
                        .or_default()
                        .push(name.to_string());
                    target.failures_in_a_row += 1;
                    target.given_up = target.failures_in_a_row >= GIVE_UP_AFTER;
                }
            }
        }
        if everywhere {
            Pushed::Everywhere
        } else {
            Pushed::Failed
        }
    }

    /// What failed, a line per remote and cause: `cannot push prepare, train to remote
    /// `team`: …`, and for a remote given up, how many actions were not tried.
    pub fn failures(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (target, _) in &self.remotes {
            for (error, names) in &target.failures {
                lines.push(format!(
                    "cannot push {} to remote `{}`: {error}",
                    listed(names),
                    target.name
                ));
            }
            if target.given_up {
                lines.push(format!(
                    "gave up on remote `{}` after {GIVE_UP_AFTER} failures in a row; not tried: {}",
                    target.name,
                    if target.not_tried.is_empty() {
                        "none".to_string()
                    } else {
                        listed(&target.not_tried)
                    }
                ));
            }
        }
        lines
    }

    /// `key`'s result in the local cache, when every blob of its outputs is there too (what
    /// the step printed may be gone: the result is whole without it).
    fn whole_result(&self, key: &Digest) -> Option<ActionResult> {
        let result = self.local.get_action_result(key).ok().flatten()?;
        let whole = result
            .output_blobs()
            .iter()
            .all(|digest| self.local.contains_blob(digest).unwrap_or(false));
        whole.then_some(result)
    }
}

/// `a, b, c, d, e and 7 more`.
fn listed(names: &[String]) -> String {
    let shown = names[..names.len().min(NAMES_SHOWN)].join(", ");
    match names.len().saturating_sub(NAMES_SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::listed;

    #[test]
    fn long_lists_are_cut_and_counted() {
        let names: Vec<String> = (1..=8).map(|n| format!("a{n}")).collect();
        assert_eq!(listed(&names[..2]), "a1, a2");
        assert_eq!(listed(&names), "a1, a2, a3, a4, a5 and 3 more");
    }
}
