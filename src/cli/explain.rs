//! `zenbuild explain TARGET`: an action's key, what goes into it, and why it would run or is
//! cached.

use std::fmt::Write;

use clap::Args;

use super::forced::ForceArgs;
use super::plan::{describe, open_probe, preview_asking, remote_holder};
use super::remotes::RemoteChoice;
use super::targets::{names, select};
use crate::error::Error;
use crate::exec::preview::Preview;
use crate::exec::session::Session;
use crate::hash::canonical_json;
use crate::ui::progress::say_note;
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Steps, actions (`fit`, `fit@lr=0.1,depth=3`) or the paths they write
    #[arg(required = true)]
    pub targets: Vec<String>,

    /// Explain what a build with these flags would do
    #[command(flatten)]
    pub force: ForceArgs,

    #[command(flatten)]
    pub remotes: RemoteChoice,
}

pub fn run(workspace: &Workspace, args: &ExplainArgs, colors: Colors) -> Result<(), Error> {
    let (manifest, graph) = crate::load_graph(workspace)?;
    let targets = names(&graph, &args.targets)?;
    let closure = select(&graph, &targets)?;
    let forced = args.force.resolve(&graph, &closure)?;
    let session = Session::open(workspace)?;
    let mut notes = Vec::new();
    let probe = open_probe(&session, &manifest, &args.remotes, &mut notes)?;
    // The builder that previewed: it knows the outputs of dependencies found cached.
    let (builder, decided) = preview_asking(&session, &graph, &closure, &probe, &forced);
    notes.extend(probe.warnings());
    // The named actions themselves, not the dependencies the closure pulled in.
    let named: Vec<_> = closure
        .iter()
        .copied()
        .filter(|&id| {
            let action = graph.action(id);
            targets
                .iter()
                .any(|t| *t == action.step || *t == action.name)
                || targets.iter().any(|t| {
                    graph
                        .pipeline(t)
                        .is_some_and(|p| p.steps.contains(&action.step))
                })
        })
        .collect();
    let mut out = String::new();
    for id in named {
        let action = graph.action(id);
        let remote = remote_holder(&probe, &decided[&id]);
        let line = describe(&graph, id, &decided[&id], remote.as_deref(), colors);
        let _ = writeln!(out, "{line}");
        match builder.key(action) {
            Ok(key) => {
                let _ = writeln!(out, "  key {}", key.digest());
                if let Preview::AfterRun { dependency } = &decided[&id] {
                    let _ = writeln!(
                        out,
                        "  (from the outputs on disk now; it changes if `{}` writes different bytes)",
                        graph.action(*dependency).name
                    );
                }
                let _ = writeln!(out, "  command: {}", key.cmd);
                // The key lists the action's inputs in the action's order.
                for (input, &artifact) in key.inputs.iter().zip(&action.inputs) {
                    let from = graph
                        .artifact(artifact)
                        .producer
                        .map(|p| format!(" (from {})", graph.action(p).name))
                        .unwrap_or_default();
                    let _ = writeln!(out, "  input {} {}{from}", input.path, input.digest.short());
                }
                for output in &key.outputs {
                    let _ = writeln!(out, "  output {output}");
                }
                for (name, value) in &key.params {
                    let _ = writeln!(out, "  param {name} = {}", canonical_json(value));
                }
                for (name, value) in &key.env {
                    let _ = writeln!(out, "  env {name}={value}");
                }
                let _ = writeln!(out, "  workdir {}", key.workdir);
                if let Some(platform) = &key.platform {
                    let _ = writeln!(out, "  platform {}-{}", platform.os, platform.arch);
                }
            }
            Err(message) => {
                let _ = writeln!(out, "  its key cannot be computed yet: {message}");
            }
        }
    }
    session.save();
    for note in &notes {
        say_note(colors, note);
    }
    print(&out)
}
