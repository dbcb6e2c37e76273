//! zenbuild: make/bazel for machine learning.
//!
//! The data flow, one module a stage:
//! `zenbuild.kdl` → [`manifest`] (typed, with spans) → [`graph`] (the action graph, a DAG of
//! actions and artifacts) → [`exec`] (the scheduler walks ready actions in parallel; for each,
//! [`hash`] makes its action key, [`store`] restores a cached result or keeps what the
//! command wrote, and [`remote`] shares results with teammates) → [`lineage`] (which data,
//! code, params and commit produced which output, in SQLite) and [`lockfile`]
//! (`zenbuild.lock`, the committed record). [`watch`] reruns what a saved file affects.
//! [`workspace`] finds the manifest and owns `.zenbuild/`; [`ui`] renders what the stages
//! report; [`cli`] is the command line on top.

pub mod atomic_write;
mod binary;
pub mod cli;
pub mod error;
pub mod exec;
// Thin byte-taking entry points for the fuzz targets in fuzz/ and their replay test.
#[doc(hidden)]
pub mod fuzzing;
pub mod graph;
pub mod hash;
pub mod lineage;
pub mod lockfile;
pub mod manifest;
pub mod remote;
pub mod store;
pub mod ui;
pub mod watch;
pub mod workspace;

pub use error::Error;
pub use graph::Graph;
pub use manifest::Manifest;
pub use workspace::Workspace;

/// Loads and compiles the manifest of `workspace`.
pub fn load_graph(workspace: &Workspace) -> Result<(Manifest, Graph), Error> {
    let (manifest, problems) = manifest::load(&workspace.manifest)?;
    let graph = graph::compile(&manifest, &workspace.root, problems)?;
    Ok((manifest, graph))
}
