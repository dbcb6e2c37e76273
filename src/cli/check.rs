//! `zenbuild check`: compile the manifest and say what it holds.

use crate::error::Error;
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

pub fn run(workspace: &Workspace, colors: Colors) -> Result<(), Error> {
    let (manifest, graph) = crate::load_graph(workspace)?;
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let default = graph
        .default_pipeline()
        .map(|p| format!(" (default: {})", p.name))
        .unwrap_or_default();
    let summary = format!(
        "{} {} is valid: project {}\n  {}{default}, {}, {}, {}\n",
        colors.green("ok:"),
        manifest.sources.get(first_file()).name,
        colors.bold(&graph.project),
        count(graph.pipelines.len(), "pipeline"),
        count(graph.steps.len(), "step"),
        count(graph.actions.len(), "action"),
        count(graph.artifacts.len(), "artifact"),
    );
    print(&summary)
}

/// The root manifest is always the first file loaded.
fn first_file() -> crate::manifest::source::FileId {
    crate::manifest::source::FileId::ROOT
}
