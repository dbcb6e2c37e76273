//! A build's changes written into the lockfile's text in place: the entries that changed are
//! built and serialised, every other entry is copied as it lies, and nothing is parsed but the
//! entries that may have changed. The bytes are those `Lockfile::to_text` writes for the
//! updated lockfile, which the property test in `splice_tests.rs` holds it to against
//! `update::whole`.
//!
//! An entry is unchanged when its key digest is, and so are the few fields the key is not
//! made of (step, outputs, metrics, paths inside output directories). The others (command,
//! inputs, params, env, workdir, platform) are what the key digest is the digest of, and
//! comparing them would cost what serialising them does; `zenbuild status` takes an equal key
//! digest for equal fields too. So a hand edit of one of them that leaves the key as it was
//! stays until the key changes, where the whole rewrite would put the field back.

use std::collections::BTreeMap;

use super::Locked;
use super::built::Built;
use super::layout::{Entry, Layout, header, unescape};
use super::update::Updated;
use crate::hash::Digest;

/// What the graph says of an action the lockfile names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Found {
    /// It has no such action any more: the entry goes.
    Gone,
    /// It has it, and this build did not build it: the entry stays.
    Kept,
    /// This build built it: `built[i]`.
    Built(usize),
}

/// `layout`'s lockfile updated with `built`, `find` saying what becomes of each entry; `None`
/// should serde read an entry otherwise than the layout did, and the caller then takes the
/// whole-file path. The entries are walked in the order of the text, each looked up once,
/// rather than each built action searched for among them.
pub fn splice(layout: &Layout, built: &[Built], find: &dyn Fn(&str) -> Found) -> Option<Updated> {
    let mut fresh: BTreeMap<&str, String> = BTreeMap::new();
    let mut disagreements = Vec::new();
    let mut recorded_for = vec![None; built.len()];
    let mut kept = Vec::with_capacity(layout.entries.len());
    for recorded in &layout.entries {
        let found = find(&unescape(recorded.name));
        kept.push(found != Found::Gone);
        if let Found::Built(at) = found
            && let Some(slot) = recorded_for.get_mut(at)
        {
            *slot = Some(recorded);
        }
    }
    for (action, recorded) in built.iter().zip(recorded_for) {
        if recorded.is_some_and(|recorded| unchanged(layout, recorded, action)) {
            continue;
        }
        let old: Option<Locked> = match recorded {
            Some(recorded) => Some(serde_json::from_str(recorded.value).ok()?),
            None => None,
        };
        let entry = action.entry(old.as_ref());
        disagreements.extend(action.disagreement(old.as_ref(), &entry));
        let text = entry_text(action.name, &entry)?;
        if recorded.is_none_or(|recorded| recorded.text != text) {
            fresh.insert(action.name, text);
        }
    }
    let dropped = kept.contains(&false);
    let text = (dropped || !fresh.is_empty()).then(|| merged(layout, &kept, &fresh));
    Some(Updated {
        text,
        disagreements,
    })
}

/// Whether `recorded` is the entry `action` gets now; false whenever in doubt, which costs
/// only the exact way (parse, build, serialise, compare) for that entry.
fn unchanged(layout: &Layout, recorded: &Entry, action: &Built) -> bool {
    same_digest(recorded.key, &action.digest, false)
        && unescape(recorded.step) == action.step
        // What it holds inside its directories depends on what readers read: not worth
        // deciding here, for the few actions that have any.
        && action.held.is_empty()
        && layout.inside(recorded).is_empty()
        && layout.metrics(recorded).len() == action.metrics.len()
        && layout
            .metrics(recorded)
            .iter()
            .zip(&action.metrics)
            .all(|(written, metric)| unescape(written) == metric.as_str())
        && same_outputs(layout.outputs(recorded), action.outputs)
}

/// Whether the outputs written (sorted by path) are `outputs` (in the order the action
/// declares them).
fn same_outputs(written: &[(&str, &str)], outputs: &[(String, Digest, bool)]) -> bool {
    if written.len() != outputs.len() {
        return false;
    }
    let same = |outputs: &mut dyn Iterator<Item = &(String, Digest, bool)>| {
        written.iter().zip(outputs).all(|((path, digest), output)| {
            unescape(path) == output.0.as_str() && same_digest(digest, &output.1, output.2)
        })
    };
    if outputs.is_sorted_by(|a, b| a.0 < b.0) {
        same(&mut outputs.iter())
    } else {
        let mut sorted: Vec<_> = outputs.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        same(&mut sorted.into_iter())
    }
}

/// Whether `written` is `digest` as `encode` writes it, without allocating it.
fn same_digest(written: &str, digest: &Digest, executable: bool) -> bool {
    let hex = if executable {
        match written.strip_suffix("+x") {
            Some(hex) => hex,
            None => return false,
        }
    } else {
        written
    };
    hex.as_bytes() == digest.hex()
}

/// The entry as `to_text` writes it in the file, indentation and name included: `serde_json`'s
/// pretty printer indents a value nested two levels deep by four more spaces on every line,
/// and a JSON string holds no line break.
fn entry_text(name: &str, entry: &Locked) -> Option<String> {
    let name = serde_json::to_string(name).ok()?;
    let body = serde_json::to_string_pretty(entry).ok()?;
    Some(format!("    {name}: {}", body.replace('\n', "\n    ")))
}

/// The text with the `fresh` entries in place of those of the same names, or between them in
/// order, and without the entries not `kept`.
fn merged(layout: &Layout, kept: &[bool], fresh: &BTreeMap<&str, String>) -> String {
    let size = layout.text.len() + fresh.values().map(String::len).sum::<usize>();
    let mut text = String::with_capacity(size);
    text.push_str(&header());
    let mut entries = 0;
    let mut push = |entry: &str| {
        text.push_str(if entries == 0 { "\n" } else { ",\n" });
        text.push_str(entry);
        entries += 1;
    };
    let mut fresh = fresh.iter().peekable();
    for (recorded, &kept) in layout.entries.iter().zip(kept) {
        let name = unescape(recorded.name);
        while let Some((_, entry)) = fresh.next_if(|(new, _)| **new < name.as_ref()) {
            push(entry);
        }
        if let Some((_, entry)) = fresh.next_if(|(new, _)| **new == name.as_ref()) {
            push(entry);
        } else if kept {
            push(recorded.text);
        }
    }
    for (_, entry) in fresh {
        push(entry);
    }
    text.push_str(if entries == 0 { "}" } else { "\n  }" });
    text.push_str("\n}\n");
    text
}

#[cfg(test)]
#[path = "splice_tests.rs"]
mod tests;
