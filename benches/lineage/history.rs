//! The history the benchmark records: a team's runs of one 1,000-action pipeline, 100
//! independent chains of 10 steps, each step reading the output of the one before it (the
//! first reads the chain's raw file) with a param, the last also writing a metric. The first
//! step also unpacks the raw file into a directory, of which the second reads one file: what
//! `lineage` up finds through the directory that holds it, and `--down` through the readers
//! of files inside the directory.
//!
//! As in a real history, most of each run is restored from the cache and a few actions run:
//! the first run runs everything; after it, chain 0 (the model being worked on) changes in
//! every run, one of chains 1–49 changes in turn (each every 49th run), and chains 50–99 never
//! change. So a run records 20 new contents and 980 cached repeats; chain 0's files have a
//! version per run; chains 50–99's were made once and read and restored by every run since.

use zenbuild::lineage::{
    ActionRecord, ArtifactRecord, Counts, Metric, NewRun, RunEnd, RunStatus, new_run_uid,
};

pub const CHAINS: usize = 100;
pub const CHAIN: usize = 10;
/// The actions of one run.
pub const ACTIONS: usize = CHAINS * CHAIN;
/// Chains 1 to `WARM - 1` change in turn, one per run.
const WARM: usize = 50;
/// A chain that never changes after the first run: its files have the longest history.
pub const COLD: usize = 75;
/// The chain that changes in every run.
pub const HOT: usize = 0;

/// The `step` of the digests of a chain's directory and the file in it read: past its steps
/// (and the 100 + step of its keys).
const DIRECTORY: usize = 50;

const USERS: [&str; 5] = ["ana", "bo", "chen", "dara", "eli"];
const START_MS: i64 = 1_700_000_000_000;

/// A run as a clone sends it: how it started, its actions, how it ended.
pub struct Run {
    pub new: NewRun,
    pub actions: Vec<ActionRecord>,
    pub end: RunEnd,
}

/// One pipeline's history, a run at a time. Pipelines of other names share no digest.
pub struct History {
    name: String,
    manifest: String,
    manifest_digest: String,
    versions: Vec<usize>,
    runs: usize,
}

impl History {
    pub fn new(name: &str) -> History {
        let manifest = manifest(name);
        History {
            manifest_digest: blake3::hash(manifest.as_bytes()).to_hex().to_string(),
            manifest,
            name: name.to_string(),
            versions: vec![0; CHAINS],
            runs: 0,
        }
    }

    /// The next run: which chains changed, which actions ran and which were restored.
    pub fn next_run(&mut self) -> Run {
        let run = self.runs;
        self.runs += 1;
        let mut changed = [None; 2];
        if run > 0 {
            changed = [Some(HOT), Some(1 + (run - 1) % (WARM - 1))];
            for chain in changed.into_iter().flatten() {
                self.versions[chain] += 1;
            }
        }
        let started_ms = START_MS + run as i64 * 600_000;
        let mut actions = Vec::with_capacity(ACTIONS);
        for chain in 0..CHAINS {
            let ran = run == 0 || changed.contains(&Some(chain));
            for step in 1..=CHAIN {
                actions.push(self.action(chain, step, ran, started_ms));
            }
        }
        let ran = actions.iter().filter(|a| a.status == "ran").count() as u64;
        Run {
            new: NewRun {
                uid: new_run_uid(),
                started_ms,
                kind: "build".into(),
                command: vec!["zenbuild".into(), "build".into()],
                user: USERS[run % USERS.len()].into(),
                host: format!("{}-laptop", USERS[run % USERS.len()]),
                version: "0.1.0".into(),
                manifest_digest: self.manifest_digest.clone(),
                manifest: Some(self.manifest.clone()),
                store: None,
            },
            actions,
            end: RunEnd {
                finished_ms: started_ms + 30_000,
                status: RunStatus::Succeeded,
                git: None,
                counts: Counts {
                    ran,
                    cached: ACTIONS as u64 - ran,
                    ..Counts::default()
                },
            },
        }
    }

