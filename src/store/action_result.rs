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
    /// What the step printed, as blobs. A step's stderr shares its stdout's pipe (so the two
    /// read back in the order written), so a result of this zenbuild has everything in
    /// `stdout_digest`, its end at most [`crate::exec::log_pipe::KEPT_OUTPUT`], and none when
    /// the step printed nothing; older results have the two streams apart. Neither is needed
    /// to restore the outputs: a result whose output blobs are gone is still a hit.
    pub stdout_digest: Option<Digest>,
    pub stderr_digest: Option<Digest>,
    /// Whether the step printed more than `stdout_digest` keeps.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stdout_cut: bool,
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
    /// Every blob the result refers to, its output's included: what keeps blobs alive and
    /// what a push uploads.
    pub fn blobs(&self) -> Vec<Digest> {
        let mut blobs = self.output_blobs();
        blobs.extend(self.log_blobs());
        blobs.sort();
        blobs.dedup();
        blobs
    }

    /// The blobs the outputs are made of, so a store can check that all of them are present
    /// before calling the result a hit.
    pub fn output_blobs(&self) -> Vec<Digest> {
        let mut blobs: Vec<Digest> = self.output_files.iter().map(|f| f.digest).collect();
        for directory in &self.output_directories {
            blobs.extend(directory.files.iter().map(|f| f.digest));
        }
        blobs.sort();
        blobs.dedup();
        blobs
    }

    /// The blobs of what the step printed, in the order to show them: not needed for a hit.
    pub fn log_blobs(&self) -> Vec<Digest> {
        self.stdout_digest
            .into_iter()
            .chain(self.stderr_digest)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A result stored before the output was kept whole in one blob still loads, and one
    /// without any output blob names none.
    #[test]
    fn results_with_and_without_output_blobs_load() {
        let old = r#"{"output_files":[],"output_directories":[],"exit_code":0,
            "stdout_digest":null,"stderr_digest":null,
            "execution":{"started_ms":0,"duration_ms":0,"attempts":1,"worker":"local"}}"#;
        let result: ActionResult = serde_json::from_str(old).unwrap();
        assert!(!result.stdout_cut);
        assert!(result.log_blobs().is_empty());

        let out = Digest::of(b"out");
        let err = Digest::of(b"err");
        let both = ActionResult {
            stdout_digest: Some(out),
            stderr_digest: Some(err),
            ..ActionResult::default()
        };
        assert_eq!(both.log_blobs(), [out, err]);
        assert!(both.output_blobs().is_empty());
        assert_eq!(both.blobs().len(), 2);
        let json = serde_json::to_string(&both).unwrap();
        assert!(!json.contains("stdout_cut"), "{json}");
    }
}
