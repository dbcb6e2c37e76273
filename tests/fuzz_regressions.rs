//! Replays the fuzz targets' seeds (`fuzz/seeds/<target>/`) and every input that once broke a
//! reader (`fuzz/regressions/<target>/`) through the same entry points the targets call, on
//! the stable toolchain, so that a fixed crash or blow-up stays fixed without anyone running
//! `cargo fuzz`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use zenbuild::fuzzing;
use zenbuild::manifest::params::Format;

/// Every target in `fuzz/fuzz_targets/`, each replayed by the test of its name below.
const TARGETS: &[&str] = &[
    "action_result",
    "kdl_subset",
    "lockfile",
    "manifest",
    "params_json",
    "params_toml",
    "params_yaml",
    "stat_cache",
    "up_to_date",
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Longer than any input takes unless a reader blows up: the seeds take milliseconds in a
/// debug build, and the blow-ups fuzzing found took minutes.
const TIME_LIMIT: Duration = Duration::from_secs(10);
/// The main thread's stack, where the command line reads its files.
const STACK: usize = 8 << 20;

/// Feeds every seed and regression of `target` to `read`, names each input that panicked or
/// took longer than [`TIME_LIMIT`], and says how many of the seeds read as good files (see
/// `zenbuild::fuzzing`).
fn replay(target: &str, read: impl Fn(&[u8]) -> bool + Send + Sync + 'static) -> Reads {
    let seeds = files_in(&fuzz_dir().join("seeds").join(target));
    assert!(!seeds.is_empty(), "fuzz/seeds/{target}/ has no seed");
    let regressions = files_in(&fuzz_dir().join("regressions").join(target));
    let read = Arc::new(read);
    let mut failed = Vec::new();
    let mut good = 0;
    for (index, path) in seeds.iter().chain(&regressions).enumerate() {
        let bytes = std::fs::read(path).expect("readable fuzz input");
        let (done, outcome) = mpsc::channel();
        let read = Arc::clone(&read);
        // A thread of its own, left behind if it never ends, so that a blow-up fails the test
        // instead of hanging it; a panic drops `done` unsent.
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || {
                let _ = done.send(read(&bytes));
            })
            .expect("spawn a reader thread");
        match outcome.recv_timeout(TIME_LIMIT) {
            Ok(read) => good += usize::from(read && index < seeds.len()),
            Err(RecvTimeoutError::Disconnected) => {
                failed.push(format!("{}: panicked", path.display()));
            }
            Err(RecvTimeoutError::Timeout) => failed.push(format!(
                "{}: still reading after {TIME_LIMIT:?}",
                path.display()
            )),
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    Reads {
        good,
        seeds: seeds.len(),
    }
}

/// How many seeds of a target read as good files, of how many.
#[derive(Debug)]
struct Reads {
    good: usize,
    seeds: usize,
}

impl Reads {
    /// Every seed, for targets whose seeds are all real files zenbuild wrote.
    fn all(&self) -> bool {
        self.good == self.seeds
    }
}

#[test]
fn every_fuzz_target_is_replayed_here() {
    let mut targets: Vec<String> = files_in(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_string()))
        .collect();
    targets.sort();
    assert_eq!(targets, TARGETS);
}

#[test]
fn manifest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    // Some seeds hold mistakes on purpose, to start the fuzzer inside the error paths.
    let reads = replay("manifest", move |bytes| fuzzing::manifest(&path, bytes));
    assert!(reads.good > 0, "{reads:?}");
}

#[test]
fn kdl_subset() {
    // Some seeds leave the fast subset on purpose, to start the fuzzer at its edges.
    let reads = replay("kdl_subset", fuzzing::kdl_subset);
    assert!(reads.good > 0, "{reads:?}");
}

#[test]
fn params_yaml() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    let reads = replay("params_yaml", move |bytes| {
        fuzzing::params(&path, Format::Yaml, bytes)
    });
    assert!(reads.all(), "{reads:?}");
}

#[test]
fn params_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    let reads = replay("params_json", move |bytes| {
        fuzzing::params(&path, Format::Json, bytes)
    });
    assert!(reads.all(), "{reads:?}");
}

#[test]
fn params_toml() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    let reads = replay("params_toml", move |bytes| {
        fuzzing::params(&path, Format::Toml, bytes)
    });
    assert!(reads.all(), "{reads:?}");
}

#[test]
fn lockfile() {
    let reads = replay("lockfile", fuzzing::lockfile);
    assert!(reads.all(), "{reads:?}");
}

#[test]
fn action_result() {
    let reads = replay("action_result", fuzzing::action_result);
    assert!(reads.all(), "{reads:?}");
}

#[test]
fn stat_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    let reads = replay("stat_cache", move |bytes| fuzzing::stat_cache(&path, bytes));
    assert!(reads.all(), "{reads:?}");
}

#[test]
fn up_to_date() {
    let reads = replay("up_to_date", fuzzing::up_to_date);
    assert!(reads.all(), "{reads:?}");
}
