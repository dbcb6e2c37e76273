//! `zenbuild metrics [RUN|REV…]`, `zenbuild metrics diff [A [B]]` and
//! `zenbuild params diff [A [B]]`: the values steps report and the params they used, at points
//! named by run number or git revision, side by side. A matrix sweep is one table, a row per
//! instance.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::format::{Format, print_json};
use super::lineage_db;
use super::value_diff;
use crate::error::Error;
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

    #[command(flatten)]
    pub store: lineage_db::StoreArg,

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

    /// Also show the values that did not change
    #[arg(long)]
    pub all: bool,

    #[command(flatten)]
    pub store: lineage_db::StoreArg,

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
    let snapshots = snapshots(workspace, &args.store, &sources)?;
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
            .map(ToString::to_string)
            .chain(names.iter().map(|&name| name.clone()))
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
    let names = [Some(args.a.as_deref().unwrap_or("HEAD")), args.b.as_deref()];
    let sides = sides(workspace, &args.store, &names, values)?;
    let [(a, before), (b, after)] = &sides;
    // An action that one side never built has no params there to compare; its metrics are
    // new or gone.
    let diff = value_diff::diff(before, after, args.all, values == Values::Params);
    if args.format == Format::Json {
        let changes: Vec<_> = diff
            .rows
            .iter()
            .map(|row| {
                json!({
                    "action": row.action,
                    "name": row.name,
                    "a": row.was,
                    "b": row.is,
                    "change": row.change.kind(),
                    "delta": row.change.delta(),
                })
            })
            .collect();
        let mut report = json!({ "a": a, "b": b, "changes": changes });
        if values == Values::Params {
            report["only_in_a"] = json!(diff.only_in_a);
            report["only_in_b"] = json!(diff.only_in_b);
        }
        return print_json(&report);
    }
    let mut text = if diff.rows.is_empty() {
        let what = match (values, args.all) {
            (Values::Metrics, true) => "no metrics on either side",
            (Values::Metrics, false) => "no metric changed (--all shows them all)",
            (Values::Params, true) => "no params on either side",
            (Values::Params, false) => "no param changed",
        };
        format!("{a}..{b}: {what}\n")
    } else {
        let mut rows = vec![vec![
            "action".to_string(),
            match values {
                Values::Metrics => "metric",
                Values::Params => "param",
            }
            .to_string(),
            a.clone(),
            b.clone(),
            "change".to_string(),
        ]];
        for row in diff.rows {
            rows.push(vec![
                row.action,
                row.name,
                row.was.as_ref().map_or("-".into(), show),
                row.is.as_ref().map_or("-".into(), show),
                row.change.cell(),
            ]);
        }
        table(&rows, colors)
    };
    for (side, only) in [(a, &diff.only_in_a), (b, &diff.only_in_b)] {
        if !only.is_empty() {
            let _ = writeln!(
                text,
                "not compared, only {side} has them: {}",
                only.join(", ")
            );
        }
    }
    print(&text)
}

/// The values each named point holds, by action. The workspace's params are those its
/// params files hold now, resolved by the manifest, built or not.
fn sides(
    workspace: &Workspace,
    store: &lineage_db::StoreArg,
    names: &[Option<&str>; 2],
    values: Values,
) -> Result<[(String, value_diff::Side); 2], Error> {
    let is_workspace = |name: Option<&str>| name.is_none_or(|name| name == "workspace");
    let current = if values == Values::Params && names.iter().copied().any(is_workspace) {
        let (_, graph) = crate::load_graph(workspace)?;
        let params: value_diff::Side = graph
            .actions
            .into_iter()
            .map(|action| (action.name, action.params))
            .collect();
        Some(params)
    } else {
        None
    };
    let recorded: Vec<Option<&str>> = names
        .iter()
        .filter(|name| current.is_none() || !is_workspace(**name))
        .copied()
        .collect();
    let mut recorded = snapshots(workspace, store, &recorded)?.into_iter();
    let mut side = |name: Option<&str>| -> Result<(String, value_diff::Side), Error> {
        if let (Some(current), true) = (&current, is_workspace(name)) {
            return Ok(("workspace".to_string(), current.clone()));
        }
        let snapshot = recorded
            .next()
            .ok_or_else(|| Error::BadArgument("a diff compares two points".into()))?;
        let values = snapshot
            .actions
            .into_iter()
            .map(|(action, v)| match values {
                Values::Metrics => (action, v.metrics),
                Values::Params => (action, v.params),
            })
            .collect();
        Ok((snapshot.source, values))
    };
    Ok([side(names[0])?, side(names[1])?])
}

fn snapshots(
    workspace: &Workspace,
    store: &lineage_db::StoreArg,
    names: &[Option<&str>],
) -> Result<Vec<Snapshot>, Error> {
    let team = lineage_db::chosen(workspace, store)?;
    let store = match lineage_db::open_optional(workspace, team) {
        Ok(store) => store,
        // The workspace's metrics are in its files; the lineage only adds the runs that made
        // them, which a damaged database cannot tell.
        Err(e) if e.is_damage() && names.iter().all(Option::is_none) => {
            eprintln!("note: {e}");
            None
        }
        Err(e) => return Err(Error::Lineage(e)),
    };
    let local = LocalStore::in_workspace(&workspace.root)
        .map_err(|e| Error::store("cannot open the cache", e))?;
    let blob_path = |digest: &crate::hash::Digest| local.blob_path(digest);
    let places = Places {
        root: &workspace.root,
        git_root: &workspace.git_root,
        blob_path: &blob_path,
    };
    names
        .iter()
        .map(|name| snapshot::resolve(*name, &places, store.as_deref()).map_err(Error::BadArgument))
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
