//! Restoring from remote caches: `cargo bench --bench remote`.
//!
//! For each remote (a shared directory, nginx as an HTTP cache, SeaweedFS as S3; the servers
//! are the test harness's, on 127.0.0.1, and a backend whose server is not installed is left
//! out), user A builds a pipeline with 1,000 small outputs (one directory) and one 1 GiB
//! output, which uploads them; user B, a fresh workspace with an empty local cache, builds the
//! same pipeline and restores everything from the remote. B's build is timed (the release
//! binary, spawn to exit) and compared with a raw transfer of the same objects by standard
//! tools: `cp -r` for the directory, `curl --parallel` (8 at a time, as zenbuild) for HTTP,
//! and the same with `--aws-sigv4` for S3.
//!
//! ```text
//! cargo bench --bench remote -- [--size-mib 1024] [--files 1000]
//! ```

#[path = "../tests/common/guard.rs"]
#[allow(dead_code)]
mod guard;
#[path = "../tests/common/local_server.rs"]
#[allow(dead_code)]
mod local_server;
#[path = "../tests/common/nginx.rs"]
#[allow(dead_code)]
mod nginx;
#[path = "../tests/common/seaweed.rs"]
#[allow(dead_code)]
mod seaweed;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const ZENBUILD: &str = env!("CARGO_BIN_EXE_zenbuild");

fn main() {
    let mut size_mib: u64 = 1024;
    let mut files: usize = 1000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--size-mib" => size_mib = args.next().and_then(|v| v.parse().ok()).expect("N"),
            "--files" => files = args.next().and_then(|v| v.parse().ok()).expect("N"),
            // cargo bench passes `--bench`.
            _ => {}
        }
    }
    let bytes = size_mib * 1024 * 1024 + files as u64 * 16;
    println!(
        "restore of 1 × {size_mib} MiB + {files} small outputs ({:.0} MB in all) from each remote",
        bytes as f64 / 1e6
    );
    let shared = tempfile::tempdir().expect("a shared directory");
    measure(
        "file://",
        &format!("file://{}", shared.path().display()),
        &[],
        size_mib,
        files,
        |_| raw_copy(shared.path()),
    );
    if let Some(server) = nginx::Nginx::start() {
        let url = server.url();
        measure("http (nginx)", &url, &[], size_mib, files, |objects| {
            raw_curl(&url, objects, &[])
        });
    }
    if let Some(server) = seaweed::Seaweed::start() {
        let url = server.url("bench");
        let env = [
            ("AWS_ACCESS_KEY_ID", seaweed::ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", seaweed::SECRET_KEY),
        ];
        let base = format!(
            "http://127.0.0.1:{}/{}/bench",
            server.s3_port,
            seaweed::BUCKET
        );
        let user = format!("{}:{}", seaweed::ACCESS_KEY, seaweed::SECRET_KEY);
        let sign = [
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            user.as_str(),
        ];
        measure("s3 (SeaweedFS)", &url, &env, size_mib, files, |objects| {
            raw_curl(&base, objects, &sign)
        });
    }
}

/// A's build, then B's timed restore, then the raw transfer of the same objects.
fn measure(
    name: &str,
    url: &str,
    env: &[(&str, &str)],
    size_mib: u64,
    files: usize,
    raw: impl Fn(&[String]) -> Duration,
) {
    let a = workspace(url, size_mib, files);
    let (_, report) = build(a.path(), env);
    assert!(report.contains("\"ran\": 2"), "A ran both steps:\n{report}");
    let b = workspace(url, size_mib, files);
    let (took, report) = build(b.path(), env);
    assert!(
        report.contains("\"cached\": 2") && report.contains("remote:"),
        "B restored both from the remote:\n{report}"
    );
    let objects = objects(b.path());
    let bytes: u64 = objects_bytes(b.path(), &objects);
    let raw = raw(&objects);
    println!(
        "{name:<16} zenbuild {:>7.2} s {:>8.1} MB/s | raw {:>7.2} s {:>8.1} MB/s | zenbuild/raw {:.2}×",
        took.as_secs_f64(),
        bytes as f64 / 1e6 / took.as_secs_f64(),
        raw.as_secs_f64(),
        bytes as f64 / 1e6 / raw.as_secs_f64(),
        took.as_secs_f64() / raw.as_secs_f64()
    );
}

fn workspace(url: &str, size_mib: u64, files: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a workspace");
    let status = Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status()
        .expect("git init");
    assert!(status.success());
    let manifest = format!(
        r#"
remote "bench" url="{url}"
step "many" {{
    cmd "mkdir -p out/many && for i in $(seq 1 {files}); do printf 'small file %06d\n' $i > out/many/$i.txt; done"
    outputs "out/many/"
}}
step "big" {{
    cmd "head -c {} /dev/urandom > out/big.bin"
    outputs "out/big.bin"
}}
"#,
        size_mib * 1024 * 1024
    );
    std::fs::write(dir.path().join("zenbuild.kdl"), manifest).expect("write the manifest");
    dir
}

/// Runs a build and returns its wall time and report.
fn build(root: &Path, env: &[(&str, &str)]) -> (Duration, String) {
    let started = Instant::now();
    let output = Command::new(ZENBUILD)
        .args(["build", "--report", ".zenbuild/report.json"])
        .current_dir(root)
        .envs(env.iter().copied())
        .output()
        .expect("run zenbuild");
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = std::fs::read_to_string(root.join(".zenbuild/report.json")).unwrap_or_default();
    (took, report)
}

/// The digests of every blob the local cache of `root` holds: what B downloaded.
fn objects(root: &Path) -> Vec<String> {
    let cas = zenbuild::workspace::StateDir::of(root).cas();
    let mut names = Vec::new();
    for fan_out in std::fs::read_dir(&cas).expect("the local CAS").flatten() {
        for entry in std::fs::read_dir(fan_out.path())
            .expect("a fan-out")
            .flatten()
        {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names
}

fn objects_bytes(root: &Path, objects: &[String]) -> u64 {
    let cas = zenbuild::workspace::StateDir::of(root).cas();
    objects
        .iter()
        .filter_map(|name| std::fs::metadata(cas.join(&name[..2]).join(name)).ok())
        .map(|meta| meta.len())
        .sum()
}

fn raw_copy(shared: &Path) -> Duration {
    let target = tempfile::tempdir().expect("a target");
    let started = Instant::now();
    let status = Command::new("cp")
        .arg("-r")
        .arg(shared.join("cas"))
        .arg(target.path())
        .status()
        .expect("cp");
    assert!(status.success());
    started.elapsed()
}

/// GETs every object under `base/cas/` with curl, 8 at a time.
fn raw_curl(base: &str, objects: &[String], extra: &[&str]) -> Duration {
    let target = tempfile::tempdir().expect("a target");
    let config = target.path().join("urls");
    let mut text = String::new();
    for object in objects {
        let _ = write!(
            text,
            "url = \"{base}/cas/{object}\"\noutput = \"{}\"\n",
            target.path().join(object).display()
        );
    }
    std::fs::write(&config, text).expect("write the curl config");
    let started = Instant::now();
    let status = Command::new("curl")
        .args([
            "--no-progress-meter",
            "--fail",
            "--parallel",
            "--parallel-max",
            "8",
        ])
        .args(extra)
        .arg("--config")
        .arg(&config)
        .status()
        .expect("curl");
    assert!(status.success(), "curl failed");
    started.elapsed()
}
