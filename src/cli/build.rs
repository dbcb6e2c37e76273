//! `zenbuild build` (and a bare `zenbuild`, and `zenbuild run PIPELINE`): bring the targets up
//! to date, running what changed and restoring the rest from the cache.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::build_view::BuildView;
use super::forced::ForceArgs;
use super::targets::{own_store, require_pipeline, select_or_default};
use crate::error::Error;
use crate::exec::lock::WorkspaceLock;
use crate::exec::placement::default_executor;
use crate::exec::up_to_date::{Unchanged, Verdict};
use crate::exec::{Build, BuildRequest, ShowOutput, capacity, up_to_date};
use crate::graph::{ActionId, Graph};
use crate::hash::{FileSystem, RealFileSystem};
use crate::remote::choice::Choice;
use crate::store::LinkMode;
use crate::ui::Colors;
use crate::ui::progress::say_up_to_date;
use crate::workspace::Workspace;

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
#[allow(
    clippy::struct_excessive_bools,
    reason = "one field per command-line switch, as clap derives them"
)]
pub struct BuildOptions {
    /// Run up to N CPU slots' worth of steps at once (default: the number of cores; 0: no
    /// limit, as in ninja, while memory and GPUs still limit)
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

    /// Also show cached steps, with what they printed when they ran, and why each step ran
    #[arg(short, long)]
    pub verbose: bool,

    /// Do not show what steps that succeeded printed (a failure still shows its end)
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Leave the manifest's remote caches out: the local cache only
    #[arg(long)]
    pub no_remote: bool,

    /// Use only this one of the manifest's remote caches
    #[arg(long, value_name = "NAME", conflicts_with = "no_remote")]
    pub remote: Option<String>,

    /// Run the steps that name no executor on this one of the manifest's executors
    /// (default: `local`, this machine)
    #[arg(long, value_name = "NAME")]
    pub executor: Option<String>,

    #[command(flatten)]
    pub force: ForceArgs,
}

pub fn run(workspace: &Workspace, build: &BuildArgs, colors: Colors) -> Result<(), Error> {
    let started = Instant::now();
    // Before anything is read: only what was unchanged by then may be recorded as up to date.
    let fs = RealFileSystem;
    let started_ns = fs.now_ns();
    let args = &build.options;
    let selection = up_to_date::selection(&build.targets, build.pipeline_only);
    // A report and `--verbose` speak of every action, which takes the graph; a forced
    // action runs whatever the record says.
    let mut lock = None;
    let mut unchanged = Unchanged::default();
    if args.report.is_none() && !args.verbose && !args.force.any() {
        lock = WorkspaceLock::try_acquire(&workspace.state_dir()).unwrap_or(None);
        if lock.is_some() {
            match up_to_date::check(&fs, &workspace.root, &workspace.manifest, &selection) {
                Verdict::UpToDate(actions) => {
                    say_up_to_date(colors, actions, started.elapsed());
                    return Ok(());
                }
                Verdict::Stale(known) => unchanged = known,
            }
        }
    }
    let (manifest, graph) = crate::load_graph(workspace)?;
    if build.pipeline_only {
        for name in &build.targets {
            require_pipeline(&graph, name)?;
        }
    }
    let targets = select_or_default(&graph, &build.targets)?;
    let mut request = args.request(&graph, targets, selection, started_ns)?;
    request.unchanged = unchanged;
    request.metadata = own_store(&graph, &build.targets)?;
    let mut view = BuildView::new(workspace, &graph, &request, colors);
    if args.report.is_some() {
        view = view.with_report();
    }
    let done = Build::new(workspace, &manifest, &graph).run(&request, lock, None, &mut view)?;
    if let Some(path) = &args.report {
        view.write_report(path)?;
    }
    drop(view);
    let result = if done.interrupted {
        Err(Error::Interrupted)
    } else if done.failed > 0 {
        Err(Error::BuildFailed {
            failed: done.failed,
        })
    } else {
        Ok(())
    };
    // The process ends right after this: freeing every action, artifact, outcome and string
    // one at a time cost an incremental build of 10,000 steps 25-45 ms, for memory the exit
    // gives back anyway (as `check` does). The build released the workspace lock and wrote
    // every file it writes; the view, which writes to the terminal, is dropped above. What is
    // left holds no file, lock or unwritten buffer.
    std::mem::forget((manifest, graph, request, done));
    result
}

impl BuildOptions {
    /// The engine's request for a build of `targets` (dependencies first) with these options;
    /// `selection` names the targets as the command line did, for the up-to-date record.
    pub(super) fn request(
        &self,
        graph: &Graph,
        targets: Vec<ActionId>,
        selection: String,
        started_ns: i64,
    ) -> Result<BuildRequest, Error> {
        let forced = self.force.resolve(graph, &targets)?;
        // Checked now, so that a misspelt name stops the build before anything runs.
        default_executor(graph, self.executor.as_deref())?;
        Ok(BuildRequest {
            cpu_slots: self.cpu_slots(),
            keep_going: self.keep_going,
            link: self.link,
            gpus: self.gpus.as_deref().map(capacity::gpu_list),
            show_output: ShowOutput {
                ran: !self.quiet,
                cached: self.verbose,
            },
            remotes: self.remote_choice(),
            forced,
            executor: self.executor.clone(),
            ..BuildRequest::new(targets, selection, started_ns)
        })
    }

    /// The CPU slots `-j` gives: `-j 0` is no limit, as in ninja, not one slot.
    fn cpu_slots(&self) -> u32 {
        match self.jobs {
            Some(0) => u32::MAX,
            Some(jobs) => jobs,
            None => capacity::cores(),
        }
    }

    /// The remotes `--no-remote` and `--remote NAME` leave.
    fn remote_choice(&self) -> Choice {
        Choice::from_flags(self.no_remote, self.remote.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::loader::LINK_MODES;
    use clap::ValueEnum;

    /// The manifest's `link` takes exactly the modes `--link` does.
    #[test]
    fn manifest_link_modes_are_the_command_line_ones() {
        for mode in LINK_MODES {
            assert!(mode.parse::<LinkMode>().is_ok(), "{mode}");
        }
        assert_eq!(LinkMode::value_variants().len(), LINK_MODES.len());
    }
}
