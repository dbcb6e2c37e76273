//! `zenbuild plan`: what a build would run and why, without running anything. The remotes
//! are asked too (whether a result exists, never its blobs), so an action a teammate built
//! shows as "cached in remote team" where a build would take it from there.

use std::collections::{HashMap, HashSet};

use clap::{Args, ValueEnum};
use serde_json::json;

use super::forced::ForceArgs;
use super::remotes::{RemoteChoice, open_chosen};
use super::targets::select_or_default;
use crate::error::Error;
use crate::exec::build::{Builder, Context};
use crate::exec::preview::Preview;
use crate::exec::session::Session;
use crate::graph::ActionId;
use crate::remote::RemoteProbe;
use crate::store::Store;
use crate::ui::progress::say_note;
use crate::ui::{Colors, print};
use crate::workspace::Workspace;
use crate::{Graph, Manifest};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Pipelines, steps or actions (default: the default pipeline)
    pub targets: Vec<String>,

    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,

    /// What a build with these flags would run
    #[command(flatten)]
    pub force: ForceArgs,

    #[command(flatten)]
    pub remotes: RemoteChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

pub fn run(workspace: &Workspace, args: &PlanArgs, colors: Colors) -> Result<(), Error> {
    let (manifest, graph) = crate::load_graph(workspace)?;
    let targets = select_or_default(&graph, &args.targets)?;
    let forced = args.force.resolve(&graph, &targets)?;
    let session = Session::open(workspace)?;
    let mut notes = Vec::new();
    let probe = open_probe(&session, &manifest, &args.remotes, &mut notes)?;
    let (_, decided) = preview_asking(&session, &graph, &targets, &probe, &forced);
    notes.extend(probe.warnings());
    let remote_of = |id: &ActionId| remote_holder(&probe, &decided[id]);
    let text = match args.format {
        PlanFormat::Json => {
            let actions: Vec<_> = targets
                .iter()
                .map(|id| preview_json(&graph, *id, &decided[id], remote_of(id).as_deref()))
                .collect();
            let plan = json!({ "actions": actions, "warnings": notes });
            let json =
                serde_json::to_string_pretty(&plan).map_err(|e| Error::encode("the plan", e))?;
            format!("{json}\n")
        }
        PlanFormat::Text => targets
            .iter()
            .map(|id| {
                let remote = remote_of(id);
                format!(
                    "{}\n",
                    describe(&graph, *id, &decided[id], remote.as_deref(), colors)
                )
            })
            .collect(),
    };
    session.save();
    if args.format == PlanFormat::Text {
        for note in &notes {
            say_note(colors, note);
        }
    }
    // The process ends right after this: freeing every action, artifact, key and string one
    // at a time was a tenth of planning 100,000 steps, for memory the exit gives back anyway
    // (as `check` does). None of these holds a file or a lock.
    std::mem::forget((manifest, graph, decided));
    print(&text)
}

/// The manifest's remotes that `choice` picks, to be asked (not downloaded from); one that
/// cannot be opened is left out with a note.
pub fn open_probe<'s>(
    session: &'s Session,
    manifest: &Manifest,
    choice: &RemoteChoice,
    notes: &mut Vec<String>,
) -> Result<RemoteProbe<'s>, Error> {
    let remotes = open_chosen(manifest, choice, notes)?;
    Ok(RemoteProbe::new(&session.store, remotes))
}

/// Previews `targets` as [`preview_all`] does, over the local store and what `probe`'s
/// remotes hold. An action the local cache has no result for is asked about, all such actions
/// of a round at once; a hit makes its outputs' digests known, which gives the actions after
/// it their keys for the next round. So the rounds are as many as the graph is deep, and
/// the returned builder knows every key the plan found. `forced` are previewed as a build
/// with `--force` would run them.
pub fn preview_asking<'s>(
    session: &'s Session,
    graph: &'s Graph,
    targets: &[ActionId],
    probe: &'s RemoteProbe<'s>,
    forced: &HashSet<ActionId>,
) -> (Builder<'s>, HashMap<ActionId, Preview>) {
    loop {
        let mut builder = builder_on(session, graph, probe);
        builder.force(forced.clone());
        let decided = preview_with(&builder, targets);
        let unasked: Vec<_> = targets
            .iter()
            .filter_map(|id| match &decided[id] {
                Preview::Runs { key, .. } if graph.action(*id).cache && !probe.asked(key) => {
                    Some(*key)
                }
                _ => None,
            })
            .collect();
        if unasked.is_empty() {
            return (builder, decided);
        }
        probe.ask(&unasked);
    }
}

/// The remote a cached preview's result is in, when it is not in the local cache.
pub fn remote_holder(probe: &RemoteProbe, preview: &Preview) -> Option<String> {
    match preview {
        Preview::Cached { key, .. } => probe
            .source_of(key)
            .and_then(|source| source.strip_prefix("remote:").map(str::to_string)),
        _ => None,
    }
}

/// A builder that looks results up in `store` rather than in the session's own.
fn builder_on<'s>(session: &'s Session, graph: &'s Graph, store: &'s dyn Store) -> Builder<'s> {
    Builder::new(
        graph,
        Context {
            root: &session.root,
            store,
            stat_cache: &session.stat_cache,
            last_keys: &session.last_keys,
            link_mode: session.link_mode,
            interrupt: &session.interrupt,
        },
    )
}

/// Previews `targets` in dependency order, each seeing its dependencies' previews.
pub fn preview_all(
    session: &Session,
    graph: &Graph,
    targets: &[ActionId],
) -> HashMap<ActionId, Preview> {
    preview_with(&session.builder(graph), targets)
}

fn preview_with(builder: &Builder, targets: &[ActionId]) -> HashMap<ActionId, Preview> {
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

/// One line: `train: runs because data/raw.csv changed (3f2a9c1e → 9c1e3f2a)`; `remote` is
/// where a cached result is when the local cache does not hold it.
pub fn describe(
    graph: &Graph,
    id: ActionId,
    preview: &Preview,
    remote: Option<&str>,
    colors: Colors,
) -> String {
    let name = colors.bold(&graph.action(id).name);
    if let (Preview::Cached { .. }, Some(remote)) = (preview, remote) {
        return format!(
            "{name}: {} (its outputs are downloaded and restored)",
            colors.green(&format!("cached in remote {remote}"))
        );
    }
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

fn preview_json(
    graph: &Graph,
    id: ActionId,
    preview: &Preview,
    remote: Option<&str>,
) -> serde_json::Value {
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
        "remote": remote,
        "key": key,
        "reasons": reasons,
    })
}
