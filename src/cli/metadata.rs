//! `zenbuild metadata migrate` and `zenbuild metadata push`: the team's metadata store by
//! hand. `migrate` brings its schema up to date (every command that uses it does so too);
//! `push` sends this clone's whole history there (each run once, whatever was sent before).
//! Both act on every store of the manifest: its own and the pipelines' that name one.

use clap::Subcommand;

use super::lineage_db;
use crate::error::Error;
use crate::lineage::delivery::{self, Delivered};
use crate::lineage::team::Team;
use crate::ui::print;
use crate::workspace::Workspace;

#[derive(Debug, Subcommand)]
pub enum MetadataCommand {
    /// Create or upgrade the team store's schema (also done on first use)
    Migrate,
    /// Send this clone's runs that the team store lacks (safe to repeat)
    Push,
}

pub fn run(workspace: &Workspace, command: &MetadataCommand) -> Result<(), Error> {
    let teams = configured(workspace)?;
    for team in &teams {
        team.open()?;
        match command {
            MetadataCommand::Migrate => print(&format!(
                "the team metadata store {} is at schema version {}\n",
                team.shown(),
                crate::lineage::server::schema::VERSION
            ))?,
            MetadataCommand::Push => push(workspace, team)?,
        }
    }
    Ok(())
}

fn push(workspace: &Workspace, team: &Team) -> Result<(), Error> {
    let lineage_db = workspace.state_dir().lineage_db();
    match delivery::deliver(&lineage_db, team) {
        Delivered::Sent(n) => print(&format!(
            "sent {n} run{} to the team metadata store {}\n",
            if n == 1 { "" } else { "s" },
            team.shown()
        )),
        Delivered::Away(why) => Err(Error::BadArgument(format!(
            "cannot send this clone's runs: {why}"
        ))),
    }
}

fn configured(workspace: &Workspace) -> Result<Vec<Team>, Error> {
    let teams = lineage_db::every(workspace);
    if teams.is_empty() {
        return Err(Error::BadArgument(format!(
            "no team metadata store: the manifest has no `metadata url=…` and {} is not set",
            crate::lineage::team::URL_VAR
        )));
    }
    Ok(teams)
}
