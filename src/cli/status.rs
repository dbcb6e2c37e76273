//! `zenbuild status [TARGET…] [--check]`: which actions `zenbuild.lock` no longer describes,
//! and why. Each action's key is computed from the files as they are, with the outputs of the
//! actions before it taken from the lockfile, so the answer needs neither a build nor a cache:
//! in CI, `zenbuild status --check` fails when what is committed is not what was built.

use std::collections::HashSet;
use std::fmt::Write as _;

use clap::Args;
use serde_json::json;

use super::format::{Format, print_json};
use super::targets::select_or_default;
use crate::error::Error;
use crate::exec::reason::key_changes;
use crate::exec::session::Session;
use crate::graph::{ActionId, Graph};
use crate::lockfile::{LOCKFILE, Lockfile};
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Pipelines, steps or actions (default: the default pipeline)
    pub targets: Vec<String>,

    /// Exit with 1 when anything is stale: the CI gate
    #[arg(long)]
    pub check: bool,

    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// An action the lockfile does not describe as it is now.
struct Stale {
    name: String,
    reasons: Vec<String>,
}

/// The inputs of `id` inside another action's output directory that the lockfile entry of
/// that action does not record: their digests come from the producer's tree, which a
/// fresh clone does not have, so nothing else can say what they are.
fn unrecorded_inside(graph: &Graph, lock: &Lockfile, id: ActionId) -> Vec<String> {
    let action = graph.action(id);
    action
        .inputs
        .iter()
        .map(|&input| graph.artifact(input))
        .filter_map(|artifact| {
            let producer = graph.action(artifact.producer?);
            let path = artifact.display_path();
            let recorded = lock
                .actions
                .get(&producer.name)
                .is_some_and(|locked| locked.inside.contains_key(&path));
            let nested = !producer
                .outputs
                .iter()
                .any(|&output| graph.artifact(output).path == artifact.path);
            (nested && !recorded).then(|| {
                format!(
                    "`{path}` lies in an output directory of `{}`, and its entry in {LOCKFILE} does not record it",
                    producer.name
                )
            })
        })
        .collect()
}

pub fn run(workspace: &Workspace, args: &StatusArgs, colors: Colors) -> Result<(), Error> {
    let (_, graph) = crate::load_graph(workspace)?;
    let targets = select_or_default(&graph, &args.targets)?;
    let lock = Lockfile::read(&workspace.root)?.unwrap_or_default();
    let session = Session::open(workspace)?;
    let builder = session.builder(&graph);
    let mut stale = Vec::new();
    let mut current = HashSet::new();
    for &id in &targets {
        let action = graph.action(id);
        let unrecorded = unrecorded_inside(&graph, &lock, id);
        let reasons = match action.deps.iter().find(|dep| !current.contains(*dep)) {
            Some(dep) => vec![format!("after {}", graph.action(*dep).name)],
            None if !unrecorded.is_empty() => unrecorded,
            None => match (lock.actions.get(&action.name), builder.key(action)) {
                (_, Err(e)) => vec![e.to_string()],
                (None, Ok(_)) => vec![format!("not in {LOCKFILE}")],
                (Some(locked), Ok(key)) if key.digest().to_hex() == locked.key => {
                    match locked.output_digests() {
                        Some(outputs) => {
                            builder.assume_outputs(action, &outputs);
                            current.insert(id);
                            continue;
                        }
                        None => vec![format!("its entry in {LOCKFILE} is damaged")],
                    }
                }
                (Some(locked), Ok(key)) => {
                    let changes = locked
                        .action_key()
                        .map(|was| key_changes(&was, &key))
                        .unwrap_or_default();
                    if changes.is_empty() {
                        vec![format!(
                            "its key in {LOCKFILE} does not match the entry's fields"
                        )]
                    } else {
                        changes
                    }
                }
            },
        };
        stale.push(Stale {
            name: action.name.clone(),
            reasons,
        });
    }
    // Entries for actions the manifest dropped make the lockfile out of date too.
    let gone: Vec<&String> = lock
        .actions
        .keys()
        .filter(|name| graph.action_by_name(name).is_none())
        .collect();
    session.save();

    let out_of_date = !stale.is_empty() || !gone.is_empty();
    if args.format == Format::Json {
        let stale: Vec<_> = stale
            .iter()
            .map(|s| json!({ "name": s.name, "reasons": s.reasons }))
            .collect();
        print_json(&json!({
            "up_to_date": !out_of_date,
            "actions": targets.len(),
            "stale": stale,
            "gone": gone,
        }))?;
    } else {
        let mut text = String::new();
        if out_of_date {
            let _ = writeln!(
                text,
                "{LOCKFILE}: {} of {} actions stale",
                stale.len(),
                targets.len()
            );
        } else {
            let _ = writeln!(
                text,
                "{LOCKFILE}: {} actions {}",
                targets.len(),
                colors.green("up to date")
            );
        }
        for s in &stale {
            let _ = writeln!(text, "  {}: {}", colors.bold(&s.name), s.reasons.join("; "));
        }
        for name in &gone {
            let _ = writeln!(
                text,
                "  {}: in {LOCKFILE} but no longer in the manifest",
                colors.bold(name)
            );
        }
        print(&text)?;
    }
    if args.check && out_of_date {
        return Err(Error::CheckFailed(format!(
            "{LOCKFILE} is out of date: run `zenbuild` and commit it"
        )));
    }
    Ok(())
}
