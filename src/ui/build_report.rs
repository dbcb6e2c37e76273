//! `zenbuild build --report FILE`: what every action of a build came to, as JSON for CI and
//! scripts. Like the terminal view, it is a consumer of [`Event`]s.
//!
//! The file's shape:
//!
//! ```json
//! {
//!   "actions": [
//!     {
//!       "name": "fit@lr=0.1,depth=3",
//!       "step": "fit",
//!       "status": "ran",
//!       "key": "9c1e…",
//!       "outputs": {"out/model-0.1-3.json": "3f2a…"},
//!       "duration_ms": 12,
//!       "reasons": ["out/data/ changed (3f2a9c1e → 9c1e3f2a)"],
//!       "error": null
//!     }
//!   ],
//!   "summary": {"ran": 1, "cached": 0, "failed": 0, "skipped": 0, "interrupted": 0, "duration_ms": 15}
//! }
//! ```
//!
//! - `status` is one of `ran`, `cached`, `failed`, `skipped`, `interrupted`
//!   ([`Outcome::status`]); an action never started because the build stopped is `skipped`.
//! - `key` is the action key in hex, `null` when none was computed; `outputs` maps each output
//!   path (directories end in `/`) to its blake3 digest in hex, empty unless it ran or was cached.
//! - `reasons` says why it ran (empty when cached), or why it was skipped.
//! - `error` is the failure's message for a failed action, else `null`.
//! - a cached action also has `source` (`local` or `remote:NAME`) and `restored`: whether its
//!   outputs were put back, rather than found in place.
//! - an action that ran (or failed after it started) also has `executor`, the name of the
//!   executor it ran on (`local`, or one the manifest declares), and, where that executor
//!   gives them, `job_id` (a Slurm job id) and `node`.
//! - `summary.duration_ms` is the wall time from the build's start to its last finished action.
//!
//! Actions are listed in graph order whatever order they finished in, so that two reports of
//! the same build compare equal.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::atomic_write::{Durability, write_atomically};
use crate::exec::event::{Event, Outcome};
use crate::graph::{ActionId, Graph};
use crate::hash::Digest;

/// Collects a build's events; [`BuildReport::write`] saves the result.
#[derive(Debug, Default)]
pub struct BuildReport {
    actions: BTreeMap<ActionId, ActionEntry>,
    started: Option<Instant>,
    last_finished: Option<Instant>,
}

#[derive(Debug, Serialize)]
struct ActionEntry {
    name: String,
    step: String,
    status: &'static str,
    key: Option<Digest>,
    outputs: BTreeMap<String, Digest>,
    duration_ms: u64,
    reasons: Vec<String>,
    /// Where a cached result came from: `local`, or `remote:NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    /// For a cached action, whether its outputs were put back (false: already in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    restored: Option<bool>,
    /// Where it ran: the executor's name, its job id and the node, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    executor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    ran: usize,
    cached: usize,
    failed: usize,
    skipped: usize,
    interrupted: usize,
    duration_ms: u64,
}

#[derive(Serialize)]
struct Document<'a> {
    actions: Vec<&'a ActionEntry>,
    summary: Summary,
}

impl BuildReport {
    pub fn new() -> BuildReport {
        BuildReport::default()
    }

    /// Records one event. Names are looked up now so that writing needs no graph.
    pub fn handle(&mut self, event: &Event, graph: &Graph) {
        let now = Instant::now();
        match event {
            Event::Started { .. } => self.started = Some(now),
            Event::Finished { id, outcome } => {
                self.started.get_or_insert(now);
                self.last_finished = Some(now);
                let entry = self.entry(*id, outcome, graph);
                self.actions.insert(*id, entry);
            }
            Event::Running { .. }
            | Event::Queued { .. }
            | Event::Transferred { .. }
            | Event::Note { .. }
            | Event::Waiting => {}
        }
    }

