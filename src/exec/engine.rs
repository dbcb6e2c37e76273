//! The build engine's entry point: one build of a compiled graph, from taking the workspace
//! lock to writing what it leaves behind (the stat cache, the lineage run, `zenbuild.lock`,
//! the up-to-date record). `zenbuild build` runs one, `zenbuild watch` one per change, and
//! so can any program; what happens goes to a [`Sink`], so the engine prints nothing itself.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::build::Builder;
use super::capacity;
use super::event::{Outcome, Printed};
use super::executor::Executor;
use super::interrupt::Interrupt;
use super::lock::WorkspaceLock;
use super::placement::{default_executor, lanes, start_executors};
use super::replay::replayed;
use super::request::BuildRequest;
use super::router::Router;
use super::scheduler::{self, Control, Options};
use super::session::Session;
use super::stops::ActionStops;
use super::{Event, up_to_date};
use crate::Manifest;
use crate::error::Error;
use crate::graph::{ActionId, ExecutorId, Graph};
use crate::hash::{Digest, FileStat};
use crate::lineage::RunStatus;
use crate::lineage::delivery;
use crate::lineage::recorder::Recorder;
use crate::lineage::team::Team;
use crate::lockfile;
use crate::manifest::executor::LOCAL;
use crate::remote::choice::open_chosen;
use crate::store::{LinkMode, TieredStore};
use crate::workspace::Workspace;

/// Where a build's events go: a terminal's progress, a JSON report, a test's list.
pub trait Sink {
    /// One event, as it happens: actions starting and finishing, and notes.
    fn event(&mut self, event: &Event);

    /// The scheduler is done: what follows are only the notes of finishing the build (a
    /// remote's warning, a lockfile disagreement), as [`Event::Note`]s.
    fn finished(&mut self) {}
}

/// A sink that drops everything, for a caller that reads only the [`RunReport`].
impl Sink for () {
    fn event(&mut self, _: &Event) {}
}

/// How a build ended.
#[derive(Debug)]
pub struct RunReport {
    /// Every action the build reached, with how it ended, in the order they finished.
    pub outcomes: Vec<(ActionId, Outcome)>,
    /// How many failed.
    pub failed: usize,
    /// Whether it was asked to stop (Ctrl-C) before it was done.
    pub interrupted: bool,
    /// Every note the sink was given, in order.
    pub notes: Vec<String>,
}

/// The build of one workspace's compiled graph.
pub struct Build<'a> {
    workspace: &'a Workspace,
    manifest: &'a Manifest,
    graph: &'a Graph,
    stops: Option<&'a ActionStops>,
    /// Where steps run; the local executor when `None`.
    executor: Option<&'a dyn Executor>,
}

