//! `zenbuild build` (and a bare `zenbuild`, and `zenbuild run PIPELINE`): bring the targets up
//! to date, running what changed and restoring the rest from the cache.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};

use super::session::Session;
use super::targets::{require_pipeline, select_or_default};
use crate::error::Error;
use crate::exec::lock::WorkspaceLock;
use crate::exec::resources::Capacity;
use crate::exec::scheduler::{self, Options};
use crate::exec::up_to_date;
use crate::exec::{Event, event::Outcome};
use crate::hash::{Digest, FileSystem, RealFileSystem};
use crate::lineage::RunStatus;
use crate::lineage::recorder::Recorder;
use crate::lockfile;
use crate::store::LinkMode;
use crate::ui::Colors;
use crate::ui::build_report::BuildReport;
use crate::ui::progress::{Mode, Progress, say_note, say_up_to_date};
use crate::workspace::Workspace;

pub const STAT_CACHE: &str = ".zenbuild/stat-cache";
pub const LOCK: &str = ".zenbuild/lock";

#[derive(Debug, Args, Default)]
pub struct BuildArgs {
    /// Pipelines, steps or actions to build, with their dependencies (default: the default
    /// pipeline)
    pub targets: Vec<String>,

    /// Set by `zenbuild run`: the one target must be a pipeline.
    #[arg(skip)]
    pub pipeline_only: bool,

    #[command(flatten)]
    pub options: BuildOptions,
}

/// How to build, for `zenbuild build` and for a bare `zenbuild`.
#[derive(Debug, Args, Default, Clone)]
pub struct BuildOptions {
    /// Run up to N CPU slots' worth of steps at once (default: the number of cores)
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<u32>,

    /// Go on building what does not depend on a failed step
    #[arg(short = 'k', long)]
    pub keep_going: bool,

    /// How outputs are restored from the cache
    #[arg(long, value_enum, value_name = "MODE")]
    pub link: Option<LinkMode>,

    /// GPU device indices to hand out, e.g. `0,1` (default: those `nvidia-smi -L` lists)
    #[arg(long, value_name = "IDS")]
    pub gpus: Option<String>,

    /// Write a JSON report of every action to FILE
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Also show cached steps and why each step ran
    #[arg(short, long)]
    pub verbose: bool,
}

