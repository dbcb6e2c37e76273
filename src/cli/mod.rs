//! The command line: argument definitions here, one file per subcommand.

mod check;
mod graph;
mod init;
mod list;
mod targets;

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
    after_help = "zenbuild reads zenbuild.kdl in the current directory or the nearest parent.\nThe language is documented in grammar/GRAMMAR.md."
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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate zenbuild.kdl and print a summary
    Check,
    /// Print the resolved action graph
    Graph(graph::GraphArgs),
    /// List pipelines and their step instances
    List,
    /// Write a starter zenbuild.kdl and git-ignore .zenbuild/
    Init(init::InitArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let choice = cli.color;
    match run(cli, Colors::for_stdout(choice)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            print_error(&error, Colors::for_stderr(choice));
            ExitCode::from(error.code())
        }
    }
}

fn run(cli: Cli, colors: Colors) -> Result<(), Error> {
    let directory = cli.directory.unwrap_or_else(|| PathBuf::from("."));
    let Some(command) = cli.command else {
        // Building arrives with the build engine; until then the bare command validates.
        return check::run(&Workspace::discover(&directory)?, colors);
    };
    match command {
        Command::Check => check::run(&Workspace::discover(&directory)?, colors),
        Command::Graph(args) => graph::run(&Workspace::discover(&directory)?, &args),
        Command::List => list::run(&Workspace::discover(&directory)?, colors),
        Command::Init(args) => init::run(&directory, &args, colors),
    }
}
