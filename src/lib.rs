//! zenbuild: make/bazel for machine learning.
//!
//! The data flow, one module a stage:
//! `zenbuild.kdl` → [`manifest`] (typed, with spans) → [`graph`] (the action graph, a DAG of
//! actions and artifacts) → [`exec`] (the scheduler walks ready actions in parallel; for each,
//! [`hash`] makes its action key, [`store`] restores a cached result or keeps what the
//! command wrote, and [`remote`] shares results with teammates; [`remote_exec`] runs an action
//! where only a remote is shared) → [`lineage`] (which data, code, params and commit produced
//! which output, in SQLite) and [`lockfile`] (`zenbuild.lock`, the committed record). [`watch`] reruns what a saved file affects.
//! [`workspace`] finds the manifest and owns `.zenbuild/`; [`ui`] renders what the stages
//! report; [`cli`] is the command line on top.
//!
//! The entry point is [`exec::Build`]: given a workspace, its compiled graph and an
//! [`exec::BuildRequest`], it builds, sends every [`exec::Event`] to the caller's
//! [`exec::Sink`] and returns an [`exec::RunReport`]. `zenbuild build`, `zenbuild run`,
//! `zenbuild watch` (through [`watch::run_loop`]) and the tests call it; it prints nothing.
//! A program that builds a workspace's default targets:
//!
//! ```no_run
//! use zenbuild::exec::{Build, BuildRequest, Event, Sink, up_to_date};
//! use zenbuild::hash::{FileSystem, RealFileSystem};
//! use zenbuild::Workspace;
//!
//! /// Shows the engine's notes; a real view would render every event.
//! struct Notes;
//!
//! impl Sink for Notes {
//!     fn event(&mut self, event: &Event) {
//!         if let Event::Note { message } = event {
//!             eprintln!("note: {message}");
//!         }
//!     }
//! }
//!
//! fn main() -> Result<(), zenbuild::Error> {
//!     // Before any file is read, so that the up-to-date record trusts only what came before.
//!     let started_ns = RealFileSystem.now_ns();
//!     let workspace = Workspace::discover(std::path::Path::new("."))?;
//!     let (manifest, graph) = zenbuild::load_graph(&workspace)?;
//!     // The default pipeline, else every action; dependencies first.
//!     let targets = match graph.default_pipeline() {
//!         Some(pipeline) => graph.pipeline_actions(pipeline),
//!         None => graph.topological_order(),
//!     };
//!     let request = BuildRequest::new(targets, up_to_date::selection(&[], false), started_ns);
//!     let report = Build::new(&workspace, &manifest, &graph).run(&request, None, None, &mut Notes)?;
//!     println!("{} actions, {} failed", report.outcomes.len(), report.failed);
//!     // The build's lineage store is closed on a thread of its own: let it end whole.
//!     zenbuild::lineage::closing::wait();
//!     Ok(())
//! }
//! ```

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
pub mod remote_exec;
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
