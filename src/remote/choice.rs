//! Which of the manifest's remotes a command uses, and opening them: all of them, none (the
//! local cache only), or the one a user named.

use super::{OpenRemote, RemoteConfig};
use crate::Manifest;
use crate::error::Error;

/// The remotes a command uses, of those the manifest declares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Choice {
    /// Every declared remote.
    #[default]
    All,
    /// None: the local cache only.
    None,
    /// Only the one of this name, which the manifest must declare.
    Only(String),
}

impl Choice {
    /// The choice `--no-remote` and `--remote NAME` make; `--no-remote` wins.
    pub fn from_flags(no_remote: bool, remote: Option<&str>) -> Choice {
        match (no_remote, remote) {
            (true, _) => Choice::None,
            (false, Some(name)) => Choice::Only(name.to_string()),
            (false, None) => Choice::All,
        }
    }
}

/// The manifest's remotes that `choice` picks, opened. One that cannot be opened is left out
/// with a note in `notes`: a build goes on with the caches it can reach. Naming a remote the
/// manifest does not declare is a mistake to point out.
pub fn open_chosen(
    manifest: &Manifest,
    choice: &Choice,
    notes: &mut Vec<String>,
) -> Result<Vec<OpenRemote>, Error> {
    let wanted = match choice {
        Choice::None => return Ok(Vec::new()),
        Choice::All => None,
        Choice::Only(wanted) => Some(wanted),
    };
    if let Some(wanted) = wanted
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
        if wanted.is_some_and(|wanted| *wanted != declared.name.value) {
            continue;
        }
        let config = configured(declared);
        match super::open(&config) {
            Ok(backend) => opened.push((config, backend)),
            Err(e) => notes.push(format!("remote `{}` is left out: {e}", config.name)),
        }
    }
    Ok(opened)
}

/// A remote as the manifest declares it, with the switches this machine's environment sets.
pub fn configured(declared: &crate::manifest::model::Remote) -> RemoteConfig {
    super::with_env_switches(RemoteConfig {
        name: declared.name.value.clone(),
        url: declared.url.value.clone(),
        read: declared.read,
        write: declared.write,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_remote_wins_over_a_named_one() {
        assert_eq!(Choice::from_flags(true, Some("team")), Choice::None);
        assert_eq!(
            Choice::from_flags(false, Some("team")),
            Choice::Only("team".into())
        );
        assert_eq!(Choice::from_flags(false, None), Choice::All);
    }
}
