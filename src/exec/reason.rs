//! Why an action runs, in words: the difference between the key it had last time and the key
//! it has now.

use std::collections::{BTreeMap, BTreeSet};

use crate::hash::{ActionKey, InputDigest, canonical_json};

/// What changed between the `previous` key and the `current` one, one line per change, in
/// the order of the key's fields. Empty when the keys are equal.
pub fn key_changes(previous: &ActionKey, current: &ActionKey) -> Vec<String> {
    let mut changes = Vec::new();
    if previous.cmd != current.cmd {
        changes.push(format!(
            "the command changed: {}",
            word_diff(&previous.cmd, &current.cmd)
        ));
    }
    input_changes(&previous.inputs, &current.inputs, &mut changes);
    let (before, after): (BTreeSet<_>, BTreeSet<_>) = (
        previous.outputs.iter().collect(),
        current.outputs.iter().collect(),
    );
    for added in after.difference(&before) {
        changes.push(format!("new output {added}"));
    }
    for removed in before.difference(&after) {
        changes.push(format!("output {removed} is no longer declared"));
    }
    let show = |value: &serde_json::Value| canonical_json(value);
    map_changes(
        "param",
        &previous.params,
        &current.params,
        show,
        &mut changes,
    );
    map_changes(
        "env",
        &previous.env,
        &current.env,
        |v: &String| format!("{v:?}"),
        &mut changes,
    );
    if previous.workdir != current.workdir {
        changes.push(format!(
            "workdir changed: {} → {}",
            previous.workdir, current.workdir
        ));
    }
    if previous.platform != current.platform {
        let show = |p: &Option<crate::hash::Platform>| {
            p.as_ref()
                .map_or("any".to_string(), |p| format!("{}-{}", p.os, p.arch))
        };
        changes.push(format!(
            "platform changed: {} → {}",
            show(&previous.platform),
            show(&current.platform)
        ));
    }
    if changes.is_empty() && previous.digest() != current.digest() {
        changes.push("zenbuild's cache version changed".into());
    }
    changes
}

/// The words that differ between two commands, with `…` for what they share around them:
/// `… --rounds 30 … → … --rounds 7 …` rather than two whole command lines.
fn word_diff(before: &str, after: &str) -> String {
    let old: Vec<&str> = before.split_whitespace().collect();
    let new: Vec<&str> = after.split_whitespace().collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    // Keep one shared word before the change, for context (`--rounds 30`).
    let start = prefix.saturating_sub(1);
    let show = |words: &[&str], end: usize| {
        let mut text = String::new();
        if start > 0 {
            text.push_str("… ");
        }
        text.push_str(&words[start..end].join(" "));
        if end < words.len() {
            text.push_str(" …");
        }
        format!("`{}`", text.trim())
    };
    if old.is_empty() || new.is_empty() || prefix == 0 && suffix == 0 {
        return format!("`{before}` → `{after}`");
    }
    format!(
        "{} → {}",
        show(&old, old.len() - suffix),
        show(&new, new.len() - suffix)
    )
}

fn input_changes(previous: &[InputDigest], current: &[InputDigest], changes: &mut Vec<String>) {
    let before: BTreeMap<&str, &InputDigest> =
        previous.iter().map(|i| (i.path.as_str(), i)).collect();
    let after: BTreeMap<&str, &InputDigest> =
        current.iter().map(|i| (i.path.as_str(), i)).collect();
    for (path, now) in &after {
        match before.get(path) {
            None => changes.push(format!("new input {path}")),
            Some(then) if then.digest != now.digest => changes.push(format!(
                "{path} changed ({} → {})",
                then.digest.short(),
                now.digest.short()
            )),
            Some(then) if then.executable != now.executable => {
                let bit = if now.executable { "set" } else { "cleared" };
                changes.push(format!("{path}: executable bit {bit}"));
            }
            Some(_) => {}
        }
    }
    for path in before.keys().filter(|path| !after.contains_key(*path)) {
        changes.push(format!("input {path} is no longer declared"));
    }
}

fn map_changes<V: PartialEq>(
    what: &str,
    previous: &BTreeMap<String, V>,
    current: &BTreeMap<String, V>,
    show: impl Fn(&V) -> String,
    changes: &mut Vec<String>,
) {
    for (key, now) in current {
        match previous.get(key) {
            None => changes.push(format!("new {what} {key} = {}", show(now))),
            Some(then) if then != now => changes.push(format!(
                "{what} {key} changed: {} → {}",
                show(then),
                show(now)
            )),
            Some(_) => {}
        }
    }
    for key in previous.keys().filter(|key| !current.contains_key(*key)) {
        changes.push(format!("{what} {key} is no longer used"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{Digest, Platform};
    use serde_json::json;

    fn key() -> ActionKey {
        ActionKey {
            cmd: "python3 train.py".into(),
            inputs: vec![InputDigest {
                path: "data/raw.csv".into(),
                digest: Digest::of(b"1"),
                executable: false,
            }],
            outputs: vec!["out/model.json".into()],
            params: BTreeMap::from([("train.seed".to_string(), json!(42))]),
            env: BTreeMap::new(),
            workdir: ".".into(),
            platform: Some(Platform::current()),
        }
    }

    #[test]
    fn equal_keys_have_no_changes() {
        assert!(key_changes(&key(), &key()).is_empty());
    }

    #[test]
    fn names_each_change() {
        let mut now = key();
        now.inputs[0].digest = Digest::of(b"2");
        now.params.insert("train.seed".into(), json!(43));
        now.env.insert("OMP_NUM_THREADS".into(), "1".into());
        now.cmd = "python3 train.py --fast".into();
        let changes = key_changes(&key(), &now);
        let old = Digest::of(b"1").short();
        let new = Digest::of(b"2").short();
        assert_eq!(
            changes,
            [
                "the command changed: `… train.py` → `… train.py --fast`".to_string(),
                format!("data/raw.csv changed ({old} → {new})"),
                "param train.seed changed: 42 → 43".to_string(),
                "new env OMP_NUM_THREADS = \"1\"".to_string(),
            ]
        );
    }

    #[test]
    fn command_changes_show_the_words_that_differ() {
        assert_eq!(
            word_diff(
                "python3 fit.py --rounds 30 --seed 3 out/a",
                "python3 fit.py --rounds 7 --seed 3 out/a"
            ),
            "`… --rounds 30 …` → `… --rounds 7 …`"
        );
        assert_eq!(word_diff("make", "make all"), "`make` → `make all`");
        assert_eq!(word_diff("a b", "c d"), "`a b` → `c d`");
    }

    #[test]
    fn added_and_removed_inputs() {
        let mut now = key();
        now.inputs[0].path = "data/other.csv".into();
        let changes = key_changes(&key(), &now);
        assert_eq!(
            changes,
            [
                "new input data/other.csv",
                "input data/raw.csv is no longer declared"
            ]
        );
    }
}
