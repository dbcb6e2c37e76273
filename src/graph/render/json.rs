//! `graph --format json`: the resolved graph as data; its shape is documented in GRAMMAR.md.

use serde_json::{Map, Value, json};

use super::{Selection, StepGraph};
use crate::graph::{ActionId, ArtifactId};

pub fn to_json(selection: &Selection) -> Value {
    let graph = selection.graph;
    let action_name = |id: &ActionId| Value::from(graph.action(*id).name.clone());
    let paths = |ids: &[ArtifactId]| -> Vec<Value> {
        ids.iter()
            .map(|id| Value::from(graph.artifact(*id).display_path()))
            .collect()
    };
    let pipelines: Vec<Value> = graph
        .pipelines
        .iter()
        .map(|pipeline| {
            json!({
                "name": pipeline.name,
                "description": pipeline.description,
                "steps": pipeline.steps,
                "actions": graph.pipeline_actions(pipeline).iter().map(action_name).collect::<Vec<_>>(),
            })
        })
        .collect();
    let actions: Vec<Value> = selection
        .actions
        .iter()
        .map(|&id| {
            let action = graph.action(id);
            let matrix: Map<String, Value> = action
                .matrix
                .iter()
                .map(|(name, value)| (name.clone(), value.to_json()))
                .collect();
            json!({
                "name": action.name,
                "step": action.step,
                "matrix": matrix,
                "description": action.description,
                "cmd": action.cmd,
                "workdir": action.workdir.to_string(),
                "inputs": paths(&action.inputs),
                "outputs": paths(&action.outputs),
                "metrics": paths(&action.metrics),
                "params": action.params,
                "env": action.env,
                "resources": action.resources,
                "timeout_secs": action.timeout.map(|t| t.as_secs_f64()),
                "retries": action.retries,
                "cache": action.cache,
                "deps": action.deps.iter().map(action_name).collect::<Vec<_>>(),
            })
        })
        .collect();
    let artifacts: Vec<Value> = selection
        .artifacts
        .iter()
        .map(|&id| {
            let artifact = graph.artifact(id);
            let mut value = json!({
                "path": artifact.display_path(),
                "kind": artifact.kind,
                "producer": artifact.producer.as_ref().map(action_name),
                "consumers": artifact.consumers.iter().map(action_name).collect::<Vec<_>>(),
            });
            if let Some(holder) = selection.holder(id) {
                value["within"] = Value::from(graph.artifact(holder).display_path());
            }
            value
        })
        .collect();
    json!({
        "project": graph.project,
        "default_pipeline": graph.default_pipeline().map(|p| p.name.clone()),
        "pipelines": pipelines,
        "actions": actions,
        "artifacts": artifacts,
    })
}

/// `graph --steps --format json`: steps with their actions, and the edges between them.
pub fn steps_to_json(steps: &StepGraph) -> Value {
    let nodes: Vec<Value> = steps
        .steps
        .iter()
        .zip(&steps.actions)
        .map(|(name, actions)| json!({ "name": name, "actions": actions }))
        .collect();
    let edges: Vec<Value> = steps
        .edges
        .iter()
        .map(|&(from, to)| json!({ "from": steps.steps[from], "to": steps.steps[to] }))
        .collect();
    json!({
        "project": steps.project,
        "steps": nodes,
        "edges": edges,
    })
}
