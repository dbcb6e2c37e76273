//! `zenbuild graph`: the resolved action graph as Graphviz dot, Mermaid or JSON.

use clap::{Args, ValueEnum};

use super::targets::select;
use crate::error::Error;
use crate::graph::render::{Selection, to_dot, to_json, to_mermaid};
use crate::ui::print;
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,

    /// Pipelines, steps or actions to show, with their dependencies (default: everything)
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
    match args.format {
        GraphFormat::Dot => print(&to_dot(&selection)),
        GraphFormat::Mermaid => print(&to_mermaid(&selection)),
        GraphFormat::Json => {
            let json = serde_json::to_string_pretty(&to_json(&selection))
                .map_err(|e| Error::Refused(format!("cannot encode the graph as JSON: {e}")))?;
            print(&format!("{json}\n"))
        }
    }
}
