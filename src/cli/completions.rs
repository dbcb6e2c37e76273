//! `zenbuild completions SHELL`: a completion script for the shell, from the same argument
//! definitions the binary parses with, so it cannot fall behind them.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use crate::error::Error;
use crate::ui::print;

#[derive(Debug, Args)]
#[command(after_help = "Install, for example:\n  \
    bash: zenbuild completions bash > ~/.local/share/bash-completion/completions/zenbuild\n  \
    zsh:  zenbuild completions zsh > ~/.zfunc/_zenbuild   (with fpath+=~/.zfunc before compinit)\n  \
    fish: zenbuild completions fish > ~/.config/fish/completions/zenbuild.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &CompletionsArgs) -> Result<(), Error> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "zenbuild", &mut script);
    print(&String::from_utf8_lossy(&script))
}
