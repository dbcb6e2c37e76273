//! The step graph of `graph --steps`: one node per step, an edge where an action of one step
//! depends on an action of another, as `dvc dag` draws pipelines.

use std::collections::BTreeSet;

use super::Selection;

pub struct StepGraph {
    pub project: String,
    /// Step names, in the order of their first selected action (dependencies first).
    pub steps: Vec<String>,
    /// The selected actions of each step, by index into `steps`.
    pub actions: Vec<Vec<String>>,
    /// (from, to) indices into `steps`: `to` depends on `from`.
    pub edges: BTreeSet<(usize, usize)>,
}

impl StepGraph {
    pub fn new(selection: &Selection) -> StepGraph {
        let graph = selection.graph;
        let mut steps: Vec<String> = Vec::new();
        let mut actions: Vec<Vec<String>> = Vec::new();
        let index_of = |steps: &mut Vec<String>, actions: &mut Vec<Vec<String>>, step: &str| {
            steps.iter().position(|s| s == step).unwrap_or_else(|| {
                steps.push(step.to_string());
                actions.push(Vec::new());
                steps.len() - 1
            })
        };
        for &id in &selection.actions {
            let action = graph.action(id);
            let index = index_of(&mut steps, &mut actions, &action.step);
            actions[index].push(action.name.clone());
        }
        let mut edges = BTreeSet::new();
        for &id in &selection.actions {
            let action = graph.action(id);
            let to = index_of(&mut steps, &mut actions, &action.step);
            for dep in &action.deps {
                let from = index_of(&mut steps, &mut actions, &graph.action(*dep).step);
                // Instances of one matrix step never read each other, but keep the picture
                // free of loops whatever the manifest says.
                if from != to {
                    edges.insert((from, to));
                }
            }
        }
        StepGraph {
            project: graph.project.clone(),
            steps,
            actions,
            edges,
        }
    }
}