impl<'a> Build<'a> {
    /// A build of `graph`, compiled from `manifest` (see [`crate::load_graph`]).
    pub fn new(workspace: &'a Workspace, manifest: &'a Manifest, graph: &'a Graph) -> Build<'a> {
        Build {
            workspace,
            manifest,
            graph,
            stops: None,
            executor: None,
        }
    }

    /// Runs the steps on `executor` instead of as processes on this machine.
    #[must_use]
    pub fn with_executor(self, executor: &'a dyn Executor) -> Build<'a> {
        Build {
            executor: Some(executor),
            ..self
        }
    }

    /// Lets `stops` stop running actions one by one, as watch mode does when an action's
    /// inputs change under it.
    #[must_use]
    pub fn with_stops(self, stops: &'a ActionStops) -> Build<'a> {
        Build {
            stops: Some(stops),
            ..self
        }
    }

    /// Builds what `request` asks, holding `lock` if the caller took it already (else it waits
    /// for the workspace lock, saying so). Steps stop when `interrupt` is raised (the
    /// process's Ctrl-C handler when `None`). An error means nothing was built: the cache or
    /// a named remote could not be opened, or the lock not taken; a failed step is a
    /// [`RunReport`] with `failed` above zero.
    #[allow(
        clippy::too_many_lines,
        reason = "a build's steps in the order they happen: lock, session, recorder, run, records"
    )]
    pub fn run(
        &self,
        request: &BuildRequest,
        lock: Option<WorkspaceLock>,
        interrupt: Option<Interrupt>,
        sink: &mut dyn Sink,
    ) -> Result<RunReport, Error> {
        let (workspace, graph) = (self.workspace, self.graph);
        let mut out = Noted {
            sink,
            notes: Vec::new(),
        };
        let _lock = match lock {
            Some(lock) => lock,
            None => WorkspaceLock::acquire(&workspace.state_dir(), |holder| {
                out.note(format!("waiting for {holder} to finish in this workspace"));
            })
            .map_err(|e| Error::io("cannot lock the workspace", e))?,
        };
        let mut session = match interrupt {
            Some(interrupt) => Session::open_with(workspace, interrupt)?,
            None => Session::open(workspace)?,
        };
        // The caller wins over the manifest's `link`, which wins over the default.
        let from_manifest = self
            .manifest
            .link
            .as_ref()
            .and_then(|mode| mode.value.parse::<LinkMode>().ok());
        if let Some(link) = request.link.or(from_manifest) {
            session.link_mode = link;
        }
        let mut left_out = Vec::new();
        let remotes = open_chosen(self.manifest, &request.remotes, &mut left_out)?;
        if !remotes.is_empty() {
            session.tiered = Some(TieredStore::new(session.store.clone(), remotes));
        }
        for message in left_out {
            out.note(message);
        }
        let mut builder = session.builder(graph);
        builder.force(request.forced.clone());
        builder.known_unchanged(&request.unchanged);
        builder.default_executor(default_executor(graph, request.executor.as_deref())?);
        let options = Options {
            capacity: capacity::probe(
                request.cpu_slots,
                request.gpus.as_deref(),
                needs_gpus(graph, &request.targets, &builder),
            ),
            lanes: lanes(graph),
            keep_going: request.keep_going,
            check_threads: capacity::cores() as usize,
        };
        // Before the run is recorded: an executor that cannot start ends the build here.
        let local = session.local_executor();
        let here = self.executor.unwrap_or(&local);
        let mut said = Vec::new();
        let elsewhere = start_executors(
            (self.manifest, graph),
            &request.targets,
            &builder,
            &session,
            &mut said,
        )?;
        for message in said {
            out.note(message);
        }
        let blob_path = |digest: &Digest| session.store.blob_path(digest);
        let mut recorder = match Recorder::in_workspace(
            &workspace.root,
            (self.manifest, graph),
            &request.targets,
            (request.kind.as_str(), self.run_store(request)),
            Box::new(blob_path),
        ) {
            Ok(recorder) => {
                let sizes =
                    |path: &Path, digest: &Digest| session.stat_cache.known_size(path, digest);
                let mut recorder = recorder.with_sizes(Box::new(sizes));
                for message in recorder.take_notes() {
                    out.note(message);
                }
                Some(recorder)
            }
            Err(e) => {
                out.note(format!("this run is not recorded in the lineage: {e}"));
                None
            }
        };
        let router;
        let executor: &dyn Executor = if elsewhere.is_empty() {
            here
        } else {
            router = Router::new(
                std::iter::once((LOCAL.to_string(), here))
                    .chain(elsewhere.iter().map(|(name, e)| (name.clone(), e.as_ref())))
                    .collect(),
            );
            &router
        };
        let stop = || session.interrupt.is_triggered();
        let control = Control {
            stop: &stop,
            stops: self.stops,
        };
        let outcomes = scheduler::run(
            self.graph,
            &request.targets,
            &builder,
            executor,
            &options,
            control,
            &mut |event| {
                if let Some(recorder) = &mut recorder {
                    recorder.handle(event);
                }
                match with_printed(event, request, &session) {
                    Some(shown) => out.event(&shown),
                    None => out.event(event),
                }
            },
        );
        out.sink.finished();
        session.save();
        let warnings: Vec<String> = session
            .tiered
            .iter()
            .flat_map(TieredStore::take_warnings)
            .chain(builder.take_warnings())
            .collect();
        for warning in warnings {
            out.note(warning);
        }
        for (name, executor) in &elsewhere {
            if let Some((sent, received)) = executor.transferred()
                && sent + received > 0
            {
                out.note(format!(
                    "executor `{name}`: sent {} and brought back {} through its remote",
                    crate::ui::size::bytes(sent),
                    crate::ui::size::bytes(received)
                ));
            }
        }
        let interrupted = session.interrupt.is_triggered();
        let failed = outcomes
            .iter()
            .filter(|(_, outcome)| matches!(outcome, Outcome::Failed(_)))
            .count();
        let incomplete = outcomes.iter().any(|(_, outcome)| !outcome.is_success());
        if let Some(recorder) = recorder {
            let status = if interrupted {
                RunStatus::Interrupted
            } else if failed > 0 {
                RunStatus::Failed
            } else if incomplete {
                // Watch mode stopped some actions because their inputs changed under them.
                RunStatus::Interrupted
            } else {
                RunStatus::Succeeded
            };
            for message in recorder.finish(status) {
                out.note(message);
            }
            for note in self.deliver_runs(request) {
                out.note(note);
            }
        }
        if !incomplete && !interrupted {
            match lockfile::update(&workspace.root, graph, &outcomes, &session.last_keys) {
                Ok(disagreements) => {
                    for line in disagreements {
                        out.note(line);
                    }
                }
                Err(e) => out.note(e.to_string()),
            }
        }
        // Every target is up to date now, and the next build may say so without running
        // anything: each was cached, or ran and may be cached (a `cache #false` step must
        // run every time, so a build that has one never writes the record).
        let up_to_date = outcomes.len() == request.targets.len()
            && outcomes.iter().all(|(id, outcome)| match outcome {
                Outcome::Cached(_) => true,
                Outcome::Ran(_) => graph.action(*id).cache,
                _ => false,
            });
        if up_to_date && !interrupted {
            self.record_up_to_date(request, &session, &outcomes);
        } else {
            up_to_date::forget(&workspace.root);
        }
        Ok(RunReport {
            outcomes,
            failed,
            interrupted,
            notes: out.notes,
        })
    }

    /// Sends the runs recorded here to the team metadata stores they go to, if there are
    /// any; what the user is told of it. Only a store with runs waiting is reached.
    fn deliver_runs(&self, request: &BuildRequest) -> Vec<String> {
        let this_run = self.run_store(request);
        let manifest_url = self.manifest_store();
        let pipeline_urls = self
            .manifest
            .pipelines
            .iter()
            .filter_map(|pipeline| pipeline.metadata.as_ref())
            .map(|url| url.value.as_str());
        match Team::every(manifest_url, pipeline_urls) {
            Ok(teams) => teams
                .iter()
                .filter_map(|team| {
                    let its_store = team.recorded_as() == this_run;
                    delivery::after_run(&self.workspace.state_dir().lineage_db(), team, its_store)
                })
                .collect(),
            Err(bad) => vec![format!(
                "runs are not sent to the team metadata store: {bad}"
            )],
        }
    }

    /// The manifest's `metadata url=`, if any.
    fn manifest_store(&self) -> Option<&str> {
        self.manifest
            .metadata
            .as_ref()
            .map(|url| url.value.as_str())
    }

    /// The store of a pipeline's own that this run goes to, as the lineage records it.
    fn run_store(&self, request: &BuildRequest) -> Option<String> {
        Team::of_pipeline(self.manifest_store(), request.metadata.as_deref())
            .ok()
            .flatten()
            .and_then(|team| team.recorded_as())
    }

    /// Writes the up-to-date record of a build after which every target is up to date, with
    /// what the build knows of its paths (see [`up_to_date::Known`]).
    fn record_up_to_date(
        &self,
        request: &BuildRequest,
        session: &Session,
        outcomes: &[(ActionId, Outcome)],
    ) {
        let restored = restored_files(&self.workspace.root, outcomes);
        let (written_files, written_dirs) = written(outcomes);
        let keyed_dirs = keyed_dirs(outcomes);
        let digests = |path: &Path, stat: &FileStat| {
            session.stat_cache.hashed_digest(path, stat).or_else(|| {
                // Never trusted: a racy entry, hashed again before anything relies on
                // it, so a claim that does not hold costs a build, not an answer.
                restored.get(path).map(|&digest| (digest, false))
            })
        };
        let known = up_to_date::Known {
            digests: &digests,
            unchanged: &request.unchanged,
            written_files: &written_files,
            written_dirs: &written_dirs,
            keyed_dirs: &keyed_dirs,
        };
        // Losing the record costs the next no-op its shortcut, never a wrong answer.
        let _ = up_to_date::record(
            &self.workspace.root,
            self.manifest,
            self.graph,
            &request.targets,
            &request.selection,
            request.started_ns,
            &known,
        );
    }
}

/// The files the build put back from a cache, by absolute path, with the digests their
/// results claim: the stat cache never hashed them, and without a digest the up-to-date
/// record could not be written, so the build right after a restore would go the whole way.
fn restored_files(root: &Path, outcomes: &[(ActionId, Outcome)]) -> HashMap<PathBuf, Digest> {
    outcomes
        .iter()
        .filter_map(|(_, outcome)| match outcome {
            Outcome::Cached(done) if done.restored => Some(&done.outputs),
            _ => None,
        })
        .flatten()
        .filter(|(path, _)| !path.ends_with('/'))
        .map(|(path, digest)| (root.join(path), *digest))
        .collect()
}

/// The outputs the build wrote or put back, files and directories apart (directories without
/// their final `/`): what the up-to-date check saw of them before is no longer so.
fn written(outcomes: &[(ActionId, Outcome)]) -> (HashSet<String>, Vec<String>) {
    let mut files = HashSet::new();
    let mut dirs = Vec::new();
    for (_, outcome) in outcomes {
        let done = match outcome {
            Outcome::Ran(done) => done,
            Outcome::Cached(done) if done.restored => done,
            _ => continue,
        };
        for path in done.outputs.keys() {
            match path.strip_suffix('/') {
                Some(dir) => dirs.push(dir.to_string()),
                None => {
                    files.insert(path.clone());
                }
            }
        }
    }
    (files, dirs)
}

/// The tree digest each directory was keyed with, as an input (in its reader's key) or as an
/// output (in its result), by path without the final `/`: what the up-to-date record of a
/// directory that changed during the build must find in it. A directory keyed with two
/// digests is left out, so that the record holds neither.
fn keyed_dirs(outcomes: &[(ActionId, Outcome)]) -> HashMap<String, Digest> {
    let mut keyed: HashMap<&str, Option<Digest>> = HashMap::new();
    for (_, outcome) in outcomes {
        let (Outcome::Ran(done) | Outcome::Cached(done)) = outcome else {
            continue;
        };
        let inputs = done.fields.iter().flat_map(|key| &key.inputs);
        let inputs = inputs.map(|input| (input.path.as_str(), input.digest));
        let outputs = done
            .outputs
            .iter()
            .map(|(path, digest)| (path.as_str(), *digest));
        for (path, digest) in inputs.chain(outputs) {
            if let Some(dir) = path.strip_suffix('/') {
                let known = keyed.entry(dir).or_insert(Some(digest));
                if *known != Some(digest) {
                    *known = None;
                }
            }
        }
    }
    keyed
        .into_iter()
        .filter_map(|(path, digest)| Some((path.to_string(), digest?)))
        .collect()
}

/// Whether any of `targets` that runs here asks for a GPU (then the machine's are looked
/// for): a cluster's executor finds its own.
fn needs_gpus(graph: &Graph, targets: &[ActionId], builder: &Builder) -> bool {
    targets.iter().any(|&id| {
        let action = graph.action(id);
        action.resources.gpus > 0 && builder.executor_of(action) == ExecutorId::LOCAL
    })
}

/// The caller's sink, with every note kept for the [`RunReport`].
struct Noted<'s> {
    sink: &'s mut dyn Sink,
    notes: Vec<String>,
}

