//! `zenbuild cache push [TARGET…]` and `zenbuild cache pull [TARGET…]`: move the results of
//! the targets (default: the default pipeline) between the local cache and the manifest's
//! remotes in bulk, blobs in parallel, without running or restoring anything.
//!
//! Push uploads what the local cache holds for each action's current key to every writable
//! remote. Pull looks each action up the way a build would (local, then the readable
//! remotes), which downloads and verifies what a remote has; an action whose inputs come
//! from another is looked up with that one's outputs as found, so a whole pipeline comes
//! down on a fresh clone.

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::build::{BuildOptions, LOCK};
use super::plan::preview_all;
use super::remotes::open_remotes;
use super::session::Session;
use super::targets::select_or_default;
use crate::error::Error;
use crate::exec::build::Preview;
use crate::exec::lock::WorkspaceLock;
use crate::store::{Store, TieredStore};
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct TransferArgs {
    /// Pipelines, steps or actions (default: the default pipeline)
    pub targets: Vec<String>,

    /// Use only this one of the manifest's remotes
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Push,
    Pull,
}

pub fn run(
    workspace: &Workspace,
    args: &TransferArgs,
    direction: Direction,
    colors: Colors,
) -> Result<(), Error> {
    let (manifest, graph) = crate::load_graph(workspace)?;
    let targets = select_or_default(&graph, &args.targets)?;
    let options = BuildOptions {
        remote: args.remote.clone(),
        ..BuildOptions::default()
    };
    let mut notes = Vec::new();
    let remotes = open_remotes(&manifest, &options, &mut notes)?;
    if remotes.is_empty() {
        return Err(Error::Refused(
            "the manifest declares no remote cache (`remote NAME url=…`)".into(),
        ));
    }
    // Pull writes the local cache and the stat cache; push reads blobs that a `gc` or a
    // `clean --cache` running meanwhile would delete, and hashes outputs a build is writing.
    let _lock = WorkspaceLock::acquire(&workspace.root.join(LOCK), |holder| {
        eprintln!("note: waiting for {holder} to finish in this workspace");
    })
    .map_err(|e| Error::io("cannot lock the workspace", e))?;
    let mut session = Session::open(workspace)?;
    let tiered = TieredStore::new(session.store.clone(), remotes);
    let bar =
        ProgressBar::with_draw_target(Some(targets.len() as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut moved, mut missing) = (0usize, Vec::new());
    match direction {
        Direction::Push => {
            // Keys as the local cache knows them: what was built here.
            let decided = preview_all(&session, &graph, &targets);
            for id in &targets {
                let name = &graph.action(*id).name;
                bar.set_message(name.clone());
                let pushed = match &decided[id] {
                    Preview::Cached { key, .. } => session
                        .store
                        .get_action_result(key)
                        .ok()
                        .flatten()
                        .map(|result| tiered.push(key, &result) > 0),
                    _ => None,
                };
                match pushed {
                    Some(true) => moved += 1,
                    _ => missing.push(name.clone()),
                }
                bar.inc(1);
            }
        }
        Direction::Pull => {
            session.tiered = Some(tiered);
            let decided = preview_all(&session, &graph, &targets);
            for id in &targets {
                match &decided[id] {
                    Preview::Cached { .. } => moved += 1,
                    _ => missing.push(graph.action(*id).name.clone()),
                }
                bar.inc(1);
            }
            session.save();
        }
    }
    bar.finish_and_clear();
    let tiered_warnings = match direction {
        Direction::Pull => session
            .tiered
            .as_ref()
            .map(TieredStore::take_warnings)
            .unwrap_or_default(),
        Direction::Push => Vec::new(),
    };
    for note in notes.iter().chain(&tiered_warnings) {
        eprintln!("{} {note}", colors.bold("note:"));
    }
    let (verb, missing_why) = match direction {
        Direction::Push => ("pushed", "not in the local cache under its current key"),
        Direction::Pull => (
            "now in the local cache:",
            "in no cache under its current key",
        ),
    };
    let mut text = format!("{verb} {moved} of {} actions\n", targets.len());
    if !missing.is_empty() {
        text.push_str(&format!("{missing_why}: {}\n", missing.join(", ")));
    }
    print(&text)
}
