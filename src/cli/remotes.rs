//! The remote caches a command uses: the manifest's, narrowed by `--no-remote` and
//! `--remote NAME`, each opened on its backend.

use clap::Args;

use super::build::BuildOptions;
use crate::Manifest;
use crate::error::Error;
use crate::remote::{self, OpenRemote, RemoteConfig};

/// The manifest's remotes this build uses (none with `--no-remote`, one with `--remote`),
/// opened. One that cannot be opened is left out with a note in `notes`.
pub fn open_remotes(
    manifest: &Manifest,
    args: &BuildOptions,
    notes: &mut Vec<String>,
) -> Result<Vec<OpenRemote>, Error> {
    let choice = RemoteChoice {
        no_remote: args.no_remote,
        remote: args.remote.clone(),
    };
    open_chosen(manifest, &choice, notes)
}

/// `--no-remote` and `--remote NAME` for the commands that only look remotes up (`plan`,
/// `explain`), as `build` takes them.
#[derive(Debug, Default, Args)]
pub struct RemoteChoice {
    /// Leave the manifest's remote caches out: the local cache only
    #[arg(long)]
    pub no_remote: bool,

    /// Use only this one of the manifest's remote caches
    #[arg(long, value_name = "NAME", conflicts_with = "no_remote")]
    pub remote: Option<String>,
}

/// The manifest's remotes that `choice` picks, opened; as [`open_remotes`].
pub fn open_chosen(
    manifest: &Manifest,
    args: &RemoteChoice,
    notes: &mut Vec<String>,
) -> Result<Vec<OpenRemote>, Error> {
    if args.no_remote {
        return Ok(Vec::new());
    }
    if let Some(wanted) = &args.remote
        && !manifest.remotes.iter().any(|r| &r.name.value == wanted)
    {
        let names: Vec<&str> = manifest
            .remotes
            .iter()
            .map(|r| r.name.value.as_str())
            .collect();
        return Err(Error::BadArgument(format!(
            "the manifest declares no remote `{wanted}` (it has: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    let mut opened = Vec::new();
    for declared in &manifest.remotes {
        if args
            .remote
            .as_ref()
            .is_some_and(|wanted| *wanted != declared.name.value)
        {
            continue;
        }
        let config = remote::with_env_switches(RemoteConfig {
            name: declared.name.value.clone(),
            url: declared.url.value.clone(),
            read: declared.read,
            write: declared.write,
        });
        match remote::open(&config) {
            Ok(backend) => opened.push((config, backend)),
            Err(e) => notes.push(format!("remote `{}` is left out: {e}", config.name)),
        }
    }
    Ok(opened)
}