impl Noted<'_> {
    fn event(&mut self, event: &Event) {
        if let Event::Note { message } = event {
            self.notes.push(message.clone());
        }
        self.sink.event(event);
    }

    fn note(&mut self, message: String) {
        self.event(&Event::Note { message });
    }
}

/// The event with what the finished action printed read into it, when the request shows it;
/// `None` when it shows nothing. Read into a copy for the sink alone: the engine keeps every
/// outcome until the build ends, and must not keep every step's output with it.
fn with_printed(event: &Event, request: &BuildRequest, session: &Session) -> Option<Event> {
    let (id, outcome, shown) = match event {
        Event::Finished {
            id,
            outcome: outcome @ Outcome::Ran(done),
        } if request.show_output.ran => (id, outcome, done),
        Event::Finished {
            id,
            outcome: outcome @ Outcome::Cached(done),
        } if request.show_output.cached => (id, outcome, done),
        _ => return None,
    };
    let printed = replayed(&shown.logs, |digest| session.store.blob_path(digest));
    let printed = match printed {
        Printed::Kept { text, cut } => Printed::Kept {
            text,
            cut: cut || shown.logs_cut,
        },
        other => other,
    };
    let mut outcome = outcome.clone();
    if let Outcome::Ran(done) | Outcome::Cached(done) = &mut outcome {
        done.printed = Some(printed);
    }
    Some(Event::Finished { id: *id, outcome })
}
