//! The typed manifest: what `zenbuild.kdl` (and its includes) say, before templates, matrices
//! and interpolation are resolved. Every value keeps its span for error messages.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use super::params::Params;
use super::source::{Sources, Span, Spanned};

#[derive(Debug)]
pub struct Manifest {
    pub project: Option<Spanned<String>>,
    /// `link "hardlink"`: how outputs are restored from the cache, unless `--link` says.
    pub link: Option<Spanned<String>>,
    pub params_files: Vec<Spanned<String>>,
    pub params: Params,
    pub templates: Vec<Template>,
    pub pipelines: Vec<Pipeline>,
    /// Every step, wherever it was declared; names are unique across the manifest.
    pub steps: Vec<Step>,
    /// Each step's place in `steps`, by name: the loader finds duplicates with it, compiling
    /// finds the steps that `needs` and pipelines name.
    pub step_index: HashMap<String, usize>,
    /// `metadata url="postgres://…"`: the team's metadata store, where every clone sends its
    /// runs; `None`: the lineage stays in this clone's SQLite file.
    pub metadata: Option<Spanned<String>>,
    /// `remote "team" url="…"`: the caches teammates share, in lookup order.
    pub remotes: Vec<Remote>,
    /// `executor "cluster" type="slurm" …`: where steps that select one run, besides here.
    pub executors: Vec<ExecutorDecl>,
    pub sources: Sources,
}

/// A backend that steps may run on, as declared. Where a step runs is never part of its key.
#[derive(Clone, Debug)]
pub struct ExecutorDecl {
    pub name: Spanned<String>,
    pub kind: ExecutorKind,
    /// `remote="team"`: the remote that carries each action's inputs and outputs, for a
    /// backend whose machines do not see the workspace (`zenbuild worker` runs the action
    /// there). `None`: the backend shares the workspace's file system.
    pub remote: Option<Spanned<String>>,
}

/// The kinds of executor, each with its own settings.
#[derive(Clone, Debug, PartialEq)]
pub enum ExecutorKind {
    /// Processes on this machine: the built-in `local`.
    Local,
    /// Jobs on a Slurm cluster: its nodes share the workspace's file system, or with
    /// `remote=` they run `zenbuild worker` and see only the remote.
    Slurm(SlurmSettings),
    /// Jobs on a Ray cluster, through its Jobs API; always through a remote.
    Ray(RaySettings),
}

/// `executor NAME type="ray" url=… remote=…`: where the Jobs API is and how it is used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RaySettings {
    /// The dashboard's address (`http://head:8265`), which serves the Jobs API.
    pub url: String,
    /// The most jobs in flight at once (default 100).
    pub jobs: Option<u32>,
    /// The shortest and longest pause between two listings of the jobs (default 1 s and 10 s).
    pub poll_min: Option<Duration>,
    pub poll_max: Option<Duration>,
}

/// `executor NAME type="slurm" …`: what every job it submits is given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlurmSettings {
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// More `sbatch` options, split at spaces (`extra="--constraint=a100"`).
    pub extra: Vec<String>,
    /// The most jobs in flight at once (default 100).
    pub jobs: Option<u32>,
    /// The shortest and longest pause between two status queries (default 2 s and 30 s).
    pub poll_min: Option<Duration>,
    pub poll_max: Option<Duration>,
    /// How long to wait for a finished job's outputs to appear on the shared file system.
    pub latency_wait: Option<Duration>,
    /// The most submissions per second.
    pub submit_rate: Option<u32>,
    /// How many times a job lost to its node (failure, preemption) is run again.
    pub node_retries: Option<u32>,
}

/// A remote cache as declared. Credentials are never here: they come from the environment.
#[derive(Debug)]
pub struct Remote {
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    /// Look results up in it (default: yes).
    pub read: bool,
    /// Upload results to it (default: yes).
    pub write: bool,
}

#[derive(Debug)]
pub struct Template {
    pub name: Spanned<String>,
    /// The whole `template` node, to tell which mistakes were made in its text.
    pub node: Span,
    pub extends: Option<Spanned<String>>,
    pub body: StepBody,
}

#[derive(Debug)]
pub struct Pipeline {
    pub name: Spanned<String>,
    pub default: Option<Spanned<bool>>,
    pub description: Option<Spanned<String>>,
    /// Steps declared inside the pipeline and steps pulled in with `use`, in order.
    pub members: Vec<Spanned<String>>,
    /// `metadata url=…` inside the pipeline: the store its runs go to instead of the
    /// manifest's.
    pub metadata: Option<Spanned<String>>,
}

#[derive(Debug)]
pub struct Step {
    pub name: Spanned<String>,
    pub template: Option<Spanned<String>>,
    pub body: StepBody,
}

/// What a step or a template may say. Templates and steps share one shape so that a step is
/// simply an anonymous template instantiated once.
#[derive(Clone, Debug, Default)]
pub struct StepBody {
    pub cmd: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub inputs: PathList,
    pub outputs: PathList,
    pub metrics: PathList,
    pub params: PathList,
    pub needs: PathList,
    pub env: Vec<EnvVar>,
    pub resources: Resources,
    pub workdir: Option<Spanned<String>>,
    pub timeout: Option<Spanned<Duration>>,
    pub retries: Option<Spanned<u32>>,
    pub cache: Option<Spanned<bool>>,
    /// `executor "cluster"`: where the step runs; the build's default when not said.
    pub executor: Option<Spanned<String>>,
    pub matrix: Vec<MatrixAxis>,
}

/// A list-valued node (`inputs`, `outputs`, …). Lists from templates are appended to unless
/// the step says `replace=#true`.
#[derive(Clone, Debug, Default)]
pub struct PathList {
    pub replace: bool,
    pub items: Vec<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct EnvVar {
    pub name: Spanned<String>,
    pub value: Spanned<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Resources {
    pub cpus: Option<Spanned<u32>>,
    pub memory: Option<Spanned<u64>>,
    pub gpus: Option<Spanned<u32>>,
}

#[derive(Clone, Debug)]
pub struct MatrixAxis {
    pub name: Spanned<String>,
    pub values: Vec<Spanned<MatrixValue>>,
}

/// One value of a matrix axis. Numbers keep the text they were written with, so `0.10`
/// stays `0.10` in commands, paths and instance names.
#[derive(Clone, Debug, PartialEq)]
pub enum MatrixValue {
    String(String),
    Integer { value: i128, text: String },
    Float { value: f64, text: String },
    Bool(bool),
}

impl fmt::Display for MatrixValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatrixValue::String(s) => f.write_str(s),
            MatrixValue::Integer { text, .. } | MatrixValue::Float { text, .. } => {
                f.write_str(text)
            }
            MatrixValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl MatrixValue {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            MatrixValue::String(s) => serde_json::Value::String(s.clone()),
            MatrixValue::Integer { value, text } => i64::try_from(*value).map_or_else(
                |_| serde_json::Value::String(text.clone()),
                serde_json::Value::from,
            ),
            MatrixValue::Float { value, text } => serde_json::Number::from_f64(*value).map_or_else(
                || serde_json::Value::String(text.clone()),
                serde_json::Value::Number,
            ),
            MatrixValue::Bool(b) => serde_json::Value::Bool(*b),
        }
    }
}
