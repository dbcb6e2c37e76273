//! An action: one step instance with every template, matrix value and `{{…}}` resolved.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::artifact::ArtifactId;
use crate::manifest::{MatrixValue, Span};
use crate::workspace::RelPath;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ActionId(pub usize);

/// An executor's place in [`Graph::executors`](super::Graph::executors); 0 is `local`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutorId(pub u16);

impl ExecutorId {
    /// The built-in executor: processes on this machine.
    pub const LOCAL: ExecutorId = ExecutorId(0);
}

#[derive(Clone, Debug)]
pub struct Action {
    /// `step`, or for a matrix step `step@var=value,…` in the matrix's declaration order.
    pub name: String,
    pub step: String,
    pub matrix: Vec<(String, MatrixValue)>,
    pub description: Option<String>,
    /// The shell command, run with `sh -c` in `workdir`.
    pub cmd: String,
    /// Files and directories read, sorted by path and without repeats.
    pub inputs: Vec<ArtifactId>,
    /// Files and directories written, metrics files included.
    pub outputs: Vec<ArtifactId>,
    /// The outputs that hold metrics (JSON) recorded in lineage.
    pub metrics: Vec<ArtifactId>,
    /// The params the step declared, by dotted key, with their current values.
    pub params: BTreeMap<String, serde_json::Value>,
    pub env: BTreeMap<String, String>,
    pub workdir: RelPath,
    pub resources: Resources,
    pub timeout: Option<Duration>,
    pub retries: u32,
    /// `false` for `cache #false`: always run, never restore.
    pub cache: bool,
    /// Where it runs (`executor "NAME"`); the build's default when the step names none.
    /// Never part of its key: where a step ran does not change what it produced.
    pub executor: Option<ExecutorId>,
    /// Actions that must finish first, sorted, without repeats.
    pub deps: Vec<ActionId>,
    /// Where the step is declared.
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Resources {
    pub cpus: u32,
    /// Bytes; `None` when the step did not say.
    pub memory: Option<u64>,
    pub gpus: u32,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpus: 1,
            memory: None,
            gpus: 0,
        }
    }
}

/// The instance name of a matrix combination: `fit@lr=0.1,depth=3`.
pub fn instance_name(step: &str, matrix: &[(String, MatrixValue)]) -> String {
    if matrix.is_empty() {
        return step.to_string();
    }
    let assignments: Vec<String> = matrix
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!("{step}@{}", assignments.join(","))
}
