//! `zenbuild plan`: what a build would run and why, without running anything.

use std::collections::{HashMap, HashSet};

use clap::{Args, ValueEnum};
use serde_json::json;

use super::forced::ForceArgs;
use super::session::Session;
use super::targets::select_or_default;
use crate::Graph;
use crate::error::Error;
use crate::exec::build::Preview;
use crate::graph::ActionId;
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Pipelines, steps or actions (default: the default pipeline)
    pub targets: Vec<String>,

    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,

    /// What a build with these flags would run
    #[command(flatten)]
    pub force: ForceArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

pub fn run(workspace: &Workspace, args: &PlanArgs, colors: Colors) -> Result<(), Error> {
    let (_, graph) = crate::load_graph(workspace)?;
    let targets = select_or_default(&graph, &args.targets)?;
    let forced = args.force.resolve(&graph, &targets)?;
    let session = Session::open(workspace)?;
    let decided = preview_forced(&session, &graph, &targets, forced);
    let text = match args.format {
        PlanFormat::Json => {
            let actions: Vec<_> = targets
                .iter()
                .map(|id| preview_json(&graph, *id, &decided[id]))
                .collect();
            let json = serde_json::to_string_pretty(&json!({ "actions": actions }))
                .map_err(|e| Error::Refused(format!("cannot encode the plan: {e}")))?;
            format!("{json}\n")
        }
        PlanFormat::Text => targets
            .iter()
            .map(|id| format!("{}\n", describe(&graph, *id, &decided[id], colors)))
            .collect(),
    };
    session.save();
    print(&text)
}

/// Previews `targets` in dependency order, each seeing its dependencies' previews.
pub fn preview_all(
    session: &Session,
    graph: &Graph,
    targets: &[ActionId],
) -> HashMap<ActionId, Preview> {
    preview_forced(session, graph, targets, HashSet::new())
}

/// As [`preview_all`], with `forced` previewed as a build with `--force` would run them.
pub fn preview_forced(
    session: &Session,
    graph: &Graph,
    targets: &[ActionId],
    forced: HashSet<ActionId>,
) -> HashMap<ActionId, Preview> {
    let mut builder = session.builder(graph);
    builder.force(forced);
    let mut decided = HashMap::new();
    for &id in targets {
        let preview = builder.preview(id, &decided);
        decided.insert(id, preview);
    }
    decided
}

pub fn status(preview: &Preview) -> &'static str {
    match preview {
        Preview::Cached { restore: false, .. } => "cached",
        Preview::Cached { restore: true, .. } => "restore",
        Preview::Runs { .. } => "run",
        Preview::AfterRun { .. } => "after",
        Preview::Fails { .. } => "error",
    }
}

/// One line: `train: runs because data/raw.csv changed (3f2a9c1e → 9c1e3f2a)`.
pub fn describe(graph: &Graph, id: ActionId, preview: &Preview, colors: Colors) -> String {
    let name = colors.bold(&graph.action(id).name);
    match preview {
        Preview::Cached { restore: false, .. } => format!("{name}: {}", colors.green("cached")),
        Preview::Cached { restore: true, .. } => {
            format!(
                "{name}: {} (its outputs are restored from the cache)",
                colors.green("cached")
            )
        }
        Preview::Runs { reasons, .. } => format!("{name}: runs because {}", reasons.join("; ")),
        Preview::AfterRun { dependency } => format!(
            "{name}: decided after `{}` runs (it runs if that changes its inputs)",
            graph.action(*dependency).name
        ),
        Preview::Fails { message } => format!("{name}: {} {message}", colors.red("cannot build:")),
    }
}

fn preview_json(graph: &Graph, id: ActionId, preview: &Preview) -> serde_json::Value {
    let (key, reasons) = match preview {
        Preview::Cached { key, .. } => (Some(key.to_hex()), vec![]),
        Preview::Runs { key, reasons } => (Some(key.to_hex()), reasons.clone()),
        Preview::AfterRun { dependency } => (
            None,
            vec![format!("after {}", graph.action(*dependency).name)],
        ),
        Preview::Fails { message } => (None, vec![message.clone()]),
    };
    json!({
        "name": graph.action(id).name,
        "step": graph.action(id).step,
        "status": status(preview),
        "key": key,
        "reasons": reasons,
    })
}
