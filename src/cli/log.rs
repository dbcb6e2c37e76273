//! `zenbuild log`: the recent runs, newest first.

use clap::Args;

use super::format::{Format, print_json};
use super::lineage_db;
use crate::error::Error;
use crate::lineage::RunSummary;
use crate::ui::time::{duration, utc};
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct LogArgs {
    /// How many runs to show
    #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
    pub limit: usize,

    /// Only the runs of this user (as runs record it: the login name)
    #[arg(long, value_name = "NAME", conflicts_with = "mine")]
    pub user: Option<String>,

    /// Only your own runs
    #[arg(long)]
    pub mine: bool,

    #[command(flatten)]
    pub store: lineage_db::StoreArg,

    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(workspace: &Workspace, args: &LogArgs, colors: Colors) -> Result<(), Error> {
    let store = lineage_db::open(workspace, &args.store)?;
    let user = if args.mine {
        Some(crate::lineage::recorder::user())
    } else {
        args.user.clone()
    };
    let runs = match &user {
        Some(user) => store.runs_of(user, args.limit)?,
        None => store.runs(args.limit)?,
    };
    if args.format == Format::Json {
        return print_json(&serde_json::json!({ "runs": runs }));
    }
    let mut text = format!(
        "{}\n",
        colors.bold(&format!(
            "{:>4}  {:<20}  {:<20}  {:<9}  {:<11}  {:>4} {:>6} {:>6}  {:>7}  command",
            "run", "started", "by", "commit", "status", "ran", "cached", "failed", "time"
        ))
    );
    for run in &runs {
        text.push_str(&line(run, colors));
        text.push('\n');
    }
    print(&text)
}

fn line(run: &RunSummary, colors: Colors) -> String {
    let status = match run.status.as_str() {
        "succeeded" => colors.green(&format!("{:<11}", run.status)),
        "failed" | "interrupted" => colors.red(&format!("{:<11}", run.status)),
        _ => format!("{:<11}", run.status),
    };
    let took = run.finished_ms.map_or(String::new(), |finished| {
        duration(std::time::Duration::from_millis(
            finished.saturating_sub(run.started_ms).max(0) as u64,
        ))
    });
    format!(
        "{:>4}  {:<20}  {:<20}  {:<9}  {status}  {:>4} {:>6} {:>6}  {:>7}  {}",
        run.id,
        utc(run.started_ms),
        format!("{}@{}", run.user, run.host),
        short_commit(run),
        run.counts.ran,
        run.counts.cached,
        run.counts.failed,
        took,
        run.command.join(" ")
    )
}

/// `1a2b3c4d`, with `*` when the tree was dirty; `-` outside git.
pub fn short_commit(run: &RunSummary) -> String {
    match &run.git {
        Some(git) => format!(
            "{}{}",
            &git.commit[..git.commit.len().min(8)],
            if git.dirty { "*" } else { "" }
        ),
        None => "-".into(),
    }
}
