//! One build of a compiled graph, from taking the workspace lock to writing what it leaves
//! behind (the stat cache, the lineage run, `zenbuild.lock`, the up-to-date record, the
//! report). `zenbuild build` runs one; `zenbuild watch` runs one per change.

use super::build::{BuildOptions, LOCK, cores, gpus, total_memory};
use super::remotes::open_remotes;
use super::session::Session;
use crate::Manifest;
use crate::error::Error;
use crate::exec::interrupt::Interrupt;
use crate::exec::lock::WorkspaceLock;
use crate::exec::log_pipe::{KEPT_OUTPUT, read_kept};
use crate::exec::resources::Capacity;
use crate::exec::scheduler::{self, Options};
use crate::exec::stops::ActionStops;
use crate::exec::up_to_date;
use crate::exec::{
    Event,
    event::{Outcome, Printed},
};
use crate::graph::{ActionId, Graph};
use crate::hash::Digest;
use crate::lineage::durations;
use crate::lineage::recorder::Recorder;
use crate::lineage::{LINEAGE_DB, RunStatus};
use crate::lockfile;
use crate::store::{LinkMode, TieredStore};
use crate::ui::Colors;
use crate::ui::build_report::BuildReport;
use crate::ui::eta::History;
use crate::ui::progress::{Mode, Progress, say_note};
use crate::workspace::Workspace;

pub struct Cycle<'a> {
    pub workspace: &'a Workspace,
    pub manifest: &'a Manifest,
    pub graph: &'a Graph,
    /// The actions to build, dependencies first.
    pub targets: &'a [ActionId],
    /// The targets as the command line named them, for the up-to-date record.
    pub selection: &'a str,
    pub options: &'a BuildOptions,
    pub colors: Colors,
    /// When the build began, before it read any file.
    pub started_ns: i64,
    /// The lineage run's kind: `build` or `watch`.
    pub kind: &'static str,
    /// Where watch mode stops single actions.
    pub stops: Option<&'a ActionStops>,
}

/// How a cycle ended.
pub struct Done {
    pub outcomes: Vec<(ActionId, Outcome)>,
    pub failed: usize,
    pub interrupted: bool,
}

