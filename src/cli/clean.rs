//! `zenbuild clean`: remove the outputs steps wrote into the workspace (the cache keeps them,
//! so the next build restores instead of rerunning), and with `--cache` the local cache too
//! (the remotes keep theirs, so a step they hold is downloaded rather than rerun).

use clap::Args;
use std::fmt::Write as _;

use super::targets::select;
use crate::error::Error;
use crate::exec::lock::WorkspaceLock;
use crate::store::clear_outputs;
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Pipelines, steps or actions whose outputs to remove, with their dependencies (default:
    /// every step's)
    pub targets: Vec<String>,

    /// Also delete the local cache (.zenbuild/cache): the next build reruns every step whose
    /// result no remote cache holds, and downloads the rest
    #[arg(long)]
    pub cache: bool,
}

pub fn run(workspace: &Workspace, args: &CleanArgs, colors: Colors) -> Result<(), Error> {
    let (_, graph) = crate::load_graph(workspace)?;
    let actions = select(&graph, &args.targets)?;
    // A build running meanwhile would find its outputs or its cache gone under it.
    let _lock = WorkspaceLock::acquire(&workspace.state_dir(), |holder| {
        eprintln!("note: waiting for {holder} to finish in this workspace");
    })
    .map_err(|e| Error::io("cannot lock the workspace", e))?;
    let mut removed = 0;
    for id in &actions {
        let mut declared = graph.output_paths(graph.action(*id));
        declared.retain(|(path, _)| workspace.root.join(path).symlink_metadata().is_ok());
        removed += declared.len();
        clear_outputs(&workspace.root, &declared)?;
    }
    let mut report = format!(
        "{} removed {removed} output{} of {} action{}\n",
        colors.green("ok:"),
        if removed == 1 { "" } else { "s" },
        actions.len(),
        if actions.len() == 1 { "" } else { "s" }
    );
    if args.cache {
        let cache = workspace.state_dir().cache();
        match std::fs::remove_dir_all(&cache) {
            Ok(()) => {
                let _ = writeln!(
                    report,
                    "{} removed the cache {}",
                    colors.green("ok:"),
                    cache.display()
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("cannot remove {}", cache.display()), e)),
        }
    }
    print(&report)
}
