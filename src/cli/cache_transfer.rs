//! `zenbuild cache push [TARGET…]` and `zenbuild cache pull [TARGET…]`: move the results of
//! the targets (default: the default pipeline) between the local cache and the manifest's
//! remotes in bulk, blobs in parallel, without running or restoring anything.
//!
//! Push uploads what the local cache holds for each action's current key to every writable
//! remote. Pull looks each action up the way a build would (local, then the readable
//! remotes), which downloads and verifies what a remote has; an action whose inputs come
//! from another is looked up with that one's outputs as found, so a whole pipeline comes
//! down on a fresh clone.
//!
//! A transfer that fails is reported, once per remote and cause, and makes the command exit
//! non-zero; an action that is in no cache to move from is listed, and is no failure.

mod push;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::Write as _;

use super::plan::preview_all;
use super::targets::select_or_default;
use crate::error::Error;
use crate::exec::lock::WorkspaceLock;
use crate::exec::preview::Preview;
use crate::exec::session::Session;
use crate::remote::choice::{Choice, open_chosen};
use crate::store::TieredStore;
use crate::ui::{Colors, print};
use crate::workspace::Workspace;
use push::{Push, Pushed};

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
    let mut notes = Vec::new();
    let choice = Choice::from_flags(false, args.remote.as_deref());
    let remotes = open_chosen(&manifest, &choice, &mut notes)?;
    if remotes.is_empty() {
        return Err(Error::BadArgument(
            "the manifest declares no remote cache (`remote NAME url=…`)".into(),
        ));
    }
    // Pull writes the local cache and the stat cache; push reads blobs that a `gc` or a
    // `clean --cache` running meanwhile would delete, and hashes outputs a build is writing.
    let _lock = WorkspaceLock::acquire(&workspace.state_dir(), |holder| {
        eprintln!("note: waiting for {holder} to finish in this workspace");
    })
    .map_err(|e| Error::io("cannot lock the workspace", e))?;
    let mut session = Session::open(workspace)?;
    let bar =
        ProgressBar::with_draw_target(Some(targets.len() as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut moved, mut missing, mut failed) = (0usize, Vec::new(), 0usize);
    let failures = match direction {
        Direction::Push => {
            let Some(mut push) = Push::new(&session.store, remotes) else {
                bar.finish_and_clear();
                return Err(Error::BadArgument(
                    "no remote may be written: each is `write=#false` in the manifest or \
                     switched off by its ZENBUILD_REMOTE_<NAME>_WRITE"
                        .into(),
                ));
            };
            // Keys as the local cache knows them: what was built here.
            let decided = preview_all(&session, &graph, &targets);
            for id in &targets {
                let name = &graph.action(*id).name;
                bar.set_message(name.clone());
                let pushed = match &decided[id] {
                    Preview::Cached { key, .. } => push.action(name, key),
                    _ => Pushed::NotLocal,
                };
                match pushed {
                    Pushed::Everywhere => moved += 1,
                    Pushed::NotLocal => missing.push(name.clone()),
                    Pushed::Failed => failed += 1,
                }
                bar.inc(1);
            }
            push.failures()
        }
        Direction::Pull => {
            session.tiered = Some(TieredStore::new(session.store.clone(), remotes));
            let decided = preview_all(&session, &graph, &targets);
            for id in &targets {
                match &decided[id] {
                    Preview::Cached { .. } => moved += 1,
                    _ => missing.push(graph.action(*id).name.clone()),
                }
                bar.inc(1);
            }
            session.save();
            // A remote that failed, or sent what cannot be used: what it holds was not pulled.
            session
                .tiered
                .as_ref()
                .map(TieredStore::take_warnings)
                .unwrap_or_default()
        }
    };
    bar.finish_and_clear();
    for note in &notes {
        eprintln!("{} {note}", colors.bold("note:"));
    }
    for failure in &failures {
        eprintln!("{} {failure}", colors.red("error:"));
    }
    let (verb, missing_why) = match direction {
        Direction::Push => ("pushed", "not in the local cache under its current key"),
        Direction::Pull if failures.is_empty() => (
            "now in the local cache:",
            "in no cache under its current key",
        ),
        // The remote that failed may hold them.
        Direction::Pull => ("now in the local cache:", "not pulled"),
    };
    let mut text = format!("{verb} {moved} of {} actions\n", targets.len());
    if !missing.is_empty() {
        let _ = writeln!(text, "{missing_why}: {}", missing.join(", "));
    }
    print(&text)?;
    match (direction, failures.is_empty()) {
        (_, true) => Ok(()),
        (Direction::Push, false) => Err(Error::CheckFailed(format!(
            "{failed} of {} actions could not be pushed",
            targets.len()
        ))),
        (Direction::Pull, false) => Err(Error::CheckFailed(
            "the pull is incomplete: a remote failed or sent what cannot be used".into(),
        )),
    }
}
