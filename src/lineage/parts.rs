//! What both stores do alike with what their queries return: an action's parts (inputs,
//! outputs, params, metrics) put into its summary, and the latest reader of each name picked
//! from an artifact's recent readers.

use std::collections::{BTreeMap, HashMap};

use super::{ActionSummary, ArtifactRecord, Metric};

/// An action's inputs, outputs, params and metrics, as a store reads them apart from the
/// action's row.
#[derive(Clone, Debug, Default)]
pub struct Parts {
    pub inputs: Vec<ArtifactRecord>,
    pub outputs: Vec<ArtifactRecord>,
    pub params: Vec<(String, serde_json::Value)>,
    pub metrics: Vec<Metric>,
}

/// Summaries (each with its content's id) with their parts, from `parts` by content id.
pub fn attach(found: Vec<(ActionSummary, i64)>, parts: &HashMap<i64, Parts>) -> Vec<ActionSummary> {
    found
        .into_iter()
        .map(|(mut summary, action)| {
            fill(
                &mut summary,
                parts.get(&action).cloned().unwrap_or_default(),
            );
            summary
        })
        .collect()
}

/// Puts `parts` into `summary`.
pub fn fill(summary: &mut ActionSummary, parts: Parts) {
    let action = &mut summary.action;
    action.inputs = parts.inputs;
    action.outputs = parts.outputs;
    action.params = parts.params;
    action.metrics = parts.metrics;
}

/// Of the `(ran, row id)` runs of readers (with each reader's name), the latest `keep` looked
/// at, those that ran first: the row id of the latest of each name.
pub fn latest_per_name(mut recent: Vec<((bool, i64), String)>, keep: usize) -> Vec<i64> {
    recent.sort_unstable_by(|(a, _), (b, _)| b.cmp(a));
    recent.truncate(keep);
    let mut latest: BTreeMap<String, i64> = BTreeMap::new();
    for ((_, id), name) in recent {
        let known = latest.entry(name).or_insert(id);
        *known = (*known).max(id);
    }
    latest.into_values().collect()
}
