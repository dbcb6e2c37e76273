//! `zenbuild gc`: removes cached results and blobs nothing needs any more. Kept are what the
//! workspace was last built with (every action's last result, even of pipelines not built
//! lately), what `zenbuild.lock` names in the workspace, in the last N commits of HEAD and at
//! every branch and tag, and what runs of the last D days used. `--dry-run` says what would
//! go and how many bytes, and removes nothing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde_json::json;

use super::build::LOCK;
use super::cache::bytes;
use super::format::{Format, print_json};
use super::lineage_db;
use crate::error::Error;
use crate::exec::last_keys::LastKeys;
use crate::exec::lock::WorkspaceLock;
use crate::hash::Digest;
use crate::lineage::{MetadataStore, git};
use crate::lockfile::Lockfile;
use crate::store::{LocalStore, Roots};
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Keep what zenbuild.lock names in this many of HEAD's latest commits
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub keep_commits: usize,

    /// Keep what the runs of this many last days used
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    pub keep_days: u64,

    /// Say what would be removed, remove nothing
    #[arg(long)]
    pub dry_run: bool,

    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(workspace: &Workspace, args: &GcArgs, colors: Colors) -> Result<(), Error> {
    // A build running meanwhile could store a result between the roots and the sweep.
    let _lock = WorkspaceLock::acquire(&workspace.root.join(LOCK), |holder| {
        eprintln!("note: waiting for {holder} to finish in this workspace");
    })
    .map_err(|e| Error::io("cannot lock the workspace", e))?;
    let roots = roots(workspace, args)?;
    let store = LocalStore::in_workspace(&workspace.root)
        .map_err(|e| Error::Refused(format!("cannot open the cache: {e}")))?;
    let report = store
        .collect_garbage(&roots, args.dry_run)
        .map_err(|e| Error::Refused(format!("cannot collect garbage: {e}")))?;
    if args.format == Format::Json {
        return print_json(&json!({
            "dry_run": args.dry_run,
            "removed": report.removed,
            "removed_bytes": report.removed_bytes(),
            "kept_results": report.kept_results,
            "kept_blobs": report.kept_blobs,
            "kept_bytes": report.kept_bytes,
        }));
    }
    let mut text = String::new();
    if args.dry_run {
        for removed in &report.removed {
            text.push_str(&format!(
                "would remove {} {} ({})\n",
                removed.kind,
                removed.digest,
                bytes(removed.bytes)
            ));
        }
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    text.push_str(&format!(
        "{} {verb} {} cached results and {} blobs ({}); kept {} results and {} blobs ({})\n",
        colors.bold("gc:"),
        report.removed_count("result"),
        report.removed_count("blob"),
        bytes(report.removed_bytes()),
        report.kept_results,
        report.kept_blobs,
        bytes(report.kept_bytes),
    ));
    print(&text)
}

/// Everything kept, by key and by blob.
fn roots(workspace: &Workspace, args: &GcArgs) -> Result<Roots, Error> {
    let mut roots = Roots::default();
    for finished in LastKeys::in_workspace(&workspace.root).all() {
        roots.keys.insert(finished.key);
        roots
            .blobs
            .extend(finished.outputs.iter().map(|(_, digest, _)| *digest));
        roots.blobs.extend(finished.logs.into_iter().flatten());
    }
    let current = Lockfile::read(&workspace.root).map_err(Error::Refused)?;
    let mut lockfiles: Vec<Lockfile> = current.into_iter().collect();
    for commit in git::recent_and_named_commits(&workspace.git_root, args.keep_commits) {
        // A commit without a lockfile, or with one this zenbuild cannot read, keeps nothing.
        if let Ok(Some(lock)) = Lockfile::at_commit(&workspace.root, &workspace.git_root, &commit) {
            lockfiles.push(lock);
        }
    }
    for lock in &lockfiles {
        for locked in lock.actions.values() {
            if let Ok(key) = locked.key.parse::<Digest>() {
                roots.keys.insert(key);
            }
            for (_, digest, _) in locked.output_digests().unwrap_or_default() {
                roots.blobs.insert(digest);
            }
        }
    }
    if let Some(store) = lineage_db::open_if_built(workspace)? {
        let since = SystemTime::now()
            .checked_sub(Duration::from_secs(args.keep_days.saturating_mul(86_400)))
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |since| since.as_millis() as i64);
        let keys = store.keys_since(since).map_err(lineage_db::refused)?;
        roots
            .keys
            .extend(keys.iter().filter_map(|key| key.parse::<Digest>().ok()));
    }
    Ok(roots)
}
