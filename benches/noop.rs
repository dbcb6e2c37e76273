//! No-op builds against ninja: `cargo bench --bench noop`.
//!
//! Targets (issue: build engine): a no-op of a generated 1,000-step pipeline within 1.5× of
//! ninja's no-op on the same graph; the 10,000-step figure reported; a no-op over a
//! 100,000-file input directory under 0.5 s with a warm stat cache.
//!
//! zenbuild is timed as users run it: the release binary as a process, from spawn to exit,
//! so manifest parsing, cache loading and saving count. Each case is generated in a fresh
//! `git init` repository under the system temp dir, built once by each tool untimed, then
//! rebuilt once more untimed (entries hashed within the stat cache's racy window are rehashed
//! on the first rebuild, and that run should not count as a no-op). The timed runs of the two
//! tools alternate, so that noise on a shared machine falls on both. Both tools build the
//! same files in the same directory; every timed run is checked to have done nothing, so
//! neither can disturb the other unnoticed. ninja has no directory inputs: in the dataset case
//! its `build.ninja` lists all the files.
//!
//! zenbuild has two rows. `zenbuild` is the no-op users get: the previous build left its
//! up-to-date record, and the run checks the record's digests and signatures only.
//! `zb whole` removes the record first, so the run compiles the manifest, computes every key
//! and writes the record again: the no-op after a `touch`, or after any change that turns
//! out to change no key.
//!
//! ```text
//! cargo bench --bench noop -- [--steps 1000,10000] [--files 100000] [--runs 15] [--keep]
//! ```
//!
//! `--files 0` or `--steps ''` leave a case out; `--keep` leaves the generated workspaces in
//! place and prints their paths, for `hyperfine` or `perf record` to be pointed at. ninja
//! (`apt-get install ninja-build`) is optional: without it its rows say so.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The binary `cargo bench` built beside this benchmark (the bench profile is the release
/// profile, so this is `target/release/zenbuild`, up to date).
const ZENBUILD: &str = env!("CARGO_BIN_EXE_zenbuild");

/// Longer than the stat cache's racy window: entries recorded sooner after a write are not
/// trusted, and a "warm" run would rehash them.
const RACY_WAIT: Duration = Duration::from_millis(2_100);

/// Steps in a chain: each step of a chain reads its predecessor's output.
const CHAIN: usize = 10;
/// Every `FAN_IN`-th step also reads the last outputs of the nine chains before its own.
const FAN_IN: usize = 100;
const FILES_PER_DIR: usize = 1_000;

struct Options {
    steps: Vec<usize>,
    files: usize,
    runs: usize,
    keep: bool,
}

fn main() {
    let options = parse_args();
    let ninja = ninja_version();
    match &ninja {
        Some(version) => println!("ninja {version}; zenbuild {ZENBUILD}"),
        None => println!("ninja not found (apt-get install ninja-build): its rows are skipped"),
    }
    let mut rows = Vec::new();
    for &steps in &options.steps {
        let dir = workspace(&format!("chain-{steps}"));
        generate_chain(dir.path(), steps);
        let case = Case {
            name: "pipeline (steps)",
            n: steps,
        };
        rows.extend(measure(case, &dir, ninja.is_some(), &options));
        finish(dir, options.keep);
    }
    if options.files > 0 {
        let dir = workspace(&format!("dataset-{}", options.files));
        generate_dataset(dir.path(), options.files);
        let case = Case {
            name: "input dir (files)",
            n: options.files,
        };
        rows.extend(measure(case, &dir, ninja.is_some(), &options));
        finish(dir, options.keep);
    }
    print_table(&rows, options.runs);
}

fn parse_args() -> Options {
    let mut options = Options {
        steps: vec![1_000, 10_000],
        files: 100_000,
        runs: 15,
        keep: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--steps" => {
                options.steps = value()
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(|n| n.parse().expect("--steps takes numbers, comma-separated"))
                    .collect();
            }
            "--files" => options.files = value().parse().expect("--files takes a number"),
            "--runs" => options.runs = value().parse().expect("--runs takes a number"),
            "--keep" => options.keep = true,
            // `cargo bench` passes `--bench`; other harness flags mean nothing here.
            _ => {}
        }
    }
    options.runs = options.runs.max(1);
    options
}

fn ninja_version() -> Option<String> {
    let output = Command::new("ninja").arg("--version").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// A fresh git repository to generate a case into.
fn workspace(name: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("zenbuild-noop-{name}-"))
        .tempdir()
        .expect("temp dir");
    let status = Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status()
        .expect("run git");
    assert!(status.success(), "git init failed");
    std::fs::write(
        dir.path().join(".gitignore"),
        ".zenbuild/\nout/\n.ninja_*\n",
    )
    .expect("write");
    dir
}

