//! `zenbuild metrics [RUN|REV…]`, `zenbuild metrics diff [A [B]]` and
//! `zenbuild params diff [A [B]]`: the values steps report and the params they used, at points
//! named by run number or git revision, side by side. A matrix sweep is one table, a row per
//! instance.

use std::collections::{BTreeMap, BTreeSet};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::format::{Format, print_json};
use super::lineage_db;
use crate::error::Error;
use crate::lineage::MetadataStore;
use crate::lineage::snapshot::{self, Places, Snapshot};
use crate::store::LocalStore;
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MetricsArgs {
    #[command(subcommand)]
    pub command: Option<DiffCommand>,

    /// Run numbers (from `zenbuild log`) or git revisions (default: the workspace)
    pub sources: Vec<String>,

    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum DiffCommand {
    /// Compare two points: A (default HEAD) against B (default the workspace)
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A run number or git revision, or `workspace` (default: HEAD)
    pub a: Option<String>,
    /// A run number or git revision, or `workspace` (default: the workspace)
    pub b: Option<String>,

    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Which values a diff compares.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Values {
    Metrics,
    Params,
}

pub fn run_metrics(workspace: &Workspace, args: &MetricsArgs, colors: Colors) -> Result<(), Error> {
    if let Some(DiffCommand::Diff(diff)) = &args.command {
        return run_diff(workspace, diff, Values::Metrics, colors);
    }
    let sources: Vec<Option<&str>> = if args.sources.is_empty() {
        vec![None]
    } else {
        args.sources.iter().map(|s| Some(s.as_str())).collect()
    };
    let snapshots = snapshots(workspace, &sources)?;
    if args.format == Format::Json {
        return print_json(&json!({ "sources": snapshots }));
    }
    let names: BTreeSet<&String> = snapshots
        .iter()
        .flat_map(|s| s.actions.values())
        .flat_map(|a| a.metrics.keys())
        .collect();
    let mut rows = vec![
        ["source", "action"]
            .iter()
            .map(|s| s.to_string())
            .chain(names.iter().map(|n| n.to_string()))
            .collect::<Vec<_>>(),
    ];
    for snapshot in &snapshots {
        for (action, values) in &snapshot.actions {
            if values.metrics.is_empty() {
                continue;
            }
            let mut row = vec![snapshot.source.clone(), action.clone()];
            row.extend(
                names
                    .iter()
                    .map(|name| values.metrics.get(*name).map_or(String::new(), show)),
            );
            rows.push(row);
        }
    }
    if rows.len() == 1 {
        return print("no metrics: no step declares `metrics`, or none was built\n");
    }
    print(&table(&rows, colors))
}

pub fn run_diff(
    workspace: &Workspace,
    args: &DiffArgs,
    values: Values,
    colors: Colors,
) -> Result<(), Error> {
    let a = args.a.as_deref().unwrap_or("HEAD");
    let b = args.b.as_deref();
    let snapshots = snapshots(workspace, &[Some(a), b])?;
    let (before, after) = (&snapshots[0], &snapshots[1]);
    let pick = |snapshot: &Snapshot, action: &str| -> BTreeMap<String, Value> {
        snapshot
            .actions
            .get(action)
            .map(|v| match values {
                Values::Metrics => v.metrics.clone(),
                Values::Params => v.params.clone(),
            })
            .unwrap_or_default()
    };
    let actions: BTreeSet<&String> = before.actions.keys().chain(after.actions.keys()).collect();
    let mut changes = Vec::new();
    for action in actions {
        let (old, new) = (pick(before, action), pick(after, action));
        let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for name in names {
            let (was, is) = (old.get(name), new.get(name));
            // Params diffs show what changed; metrics diffs show every metric.
            if values == Values::Params && was == is {
                continue;
            }
            let delta = match (was.and_then(Value::as_f64), is.and_then(Value::as_f64)) {
                (Some(was), Some(is)) => Some(is - was),
                _ => None,
            };
            changes.push((
                action.clone(),
                name.clone(),
                was.cloned(),
                is.cloned(),
                delta,
            ));
        }
    }
    if args.format == Format::Json {
        let changes: Vec<_> = changes
            .iter()
            .map(|(action, name, was, is, delta)| {
                json!({ "action": action, "name": name, "a": was, "b": is, "delta": delta })
            })
            .collect();
        return print_json(&json!({
            "a": before.source,
            "b": after.source,
            "changes": changes,
        }));
    }
    if changes.is_empty() {
        let what = match values {
            Values::Metrics => "no metrics on either side",
            Values::Params => "no param changed",
        };
        return print(&format!("{}..{}: {what}\n", before.source, after.source));
    }
    let mut rows = vec![vec![
        "action".to_string(),
        match values {
            Values::Metrics => "metric",
            Values::Params => "param",
        }
        .to_string(),
        before.source.clone(),
        after.source.clone(),
        "change".to_string(),
    ]];
    for (action, name, was, is, delta) in changes {
        let change = match delta {
            Some(0.0) => "0".to_string(),
            Some(delta) => format!("{delta:+.6}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
            None if was != is => "changed".to_string(),
            None => String::new(),
        };
        rows.push(vec![
            action,
            name,
            was.as_ref().map_or("-".into(), show),
            is.as_ref().map_or("-".into(), show),
            change,
        ]);
    }
    print(&table(&rows, colors))
}

fn snapshots(workspace: &Workspace, names: &[Option<&str>]) -> Result<Vec<Snapshot>, Error> {
    let store = match lineage_db::open_existing(workspace) {
        Ok(store) => store,
        // The workspace's metrics are in its files; the lineage only adds the runs that made
        // them, which a damaged database cannot tell.
        Err(e) if e.is_damage() && names.iter().all(Option::is_none) => {
            eprintln!("note: {e}");
            None
        }
        Err(e) => return Err(lineage_db::refused(e)),
    };
    let local = LocalStore::in_workspace(&workspace.root)
        .map_err(|e| Error::Refused(format!("cannot open the cache: {e}")))?;
    let blob_path = |digest: &crate::hash::Digest| local.blob_path(digest);
    let places = Places {
        root: &workspace.root,
        git_root: &workspace.git_root,
        blob_path: &blob_path,
    };
    names
        .iter()
        .map(|name| {
            snapshot::resolve(
                *name,
                &places,
                store.as_ref().map(|s| s as &dyn MetadataStore),
            )
            .map_err(Error::Refused)
        })
        .collect()
}

/// A value as a table shows it: numbers and booleans as JSON writes them, text bare.
fn show(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Columns padded to their widest cell; the first row is the header.
fn table(rows: &[Vec<String>], colors: Colors) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for (index, row) in rows.iter().enumerate() {
        let line = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        let line = line.trim_end();
        if index == 0 {
            text.push_str(&colors.bold(line));
        } else {
            text.push_str(line);
        }
        text.push('\n');
    }
    text
}
