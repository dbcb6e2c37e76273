//! What the action cache maps an action key to: everything needed to put a step's outputs
//! back without running it. The shape follows REAPI's `ActionResult`, so the same data can
//! travel to a remote cache or executor without translation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hash::Digest;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    /// Declared file outputs, by workspace-relative path.
    pub output_files: Vec<OutputFile>,
    /// Symlinks among the declared file outputs.
    #[serde(default)]
    pub output_symlinks: Vec<OutputSymlink>,
    /// Declared directory outputs, each with its whole tree.
    pub output_directories: Vec<OutputDirectory>,
    pub exit_code: i32,
    /// The captured output streams, stored as blobs.
    pub stdout_digest: Option<Digest>,
    pub stderr_digest: Option<Digest>,
    pub execution: ExecutionMetadata,
    /// The contents of the step's metrics files, by path (JSON), for lineage and reports.
    #[serde(default)]
    pub metrics: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Workspace-relative for a declared output; relative to the directory inside an
    /// [`OutputDirectory`].
    pub path: String,
    pub digest: Digest,
    pub size: u64,
    pub executable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputSymlink {
    pub path: String,
    pub target: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputDirectory {
    /// Workspace-relative, without the trailing `/`.
    pub path: String,
    /// The Merkle digest of the tree, as an input digest of the directory would be.
    pub tree_digest: Digest,
    pub files: Vec<OutputFile>,
    #[serde(default)]
    pub symlinks: Vec<OutputSymlink>,
    /// Empty directories inside the tree (relative), which have no file to recreate them.
    #[serde(default)]
    pub empty_directories: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionMetadata {
    /// Milliseconds since the Unix epoch.
    pub started_ms: u64,
    pub duration_ms: u64,
    /// How many times the command ran (1 + retries used).
    pub attempts: u32,
    /// Which machine or backend ran it (`local` for the local executor).
    pub worker: String,
}

impl ActionResult {
    /// Every blob the result refers to, so a store can check that all of them are present
    /// before calling the result a hit.
    pub fn blobs(&self) -> Vec<Digest> {
        let mut blobs: Vec<Digest> = self.output_files.iter().map(|f| f.digest).collect();
        for directory in &self.output_directories {
            blobs.extend(directory.files.iter().map(|f| f.digest));
        }
        blobs.extend(self.stdout_digest);
        blobs.extend(self.stderr_digest);
        blobs.sort();
        blobs.dedup();
        blobs
    }
}