pub fn run(workspace: &Workspace, build: &BuildArgs, colors: Colors) -> Result<(), Error> {
    let started = Instant::now();
    // Before anything is read: only what was unchanged by then may be recorded as up to date.
    let started_ns = RealFileSystem.now_ns();
    let args = &build.options;
    let selection = up_to_date::selection(&build.targets, build.pipeline_only);
    // A report and `--verbose` speak of every action, which takes the graph.
    let mut lock = None;
    if args.report.is_none() && !args.verbose {
        lock = WorkspaceLock::try_acquire(&workspace.root.join(LOCK)).unwrap_or(None);
        if lock.is_some()
            && let Some(actions) =
                up_to_date::check(&workspace.root, &workspace.manifest, &selection)
        {
            say_up_to_date(colors, actions, started.elapsed());
            return Ok(());
        }
    }
    let (manifest, graph) = crate::load_graph(workspace)?;
    if build.pipeline_only {
        for name in &build.targets {
            require_pipeline(&graph, name)?;
        }
    }
    let targets = select_or_default(&graph, &build.targets)?;
    let mut progress = Progress::new(&graph, colors, args.verbose, Mode::detect());
    let _lock = match lock {
        Some(lock) => lock,
        None => WorkspaceLock::acquire(&workspace.root.join(LOCK), |holder| {
            progress.handle(&Event::Note {
                message: format!("waiting for {holder} to finish in this workspace"),
            });
        })
        .map_err(|e| Error::io("cannot lock the workspace", e))?,
    };
    let mut session = Session::open(workspace)?;
    // The command line wins over the manifest's `link`, which wins over the default.
    let from_manifest = manifest
        .link
        .as_ref()
        .and_then(|mode| LinkMode::from_str(&mode.value, false).ok());
    if let Some(link) = args.link.or(from_manifest) {
        session.link_mode = link;
    }
    let builder = session.builder(&graph);
    let options = Options {
        capacity: Capacity {
            cpus: args.jobs.unwrap_or_else(cores).max(1),
            memory: total_memory(),
            gpus: gpus(args.gpus.as_deref()),
        },
        keep_going: args.keep_going,
        check_threads: cores() as usize,
    };
    let mut report = BuildReport::new();
    let blob_path = |digest: &Digest| session.store.blob_path(digest);
    let mut recorder = match Recorder::in_workspace(
        &workspace.root,
        &manifest,
        &graph,
        &targets,
        Box::new(blob_path),
    ) {
        Ok(recorder) => Some(recorder),
        Err(e) => {
            progress.handle(&Event::Note {
                message: format!("this run is not recorded in the lineage: {e}"),
            });
            None
        }
    };
    let outcomes = scheduler::run(
        &graph,
        &targets,
        &builder,
        &options,
        &|| session.interrupt.is_triggered(),
        &mut |event| {
            report.handle(&event, &graph);
            progress.handle(&event);
            if let Some(recorder) = &mut recorder {
                recorder.handle(&event);
            }
            if args.verbose
                && let Event::Finished {
                    id,
                    outcome: Outcome::Cached(done),
                } = &event
                && let Some((stdout, stderr)) = done.logs
            {
                let text = [stdout, stderr]
                    .iter()
                    .filter_map(|digest| std::fs::read(session.store.blob_path(digest)).ok())
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .collect::<String>();
                if !text.trim().is_empty() {
                    progress.replay(&graph.action(*id).name, &text);
                }
            }
        },
    );
    progress.finish();
    session.save();
    let failed = outcomes
        .iter()
        .filter(|(_, outcome)| matches!(outcome, Outcome::Failed(_)))
        .count();
    if let Some(recorder) = recorder {
        let status = if session.interrupt.is_triggered() {
            RunStatus::Interrupted
        } else if failed > 0 {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        if let Some(e) = recorder.finish(status) {
            say_note(colors, &format!("this run's lineage is incomplete: {e}"));
        }
    }
    if failed == 0
        && !session.interrupt.is_triggered()
        && let Err(e) = lockfile::update(&workspace.root, &graph, &outcomes, &session.last_keys)
    {
        say_note(colors, &e);
    }
    let all_cached = outcomes.len() == targets.len()
        && outcomes
            .iter()
            .all(|(_, outcome)| matches!(outcome, Outcome::Cached(_)));
    if all_cached && !session.interrupt.is_triggered() {
        // Losing the record costs the next no-op its shortcut, never a wrong answer.
        let _ = up_to_date::record(
            &workspace.root,
            &manifest,
            &graph,
            &targets,
            &selection,
            started_ns,
        );
    } else {
        up_to_date::forget(&workspace.root);
    }
    if let Some(path) = &args.report {
        report
            .write(path)
            .map_err(|e| Error::io(format!("cannot write the report {}", path.display()), e))?;
    }
    if session.interrupt.is_triggered() {
        return Err(Error::Interrupted);
    }
    if failed > 0 {
        return Err(Error::BuildFailed { failed });
    }
    Ok(())
}

fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// Physical memory, from /proc/meminfo; `None` (no limit) where that is not available.
fn total_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// GPU device indices: as given, else one per line of `nvidia-smi -L`, else none.
fn gpus(given: Option<&str>) -> Vec<String> {
    if let Some(given) = given {
        return given
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(String::from)
            .collect();
    }
    let Ok(output) = std::process::Command::new("nvidia-smi").arg("-L").output() else {
        return Vec::new();
    };
    if !output.status.success() {
        return Vec::new();
    }
    let listed = String::from_utf8_lossy(&output.stdout);
    (0..listed
        .lines()
        .filter(|line| line.starts_with("GPU "))
        .count())
        .map(|index| index.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::loader::LINK_MODES;

    /// The manifest's `link` takes exactly the modes `--link` does.
    #[test]
    fn manifest_link_modes_are_the_command_line_ones() {
        for mode in LINK_MODES {
            assert!(LinkMode::from_str(mode, false).is_ok(), "{mode}");
        }
        assert_eq!(LinkMode::value_variants().len(), LINK_MODES.len());
    }
}
