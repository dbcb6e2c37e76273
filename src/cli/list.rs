//! `zenbuild list`: pipelines and the step instances each one runs.

use std::fmt::Write;

use crate::Graph;
use crate::error::Error;
use crate::graph::ActionId;
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

pub fn run(workspace: &Workspace, colors: Colors) -> Result<(), Error> {
    let (_, graph) = crate::load_graph(workspace)?;
    let mut out = String::new();
    let default = graph.default_pipeline().map(|p| p.name.clone());
    for pipeline in &graph.pipelines {
        let marker = if default.as_deref() == Some(pipeline.name.as_str()) {
            " (default)"
        } else {
            ""
        };
        let _ = write!(
            out,
            "{} {}{marker}",
            colors.dim("pipeline"),
            colors.bold(&pipeline.name)
        );
        match &pipeline.description {
            Some(description) => {
                let _ = writeln!(out, " — {description}");
            }
            None => out.push('\n'),
        }
        for id in graph.pipeline_actions(pipeline) {
            write_action(&mut out, &graph, id);
        }
    }
    let outside: Vec<_> = graph
        .steps
        .iter()
        .filter(|step| !graph.pipelines.iter().any(|p| p.steps.contains(&step.name)))
        .collect();
    if !outside.is_empty() {
        let _ = writeln!(out, "{}", colors.dim("steps in no pipeline"));
        for step in outside {
            for &id in &step.actions {
                write_action(&mut out, &graph, id);
            }
        }
    }
    print(&out)
}

fn write_action(out: &mut String, graph: &Graph, id: ActionId) {
    let action = graph.action(id);
    let _ = match &action.description {
        Some(description) => writeln!(out, "  {}  {description}", action.name),
        None => writeln!(out, "  {}", action.name),
    };
}
