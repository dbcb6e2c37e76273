//! What the scheduler hands an executor: one attempt at one action, with every value
//! resolved and nothing that belongs to a particular backend. A local process, a Slurm job
//! and a worker without the workspace are all started from this description.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::graph::Resources;
use crate::hash::{Digest, InputDigest, Platform};

/// One attempt at running an action's command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionSpec {
    /// The action's name, as the manifest and the report spell it (`fit@lr=0.1`).
    pub name: String,
    /// The executor its step selected (`local`, or one the manifest declares); the build
    /// hands every attempt to that one.
    pub executor: String,
    /// Its action key: a backend that stores the result itself stores it under this key.
    pub key: Digest,
    /// The shell command, run as `/bin/sh -c command`.
    pub command: String,
    /// The variables the step declared, and those the scheduler assigned
    /// (`CUDA_VISIBLE_DEVICES`), which win over a declared one of the same name. Nothing
    /// else from zenbuild's own environment but PATH and HOME reaches a step.
    pub env: BTreeMap<String, String>,
    /// The workspace root, absolute: where the inputs are and the outputs go for a backend
    /// that shares the file system.
    pub root: PathBuf,
    /// The working directory, relative to `root`; it exists when the spec is submitted.
    pub workdir: String,
    /// Every input with its digest, as the key was computed from them: a backend without the
    /// workspace fetches these from the store.
    pub inputs: Vec<InputDigest>,
    /// The declared outputs, relative to `root` (directories end in `/`): all that the step
    /// may leave behind for the build to keep.
    pub outputs: Vec<String>,
    /// What the step declared it needs.
    pub resources: Resources,
    /// The GPU devices granted to this attempt (also in `env` as `CUDA_VISIBLE_DEVICES`).
    pub gpus: Vec<String>,
    /// How long it may run, from its start.
    pub timeout: Option<Duration>,
    /// 1 for the first attempt; retries count on.
    pub attempt: u32,
    /// Where what it prints (stdout and stderr, interleaved) must end up on this machine.
    pub log: PathBuf,
    /// The platform its key was made for, when the key includes one: a backend whose
    /// machines may differ from this one runs it only on that platform.
    pub platform: Option<Platform>,
    /// Whether its result may be cached (`cache #false` says no): a backend that stores the
    /// result itself stores it under the key only then.
    pub cache: bool,
    /// Its metrics files, relative to `root`, which its result carries parsed.
    pub metrics: Vec<String>,
}

impl ActionSpec {
    /// The absolute working directory.
    pub fn workdir_path(&self) -> PathBuf {
        self.root.join(&self.workdir)
    }
}
