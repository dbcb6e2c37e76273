//! Watch mode: what to watch for a compiled graph ([`plan`]), the notifications
//! ([`watcher`]), telling a real change from a save that left the bytes alone ([`Known`]),
//! and the loop that builds once per change ([`run_loop`]). `zenbuild watch`
//! (`cli/watch.rs`) gives the loop its arguments and renders what it says.

pub mod plan;
pub mod run_loop;
pub mod watcher;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::Manifest;
use crate::exec::event::Outcome;
use crate::graph::ActionId;
use crate::hash::{Digest, StatCache, hash_tree};
use plan::{Change, WatchPlan};

/// The digests the last cycle built with: a change that leaves them (a `touch`, an editor
/// saving without edits) is no change.
#[derive(Debug, Default)]
pub struct Known {
    sources: HashMap<String, Digest>,
    manifests: HashMap<PathBuf, Digest>,
}

impl Known {
    /// Learns the manifest files' bytes as compiled.
    pub fn learn_manifest(&mut self, manifest: &Manifest) {
        self.manifests = manifest
            .sources
            .files()
            .iter()
            .map(|file| (file.path.clone(), Digest::of(file.text.as_bytes())))
            .collect();
    }

    /// Learns the source digests the finished actions' keys were computed with, except for
    /// the sources in `noted`: their change during the build was noted already, and the next
    /// cycle builds with what they hold now.
    pub fn learn_build(
        &mut self,
        outcomes: &[(ActionId, Outcome)],
        plan: &WatchPlan,
        noted: &HashSet<String>,
    ) {
        for (_, outcome) in outcomes {
            let (Outcome::Ran(done) | Outcome::Cached(done)) = outcome else {
                continue;
            };
            for input in done.fields.iter().flat_map(|key| &key.inputs) {
                let path = input.path.trim_end_matches('/');
                if plan.is_dir_source(path).is_some() && !noted.contains(path) {
                    self.sources.insert(path.to_string(), input.digest);
                }
            }
        }
    }

    /// Whether `change` changed bytes since the last cycle or the last check, and if so,
    /// takes the bytes as they are now as known: the build about to start reads them, and a
    /// later notification of the same save must not count again. What cannot be read (a
    /// deleted file) and what was never built (a step that failed) count as changed.
    pub fn check(
        &mut self,
        change: &Change,
        plan: &WatchPlan,
        root: &Path,
        cache: &StatCache,
    ) -> bool {
        match change {
            Change::NewMatch(_) => true,
            Change::Manifest(path) => {
                let now = std::fs::read(path).ok().map(|bytes| Digest::of(&bytes));
                match now {
                    Some(now) if self.manifests.get(path) == Some(&now) => false,
                    Some(now) => {
                        self.manifests.insert(path.clone(), now);
                        true
                    }
                    None => true,
                }
            }
            Change::Source(path) => {
                let absolute = root.join(path);
                let now = match plan.is_dir_source(path) {
                    Some(true) => hash_tree(&absolute, cache).ok().map(|tree| tree.digest),
                    _ => cache.digest_file(&absolute).ok().map(|file| file.digest),
                };
                match now {
                    Some(now) if self.sources.get(path) == Some(&now) => false,
                    Some(now) => {
                        self.sources.insert(path.clone(), now);
                        true
                    }
                    None => {
                        self.sources.remove(path);
                        true
                    }
                }
            }
        }
    }
}
