//! `graph --format dot`: Graphviz, actions as boxes and artifacts as notes.

use std::fmt::Write;

use super::{Selection, StepGraph};
use crate::graph::ArtifactKind;

pub fn to_dot(selection: &Selection) -> String {
    let graph = selection.graph;
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quote(&graph.project));
    out.push_str("  rankdir=LR;\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [color=\"#555555\"];\n");
    for &id in &selection.actions {
        let action = graph.action(id);
        let _ = writeln!(
            out,
            "  {} [label={}, shape=box, style=\"rounded,filled\", fillcolor=\"#dbeafe\"];",
            quote(&format!("action:{}", action.name)),
            quote(&action.name)
        );
    }
    for &id in &selection.drawn_artifacts() {
        let artifact = graph.artifact(id);
        let shape = match artifact.kind {
            ArtifactKind::File => "note",
            ArtifactKind::Dir => "folder",
        };
        let _ = writeln!(
            out,
            "  {} [label={}, shape={shape}];",
            quote(&format!("path:{}", artifact.path)),
            quote(&artifact.display_path())
        );
    }
    for (&id, sources) in &selection.grouped_sources {
        let _ = writeln!(
            out,
            "  {} [label=\"{} sources\", shape=note, style=dashed];",
            quote(&format!("sources:{}", graph.action(id).name)),
            sources.len()
        );
    }
    for &id in &selection.drawn_artifacts() {
        if let Some(holder) = selection.holder(id) {
            let _ = writeln!(
                out,
                "  {} -> {} [style=dotted, label=\"holds\"];",
                quote(&format!("path:{}", graph.artifact(holder).path)),
                quote(&format!("path:{}", graph.artifact(id).path))
            );
        }
    }
    for &id in &selection.actions {
        let action = graph.action(id);
        let node = quote(&format!("action:{}", action.name));
        if selection.grouped_sources.contains_key(&id) {
            let group = quote(&format!("sources:{}", action.name));
            let _ = writeln!(out, "  {group} -> {node};");
        }
        for input in selection.drawn_inputs(id) {
            let path = quote(&format!("path:{}", graph.artifact(input).path));
            let _ = writeln!(out, "  {path} -> {node};");
        }
        for output in &action.outputs {
            let path = quote(&format!("path:{}", graph.artifact(*output).path));
            let _ = writeln!(out, "  {node} -> {path};");
        }
        for dep in selection.order_only_deps(id) {
            let dep = quote(&format!("action:{}", graph.action(dep).name));
            let _ = writeln!(out, "  {dep} -> {node} [style=dashed];");
        }
    }
    out.push_str("}\n");
    out
}

/// `graph --steps --format dot`: steps as boxes, an edge where one depends on another.
pub fn steps_to_dot(steps: &StepGraph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quote(&steps.project));
    out.push_str("  rankdir=LR;\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [color=\"#555555\"];\n");
    for (name, actions) in steps.steps.iter().zip(&steps.actions) {
        let label = match actions.len() {
            0 | 1 => name.clone(),
            n => format!("{name} ({n} actions)"),
        };
        let _ = writeln!(
            out,
            "  {} [label={}, shape=box, style=\"rounded,filled\", fillcolor=\"#dbeafe\"];",
            quote(&format!("step:{name}")),
            quote(&label)
        );
    }
    for &(from, to) in &steps.edges {
        let _ = writeln!(
            out,
            "  {} -> {};",
            quote(&format!("step:{}", steps.steps[from])),
            quote(&format!("step:{}", steps.steps[to]))
        );
    }
    out.push_str("}\n");
    out
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
