//! The command line: argument definitions here, one file per subcommand.

mod build;
mod build_view;
mod cache;
mod cache_transfer;
mod check;
mod clean;
mod completions;
mod explain;
mod forced;
mod format;
mod gc;
mod graph;
mod help;
mod init;
mod lineage;
mod lineage_db;
mod link_arg;
mod list;
mod log;
mod man;
mod metadata;
mod metrics;
mod path_arg;
mod plan;
mod remotes;
mod show;
mod status;
mod targets;
mod value_diff;
mod verify;
mod watch;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Error;
use crate::ui::{ColorChoice, Colors, print_error};
use crate::workspace::Workspace;

#[derive(Debug, Parser)]
#[command(
    name = "zenbuild",
    version,
    about = "make/bazel for machine learning: runs the pipeline steps whose inputs changed, restores the rest from cache",
    long_about = None,
    disable_help_subcommand = true,
    after_help = "zenbuild reads zenbuild.kdl in the current directory or the nearest parent.\n`zenbuild help manifest` summarises its language; `zenbuild init` writes a starter one."
)]
pub struct Cli {
    /// Run as if started in DIR
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,

    /// When to colour output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Without a subcommand, zenbuild builds the default pipeline with these options.
    #[command(flatten)]
    pub build: build::BuildOptions,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build targets (default: the default pipeline), running only what changed
    Build(build::BuildArgs),
    /// Build one pipeline
    Run(RunArgs),
    /// Say what a build would run and why, without running anything
    Plan(plan::PlanArgs),
    /// Show an action's key, its inputs, and why it would run or is cached
    Explain(explain::ExplainArgs),
    /// Remove the outputs steps wrote (the cache keeps them)
    Clean(clean::CleanArgs),
    /// Inspect the local cache; push results to and pull them from the remotes
    #[command(subcommand)]
    Cache(cache::CacheCommand),
    /// Validate zenbuild.kdl and print a summary
    Check,
    /// Print the resolved action graph
    Graph(graph::GraphArgs),
    /// List pipelines and their step instances
    List,
    /// Write a starter zenbuild.kdl and git-ignore .zenbuild/
    Init(init::InitArgs),
    /// List recent runs: when, at which commit, what ran
    Log(log::LogArgs),
    /// Show one run: every action, its status, timing and why it ran
    Show(show::ShowArgs),
    /// Show where an artifact came from (or, with --down, what was made from it)
    Lineage(lineage::LineageArgs),
    /// The team's metadata store: `metadata migrate`, `metadata push`
    #[command(subcommand)]
    Metadata(metadata::MetadataCommand),
    /// List the actions zenbuild.lock no longer describes, and why (--check: exit 1 if any)
    Status(status::StatusArgs),
    /// Show the metrics steps reported, at runs or git revisions; `metrics diff A B`
    Metrics(metrics::MetricsArgs),
    /// Compare the params steps used: `params diff A B`
    #[command(subcommand)]
    Params(ParamsCommand),
    /// Remove cached results and blobs that neither the workspace, zenbuild.lock in recent
    /// commits, nor recent runs need
    Gc(gc::GcArgs),
    /// Rerun cached actions and report those whose outputs differ (non-deterministic steps),
    /// keeping the cached results
    Verify(verify::VerifyArgs),
    /// Build, then rebuild what each saved change affects, until q or Ctrl-C
    Watch(watch::WatchArgs),
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff): `zenbuild man | man -l -`
    Man,
    /// Print the help of zenbuild or of a subcommand; `help manifest` summarises zenbuild.kdl
    Help(help::HelpArgs),
    /// Run one attempt staged in a team remote, where the workspace is not (for Ray, Slurm)
    Worker(worker::WorkerArgs),
}

#[derive(Debug, clap::Subcommand)]
pub enum ParamsCommand {
    /// The params that differ between A (default HEAD) and B (default the workspace)
    Diff(metrics::DiffArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pipeline to build
    pub pipeline: String,

    #[command(flatten)]
    pub build: build::BuildOptions,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A worker's exit code is its step's, and it prints its own notes: no error to render.
    if let Some(Command::Worker(args)) = &cli.command {
        return worker::main(args);
    }
    let choice = cli.color;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            print_error(&error, Colors::for_stderr(choice));
            ExitCode::from(error.code())
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let directory = cli.directory.unwrap_or_else(|| PathBuf::from("."));
    let out = Colors::for_stdout(cli.color);
    let err = Colors::for_stderr(cli.color);
    let workspace = || Workspace::discover(&directory);
    let Some(command) = cli.command else {
        let build = build::BuildArgs {
            targets: Vec::new(),
            pipeline_only: false,
            options: cli.build,
        };
        return build::run(&workspace()?, &build, err);
    };
    match command {
        Command::Build(args) => build::run(&workspace()?, &args, err),
        Command::Run(args) => {
            let build = build::BuildArgs {
                targets: vec![args.pipeline],
                pipeline_only: true,
                options: args.build,
            };
            build::run(&workspace()?, &build, err)
        }
        Command::Plan(args) => plan::run(&workspace()?, &args, out),
        Command::Explain(args) => explain::run(&workspace()?, &args, out),
        Command::Clean(args) => clean::run(&workspace()?, &args, out),
        Command::Cache(command) => cache::run(&workspace()?, &command, err),
        Command::Check => check::run(&workspace()?, out),
        Command::Graph(args) => graph::run(&workspace()?, &args),
        Command::List => list::run(&workspace()?, out),
        Command::Init(args) => init::run(&directory, &args, out),
        Command::Completions(args) => completions::run(&args),
        Command::Man => man::run(),
        Command::Help(args) => help::run(&args),
        Command::Log(args) => log::run(&workspace()?, &args, out),
        Command::Show(args) => show::run(&workspace()?, &args, out),
        Command::Lineage(args) => lineage::run(&workspace()?, &args, out),
        Command::Metadata(command) => metadata::run(&workspace()?, &command),
        Command::Status(args) => status::run(&workspace()?, &args, out),
        Command::Gc(args) => gc::run(&workspace()?, &args, out),
        Command::Verify(args) => verify::run(&workspace()?, &args, err),
        Command::Watch(args) => watch::run(&workspace()?, &args, err),
        Command::Metrics(args) => metrics::run_metrics(&workspace()?, &args, out),
        Command::Params(ParamsCommand::Diff(args)) => {
            metrics::run_diff(&workspace()?, &args, metrics::Values::Params, out)
        }
        // Taken by `main` before this: it ends with its step's exit code, not an error.
        Command::Worker(_) => Err(Error::BadArgument(
            "`zenbuild worker` ends with its step's exit code, through `cli::main`".to_string(),
        )),
    }
}
