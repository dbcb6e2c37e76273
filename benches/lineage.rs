//! Lineage queries on a long history: `cargo bench --bench lineage`.
//!
//! Target (issue: lineage): a lineage query on a database of 1,000,000 action rows answers in
//! under 50 ms.
//!
//! The history is 1,000 runs of a 1,000-action pipeline: 100 independent chains of 10 steps,
//! each chain reading its own raw file. The first run runs everything; each later run finds
//! one chain's raw file changed, runs that chain's 10 actions and restores the other 990 from
//! the cache, as a team's history does. It is written through the same store the recorder
//! uses, into a temporary database (kept with `--keep`), then each query is timed `--runs`
//! times (default 21) and its median reported:
//!
//! - `lineage` of the last output of a chain, up to its raw file (10 levels);
//! - `lineage --down` from a raw file (10 levels);
//! - `log` (the latest 20 runs); `show` of the latest run (1,000 actions).
//!
//! ```text
//! cargo bench --bench lineage -- [--runs 21] [--history 1000] [--keep]
//! ```

use std::time::{Duration, Instant};

use zenbuild::lineage::tree::{self, Direction};
use zenbuild::lineage::{
    ActionRecord, ArtifactRecord, Counts, MetadataStore, NewRun, RunEnd, RunStatus, SqliteStore,
};

/// A named query, timed as a whole.
type Query<'a> = (&'static str, Box<dyn Fn() + 'a>);

const CHAINS: usize = 100;
const CHAIN: usize = 10;
const TARGET: Duration = Duration::from_millis(50);

fn main() {
    let mut runs = 21;
    let mut history = 1_000;
    let mut keep = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--history" => {
                history = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--history N");
            }
            "--keep" => keep = true,
            // cargo bench passes `--bench`.
            _ => {}
        }
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("lineage.db");
    let mut store = SqliteStore::open(&path).expect("open the database");
    let started = Instant::now();
    write_history(&mut store, history);
    let rows = history * CHAINS * CHAIN;
    println!(
        "wrote {history} runs, {rows} action rows in {:.1?} ({} MB)",
        started.elapsed(),
        std::fs::metadata(&path).map_or(0, |m| m.len()) / 1_000_000
    );

    let chain = CHAINS / 2;
    let last = ArtifactRecord {
        path: artifact_path(chain, CHAIN),
        digest: digest(chain, CHAIN, version_of(chain, history)),
        size: None,
    };
    let raw = ArtifactRecord {
        path: artifact_path(chain, 0),
        digest: digest(chain, 0, version_of(chain, history)),
        size: None,
    };
    let latest = store.runs(1).expect("runs")[0].id;
    let queries: Vec<Query> = vec![
        (
            "lineage (10 levels up)",
            Box::new(|| {
                let node = tree::build(&store, &last, Direction::Up).expect("lineage");
                assert_eq!(depth(&node), CHAIN + 1);
            }),
        ),
        (
            "lineage --down (10 levels)",
            Box::new(|| {
                let node = tree::build(&store, &raw, Direction::Down).expect("lineage");
                assert_eq!(depth(&node), CHAIN + 1);
            }),
        ),
        (
            "log (20 runs)",
            Box::new(|| assert_eq!(store.runs(20).expect("log").len(), 20.min(history))),
        ),
        (
            "show (1,000 actions)",
            Box::new(|| {
                let actions = store.run_actions(latest).expect("show");
                assert_eq!(actions.len(), CHAINS * CHAIN);
            }),
        ),
    ];
    println!("\nqueries on {rows} action rows, median (min–max) of {runs} runs each");
    for (name, query) in &queries {
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                query();
                started.elapsed()
            })
            .collect();
        times.sort();
        let median = times[times.len() / 2];
        let verdict = if name.starts_with("lineage") {
            if median < TARGET {
                "  (target < 50 ms: met)"
            } else {
                "  (target < 50 ms: NOT met)"
            }
        } else {
            ""
        };
        println!(
            "{name:<28} {:>9.2} ms  ({:.2} – {:.2} ms){verdict}",
            ms(median),
            ms(times[0]),
            ms(times[times.len() - 1])
        );
    }
    if keep {
        let kept = dir.keep();
        println!("kept {}", kept.join("lineage.db").display());
    }
}

