//! `kill -9` of zenbuild at random moments, with random edits of the sources between builds.
//! After each kill, a build must succeed and give outputs byte-identical to a clean build of
//! the same sources in a fresh workspace; every blob in the CAS must hash to its name, every
//! action result must be whole, and the lineage database must pass `PRAGMA integrity_check`.
//!
//! Seeded and bounded for CI; `ZENBUILD_CRASH_SEED` and `ZENBUILD_CRASH_KILLS` run it longer
//! or elsewhere. A failure prints the seed and the kill it happened at.

mod common;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use common::Test;
use common::processes::kill_9;

/// Steps that write in several goes (so a kill can leave half an output), a directory
/// output, a step reading it, a large output, and a fan-in of four.
const PIPELINE: &str = r#"
step "split" {
    cmd "mkdir -p out/parts/deep; for w in $(cat data/a.txt); do echo $w > out/parts/$w.txt; sleep 0.01; done; cat data/a.txt > out/parts/deep/all.txt"
    inputs "data/a.txt"
    outputs "out/parts/"
}
step "upper" {
    cmd "tr a-z A-Z < data/b.txt > out/upper.txt; sleep 0.04; tr a-z A-Z < data/b.txt >> out/upper.txt"
    inputs "data/b.txt"
    outputs "out/upper.txt"
}
step "count" {
    cmd "sleep 0.02; ls out/parts | wc -l > out/count.txt; cat out/parts/*.txt >> out/count.txt"
    inputs "out/parts/"
    outputs "out/count.txt"
}
step "big" {
    cmd "yes $(cat data/c.txt) | head -c 3000000 > out/big.txt"
    inputs "data/c.txt"
    outputs "out/big.txt"
}
step "merge" {
    cmd "cat out/count.txt out/upper.txt data/c.txt > out/merged.txt; sleep 0.02; wc -c < out/big.txt >> out/merged.txt"
    inputs "out/count.txt" "out/upper.txt" "out/big.txt" "data/c.txt"
    outputs "out/merged.txt"
}
"#;

/// What each source may hold: few enough that earlier results come back from the cache.
const VARIANTS: [(&str, [&str; 5]); 3] = [
    ("data/a.txt", ["x y z", "x y", "w x y z q", "q", "z y x w"]),
    (
        "data/b.txt",
        ["hello\n", "hello world\n", "bye\n", "a\nb\n", "\n"],
    ),
    (
        "data/c.txt",
        ["one\n", "two\n", "three\n", "four\n", "five\n"],
    ),
];

/// The longest a killed build runs before it is killed: about what one that reruns a few
/// steps takes, so that most kills land in the middle of one.
const LONGEST_KILL_DELAY_MS: u64 = 150;

