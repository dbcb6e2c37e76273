//! `zenbuild list`: pipelines and the step instances each one runs.

use crate::error::Error;
use crate::ui::Colors;
use crate::workspace::Workspace;

pub fn run(workspace: &Workspace, colors: Colors) -> Result<(), Error> {
    let (_, graph) = crate::load_graph(workspace)?;
    let default = graph.default_pipeline().map(|p| p.name.clone());
    for pipeline in &graph.pipelines {
        let marker = if default.as_deref() == Some(pipeline.name.as_str()) {
            " (default)"
        } else {
            ""
        };
        print!(
            "{} {}{marker}",
            colors.dim("pipeline"),
            colors.bold(&pipeline.name)
        );
        match &pipeline.description {
            Some(description) => println!(" — {description}"),
            None => println!(),
        }
        for id in graph.pipeline_actions(pipeline) {
            print_action(&graph, id);
        }
    }
    let outside: Vec<_> = graph
        .steps
        .iter()
        .filter(|step| !graph.pipelines.iter().any(|p| p.steps.contains(&step.name)))
        .collect();
    if !outside.is_empty() {
        println!("{}", colors.dim("steps in no pipeline"));
        for step in outside {
            for &id in &step.actions {
                print_action(&graph, id);
            }
        }
    }
    Ok(())
}

fn print_action(graph: &crate::Graph, id: crate::graph::ActionId) {
    let action = graph.action(id);
    match &action.description {
        Some(description) => println!("  {}  {description}", action.name),
        None => println!("  {}", action.name),
    }
}