/// Removes the workspace, or keeps it and says how to time it again from outside.
fn finish(dir: tempfile::TempDir, keep: bool) {
    if keep {
        let dir = dir.keep();
        println!(
            "kept {0}\n  cross-check: cd {0} && hyperfine -N -w 3 {ZENBUILD} 'ninja -C .'",
            dir.display()
        );
    }
}

/// The inputs of step `i`, in the order its command reads them: its source file, its
/// predecessor in the chain, and at every `FAN_IN`-th step the ends of the chains before.
fn inputs_of(i: usize) -> Vec<String> {
    let mut inputs = vec![format!("src/{i}.txt")];
    if !i.is_multiple_of(CHAIN) {
        inputs.push(format!("out/{}.txt", i - 1));
    }
    if i % FAN_IN == FAN_IN - 1 {
        for back in 1..FAN_IN / CHAIN {
            inputs.push(format!("out/{}.txt", i - back * CHAIN));
        }
    }
    inputs
}

/// `steps` steps, each `cat`-ing its inputs into `out/i.txt`, as `zenbuild.kdl` and as the
/// same commands over the same files in `build.ninja`.
fn generate_chain(dir: &Path, steps: usize) {
    std::fs::create_dir_all(dir.join("src")).expect("create src");
    let mut kdl = String::from("project \"noop\"\npipeline \"all\" default=#true {\n");
    let mut ninja = String::from("rule cat\n  command = cat $in > $out\n");
    for i in 0..steps {
        std::fs::write(dir.join(format!("src/{i}.txt")), format!("source {i}\n")).expect("write");
        let inputs = inputs_of(i);
        let output = format!("out/{i}.txt");
        let cmd = format!("cat {} > {output}", inputs.join(" "));
        let quoted: Vec<String> = inputs.iter().map(|path| format!("\"{path}\"")).collect();
        let _ = writeln!(
            kdl,
            "    step \"s{i}\" {{\n        cmd \"{cmd}\"\n        inputs {}\n        outputs \"{output}\"\n    }}",
            quoted.join(" ")
        );
        let _ = writeln!(ninja, "build {output}: cat {}", inputs.join(" "));
    }
    kdl.push_str("}\n");
    std::fs::write(dir.join("zenbuild.kdl"), kdl).expect("write manifest");
    std::fs::write(dir.join("build.ninja"), ninja).expect("write build.ninja");
}

/// One step reading a directory of `files` small files (`FILES_PER_DIR` to a subdirectory).
/// zenbuild declares the directory; ninja, which has no directory inputs, lists every file.
fn generate_dataset(dir: &Path, files: usize) {
    let cmd = "find data -type f | wc -l > out/count.txt";
    let mut ninja = format!("rule count\n  command = {cmd}\nbuild out/count.txt: count");
    for i in 0..files {
        let shard = dir.join(format!("data/{:03}", i / FILES_PER_DIR));
        if i.is_multiple_of(FILES_PER_DIR) {
            std::fs::create_dir_all(&shard).expect("create shard");
        }
        let name = format!("{i:06}.txt");
        std::fs::write(shard.join(&name), format!("sample {i}\n")).expect("write");
        let _ = write!(ninja, " data/{:03}/{name}", i / FILES_PER_DIR);
    }
    ninja.push('\n');
    let kdl = format!(
        "project \"noop\"\nstep \"count\" {{\n    cmd \"{cmd}\"\n    inputs \"data/\"\n    outputs \"out/count.txt\"\n}}\n"
    );
    std::fs::write(dir.join("zenbuild.kdl"), kdl).expect("write manifest");
    std::fs::write(dir.join("build.ninja"), ninja).expect("write build.ninja");
}

