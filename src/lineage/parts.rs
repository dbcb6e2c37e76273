//! What both stores do alike with what their queries return: an action's parts (inputs,
//! outputs, params, metrics) put into its summary.

use std::collections::HashMap;

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
