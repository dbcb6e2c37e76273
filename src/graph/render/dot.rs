//! `graph --format dot`: Graphviz, actions as boxes and artifacts as notes.

use std::fmt::Write;

use super::Selection;
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
    for &id in &selection.artifacts {
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
    for &id in &selection.actions {
        let action = graph.action(id);
        let node = quote(&format!("action:{}", action.name));
        for input in &action.inputs {
            let path = quote(&format!("path:{}", graph.artifact(*input).path));
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

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
