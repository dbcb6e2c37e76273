//! How long a build has left, from how long the same actions took when they last ran.
//!
//! An action's expected duration is that of its last run under the same action key, or,
//! when that key never ran, of the last run of the same step instance (its name): a changed
//! input rarely changes how long a step takes by much. An action that never ran has no
//! estimate, and then neither has the build: a guess that leaves out a step of unknown length
//! would promise too early.
//!
//! The estimate assumes that every action not yet checked runs (a cached one makes it
//! shrink when it is found) and that the work spreads over the build's slots; a long step
//! that cannot be shared bounds it from below.

use std::collections::HashMap;
use std::time::Duration;

use crate::hash::Digest;

/// The durations of past runs, from the lineage.
#[derive(Clone, Debug, Default)]
pub struct History {
    by_key: HashMap<Digest, Duration>,
    by_name: HashMap<String, Duration>,
}

impl History {
    /// `runs` are (action name, key, duration) of actions that ran, oldest first: later ones
    /// win.
    pub fn new(runs: impl IntoIterator<Item = (String, Option<Digest>, Duration)>) -> History {
        let mut history = History::default();
        for (name, key, took) in runs {
            if let Some(key) = key {
                history.by_key.insert(key, took);
            }
            history.by_name.insert(name, took);
        }
        history
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// How long the action should take: by its key when that ran before, else by its name.
    pub fn expected(&self, name: &str, key: Option<&Digest>) -> Option<Duration> {
        key.and_then(|key| self.by_key.get(key))
            .or_else(|| self.by_name.get(name))
            .copied()
    }
}

/// One action that has not finished.
#[derive(Clone, Copy, Debug)]
pub struct Left {
    pub expected: Option<Duration>,
    /// How long it has been running; `None` while it waits.
    pub running_for: Option<Duration>,
}

/// The time left for `left` on `slots` parallel slots, or `None` when an action has no
/// estimate.
pub fn remaining(left: &[Left], slots: usize) -> Option<Duration> {
    let mut work = Duration::ZERO;
    let mut longest = Duration::ZERO;
    for action in left {
        let expected = action.expected?;
        // A step that overruns its record is expected to end soon, not to have ended.
        let rest = expected.saturating_sub(action.running_for.unwrap_or_default());
        work += rest;
        longest = longest.max(rest);
    }
    let spread = work / u32::try_from(slots.max(1)).unwrap_or(u32::MAX);
    Some(spread.max(longest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn waiting(expected: u64) -> Left {
        Left {
            expected: Some(secs(expected)),
            running_for: None,
        }
    }

    #[test]
    fn the_same_key_wins_over_the_same_name() {
        let old = Digest::of(b"old key");
        let new = Digest::of(b"new key");
        let history = History::new([
            ("train".to_string(), Some(old), secs(60)),
            ("train".to_string(), Some(new), secs(10)),
        ]);
        assert_eq!(history.expected("train", Some(&old)), Some(secs(60)));
        assert_eq!(history.expected("train", Some(&new)), Some(secs(10)));
        // A key that never ran: the step's latest run.
        let other = Digest::of(b"other");
        assert_eq!(history.expected("train", Some(&other)), Some(secs(10)));
        assert_eq!(history.expected("train", None), Some(secs(10)));
        assert_eq!(history.expected("eval", Some(&old)), Some(secs(60)));
        assert_eq!(history.expected("eval", None), None);
    }

    #[test]
    fn work_spreads_over_the_slots() {
        let left = [waiting(10), waiting(10), waiting(10), waiting(10)];
        assert_eq!(remaining(&left, 1), Some(secs(40)));
        assert_eq!(remaining(&left, 2), Some(secs(20)));
        assert_eq!(remaining(&left, 0), Some(secs(40)));
    }

    #[test]
    fn the_longest_step_bounds_the_estimate() {
        let left = [waiting(100), waiting(1), waiting(1)];
        assert_eq!(remaining(&left, 8), Some(secs(100)));
    }

    #[test]
    fn running_steps_count_what_is_left_of_them() {
        let left = [
            Left {
                expected: Some(secs(30)),
                running_for: Some(secs(20)),
            },
            Left {
                expected: Some(secs(5)),
                running_for: Some(secs(9)),
            },
        ];
        assert_eq!(remaining(&left, 1), Some(secs(10)));
    }

    #[test]
    fn no_estimate_when_a_step_never_ran() {
        let unknown = Left {
            expected: None,
            running_for: None,
        };
        assert_eq!(remaining(&[waiting(5), unknown], 4), None);
        assert_eq!(remaining(&[], 4), Some(Duration::ZERO));
    }
}
