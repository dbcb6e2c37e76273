//! `zenbuild show [RUN]`: one run (the latest by default), every action with its status,
//! timing and the reason it ran.

use clap::Args;
use std::fmt::Write as _;

use super::format::{Format, print_json};
use super::lineage_db;
use super::log::short_commit;
use crate::error::Error;
use crate::lineage::{Counts, RunId, git};
use crate::ui::time::{duration, utc};
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run's number, as `zenbuild log` lists it, or a git revision: the latest run
    /// built at that commit (default: the latest run)
    pub run: Option<String>,

    #[command(flatten)]
    pub store: lineage_db::StoreArg,

    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(workspace: &Workspace, args: &ShowArgs, colors: Colors) -> Result<(), Error> {
    let store = lineage_db::open(workspace, &args.store)?;
    let id = match args.run.as_deref() {
        None => match store.runs(1)?.first() {
            Some(run) => run.id,
            None => return Err(Error::NothingYet("no run recorded yet".into())),
        },
        Some(text) => {
            if let Ok(id) = text.parse::<RunId>() {
                id
            } else {
                let commit = git::resolve(&workspace.git_root, text).map_err(Error::Git)?;
                match store.runs_at_commit(&commit)?.first() {
                    Some(&id) => id,
                    None => {
                        return Err(Error::BadArgument(format!(
                            "no run was built at `{text}` ({})",
                            &commit[..8.min(commit.len())]
                        )));
                    }
                }
            }
        }
    };
    let Some(run) = store.run(id)? else {
        return Err(Error::BadArgument(format!(
            "there is no run {id}: `zenbuild log` lists them"
        )));
    };
    let actions = store.run_actions(id)?;
    if args.format == Format::Json {
        return print_json(&serde_json::json!({ "run": run, "actions": actions }));
    }
    let took = run.finished_ms.map_or("-".to_string(), |finished| {
        duration(std::time::Duration::from_millis(
            finished.saturating_sub(run.started_ms).max(0) as u64,
        ))
    });
    let mut text = format!(
        "{} {}, started {}, took {took}\n",
        colors.bold(&format!("run {}:", run.id)),
        run.status,
        utc(run.started_ms)
    );
    let _ = writeln!(text, "  command  {}", run.command.join(" "));
    if let Some(git) = &run.git {
        let branch = git.branch.as_deref().unwrap_or("detached");
        let dirty = if git.dirty { ", dirty" } else { "" };
        let _ = writeln!(text, "  commit   {} ({branch}{dirty})", short_commit(&run));
    }
    let _ = writeln!(
        text,
        "  by       {}@{}, zenbuild {}",
        run.user, run.host, run.version
    );
    let _ = write!(text, "  actions  {}\n\n", counts(&run.counts));
    let width = actions
        .iter()
        .map(|a| a.action.name.len())
        .max()
        .unwrap_or(0);
    for action in actions.iter().map(|summary| &summary.action) {
        let status = match action.status.as_str() {
            "ran" => colors.green(&format!("{:<11}", action.status)),
            "failed" | "interrupted" => colors.red(&format!("{:<11}", action.status)),
            _ => format!("{:<11}", action.status),
        };
        // A skipped action never started: it has no time, not a time of zero.
        let took = match action.status.as_str() {
            "skipped" => "-".to_string(),
            _ => duration(std::time::Duration::from_millis(
                action.duration_ms.max(0) as u64
            )),
        };
        // Where it ran, for a step that ran elsewhere than here: `on cluster (job 42, node n3)`.
        let mut said = action.reasons.join("; ");
        if let Some(job) = &action.job_id {
            let executor = action.executor.as_deref().unwrap_or("?");
            let node = action
                .node
                .as_deref()
                .map_or_else(String::new, |node| format!(", node {node}"));
            let place = format!("on {executor} (job {job}{node})");
            said = if said.is_empty() {
                place
            } else {
                format!("{place}; {said}")
            };
        }
        text.push_str(
            format!("  {status} {:<width$}  {took:>6}  {said}\n", action.name).trim_end(),
        );
        text.push('\n');
    }
    print(&text)
}

/// `3 ran, 1 cached, 0 failed`, then the skipped and interrupted ones when there are any, as
/// the build's own summary says it.
fn counts(counts: &Counts) -> String {
    let mut text = format!(
        "{} ran, {} cached, {} failed",
        counts.ran, counts.cached, counts.failed
    );
    for (count, what) in [
        (counts.skipped, "skipped"),
        (counts.interrupted, "interrupted"),
    ] {
        if count > 0 {
            let _ = write!(text, ", {count} {what}");
        }
    }
    text
}
