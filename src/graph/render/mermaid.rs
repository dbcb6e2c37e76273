//! `graph --format mermaid`: a flowchart for Markdown files, GitHub and GitLab render it.

use std::fmt::Write;

use super::{Selection, StepGraph};
use crate::graph::ArtifactKind;

pub fn to_mermaid(selection: &Selection) -> String {
    let graph = selection.graph;
    let mut out = String::from("flowchart LR\n");
    // Mermaid ids must be plain words, so nodes are numbered and labelled with their names.
    for &id in &selection.actions {
        let _ = writeln!(out, "    a{}[\"{}\"]", id.0, escape(&graph.action(id).name));
    }
    for &id in &selection.drawn_artifacts() {
        let artifact = graph.artifact(id);
        let label = escape(&artifact.display_path());
        let _ = match artifact.kind {
            ArtifactKind::File => writeln!(out, "    f{}[/\"{label}\"/]", id.0),
            ArtifactKind::Dir => writeln!(out, "    f{}[(\"{label}\")]", id.0),
        };
    }
    for (id, sources) in &selection.grouped_sources {
        let _ = writeln!(out, "    s{}[/\"{} sources\"/]", id.0, sources.len());
    }
    for &id in &selection.drawn_artifacts() {
        if let Some(holder) = selection.holder(id) {
            let _ = writeln!(out, "    f{} -. holds .-> f{}", holder.0, id.0);
        }
    }
    for &id in &selection.actions {
        let action = graph.action(id);
        if selection.grouped_sources.contains_key(&id) {
            let _ = writeln!(out, "    s{} --> a{}", id.0, id.0);
        }
        for input in selection.drawn_inputs(id) {
            let _ = writeln!(out, "    f{} --> a{}", input.0, id.0);
        }
        for output in &action.outputs {
            let _ = writeln!(out, "    a{} --> f{}", id.0, output.0);
        }
        for dep in selection.order_only_deps(id) {
            let _ = writeln!(out, "    a{} -.-> a{}", dep.0, id.0);
        }
    }
    out.push_str("    classDef action fill:#dbeafe,stroke:#1d4ed8\n");
    let actions: Vec<String> = selection
        .actions
        .iter()
        .map(|id| format!("a{}", id.0))
        .collect();
    if !actions.is_empty() {
        let _ = writeln!(out, "    class {} action", actions.join(","));
    }
    out
}

/// `graph --steps --format mermaid`: a flowchart of steps.
pub fn steps_to_mermaid(steps: &StepGraph) -> String {
    let mut out = String::from("flowchart LR\n");
    for (index, (name, actions)) in steps.steps.iter().zip(&steps.actions).enumerate() {
        let label = match actions.len() {
            0 | 1 => name.clone(),
            n => format!("{name} ({n} actions)"),
        };
        let _ = writeln!(out, "    s{index}[\"{}\"]", escape(&label));
    }
    for &(from, to) in &steps.edges {
        let _ = writeln!(out, "    s{from} --> s{to}");
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('"', "#quot;")
}
