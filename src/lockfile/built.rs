//! What a successful build says about one action it ran or found cached: everything the
//! action's lockfile entry is made of, taken from the graph, the outcome and the last keys
//! once, so that both ways of writing the lockfile (`update::whole`, `splice`) build the same
//! entry from the same facts and can be tested against each other without a build.

use std::collections::BTreeMap;

use super::{LOCKFILE, Locked};
use crate::hash::{ActionKey, Digest};

pub struct Built<'a> {
    pub name: &'a str,
    pub step: &'a str,
    /// Found in a cache rather than run: its outputs are what the cache holds for its key.
    pub cached: bool,
    pub key: &'a ActionKey,
    /// The digest of `key`, which the build computed already.
    pub digest: Digest,
    /// Each output's path, digest and executable bit, as it left them.
    pub outputs: &'a [(String, Digest, bool)],
    pub metrics: Vec<String>,
    /// The paths inside its output directories that other actions read, each with the
    /// encoded digest a reader built now was keyed with, if one was.
    pub held: Vec<(String, Option<String>)>,
}

impl Built<'_> {
    /// Its entry, given `old`, the one recorded before.
    pub fn entry(&self, old: Option<&Locked>) -> Locked {
        let mut entry = Locked::new(self.step, self.key, self.outputs, self.metrics.clone());
        entry.inside = self.inside(old, &entry);
        entry
    }

    /// The digests of the paths it holds. A reader built now was keyed with the digest the
    /// directory's tree gave it; a path no reader of this build read keeps the digest recorded
    /// before when the directories are unchanged (equal tree digests, equal contents).
    fn inside(&self, old: Option<&Locked>, entry: &Locked) -> BTreeMap<String, String> {
        let unchanged = old.filter(|old| old.outputs == entry.outputs);
        self.held
            .iter()
            .filter_map(|(path, read)| {
                let digest = match read {
                    Some(digest) => digest.clone(),
                    None => unchanged?.inside.get(path)?.clone(),
                };
                Some((path.clone(), digest))
            })
            .collect()
    }

    /// When it was cached and `old`, recorded under the same key as `entry`, says the key
    /// made other outputs: the line that says so.
    pub fn disagreement(&self, old: Option<&Locked>, entry: &Locked) -> Option<String> {
        let old = old.filter(|old| self.cached && old.key == entry.key)?;
        let differing: Vec<String> = entry
            .outputs
            .iter()
            .filter(|(path, digest)| old.outputs.get(*path) != Some(*digest))
            .map(|(path, digest)| {
                let was = old.outputs.get(path).map_or("nothing", |d| short(d));
                format!(
                    "`{path}` is {} in the cache, {was} in {LOCKFILE}",
                    short(digest)
                )
            })
            .collect();
        if differing.is_empty() {
            return None;
        }
        let name = self.name;
        Some(format!(
            "the cache and {LOCKFILE} disagree about what `{name}` makes under key {}: {}; \
             {LOCKFILE} now records what was restored. The step may not be deterministic, or a \
             cache entry was changed: `zenbuild verify {name}` runs it again and says which",
            short(&entry.key),
            differing.join(", ")
        ))
    }
}

fn short(digest: &str) -> &str {
    digest.get(..8).unwrap_or(digest)
}
