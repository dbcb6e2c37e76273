//! `--link MODE`: the store's [`LinkMode`] as a command-line value, with the help `--help`
//! shows for each mode. The store itself knows nothing of clap.

use clap::ValueEnum;
use clap::builder::PossibleValue;

use crate::store::LinkMode;

impl ValueEnum for LinkMode {
    fn value_variants<'a>() -> &'a [LinkMode] {
        &LinkMode::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(help(*self)))
    }
}

/// What `--help` says of each mode.
fn help(mode: LinkMode) -> &'static str {
    match mode {
        LinkMode::Reflink => {
            "Clone the blob copy-on-write where the file system can (btrfs, XFS), else copy it. \
             Either way the output is an independent, writable file"
        }
        LinkMode::Hardlink => {
            "Hard-link the blob: no bytes are written, but outputs are the store's own read-only \
             files (0444). Tools that replace a file work; writing into one in place fails, \
             except as root, where it changes the blob (the next restore notices and drops it). \
             An executable output is copied instead (0555), because the mode belongs to the \
             inode and the store keeps bytes only, shared by executable and plain outputs alike"
        }
        LinkMode::Copy => "Copy the bytes into an independent, writable file",
    }
}
