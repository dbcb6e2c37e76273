//! `zenbuild help [COMMAND…]`, as clap's own help subcommand prints it, and `zenbuild help
//! manifest`: a summary of the manifest language, for users who have the binary but not its
//! source (where grammar/GRAMMAR.md is).

use clap::{Args, CommandFactory};

use super::Cli;
use crate::error::Error;
use crate::ui::print;

/// The manifest language in one screen; grammar/GRAMMAR.md is the reference.
pub const MANIFEST_SUMMARY: &str = include_str!("manifest_summary.txt");

#[derive(Debug, Args)]
pub struct HelpArgs {
    /// A subcommand (`build`, `cache push`), or `manifest` for the manifest language
    #[arg(value_name = "COMMAND|manifest")]
    pub topic: Vec<String>,
}

pub fn run(args: &HelpArgs) -> Result<(), Error> {
    if args.topic == ["manifest"] {
        return print(MANIFEST_SUMMARY);
    }
    let mut command = Cli::command().bin_name("zenbuild");
    command.build();
    let mut current = &mut command;
    for name in &args.topic {
        let Some(sub) = current.find_subcommand_mut(name) else {
            return Err(Error::UnknownTarget {
                message: format!("no help topic `{name}`"),
                help: Some(
                    "`zenbuild help` lists the commands; `zenbuild help manifest` describes \
                     zenbuild.kdl"
                        .into(),
                ),
            });
        };
        current = sub;
    }
    print(&format!("{}", current.render_long_help()))
}

#[cfg(test)]
mod tests {
    use super::MANIFEST_SUMMARY;

    /// Every node GRAMMAR.md's tables list (top level, and step and template bodies) is in
    /// the summary, so that the summary cannot fall behind the language.
    #[test]
    fn the_summary_names_every_node_of_the_grammar() {
        let grammar = include_str!("../../grammar/GRAMMAR.md");
        let nodes: Vec<&str> = grammar
            .lines()
            .filter_map(|line| line.strip_prefix("| [`"))
            .filter_map(|rest| rest.split_once('`').map(|(node, _)| node))
            .collect();
        assert!(nodes.len() > 20, "{nodes:?}");
        for node in nodes {
            assert!(
                MANIFEST_SUMMARY.contains(&format!("{node} ")),
                "`zenbuild help manifest` does not mention `{node}`"
            );
        }
    }
}