/// Which version of its raw file chain `chain` has after `run` runs: run `r` (from 1)
/// changed chain `(r - 1) % CHAINS` when `r > 1`.
fn version_of(chain: usize, runs: usize) -> usize {
    (1..runs).filter(|r| (r - 1) % CHAINS == chain).count()
}

fn write_history(store: &mut SqliteStore, history: usize) {
    let mut versions = vec![0usize; CHAINS];
    for run in 0..history {
        let changed = (run > 0).then(|| (run - 1) % CHAINS);
        if let Some(chain) = changed {
            versions[chain] += 1;
        }
        let id = store
            .begin_run(&NewRun {
                uid: zenbuild::lineage::new_run_uid(),
                started_ms: 1_700_000_000_000 + run as i64 * 60_000,
                kind: "build".into(),
                command: vec!["zenbuild".into()],
                user: "bench".into(),
                host: "bench".into(),
                version: "0".into(),
                manifest_digest: "pipeline".into(),
                manifest: Some("{}".into()),
            })
            .expect("begin a run");
        let mut actions = Vec::with_capacity(CHAINS * CHAIN);
        for (chain, &version) in versions.iter().enumerate() {
            let ran = run == 0 || changed == Some(chain);
            for step in 1..=CHAIN {
                actions.push(ActionRecord {
                    name: format!("c{chain}s{step}"),
                    step: format!("s{step}"),
                    key: Some(digest(chain, step + 100, version)),
                    status: if ran { "ran" } else { "cached" }.into(),
                    started_ms: 0,
                    duration_ms: 1,
                    executor: Some("local".into()),
                    cmd: format!("step {step} of chain {chain}"),
                    inputs: vec![ArtifactRecord {
                        path: artifact_path(chain, step - 1),
                        digest: digest(chain, step - 1, version),
                        size: Some(100),
                    }],
                    outputs: vec![ArtifactRecord {
                        path: artifact_path(chain, step),
                        digest: digest(chain, step, version),
                        size: Some(100),
                    }],
                    params: vec![("lr".into(), serde_json::json!(0.1))],
                    ..ActionRecord::default()
                });
            }
        }
        store.record_actions(id, &actions).expect("record actions");
        let counts = if run == 0 {
            Counts {
                ran: (CHAINS * CHAIN) as u64,
                ..Counts::default()
            }
        } else {
            Counts {
                ran: CHAIN as u64,
                cached: ((CHAINS - 1) * CHAIN) as u64,
                ..Counts::default()
            }
        };
        store
            .finish_run(
                id,
                &RunEnd {
                    finished_ms: 1_700_000_000_000 + run as i64 * 60_000 + 1_000,
                    status: RunStatus::Succeeded,
                    git: None,
                    counts,
                },
            )
            .expect("finish a run");
    }
}

fn artifact_path(chain: usize, step: usize) -> String {
    if step == 0 {
        format!("data/raw-{chain}.csv")
    } else {
        format!("out/{chain}/step-{step}.bin")
    }
}

/// A stand-in digest, distinct per (chain, step, version).
fn digest(chain: usize, step: usize, version: usize) -> String {
    blake3::hash(format!("{chain}/{step}/{version}").as_bytes())
        .to_hex()
        .to_string()
}

/// Artifact levels from the root to the deepest leaf.
fn depth(node: &tree::Node) -> usize {
    1 + node
        .actions
        .iter()
        .flat_map(|step| &step.artifacts)
        .map(depth)
        .max()
        .unwrap_or(0)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
