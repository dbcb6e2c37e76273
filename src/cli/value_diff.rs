//! What differs between the params or metrics of two snapshots, value by value.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// How one value differs between side A and side B.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change {
    Same,
    /// Both numbers: B minus A.
    Delta(f64),
    Changed,
    /// Only B has it.
    Added,
    /// Only A has it.
    Removed,
}

impl Change {
    pub fn of(was: Option<&Value>, is: Option<&Value>) -> Change {
        match (was, is) {
            (None, None) => Change::Same,
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(was), Some(is)) if was == is => Change::Same,
            (Some(was), Some(is)) => match (was.as_f64(), is.as_f64()) {
                (Some(was), Some(is)) => Change::Delta(is - was),
                _ => Change::Changed,
            },
        }
    }

    /// The word JSON output gives it.
    pub fn kind(self) -> &'static str {
        match self {
            Change::Same => "same",
            Change::Delta(_) | Change::Changed => "changed",
            Change::Added => "added",
            Change::Removed => "removed",
        }
    }

    /// The table's `change` cell: a signed delta for numbers, else the kind.
    pub fn cell(self) -> String {
        match self {
            Change::Same => String::new(),
            Change::Delta(0.0) => "0".into(),
            Change::Delta(delta) => format!("{delta:+.6}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
            other => other.kind().into(),
        }
    }

    pub fn delta(self) -> Option<f64> {
        match self {
            Change::Delta(delta) => Some(delta),
            _ => None,
        }
    }
}

/// One row of a diff.
pub struct Row {
    pub action: String,
    pub name: String,
    pub was: Option<Value>,
    pub is: Option<Value>,
    pub change: Change,
}

/// The values of each action on one side.
pub type Side = BTreeMap<String, BTreeMap<String, Value>>;

/// The rows of a diff, and the actions only one side has when those are not compared.
pub struct Diff {
    pub rows: Vec<Row>,
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
}

/// Compares `a` with `b`, keeping unchanged values only when `all`. With `shared_only`, an
/// action that only one side has is listed apart rather than compared: params that a side
/// never resolved have not changed.
pub fn diff(a: &Side, b: &Side, all: bool, shared_only: bool) -> Diff {
    let mut result = Diff {
        rows: Vec::new(),
        only_in_a: Vec::new(),
        only_in_b: Vec::new(),
    };
    let empty = BTreeMap::new();
    let actions: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for action in actions {
        let (old, new) = match (a.get(action), b.get(action)) {
            (Some(_), None) if shared_only => {
                result.only_in_a.push(action.clone());
                continue;
            }
            (None, Some(_)) if shared_only => {
                result.only_in_b.push(action.clone());
                continue;
            }
            (old, new) => (old.unwrap_or(&empty), new.unwrap_or(&empty)),
        };
        let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for name in names {
            let (was, is) = (old.get(name), new.get(name));
            let change = Change::of(was, is);
            if change == Change::Same && !all {
                continue;
            }
            result.rows.push(Row {
                action: action.clone(),
                name: name.clone(),
                was: was.cloned(),
                is: is.cloned(),
                change,
            });
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn side(entries: &[(&str, &str, Value)]) -> Side {
        let mut side = Side::new();
        for (action, name, value) in entries {
            side.entry(action.to_string())
                .or_default()
                .insert(name.to_string(), value.clone());
        }
        side
    }

    #[test]
    fn new_and_gone_values_are_added_and_removed() {
        let a = side(&[("t", "acc", json!(0.5)), ("t", "loss", json!(1))]);
        let b = side(&[("t", "acc", json!(0.5)), ("t", "f1", json!(0.7))]);
        let diff = diff(&a, &b, false, false);
        let kinds: Vec<(&str, &str)> = diff
            .rows
            .iter()
            .map(|row| (row.name.as_str(), row.change.kind()))
            .collect();
        assert_eq!(kinds, [("f1", "added"), ("loss", "removed")]);
    }

    #[test]
    fn all_keeps_unchanged_values() {
        let a = side(&[("t", "acc", json!(0.5))]);
        let diff = diff(&a, &a, true, false);
        assert_eq!(diff.rows.len(), 1);
        assert_eq!(diff.rows[0].change, Change::Same);
    }

    #[test]
    fn shared_only_lists_one_sided_actions_apart() {
        let a = side(&[("t", "lr", json!(0.1)), ("old", "lr", json!(1))]);
        let b = side(&[("t", "lr", json!("x")), ("new", "lr", json!(1))]);
        let diff = diff(&a, &b, false, true);
        assert_eq!(diff.rows.len(), 1);
        assert_eq!(diff.rows[0].change, Change::Changed);
        assert_eq!(diff.only_in_a, ["old"]);
        assert_eq!(diff.only_in_b, ["new"]);
    }

    #[test]
    fn deltas_read_as_signed_numbers() {
        assert_eq!(
            Change::of(Some(&json!(0.5)), Some(&json!(0.7))).cell(),
            "+0.2"
        );
        assert_eq!(Change::of(Some(&json!(2)), Some(&json!(1))).cell(), "-1");
    }
}
