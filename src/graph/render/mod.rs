//! Pictures and data of the action graph: `zenbuild graph --format dot|mermaid|json`.

mod dot;
mod json;
mod mermaid;

use std::collections::BTreeSet;

use super::{ActionId, ArtifactId, Graph};

pub use dot::to_dot;
pub use json::to_json;
pub use mermaid::to_mermaid;

/// The part of the graph to show: some actions and every artifact they touch.
pub struct Selection<'g> {
    pub graph: &'g Graph,
    pub actions: Vec<ActionId>,
    pub artifacts: Vec<ArtifactId>,
}

impl<'g> Selection<'g> {
    pub fn new(graph: &'g Graph, actions: Vec<ActionId>) -> Selection<'g> {
        let artifacts: BTreeSet<ArtifactId> = actions
            .iter()
            .flat_map(|&id| {
                let action = graph.action(id);
                action.inputs.iter().chain(&action.outputs).copied()
            })
            .collect();
        let mut artifacts: Vec<ArtifactId> = artifacts.into_iter().collect();
        artifacts.sort_by(|a, b| graph.artifact(*a).path.cmp(&graph.artifact(*b).path));
        Selection {
            graph,
            actions,
            artifacts,
        }
    }

    /// Dependencies of `id` that no artifact edge shows (a `needs` on a step without outputs,
    /// an input file inside another step's output directory, or an input directory holding
    /// another step's outputs).
    pub fn order_only_deps(&self, id: ActionId) -> Vec<ActionId> {
        let action = self.graph.action(id);
        // Only the dependency's declared outputs are drawn with an edge from it; an input
        // that merely lies inside its output directory has it as producer but no edge.
        action
            .deps
            .iter()
            .copied()
            .filter(|dep| {
                let outputs = &self.graph.action(*dep).outputs;
                !action.inputs.iter().any(|input| outputs.contains(input))
            })
            .collect()
    }
}
