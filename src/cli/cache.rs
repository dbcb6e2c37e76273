//! `zenbuild cache stats`: what the local cache holds, and where the last run's results came
//! from; `push` and `pull` are in `cache_transfer.rs`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clap::Subcommand;

use super::cache_transfer::{Direction, TransferArgs, run as transfer};
use super::format::Format;
use super::lineage_db;
use crate::error::Error;
use crate::lineage::{MetadataStore, RunId};
use crate::store::LocalStore;
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Count the blobs and action results in the local cache
    Stats {
        #[arg(long, value_enum, default_value_t)]
        format: Format,

        /// The same as `--format json`, which every command takes; kept for scripts
        #[arg(long, hide = true)]
        json: bool,
    },
    /// Upload the cached results of targets to the manifest's writable remotes
    Push(TransferArgs),
    /// Download the results of targets from the manifest's remotes into the local cache
    Pull(TransferArgs),
}

pub fn run(workspace: &Workspace, command: &CacheCommand, colors: Colors) -> Result<(), Error> {
    let json = match command {
        CacheCommand::Stats { format, json } => *json || *format == Format::Json,
        CacheCommand::Push(args) => return transfer(workspace, args, Direction::Push, colors),
        CacheCommand::Pull(args) => return transfer(workspace, args, Direction::Pull, colors),
    };
    let store = LocalStore::in_workspace(&workspace.root)?;
    let stats = store.stats()?;
    let last = last_run(workspace);
    if json {
        let mut value =
            serde_json::to_value(stats).map_err(|e| Error::encode("the cache statistics", e))?;
        if let Some((run, sources)) = &last {
            value["last_run"] = serde_json::json!({ "run": run, "actions_by_source": sources });
        }
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| Error::encode("the cache statistics", e))?;
        return print(&format!("{text}\n"));
    }
    let mut text = format!(
        "{}\n  blobs: {} ({})\n  action results: {} ({})\n",
        store.root().display(),
        stats.blobs,
        bytes(stats.blob_bytes),
        stats.action_results,
        bytes(stats.action_result_bytes),
    );
    if let Some((run, sources)) = last {
        let total: u64 = sources.values().sum();
        let parts: Vec<String> = sources
            .iter()
            .map(|(source, count)| format!("{count} {source}"))
            .collect();
        let _ = writeln!(
            text,
            "  last run ({run}): {total} actions: {}",
            parts.join(", ")
        );
    }
    print(&text)
}

/// The latest run and how many of its actions ran, came from the local cache, or came from
/// each remote (`ran`, `local cache hits`, `remote:team hits`, `failed`, …).
fn last_run(workspace: &Workspace) -> Option<(RunId, BTreeMap<String, u64>)> {
    let store = lineage_db::open_if_built(workspace).ok()??;
    let run = store.runs(1).ok()?.into_iter().next()?;
    let mut sources = BTreeMap::new();
    for summary in store.run_actions(run.id).ok()? {
        let action = summary.action;
        let source = match (action.status.as_str(), action.executor.as_deref()) {
            ("cached", Some(executor)) => {
                let from = executor.strip_prefix("cache:").unwrap_or(executor);
                match from {
                    "local" => "local cache hits".to_string(),
                    remote => format!("{remote} hits"),
                }
            }
            (status, _) => status.to_string(),
        };
        *sources.entry(source).or_insert(0) += 1;
    }
    Some((run.id, sources))
}

pub(super) use crate::ui::size::bytes;
