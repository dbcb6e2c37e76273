//! `--no-remote` and `--remote NAME`, as the commands that only look remotes up (`plan`,
//! `explain`) take them; `build` takes the same flags among its options.

use clap::Args;

use crate::Manifest;
use crate::error::Error;
use crate::remote::OpenRemote;
use crate::remote::choice::{self, Choice};

#[derive(Debug, Default, Args)]
pub struct RemoteChoice {
    /// Leave the manifest's remote caches out: the local cache only
    #[arg(long)]
    pub no_remote: bool,

    /// Use only this one of the manifest's remote caches
    #[arg(long, value_name = "NAME", conflicts_with = "no_remote")]
    pub remote: Option<String>,
}

impl RemoteChoice {
    pub fn choice(&self) -> Choice {
        Choice::from_flags(self.no_remote, self.remote.as_deref())
    }
}

/// The manifest's remotes that `args` picks, opened; see [`choice::open_chosen`].
pub fn open_chosen(
    manifest: &Manifest,
    args: &RemoteChoice,
    notes: &mut Vec<String>,
) -> Result<Vec<OpenRemote>, Error> {
    choice::open_chosen(manifest, &args.choice(), notes)
}
