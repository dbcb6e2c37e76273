//! Pictures and data of the action graph: `zenbuild graph --format dot|mermaid|json`, of
//! actions and artifacts, or with `--steps` of steps alone.

mod dot;
mod json;
mod mermaid;
mod steps;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{ActionId, ArtifactId, Graph};

pub use dot::{steps_to_dot, to_dot};
pub use json::{steps_to_json, to_json};
pub use mermaid::{steps_to_mermaid, to_mermaid};
pub use steps::StepGraph;

/// An action reading more source files than this has them drawn as one "N sources" node:
/// a step that reads a hundred files would otherwise bury the picture.
pub const MAX_DRAWN_SOURCES: usize = 5;

/// The part of the graph to show: some actions and every artifact they touch.
pub struct Selection<'g> {
    pub graph: &'g Graph,
    pub actions: Vec<ActionId>,
    pub artifacts: Vec<ArtifactId>,
    /// The source inputs of each action that reads more than [`MAX_DRAWN_SOURCES`], which
    /// pictures draw as one node.
    pub grouped_sources: BTreeMap<ActionId, Vec<ArtifactId>>,
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
        let grouped_sources = actions
            .iter()
            .filter_map(|&id| {
                let sources: Vec<ArtifactId> = graph
                    .action(id)
                    .inputs
                    .iter()
                    .copied()
                    .filter(|&input| graph.artifact(input).producer.is_none())
                    .collect();
                (sources.len() > MAX_DRAWN_SOURCES).then_some((id, sources))
            })
            .collect();
        Selection {
            graph,
            actions,
            artifacts,
            grouped_sources,
        }
    }

    /// The artifacts a picture draws as nodes of their own: all but the sources that only
    /// actions with grouped sources read.
    pub fn drawn_artifacts(&self) -> Vec<ArtifactId> {
        let selected: HashSet<ActionId> = self.actions.iter().copied().collect();
        self.artifacts
            .iter()
            .copied()
            .filter(|&id| {
                let artifact = self.graph.artifact(id);
                artifact.producer.is_some()
                    || artifact
                        .consumers
                        .iter()
                        .any(|reader| selected.contains(reader) && !self.is_grouped(*reader, id))
            })
            .collect()
    }

    /// The inputs of `id` a picture draws an edge from, one by one.
    pub fn drawn_inputs(&self, id: ActionId) -> Vec<ArtifactId> {
        let action = self.graph.action(id);
        action
            .inputs
            .iter()
            .copied()
            .filter(|&input| !self.is_grouped(id, input))
            .collect()
    }

    fn is_grouped(&self, id: ActionId, input: ArtifactId) -> bool {
        self.grouped_sources
            .get(&id)
            .is_some_and(|sources| sources.contains(&input))
    }

    /// The output directory that holds `id`, a path inside another action's output
    /// directory, when the selection shows that directory.
    pub fn holder(&self, id: ArtifactId) -> Option<ArtifactId> {
        let artifact = self.graph.artifact(id);
        let producer = self.graph.action(artifact.producer?);
        if producer.outputs.contains(&id) {
            return None;
        }
        producer
            .outputs
            .iter()
            .copied()
            .filter(|output| self.artifacts.contains(output))
            .find(|&output| {
                let directory = self.graph.artifact(output);
                directory.path != artifact.path && artifact.path.is_within(&directory.path)
            })
    }

    /// Dependencies of `id` that no artifact edge shows (a `needs` on a step without outputs,
    /// or an input directory holding another step's outputs). An input inside another
    /// step's output directory is drawn linked to that directory instead.
    pub fn order_only_deps(&self, id: ActionId) -> Vec<ActionId> {
        let action = self.graph.action(id);
        action
            .deps
            .iter()
            .copied()
            .filter(|dep| {
                let outputs = &self.graph.action(*dep).outputs;
                !action.inputs.iter().any(|input| {
                    outputs.contains(input)
                        || self
                            .holder(*input)
                            .is_some_and(|holder| outputs.contains(&holder))
                })
            })
            .collect()
    }
}