#[derive(Clone, Copy, PartialEq)]
enum Tool {
    /// A plain `zenbuild`, which finds its up-to-date record.
    Zenbuild,
    /// `zenbuild` with its up-to-date record removed first: the no-op of the whole engine
    /// (compile the manifest, compute every key, write the record again), as after a `touch`.
    ZenbuildWholeWay,
    Ninja,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Zenbuild => "zenbuild",
            Tool::ZenbuildWholeWay => "zb whole",
            Tool::Ninja => "ninja",
        }
    }

    fn command(self, dir: &Path) -> Command {
        let mut command = match self {
            Tool::Zenbuild | Tool::ZenbuildWholeWay => Command::new(ZENBUILD),
            Tool::Ninja => {
                let mut ninja = Command::new("ninja");
                ninja.arg("-C").arg(dir);
                ninja
            }
        };
        command.current_dir(dir);
        command
    }

    /// Runs the tool once and returns how long it took and what it printed; panics if it
    /// failed, since a failed build times nothing useful.
    fn run(self, dir: &Path) -> (Duration, String) {
        if self == Tool::ZenbuildWholeWay {
            let _ = std::fs::remove_file(zenbuild::workspace::StateDir::of(dir).up_to_date());
        }
        let started = Instant::now();
        let output = self.command(dir).output().expect("start the build");
        let elapsed = started.elapsed();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{} failed:\n{text}", self.name());
        (elapsed, text)
    }

    /// A timed no-op, checked to have done nothing: a run that rebuilt something is not a
    /// no-op and its time would mislead.
    fn no_op(self, dir: &Path) -> Duration {
        let (elapsed, text) = self.run(dir);
        let idle = match self {
            Tool::Zenbuild => text.contains(" up to date "),
            Tool::ZenbuildWholeWay => text.contains(" 0 ran,"),
            Tool::Ninja => text.contains("no work to do"),
        };
        assert!(idle, "{} did work on a no-op:\n{text}", self.name());
        elapsed
    }
}

/// What was generated: a kind of workspace and its size.
#[derive(Clone, Copy, PartialEq)]
struct Case {
    name: &'static str,
    n: usize,
}

struct Row {
    case: Case,
    tool: Tool,
    /// Sorted; empty when the tool is absent.
    times: Vec<Duration>,
}

impl Row {
    fn median(&self) -> Option<Duration> {
        let n = self.times.len();
        match n {
            0 => None,
            _ if !n.is_multiple_of(2) => Some(self.times[n / 2]),
            _ => Some((self.times[n / 2 - 1] + self.times[n / 2]) / 2),
        }
    }
}

/// The full build of each tool, the untimed warming rebuild, then `runs` alternating timed
/// no-ops.
fn measure(case: Case, dir: &tempfile::TempDir, ninja: bool, options: &Options) -> Vec<Row> {
    let dir = dir.path();
    let tools: Vec<Tool> = if ninja {
        vec![Tool::Zenbuild, Tool::ZenbuildWholeWay, Tool::Ninja]
    } else {
        vec![Tool::Zenbuild, Tool::ZenbuildWholeWay]
    };
    // The whole-way row needs no build of its own: it shares zenbuild's workspace state.
    for &tool in tools.iter().filter(|&&tool| tool != Tool::ZenbuildWholeWay) {
        let (elapsed, _) = tool.run(dir);
        eprintln!(
            "{} {}: full {} build {elapsed:.2?}",
            case.name,
            case.n,
            tool.name()
        );
    }
    std::thread::sleep(RACY_WAIT);
    for &tool in &tools {
        tool.run(dir);
    }
    let mut times = vec![Vec::new(); tools.len()];
    for _ in 0..options.runs {
        for (index, &tool) in tools.iter().enumerate() {
            times[index].push(tool.no_op(dir));
        }
    }
    let mut rows: Vec<Row> = tools
        .iter()
        .zip(times)
        .map(|(&tool, mut times)| {
            times.sort();
            Row { case, tool, times }
        })
        .collect();
    if !ninja {
        rows.push(Row {
            case,
            tool: Tool::Ninja,
            times: Vec::new(),
        });
    }
    rows
}

fn print_table(rows: &[Row], runs: usize) {
    println!("\nno-op builds, median (min–max) of {runs} runs each, wall time from spawn to exit");
    println!(
        "{:<18} {:>7}  {:<9} {:>10} {:>21} {:>15}",
        "case", "N", "tool", "median", "min–max", "zenbuild/ninja"
    );
    for row in rows {
        let lead = format!(
            "{:<18} {:>7}  {:<9}",
            row.case.name,
            row.case.n,
            row.tool.name()
        );
        let Some(median) = row.median() else {
            println!("{lead} {:>10}", "skipped (ninja not installed)");
            continue;
        };
        let ninja = rows
            .iter()
            .find(|other| other.case == row.case && other.tool == Tool::Ninja)
            .and_then(Row::median);
        let ratio = match (row.tool, ninja) {
            (Tool::Zenbuild | Tool::ZenbuildWholeWay, Some(ninja)) => {
                format!("{:.2}×", median.as_secs_f64() / ninja.as_secs_f64())
            }
            _ => String::new(),
        };
        let spread = format!(
            "{} – {}",
            millis(row.times[0]),
            millis(row.times[row.times.len() - 1])
        );
        println!("{lead} {:>10} {:>21} {:>15}", millis(median), spread, ratio);
    }
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}