    #[allow(
        clippy::missing_panics_doc,
        reason = "the report's maps have string keys, so encoding it cannot fail"
    )]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.document()).expect("the report has only string keys")
    }

    /// Writes the report to `path` through a temporary file in the same directory, so that
    /// a reader never sees half a report.
    pub fn write(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        let mut text = serde_json::to_string_pretty(&self.document()).map_err(io::Error::other)?;
        text.push('\n');
        // Synced: a report is kept and read later, by people and by CI.
        write_atomically(path, text.as_bytes(), Durability::Synced)
    }

    fn entry(&self, id: ActionId, outcome: &Outcome, graph: &Graph) -> ActionEntry {
        let action = graph.action(id);
        let mut entry = ActionEntry {
            name: action.name.clone(),
            step: action.step.clone(),
            status: outcome.status(),
            key: None,
            outputs: BTreeMap::new(),
            duration_ms: 0,
            reasons: Vec::new(),
            source: None,
            restored: None,
            executor: None,
            job_id: None,
            node: None,
            error: None,
        };
        let ran_on = match outcome {
            Outcome::Ran(done) => done.ran_on.as_ref(),
            Outcome::Failed(failure) => failure.ran_on.as_ref(),
            _ => None,
        };
        if let Some(ran_on) = ran_on {
            entry.executor = Some(ran_on.executor.clone());
            entry.job_id.clone_from(&ran_on.job_id);
            entry.node.clone_from(&ran_on.node);
        }
        if let Outcome::Cached(done) = outcome {
            entry.source = Some(done.source.clone().unwrap_or_else(|| "local".into()));
            entry.restored = Some(done.restored);
        }
        match outcome {
            Outcome::Cached(done) | Outcome::Ran(done) => {
                entry.key = done.key;
                entry.outputs = done.outputs.clone();
                entry.duration_ms = millis(done.duration);
                entry.reasons = done.reasons.iter().map(|r| redacted(r)).collect();
            }
            Outcome::Failed(failure) => {
                entry.key = failure.key;
                entry.duration_ms = millis(failure.duration);
                // A failed action always says what went wrong, even when the engine did not.
                entry.error = Some(if failure.message.is_empty() {
                    "failed".to_string()
                } else {
                    redacted(&failure.message)
                });
            }
            Outcome::Skipped { because } => {
                let what = match self.actions.get(because).map(|e| e.status) {
                    Some("interrupted") => "was interrupted",
                    _ => "failed",
                };
                entry.reasons = vec![format!("{} {what}", graph.action(*because).name)];
            }
            Outcome::Stopped => {
                entry.reasons = vec!["the build stopped before it started".to_string()];
            }
            Outcome::Interrupted => {}
        }
        entry
    }

    fn document(&self) -> Document<'_> {
        let mut summary = Summary::default();
        for entry in self.actions.values() {
            let counter = match entry.status {
                "ran" => &mut summary.ran,
                "cached" => &mut summary.cached,
                "failed" => &mut summary.failed,
                "interrupted" => &mut summary.interrupted,
                _ => &mut summary.skipped,
            };
            *counter += 1;
        }
        summary.duration_ms = match (self.started, self.last_finished) {
            (Some(start), Some(end)) => millis(end.duration_since(start)),
            _ => 0,
        };
        Document {
            actions: self.actions.values().collect(),
            summary,
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A message as the report keeps it: a remote's URL in it (a failed download, a refused
/// upload) loses its password, since reports are archived by CI.
fn redacted(message: &str) -> String {
    crate::remote::redact(message).into_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::exec::event::{Done, Failure};

    use crate::ui::test_pipeline::{graph, id};

    /// Feeds events in an order unlike the graph's: report first, prepare last.
    fn report(graph: &Graph) -> BuildReport {
        let fit_a = id(graph, "fit@lr=0.1,depth=3");
        let fit_b = id(graph, "fit@lr=0.3,depth=3");
        let events = [
            Event::Started { total: 4 },
            Event::Finished {
                id: fit_a,
                outcome: Outcome::Ran(Box::new(Done {
                    key: Some(Digest::of(b"key")),
                    outputs: BTreeMap::from([(
                        "out/model-0.1-3.json".to_string(),
                        Digest::of(b"model"),
                    )]),
                    duration: Duration::from_millis(12),
                    reasons: vec!["new input out/data/".into()],
                    ..Done::default()
                })),
            },
            Event::Finished {
                id: fit_b,
                outcome: Outcome::Failed(Failure {
                    message: "exited with code 1".into(),
                    duration: Duration::from_millis(7),
                    ..Failure::default()
                }),
            },
            Event::Finished {
                id: id(graph, "report"),
                outcome: Outcome::Skipped { because: fit_b },
            },
            Event::Note {
                message: "ignored".into(),
            },
            Event::Finished {
                id: id(graph, "prepare"),
                outcome: Outcome::Cached(Box::default()),
            },
        ];
        let mut report = BuildReport::new();
        for event in &events {
            report.handle(event, graph);
        }
        report
    }

    #[test]
    fn the_json_has_the_documented_shape_in_graph_order() {
        let graph = graph();
        let mut json = report(&graph).to_json();
        assert!(json["summary"]["duration_ms"].is_u64());
        json["summary"]["duration_ms"] = json!(0);
        let empty = json!({});
        assert_eq!(
            json,
            json!({
                "actions": [
                    {
                        "name": "prepare", "step": "prepare", "status": "cached",
                        "key": null, "outputs": empty, "duration_ms": 0,
                        "reasons": [], "source": "local", "restored": false, "error": null
                    },
                    {
                        "name": "fit@lr=0.1,depth=3", "step": "fit", "status": "ran",
                        "key": Digest::of(b"key").to_hex(),
                        "outputs": {"out/model-0.1-3.json": Digest::of(b"model").to_hex()},
                        "duration_ms": 12,
                        "reasons": ["new input out/data/"], "error": null
                    },
                    {
                        "name": "fit@lr=0.3,depth=3", "step": "fit", "status": "failed",
                        "key": null, "outputs": empty, "duration_ms": 7,
                        "reasons": [], "error": "exited with code 1"
                    },
                    {
                        "name": "report", "step": "report", "status": "skipped",
                        "key": null, "outputs": empty, "duration_ms": 0,
                        "reasons": ["fit@lr=0.3,depth=3 failed"], "error": null
                    }
                ],
                "summary": {
                    "ran": 1, "cached": 1, "failed": 1, "skipped": 1, "interrupted": 0,
                    "duration_ms": 0
                }
            })
        );
    }

    #[test]
    fn stopped_and_interrupted_actions() {
        let graph = graph();
        let prepare = id(&graph, "prepare");
        let mut report = BuildReport::new();
        for (id, outcome) in [
            (prepare, Outcome::Interrupted),
            (id(&graph, "report"), Outcome::Stopped),
            (
                id(&graph, "fit@lr=0.1,depth=3"),
                Outcome::Skipped { because: prepare },
            ),
        ] {
            report.handle(&Event::Finished { id, outcome }, &graph);
        }
        let json = report.to_json();
        let statuses: Vec<&str> = json["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["interrupted", "skipped", "skipped"]);
        assert_eq!(
            json["actions"][1]["reasons"],
            json!(["prepare was interrupted"])
        );
        assert_eq!(
            json["actions"][2]["reasons"],
            json!(["the build stopped before it started"])
        );
        assert_eq!(json["summary"]["skipped"], 2);
        assert_eq!(json["summary"]["interrupted"], 1);
    }

    #[test]
    fn write_replaces_the_file_whole_and_leaves_no_temporary() {
        let graph = graph();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "old").unwrap();
        let report = report(&graph);
        report.write(&path).unwrap();
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written, report.to_json());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.json"]);
    }

    #[test]
    fn write_into_a_missing_directory_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/report.json");
        assert!(BuildReport::new().write(&path).is_err());
        assert!(!dir.path().join("missing").exists());
    }
}
