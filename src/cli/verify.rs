//! `zenbuild verify [TARGET…]`: reruns the actions whose results are cached and reports those
//! whose outputs come out different (non-deterministic steps), without replacing the cached
//! results. Exits with 1 when any differs or fails.

use clap::Args;
use serde_json::json;

use super::format::{Format, print_json};
use super::targets::select_or_default;
use crate::error::Error;
use crate::exec::lock::WorkspaceLock;
use crate::exec::session::Session;
use crate::exec::verify::Verdict;
use crate::ui::Colors;
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Pipelines, steps or actions (default: the default pipeline)
    pub targets: Vec<String>,

    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(workspace: &Workspace, args: &VerifyArgs, colors: Colors) -> Result<(), Error> {
    let (_, graph) = crate::load_graph(workspace)?;
    let targets = select_or_default(&graph, &args.targets)?;
    let _lock = WorkspaceLock::acquire(&workspace.state_dir(), |holder| {
        eprintln!("note: waiting for {holder} to finish in this workspace");
    })
    .map_err(|e| Error::io("cannot lock the workspace", e))?;
    let session = Session::open(workspace)?;
    let builder = session.builder(&graph);
    let executor = session.local_executor();
    let mut verdicts = Vec::new();
    for &id in &targets {
        if session.interrupt.is_triggered() {
            break;
        }
        let name = &graph.action(id).name;
        let verdict = builder.verify(id, &executor);
        if args.format == Format::Text {
            eprintln!("{}", describe(name, &verdict, colors));
        }
        verdicts.push((name.clone(), verdict));
    }
    session.save();
    let bad = verdicts
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Differs(_) | Verdict::Failed(_)))
        .count();
    if args.format == Format::Json {
        let actions: Vec<_> = verdicts.iter().map(|(name, v)| to_json(name, v)).collect();
        print_json(&json!({ "actions": actions }))?;
    }
    if session.interrupt.is_triggered() {
        return Err(Error::Interrupted);
    }
    if bad > 0 {
        return Err(Error::CheckFailed(format!(
            "{bad} of {} actions did not reproduce their cached outputs",
            verdicts.len()
        )));
    }
    Ok(())
}

fn describe(name: &str, verdict: &Verdict, colors: Colors) -> String {
    let name = colors.bold(name);
    match verdict {
        Verdict::Same => format!("{name}: {}", colors.green("reproduces its cached outputs")),
        Verdict::Differs(outputs) => {
            let details: Vec<String> = outputs
                .iter()
                .map(|(path, cached, now)| match now {
                    Some(now) => format!("{path} {} → {}", cached.short(), now.short()),
                    None => format!("{path} was not written"),
                })
                .collect();
            format!("{name}: {} {}", colors.red("differs:"), details.join("; "))
        }
        Verdict::NotCached(why) => format!("{name}: not verified: {why}"),
        Verdict::Failed(why) => format!("{name}: {} {why}", colors.red("rerun failed:")),
    }
}

fn to_json(name: &str, verdict: &Verdict) -> serde_json::Value {
    match verdict {
        Verdict::Same => json!({ "name": name, "verdict": "same" }),
        Verdict::Differs(outputs) => {
            let outputs: Vec<_> = outputs
                .iter()
                .map(|(path, cached, now)| {
                    json!({ "path": path, "cached": cached.to_hex(), "rerun": now.map(|d| d.to_hex()) })
                })
                .collect();
            json!({ "name": name, "verdict": "differs", "outputs": outputs })
        }
        Verdict::NotCached(why) => json!({ "name": name, "verdict": "not-cached", "reason": why }),
        Verdict::Failed(why) => json!({ "name": name, "verdict": "failed", "reason": why }),
    }
}
