//! `zenbuild graph`: the resolved action graph as Graphviz dot, Mermaid or JSON.

use clap::{Args, ValueEnum};

use super::targets::select;
use crate::error::Error;
use crate::graph::render::{
    Selection, StepGraph, steps_to_dot, steps_to_json, steps_to_mermaid, to_dot, to_json,
    to_mermaid,
};
use crate::ui::print;
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,

    /// Draw steps only, with an edge where one step depends on another
    #[arg(long)]
    pub steps: bool,

    /// Pipelines, steps, actions or the paths they write, with their dependencies (default:
    /// everything)
    pub targets: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz: `zenbuild graph | dot -Tsvg > graph.svg`
    Dot,
    /// A Mermaid flowchart, for Markdown
    Mermaid,
    /// The resolved actions and artifacts as JSON
    Json,
}

pub fn run(workspace: &Workspace, args: &GraphArgs) -> Result<(), Error> {
    let (_, graph) = crate::load_graph(workspace)?;
    let actions = select(&graph, &args.targets)?;
    let selection = Selection::new(&graph, actions);
    if args.steps {
        let steps = StepGraph::new(&selection);
        return match args.format {
            GraphFormat::Dot => print(&steps_to_dot(&steps)),
            GraphFormat::Mermaid => print(&steps_to_mermaid(&steps)),
            GraphFormat::Json => print_pretty(&steps_to_json(&steps)),
        };
    }
    match args.format {
        GraphFormat::Dot => print(&to_dot(&selection)),
        GraphFormat::Mermaid => print(&to_mermaid(&selection)),
        GraphFormat::Json => print_pretty(&to_json(&selection)),
    }
}

fn print_pretty(value: &serde_json::Value) -> Result<(), Error> {
    let json =
        serde_json::to_string_pretty(value).map_err(|e| Error::encode("the graph as JSON", e))?;
    print(&format!("{json}\n"))
}
