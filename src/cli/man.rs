//! `zenbuild man`: the manual page, in roff, from the argument definitions.

use clap::CommandFactory;

use super::Cli;
use crate::error::Error;
use crate::ui::print;

pub fn run() -> Result<(), Error> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| Error::io("cannot render the manual page", e))?;
    print(&String::from_utf8_lossy(&page))
}
