//! `zenbuild gc`: removes cached results and blobs nothing needs any more. Kept are what the
//! workspace was last built with (every action's last result, even of pipelines not built
//! lately), what `zenbuild.lock` names in the workspace, in the last N commits of HEAD and at
//! every branch and tag, and what runs of the last D days used. `--dry-run` says what would
//! go, removes nothing, and names each result's action (as the lineage knows its key) and
//! age, so that a user can tell whether `--keep-days` or `--keep-commits` should be larger.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde_json::json;

use super::cache::bytes;
use super::format::{Format, print_json};
use super::lineage_db;
use crate::error::Error;
use crate::exec::last_keys::LastKeys;
use crate::exec::lock::WorkspaceLock;
use crate::hash::Digest;
use crate::lineage::{MetadataStore, git};
use crate::lockfile::Lockfile;
use crate::store::{LocalStore, Removed, Roots};
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
    let _lock = WorkspaceLock::acquire(&workspace.state_dir(), |holder| {
        eprintln!("note: waiting for {holder} to finish in this workspace");
    })
    .map_err(|e| Error::io("cannot lock the workspace", e))?;
    let roots = roots(workspace, args)?;
    let store = LocalStore::in_workspace(&workspace.root)
        .map_err(|e| Error::store("cannot open the cache", e))?;
    let report = store
        .collect_garbage(&roots, args.dry_run)
        .map_err(|e| Error::store("cannot collect garbage", e))?;
    let names = action_names(workspace, &report.removed);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.as_millis() as u64);
    if args.format == Format::Json {
        let removed: Vec<_> = report
            .removed
            .iter()
            .map(|removed| {
                let mut value = json!(removed);
                if removed.kind == "result" {
                    value["action"] = json!(names.get(&removed.digest));
                    value["age_secs"] =
                        json!(removed.made_ms.map(|ms| now_ms.saturating_sub(ms) / 1000));
                }
                value
            })
            .collect();
        return print_json(&json!({
            "dry_run": args.dry_run,
            "removed": removed,
            "removed_bytes": report.removed_bytes(),
            "kept_results": report.kept_results,
            "kept_blobs": report.kept_blobs,
            "kept_bytes": report.kept_bytes,
        }));
    }
    let mut text = String::new();
    if args.dry_run {
        for removed in report.removed.iter().filter(|r| r.kind == "result") {
            let action = names.get(&removed.digest).map_or_else(
                || "an action no run here recorded".to_string(),
                |name| format!("`{name}`"),
            );
            let age = removed.made_ms.map_or("of unknown age".to_string(), |ms| {
                format!("made {}", age(now_ms.saturating_sub(ms)))
            });
            let _ = writeln!(
                text,
                "would remove result {} of {action}, {age} ({})",
                removed.digest,
                bytes(removed.bytes)
            );
        }
        let blobs: Vec<_> = report.removed.iter().filter(|r| r.kind == "blob").collect();
        if !blobs.is_empty() {
            let _ = writeln!(
                text,
                "would remove {} blob{} ({}) that no kept result needs",
                blobs.len(),
                if blobs.len() == 1 { "" } else { "s" },
                bytes(blobs.iter().map(|blob| blob.bytes).sum())
            );
        }
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let _ = writeln!(
        text,
        "{} {verb} {} cached results and {} blobs ({}); kept {} results and {} blobs ({})",
        colors.bold("gc:"),
        report.removed_count("result"),
        report.removed_count("blob"),
        bytes(report.removed_bytes()),
        report.kept_results,
        report.kept_blobs,
        bytes(report.kept_bytes),
    );
    print(&text)
}

/// The action that each removed result's key belonged to, by key, as the runs recorded it
/// (the latest run that had the key names it). Empty without a lineage.
fn action_names(workspace: &Workspace, removed: &[Removed]) -> HashMap<String, String> {
    let mut wanted: HashSet<&str> = removed
        .iter()
        .filter(|r| r.kind == "result")
        .map(|r| r.digest.as_str())
        .collect();
    let mut names = HashMap::new();
    let Ok(Some(store)) = lineage_db::open_if_built(workspace) else {
        return names;
    };
    // Newest first, and no further than needed: a result being removed is usually recent.
    for run in store.runs(usize::MAX >> 1).unwrap_or_default() {
        if wanted.is_empty() {
            break;
        }
        for summary in store.run_actions(run.id).unwrap_or_default() {
            let Some(key) = summary.action.key else {
                continue;
            };
            if wanted.remove(key.as_str()) {
                names.insert(key, summary.action.name);
            }
        }
    }
    names
}

/// `3 days ago`: how long ago, for people.
fn age(elapsed_ms: u64) -> String {
    let seconds = elapsed_ms / 1000;
    let (count, unit) = match seconds {
        0..60 => return "just now".to_string(),
        60..3600 => (seconds / 60, "minute"),
        3600..86_400 => (seconds / 3600, "hour"),
        _ => (seconds / 86_400, "day"),
    };
    format!("{count} {unit}{} ago", if count == 1 { "" } else { "s" })
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
    let current = Lockfile::read(&workspace.root)?;
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
        let keys = store.keys_since(since)?;
        roots
            .keys
            .extend(keys.iter().filter_map(|key| key.parse::<Digest>().ok()));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::age;

    #[test]
    fn ages_in_words() {
        assert_eq!(age(5_000), "just now");
        assert_eq!(age(61_000), "1 minute ago");
        assert_eq!(age(3 * 3_600_000 + 5), "3 hours ago");
        assert_eq!(age(2 * 86_400_000), "2 days ago");
    }
}
