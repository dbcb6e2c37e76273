//! The key of an action and the ledger of digests this build produced: inputs hashed (or
//! taken from outputs finished earlier in the build), outputs recorded for dependents, and
//! the comparison with how the action last finished.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::Path;

use super::build::Builder;
use super::input_error::InputError;
use super::last_keys::Finished;
use super::reason::key_changes;
use crate::graph::{Action, Artifact, ArtifactId, ArtifactKind};
use crate::hash::{ActionKey, Digest, FileDigest, InputDigest, hash_tree_knowing, symlink_digest};
use crate::store::ActionResult;

impl Builder<'_> {
    /// The action's key as of now: its inputs hashed (or taken from the outputs finished in
    /// this build) and every other field resolved.
    pub fn key(&self, action: &Action) -> Result<ActionKey, InputError> {
        let mut inputs = Vec::with_capacity(action.inputs.len());
        for &input in &action.inputs {
            let (digest, executable) = self.input_digest(input)?;
            inputs.push(InputDigest {
                path: self.graph.artifact(input).display_path(),
                digest,
                executable,
            });
        }
        Ok(ActionKey {
            cmd: action.cmd.clone(),
            inputs,
            outputs: action
                .outputs
                .iter()
                .map(|&output| self.graph.artifact(output).display_path())
                .collect(),
            params: action.params.clone(),
            env: action.env.clone(),
            workdir: action.workdir.to_string(),
            platform: Some(self.platform.clone()),
        })
    }

    fn input_digest(&self, id: ArtifactId) -> Result<(Digest, bool), InputError> {
        if let Some(known) = self.produced().get(&id) {
            return Ok(*known);
        }
        let artifact = self.graph.artifact(id);
        if artifact.kind == ArtifactKind::File
            && let Some(known) = self.unchanged_file(artifact.path.as_str())
        {
            return Ok(known);
        }
        if let Some(shared) = self.shared_sources.get(&id) {
            // The first reader hashes it while any other waits; a failure is not kept, so
            // that each reader learns why from its own look.
            if let Some(known) = *shared.get_or_init(|| self.hash_input(artifact).ok()) {
                return Ok(known);
            }
        }
        self.hash_input(artifact)
    }

    /// The digest of `artifact` as the workspace holds it, or why it cannot be had.
    fn hash_input(&self, artifact: &Artifact) -> Result<(Digest, bool), InputError> {
        let path = self.cx.root.join(artifact.path.as_str());
        let hashed = match artifact.kind {
            ArtifactKind::File => self
                .cx
                .stat_cache
                .digest_file(&path)
                .map(|file| (file.digest, file.executable)),
            ArtifactKind::Dir => {
                let known = self.known_inside(artifact.path.as_str());
                hash_tree_knowing(&path, self.cx.stat_cache, &known)
                    .map(|tree| (tree.digest, false))
            }
        };
        hashed.map_err(|e| {
            let input = artifact.display_path();
            match (e.kind(), artifact.producer) {
                (io::ErrorKind::NotFound, Some(producer))
                    if self.nested.contains_key(artifact.path.as_str()) =>
                {
                    let producer = self.graph.action(producer);
                    let directory = producer
                        .outputs
                        .iter()
                        .map(|&output| self.graph.artifact(output))
                        .find(|output| artifact.path.is_within(&output.path))
                        .map_or_else(String::new, Artifact::display_path);
                    InputError::MissingFromDirectory {
                        input,
                        producer: producer.name.clone(),
                        directory,
                    }
                }
                (io::ErrorKind::NotFound, Some(producer)) => InputError::NotWritten {
                    input,
                    producer: self.graph.action(producer).name.clone(),
                },
                (io::ErrorKind::NotFound, None) => InputError::Missing { input },
                (_, _)
                    if artifact.kind == ArtifactKind::File
                        && self.fs().stat(&path).is_ok_and(|stat| stat.is_dir()) =>
                {
                    InputError::IsADirectory { input }
                }
                _ => InputError::Unreadable { input, cause: e },
            }
        })
    }

    fn produced(&self) -> std::sync::MutexGuard<'_, HashMap<ArtifactId, (Digest, bool)>> {
        // A poisoned lock means a worker panicked; the digests it guards are still sound.
        self.produced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers the digests of what `result` holds, for dependents' keys, and returns them
    /// by path for reports.
    pub(super) fn record(
        &self,
        action: &Action,
        result: &ActionResult,
    ) -> BTreeMap<String, Digest> {
        let by_path: HashMap<String, (Digest, bool)> = recorded_outputs(result)
            .into_iter()
            .map(|(path, digest, executable)| (path, (digest, executable)))
            .collect();
        let mut produced = self.produced();
        let mut outputs = BTreeMap::new();
        for &output in &action.outputs {
            let path = self.graph.artifact(output).display_path();
            if let Some(&digest) = by_path.get(&path) {
                produced.insert(output, digest);
                outputs.insert(path, digest.0);
            }
        }
        // A dependent may read one file of a directory output; before it is restored (a
        // plan restores nothing) only the listing knows that file's digest.
        if !self.nested.is_empty() {
            for directory in &result.output_directories {
                for file in &directory.files {
                    let path = format!("{}/{}", directory.path, file.path);
                    if let Some(&id) = self.nested.get(&path) {
                        produced.insert(id, (file.digest, file.executable));
                    }
                }
            }
        }
        outputs
    }

    /// Takes `outputs` (path, digest, executable bit) as what `action` produced, for its
    /// dependents' keys, without looking at the workspace: for `status`, which judges a
    /// lockfile's claims rather than the files.
    pub fn assume_outputs(&self, action: &Action, outputs: &[(String, Digest, bool)]) {
        let mut produced = self.produced();
        for &output in &action.outputs {
            let path = self.graph.artifact(output).display_path();
            if let Some((_, digest, executable)) = outputs.iter().find(|(p, ..)| *p == path) {
                produced.insert(output, (*digest, *executable));
            }
        }
        for (path, digest, executable) in outputs {
            if let Some(&id) = self.nested.get(path.trim_end_matches('/')) {
                produced.insert(id, (*digest, *executable));
            }
        }
    }

    /// How the action last finished, if that was under `digest` and its outputs are still
    /// exactly as it left them: then there is nothing to look up or restore.
    pub(super) fn unchanged(&self, action: &Action, digest: Digest) -> Option<Finished> {
        let finished = self.cx.last_keys.finished(&action.name)?;
        if finished.key != digest || finished.outputs.len() != action.outputs.len() {
            return None;
        }
        let in_place = finished
            .outputs
            .iter()
            .all(|(path, recorded, executable)| self.in_place(path, *recorded, *executable));
        if !in_place {
            return None;
        }
        let mut produced = self.produced();
        for (&output, (_, recorded, executable)) in action.outputs.iter().zip(&finished.outputs) {
            produced.insert(output, (*recorded, *executable));
        }
        Some(finished)
    }

    /// Remembers that the action finished under `key` with the outputs now recorded for it.
    pub(super) fn remember(
        &self,
        action: &Action,
        key: &ActionKey,
        digest: Digest,
        logs: Vec<Digest>,
    ) {
        let produced = self.produced();
        let outputs = action
            .outputs
            .iter()
            .filter_map(|output| {
                let (recorded, executable) = produced.get(output)?;
                Some((
                    self.graph.artifact(*output).display_path(),
                    *recorded,
                    *executable,
                ))
            })
            .collect();
        drop(produced);
        let finished = Finished {
            key: digest,
            outputs,
            logs: Some(logs),
        };
        // Losing this record only costs an explanation and a cache lookup next time.
        let _ = self.cx.last_keys.set(&action.name, key, finished);
    }

    /// Whether the workspace already holds exactly what `result` records.
    pub(super) fn outputs_in_place(&self, result: &ActionResult) -> bool {
        recorded_outputs(result)
            .iter()
            .all(|(path, digest, executable)| self.in_place(path, *digest, *executable))
    }

    /// Whether the workspace holds `digest` at `path` (a directory when it ends in `/`).
    fn in_place(&self, path: &str, digest: Digest, executable: bool) -> bool {
        if let Some(known) = self.unchanged_file(path) {
            return known == (digest, executable);
        }
        let absolute = self.cx.root.join(path.trim_end_matches('/'));
        if let Some(directory) = path.strip_suffix('/') {
            return hash_tree_knowing(&absolute, self.cx.stat_cache, &self.known_inside(directory))
                .is_ok_and(|tree| tree.digest == digest);
        }
        self.cx
            .stat_cache
            .digest_file(&absolute)
            .is_ok_and(|file| file.digest == digest && file.executable == executable)
    }

    /// What the up-to-date check knew of the files inside `directory`, by path below it.
    fn known_inside(&self, directory: &str) -> impl Fn(&Path) -> Option<FileDigest> + Sync {
        let unchanged = self.unchanged;
        move |relative: &Path| {
            // Asked before the path is made: a cold build of 100,000 files has no record.
            let unchanged = unchanged?;
            unchanged.file_digest(&format!("{directory}/{}", relative.to_str()?))
        }
    }

    /// Why the action must run, compared with the key it had when it last finished.
    pub(super) fn reasons(&self, action: &Action, key: &ActionKey) -> Vec<String> {
        if !action.cache {
            return vec!["always runs (cache #false)".into()];
        }
        match self.cx.last_keys.get(&action.name) {
            None => vec!["never built".into()],
            Some(previous) => {
                let changes = key_changes(&previous, key);
                if changes.is_empty() {
                    vec!["no cached result for its key (the cache was cleared or pruned)".into()]
                } else {
                    changes
                }
            }
        }
    }
}

/// Every output `result` records as (path, digest, executable bit), digests as an input digest
/// of the same path would be: a symlink's over its target text, a directory's its tree's, and
/// directory paths ending in `/`.
pub(super) fn recorded_outputs(result: &ActionResult) -> Vec<(String, Digest, bool)> {
    let files = result
        .output_files
        .iter()
        .map(|file| (file.path.clone(), file.digest, file.executable));
    let links = result.output_symlinks.iter().map(|link| {
        let digest = symlink_digest(link.target.as_bytes()).digest;
        (link.path.clone(), digest, false)
    });
    let dirs = result
        .output_directories
        .iter()
        .map(|dir| (format!("{}/", dir.path), dir.tree_digest, false));
    files.chain(links).chain(dirs).collect()
}
