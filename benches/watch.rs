//! Watch-mode latency: `cargo bench --bench watch`.
//!
//! Target (issue: watch mode): from a file write to the start of the action it affects, under
//! 200 ms including the debounce (100 ms by default).
//!
//! A one-step pipeline in a fresh `git init` repository under the system temp dir: the step
//! reads `in.txt` and first of all writes the time it started (`date +%s%N`). The release
//! binary runs `zenbuild watch`; after its first build the benchmark writes `in.txt` again
//! and again (`--edits`, default 15, 300 ms apart), each time noting the time just before the
//! write, waits for the step's copy to show the new bytes, and takes the step's start time
//! minus the write time. It reports the median, the minimum and the maximum.
//!
//! ```text
//! cargo bench --bench watch -- [--edits 15] [--debounce 100]
//! ```

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ZENBUILD: &str = env!("CARGO_BIN_EXE_zenbuild");
const TARGET: Duration = Duration::from_millis(200);

const MANIFEST: &str = r#"
step "copy" {
    cmd "date +%s%N > out/started.txt; cat in.txt > out/copy.txt"
    inputs "in.txt"
    outputs "out/started.txt" "out/copy.txt"
}
"#;

fn main() {
    let mut edits = 15;
    let mut debounce = 100;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--edits" => edits = args.next().and_then(|v| v.parse().ok()).expect("--edits N"),
            "--debounce" => {
                debounce = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--debounce MS");
            }
            // cargo bench passes `--bench`.
            _ => {}
        }
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path();
    let status = Command::new("git")
        .args(["init", "-q"])
        .current_dir(root)
        .status()
        .expect("git init");
    assert!(status.success());
    std::fs::write(root.join("zenbuild.kdl"), MANIFEST).expect("write the manifest");
    std::fs::write(root.join("in.txt"), "edit 0").expect("write the input");
    let mut watch = Command::new(ZENBUILD)
        .args(["watch", "--debounce", &debounce.to_string()])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start zenbuild watch");
    wait_for(root, "edit 0");
    let mut latencies = Vec::with_capacity(edits);
    for edit in 1..=edits {
        std::thread::sleep(Duration::from_millis(300));
        let text = format!("edit {edit}");
        let written = now_ns();
        std::fs::write(root.join("in.txt"), &text).expect("edit the input");
        wait_for(root, &text);
        let started: i128 = std::fs::read_to_string(root.join("out/started.txt"))
            .expect("the step's start time")
            .trim()
            .parse()
            .expect("a number of nanoseconds");
        latencies.push(Duration::from_nanos((started - written).max(0) as u64));
    }
    // SAFETY: kill has no memory-safety preconditions; the pid is our own live child's.
    unsafe { libc::kill(watch.id() as libc::pid_t, libc::SIGINT) };
    let _ = watch.wait();
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let verdict = if median < TARGET { "met" } else { "NOT met" };
    println!(
        "write → action start, {edits} edits, debounce {debounce} ms: median {:.1} ms \
         (min {:.1} ms, max {:.1} ms); target < 200 ms: {verdict}",
        ms(median),
        ms(latencies[0]),
        ms(latencies[latencies.len() - 1])
    );
}

fn wait_for(root: &Path, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(root.join("out/copy.txt"))
        .ok()
        .as_deref()
        != Some(text)
    {
        assert!(Instant::now() < deadline, "the step never copied {text:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as i128)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
