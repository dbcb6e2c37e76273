//! Artifacts by path, without a second copy of every path.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use super::artifact::{Artifact, ArtifactId, ArtifactKind};
use crate::workspace::RelPath;

/// Each artifact's id under its path's 64-bit hash; the path itself is compared where the
/// artifact keeps it. Keyed by the paths, the map held a copy of each (200,000 for as many
/// steps, each allocated, hashed and freed). Paths that share a hash with another, which
/// takes billions of paths to expect once, are kept by path in a map of their own.
#[derive(Default)]
pub struct PathIndex {
    hasher: RandomState,
    by_hash: HashMap<u64, ArtifactId, BuildHasherDefault<HashIsKey>>,
    collided: HashMap<RelPath, ArtifactId>,
}

impl PathIndex {
    /// The artifact at `path`, added to `artifacts` as a `kind` with no producer yet if there
    /// is none.
    pub fn artifact(
        &mut self,
        artifacts: &mut Vec<Artifact>,
        path: &RelPath,
        kind: ArtifactKind,
    ) -> ArtifactId {
        let next = ArtifactId(artifacts.len());
        match self.by_hash.entry(self.hasher.hash_one(path)) {
            Entry::Vacant(slot) => {
                slot.insert(next);
            }
            Entry::Occupied(slot) => {
                let id = *slot.get();
                if artifacts.get(id.0).is_some_and(|a| a.path == *path) {
                    return id;
                }
                if let Some(&id) = self.collided.get(path) {
                    return id;
                }
                self.collided.insert(path.clone(), next);
            }
        }
        artifacts.push(Artifact {
            path: path.clone(),
            kind,
            producer: None,
            consumers: Vec::new(),
        });
        next
    }
}

/// The keys are hashes already.
#[derive(Default)]
struct HashIsKey(u64);

impl Hasher for HashIsKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    // Only u64 keys are hashed here; anything else is folded in rather than refused.
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_artifact_a_path_even_when_hashes_collide() {
        let mut index = PathIndex::default();
        let mut artifacts = Vec::new();
        let a = RelPath::parse("a.txt").unwrap();
        let b = RelPath::parse("b/").unwrap();
        let first = index.artifact(&mut artifacts, &a, ArtifactKind::File);
        assert_eq!(
            index.artifact(&mut artifacts, &a, ArtifactKind::File),
            first
        );
        let second = index.artifact(&mut artifacts, &b, ArtifactKind::Dir);
        assert_ne!(first, second);
        // Another path under `a.txt`'s hash, as a collision would put it.
        let c = RelPath::parse("c.txt").unwrap();
        index.by_hash.insert(index.hasher.hash_one(&c), first);
        let third = index.artifact(&mut artifacts, &c, ArtifactKind::File);
        assert_eq!(
            index.artifact(&mut artifacts, &c, ArtifactKind::File),
            third
        );
        assert_eq!(
            index.artifact(&mut artifacts, &a, ArtifactKind::File),
            first
        );
        let paths: Vec<&str> = artifacts.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths, ["a.txt", "b", "c.txt"]);
        assert_eq!(artifacts[second.0].kind, ArtifactKind::Dir);
    }
}