impl Cycle<'_> {
    /// Builds the targets, holding `lock` if the caller took it already. Steps stop when
    /// `interrupt` is raised (a fresh Ctrl-C handler when `None`).
    pub fn run(
        &self,
        lock: Option<WorkspaceLock>,
        interrupt: Option<Interrupt>,
    ) -> Result<Done, Error> {
        let (workspace, graph, args) = (self.workspace, self.graph, self.options);
        if self.kind == "watch" && args.force.any() {
            // Forced on every cycle, a step would rerun at each save of an unrelated file.
            return Err(Error::BadArgument(
                "--force and --force-all force one build: use `zenbuild build --force …`, then watch".into(),
            ));
        }
        let forced = args.force.resolve(graph, self.targets)?;
        let mut progress = Progress::new(
            graph,
            self.colors,
            (args.verbose, args.quiet),
            Mode::detect(),
        );
        // Read only for a live bar: a log or CI console shows no estimate.
        if progress.is_live() {
            let ran = durations::ran_durations(&workspace.root.join(LINEAGE_DB));
            let slots = args.cpu_slots().min(512) as usize;
            progress.estimate_with(History::new(ran), self.targets, slots);
        }
        let _lock = match lock {
            Some(lock) => lock,
            None => WorkspaceLock::acquire(&workspace.root.join(LOCK), |holder| {
                progress.handle(&Event::Note {
                    message: format!("waiting for {holder} to finish in this workspace"),
                });
            })
            .map_err(|e| Error::io("cannot lock the workspace", e))?,
        };
        let mut session = match interrupt {
            Some(interrupt) => Session::open_with(workspace, interrupt)?,
            None => Session::open(workspace)?,
        };
        // The command line wins over the manifest's `link`, which wins over the default.
        let from_manifest = self
            .manifest
            .link
            .as_ref()
            .and_then(|mode| mode.value.parse::<LinkMode>().ok());
        if let Some(link) = args.link.or(from_manifest) {
            session.link_mode = link;
        }
        let mut notes = Vec::new();
        let remotes = open_remotes(self.manifest, args, &mut notes)?;
        if !remotes.is_empty() {
            session.tiered = Some(TieredStore::new(session.store.clone(), remotes));
        }
        for note in notes {
            progress.handle(&Event::Note { message: note });
        }
        let mut builder = session.builder_with(graph, self.stops);
        builder.force(forced);
        let options = Options {
            capacity: Capacity {
                cpus: args.cpu_slots(),
                memory: total_memory(),
                gpus: gpus(args.gpus.as_deref()),
            },
            keep_going: args.keep_going,
            check_threads: cores() as usize,
        };
        let mut report = BuildReport::new();
        let blob_path = |digest: &Digest| session.store.blob_path(digest);
        let mut recorder = match Recorder::in_workspace(
            &workspace.root,
            (self.manifest, graph),
            self.targets,
            self.kind,
            Box::new(blob_path),
        ) {
            Ok(mut recorder) => {
                for message in recorder.take_notes() {
                    progress.handle(&Event::Note { message });
                }
                Some(recorder)
            }
            Err(e) => {
                progress.handle(&Event::Note {
                    message: format!("this run is not recorded in the lineage: {e}"),
                });
                None
            }
        };
        let outcomes = scheduler::run(
            graph,
            self.targets,
            &builder,
            &options,
            &|| session.interrupt.is_triggered(),
            &mut |mut event| {
                report.handle(&event, graph);
                if let Some(recorder) = &mut recorder {
                    recorder.handle(&event);
                }
                // Read here, for this event only: the engine keeps every outcome until the
                // build ends, and must not keep every step's output with it.
                let shown = match &mut event {
                    Event::Finished {
                        outcome: Outcome::Ran(done),
                        ..
                    } if !args.quiet => Some(done),
                    Event::Finished {
                        outcome: Outcome::Cached(done),
                        ..
                    } if args.verbose => Some(done),
                    _ => None,
                };
                if let Some(done) = shown {
                    let printed = replayed(&done.logs, |digest| session.store.blob_path(digest));
                    done.printed = Some(match printed {
                        Printed::Kept { text, cut } => Printed::Kept {
                            text,
                            cut: cut || done.logs_cut,
                        },
                        other => other,
                    });
                }
                progress.handle(&event);
            },
        );
        progress.finish();
        session.save();
        for warning in session.tiered.iter().flat_map(TieredStore::take_warnings) {
            say_note(self.colors, &warning);
        }
        for warning in builder.take_warnings() {
            say_note(self.colors, &warning);
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
            for note in recorder.finish(status) {
                say_note(self.colors, &note);
            }
        }
        if !incomplete && !interrupted {
            match lockfile::update(&workspace.root, graph, &outcomes, &session.last_keys) {
                Ok(disagreements) => {
                    for line in disagreements {
                        say_note(self.colors, &line);
                    }
                }
                Err(e) => say_note(self.colors, &e.to_string()),
            }
        }
        let all_cached = outcomes.len() == self.targets.len()
            && outcomes
                .iter()
                .all(|(_, outcome)| matches!(outcome, Outcome::Cached(_)));
        if all_cached && !interrupted {
            // Losing the record costs the next no-op its shortcut, never a wrong answer.
            let _ = up_to_date::record(
                &workspace.root,
                self.manifest,
                graph,
                self.targets,
                self.selection,
                self.started_ns,
                &|path, stat| session.stat_cache.known_digest(path, stat),
            );
        } else {
            up_to_date::forget(&workspace.root);
        }
        if let Some(path) = &args.report {
            report
                .write(path)
                .map_err(|e| Error::io(format!("cannot write the report {}", path.display()), e))?;
        }
        Ok(Done {
            outcomes,
            failed,
            interrupted,
        })
    }
}

/// What a step printed when it ran, from the blobs its result names (`blob_path` finds each
/// in the local store), each read no further than its last [`KEPT_OUTPUT`] bytes: a remote's
/// blob is no more trusted to be small than to be right.
fn replayed(logs: &[Digest], blob_path: impl Fn(&Digest) -> std::path::PathBuf) -> Printed {
    let mut text = String::new();
    let mut cut = false;
    for digest in logs {
        let path = blob_path(digest);
        if !path.is_file() {
            // An empty blob (an older result's silent stream) need not be stored at all.
            if *digest == Digest::of(b"") {
                continue;
            }
            return Printed::NotInCache;
        }
        match read_kept(&path, KEPT_OUTPUT) {
            Ok(Printed::Kept {
                text: part,
                cut: part_cut,
            }) => {
                text.push_str(&part);
                cut |= part_cut;
            }
            Ok(Printed::Nothing) => {}
            Ok(Printed::NotInCache) | Err(_) => return Printed::NotInCache,
        }
    }
    if text.is_empty() && !cut {
        Printed::Nothing
    } else {
        Printed::Kept { text, cut }
    }
}
