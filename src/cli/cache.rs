//! `zenbuild cache stats`: what the local cache holds.

use clap::Subcommand;

use crate::error::Error;
use crate::store::LocalStore;
use crate::ui::print;
use crate::workspace::Workspace;

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Count the blobs and action results in the local cache
    Stats {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(workspace: &Workspace, command: &CacheCommand) -> Result<(), Error> {
    let CacheCommand::Stats { json } = command;
    let store =
        LocalStore::in_workspace(&workspace.root).map_err(|e| Error::Refused(e.to_string()))?;
    let stats = store.stats().map_err(|e| Error::Refused(e.to_string()))?;
    if *json {
        let text =
            serde_json::to_string_pretty(&stats).map_err(|e| Error::Refused(e.to_string()))?;
        return print(&format!("{text}\n"));
    }
    print(&format!(
        "{}\n  blobs: {} ({})\n  action results: {} ({})\n",
        store.root().display(),
        stats.blobs,
        bytes(stats.blob_bytes),
        stats.action_results,
        bytes(stats.action_result_bytes),
    ))
}

/// `1.2 MiB`: a byte count for people.
pub(super) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
