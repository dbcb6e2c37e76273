//! `--format` for the commands that print records: a table for people, JSON for programs.

use clap::ValueEnum;
use serde::Serialize;

use crate::error::Error;
use crate::ui::print;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// Prints `value` as pretty JSON and a newline.
pub fn print_json(value: &impl Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::encode("the output", e))?;
    print(&format!("{text}\n"))
}