    fn action(&self, chain: usize, step: usize, ran: bool, started_ms: i64) -> ActionRecord {
        let version = self.versions[chain];
        let metrics = if step == CHAIN {
            vec![Metric {
                path: format!("out/{chain}/metrics.json"),
                name: "eval.auc".into(),
                value: serde_json::json!(0.8 + (version % 100) as f64 / 1000.0),
            }]
        } else {
            Vec::new()
        };
        ActionRecord {
            name: format!("c{chain}/s{step}"),
            step: format!("s{step}"),
            key: Some(self.digest(chain, step + 100, version)),
            status: if ran { "ran" } else { "cached" }.into(),
            started_ms: started_ms + (chain * CHAIN + step) as i64 * 20,
            duration_ms: if ran { 1_500 } else { 2 },
            executor: Some(if ran { "local" } else { "cache" }.into()),
            cmd: format!("python steps/s{step}.py --chain {chain}"),
            reasons: if ran {
                vec![format!("input {} changed", path(chain, step - 1))]
            } else {
                Vec::new()
            },
            inputs: match step {
                2 => vec![self.artifact(chain, 1), self.inside(chain)],
                _ => vec![self.artifact(chain, step - 1)],
            },
            outputs: match step {
                1 => vec![self.artifact(chain, 1), self.directory(chain)],
                _ => vec![self.artifact(chain, step)],
            },
            params: vec![(
                "lr".into(),
                serde_json::json!(0.01 * (chain % 7 + 1) as f64),
            )],
            metrics,
            ..ActionRecord::default()
        }
    }

    /// The file step `step` of `chain` writes (0: the chain's raw file) as it is now.
    pub fn artifact(&self, chain: usize, step: usize) -> ArtifactRecord {
        ArtifactRecord {
            path: path(chain, step),
            digest: self.digest(chain, step, self.versions[chain]),
            size: Some(10_000 + (chain * CHAIN + step) as u64),
        }
    }

    /// The directory the first step of `chain` unpacks its raw file into, as it is now.
    pub fn directory(&self, chain: usize) -> ArtifactRecord {
        ArtifactRecord {
            path: format!("out/{chain}/raw/"),
            digest: self.digest(chain, DIRECTORY, self.versions[chain]),
            size: None,
        }
    }

    /// The file inside [`History::directory`] that the second step reads, as it is now.
    pub fn inside(&self, chain: usize) -> ArtifactRecord {
        ArtifactRecord {
            path: format!("out/{chain}/raw/part-0.bin"),
            digest: self.digest(chain, DIRECTORY + 1, self.versions[chain]),
            size: Some(5_000),
        }
    }

    /// A stand-in digest, distinct per pipeline, chain, step and version.
    fn digest(&self, chain: usize, step: usize, version: usize) -> String {
        let name = &self.name;
        blake3::hash(format!("{name}/{chain}/{step}/{version}").as_bytes())
            .to_hex()
            .to_string()
    }
}

/// The file step `step` of `chain` writes; step 0 is the chain's raw file.
fn path(chain: usize, step: usize) -> String {
    if step == 0 {
        format!("data/raw-{chain}.csv")
    } else {
        format!("out/{chain}/step-{step}.bin")
    }
}

/// The resolved graph as `zenbuild graph --format json` would print it, about 100 KB: every
/// run sends it, and the store keeps it once.
fn manifest(name: &str) -> String {
    let steps: Vec<serde_json::Value> = (0..CHAINS)
        .flat_map(|chain| {
            (1..=CHAIN).map(move |step| {
                serde_json::json!({
                    "name": format!("c{chain}/s{step}"),
                    "cmd": format!("python steps/s{step}.py --chain {chain}"),
                    "deps": (1..step).last().map(|before| format!("c{chain}/s{before}")),
                })
            })
        })
        .collect();
    serde_json::json!({ "pipeline": name, "actions": steps }).to_string()
}