/// SplitMix64: a fixed small PRNG, so that a seed means the same run everywhere.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[test]
fn kill_9_at_random_moments_never_leaves_a_wrong_or_corrupt_workspace() {
    let seed = env_number("ZENBUILD_CRASH_SEED", 12);
    let kills = env_number("ZENBUILD_CRASH_KILLS", 30);
    let mut random = Random(seed);
    let started = Instant::now();
    let mut sources: BTreeMap<&str, &str> = VARIANTS
        .iter()
        .map(|(path, variants)| (*path, variants[0]))
        .collect();
    let mut test = Test::new().manifest(PIPELINE);
    for (path, text) in &sources {
        test = test.file(path, text);
    }
    let mut clean_builds: HashMap<String, BTreeMap<String, Vec<u8>>> = HashMap::new();
    let (mut builds, mut died_mid_build) = (0, 0);
    for kill in 1..=kills {
        let context = format!("seed {seed}, kill {kill}");
        for _ in 0..=random.below(2) {
            let (path, variants) = VARIANTS[random.below(VARIANTS.len() as u64) as usize];
            let text = variants[random.below(variants.len() as u64) as usize];
            sources.insert(path, text);
            test = test.file(path, text);
        }
        let delay = Duration::from_millis(random.below(LONGEST_KILL_DELAY_MS));
        let mut killed = test.spawn(&["build", "-j", "2"]);
        std::thread::sleep(delay);
        if killed.try_wait().expect("poll zenbuild").is_none() {
            died_mid_build += 1;
        }
        kill_9(&mut killed);
        builds += 1;

        let out = test.build(&["-j", "2"]).run();
        builds += 1;
        assert_eq!(
            out.code,
            Some(0),
            "{context}: the build after the kill failed\n{}",
            out.dump()
        );
        let key = format!("{sources:?}");
        if !clean_builds.contains_key(&key) {
            clean_builds.insert(key.clone(), clean_build(&sources));
            builds += 1;
        }
        let expected = &clean_builds[&key];
        let actual = files_under(&out.path().join("out"));
        assert_outputs_equal(expected, &actual, &context);
        check_cache(out.path(), &context);
        check_lineage(out.path(), &context);
        test = out.again();
    }
    eprintln!(
        "crash consistency: seed {seed}: {kills} kills ({died_mid_build} mid-build), {builds} builds, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The outputs of a build of `sources` in a fresh workspace with an empty cache.
fn clean_build(sources: &BTreeMap<&str, &str>) -> BTreeMap<String, Vec<u8>> {
    let mut fresh = Test::new().manifest(PIPELINE);
    for (path, text) in sources {
        fresh = fresh.file(path, text);
    }
    let out = fresh.build(&["-j", "2"]).run().success();
    assert_eq!(out.report().ran().len(), 5, "{}", out.report());
    files_under(&out.path().join("out"))
}

/// Every file under `dir`, by its path relative to `dir`, with its bytes.
fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir).expect("under dir");
            let bytes = std::fs::read(&path).unwrap_or_default();
            files.insert(relative.display().to_string(), bytes);
        }
    }
    files
}

fn assert_outputs_equal(
    expected: &BTreeMap<String, Vec<u8>>,
    actual: &BTreeMap<String, Vec<u8>>,
    context: &str,
) {
    let names = |files: &BTreeMap<String, Vec<u8>>| files.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(actual),
        names(expected),
        "{context}: other output files"
    );
    for (path, bytes) in expected {
        assert!(
            actual[path] == *bytes,
            "{context}: out/{path} differs from a clean build: {:?} instead of {:?}",
            String::from_utf8_lossy(&actual[path][..actual[path].len().min(200)]),
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)]),
        );
    }
}

/// Every blob hashes to its name under the right fan-out directory, and every action result
/// is whole JSON: nothing half-written sits under a digest or a key.
fn check_cache(workspace: &Path, context: &str) {
    let state = zenbuild::workspace::StateDir::of(workspace);
    for (relative, bytes) in files_under(&state.cas()) {
        let (fan, name) = relative
            .split_once('/')
            .unwrap_or_else(|| panic!("{context}: cas/{relative} is outside a fan-out directory"));
        assert!(
            name.len() == 64 && name.starts_with(fan),
            "{context}: cas/{relative} is not named by a digest"
        );
        assert_eq!(
            blake3::hash(&bytes).to_hex().as_str(),
            name,
            "{context}: cas/{relative} does not hash to its name"
        );
    }
    for (relative, bytes) in files_under(&state.ac()) {
        #[allow(
            clippy::case_sensitive_file_extension_comparisons,
            reason = "the store names its files itself, in lower case"
        )]
        let json = relative.ends_with(".json");
        assert!(json, "{context}: ac/{relative} is not an action result");
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&bytes);
        assert!(
            parsed.is_ok(),
            "{context}: ac/{relative} is not whole: {parsed:?}"
        );
    }
}

fn check_lineage(workspace: &Path, context: &str) {
    let db = rusqlite::Connection::open_with_flags(
        zenbuild::workspace::StateDir::of(workspace).lineage_db(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap_or_else(|e| panic!("{context}: cannot open the lineage: {e}"));
    let verdict: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{context}: integrity_check: {e}"));
    assert_eq!(verdict, "ok", "{context}: the lineage is damaged");
}
