//! `zenbuild cache stats`: what the local cache holds; `push` and `pull` are in
//! `cache_transfer.rs`.

use clap::Subcommand;

use super::cache_transfer::{Direction, TransferArgs, run as transfer};
use crate::error::Error;
use crate::store::LocalStore;
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Count the blobs and action results in the local cache
    Stats {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Upload the cached results of targets to the manifest's writable remotes
    Push(TransferArgs),
    /// Download the results of targets from the manifest's remotes into the local cache
    Pull(TransferArgs),
}

pub fn run(workspace: &Workspace, command: &CacheCommand, colors: Colors) -> Result<(), Error> {
    let json = match command {
        CacheCommand::Stats { json } => json,
        CacheCommand::Push(args) => return transfer(workspace, args, Direction::Push, colors),
        CacheCommand::Pull(args) => return transfer(workspace, args, Direction::Pull, colors),
    };
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
