//! What a caller asks of one build: plain values, no command line, so that `zenbuild build`,
//! `zenbuild watch`, tests and other programs ask the same way.

use std::collections::HashSet;

use super::capacity;
use super::up_to_date::Unchanged;
use crate::graph::ActionId;
use crate::remote::choice::Choice;
use crate::store::LinkMode;

/// One build of a compiled graph, as [`super::Build::run`] takes it.
#[derive(Clone, Debug)]
pub struct BuildRequest {
    /// The actions to build, dependencies first.
    pub targets: Vec<ActionId>,
    /// The targets as the caller named them (see [`super::up_to_date::selection`]): the
    /// up-to-date record is only good for the same selection.
    pub selection: String,
    /// CPU slots the running steps may hold at once; `u32::MAX` for no limit.
    pub cpu_slots: u32,
    /// Go on with what does not depend on a failed action.
    pub keep_going: bool,
    /// How outputs are restored from the cache; `None` leaves it to the manifest's `link`,
    /// else the default.
    pub link: Option<LinkMode>,
    /// GPU device indices to hand out; `None` for those the machine has.
    pub gpus: Option<Vec<String>>,
    /// Which logs of finished actions are read back into their events.
    pub show_output: ShowOutput,
    /// Which of the manifest's remotes the build uses.
    pub remotes: Choice,
    /// Actions that run whatever the cache holds.
    pub forced: HashSet<ActionId>,
    /// What the lineage records this run as.
    pub kind: RunKind,
    /// When the build began, before it read any file (see [`crate::hash::FileSystem::now_ns`]):
    /// only what was unchanged by then may be recorded as up to date.
    pub started_ns: i64,
    /// What the up-to-date check, made before the build, found unchanged: the build's own
    /// record takes it without looking again.
    pub unchanged: Unchanged,
    /// Where steps that name no executor run (`--executor NAME`); `local` when `None`.
    pub executor: Option<String>,
    /// The `metadata url=` of the pipeline the targets belong to, when it names its own
    /// store (see [`crate::graph::Graph::own_store`]): the run goes there.
    pub metadata: Option<String>,
}

impl BuildRequest {
    /// A plain build of `targets`: one CPU slot per core, every remote, nothing forced, the
    /// output of steps that ran read back.
    pub fn new(targets: Vec<ActionId>, selection: String, started_ns: i64) -> BuildRequest {
        BuildRequest {
            targets,
            selection,
            cpu_slots: capacity::cores(),
            keep_going: false,
            link: None,
            gpus: None,
            show_output: ShowOutput::default(),
            remotes: Choice::All,
            forced: HashSet::new(),
            kind: RunKind::Build,
            started_ns,
            unchanged: Unchanged::default(),
            executor: None,
            metadata: None,
        }
    }
}

/// Which finished actions' logs are read back into their [`super::Event::Finished`], for a
/// consumer to show. Read per event, so that the engine keeps no step's output itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShowOutput {
    /// Actions that ran (`-q` turns this off).
    pub ran: bool,
    /// Cached actions, with what they printed when they ran (`-v`).
    pub cached: bool,
}

impl Default for ShowOutput {
    fn default() -> ShowOutput {
        ShowOutput {
            ran: true,
            cached: false,
        }
    }
}

/// What started a run, as the lineage records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunKind {
    /// One build.
    #[default]
    Build,
    /// One cycle of watch mode.
    Watch,
}

impl RunKind {
    /// The name the lineage stores.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Build => "build",
            RunKind::Watch => "watch",
        }
    }
}
