//! 50 short actions on a real Ray cluster through a real S3 remote, against the same 50 built
//! here: what sending each action through the remote costs (`cargo bench --bench ray_remote`;
//! needs Ray and SeaweedFS as the tests do, see tests/common/ray.rs and seaweed.rs).
//!
//! Each action is `cat src/I.txt > out/I.txt` over a 1 KiB source, so what is timed is the
//! trip: staging (the blob and a description uploaded), the Ray job (`zenbuild worker`
//! fetching, running, uploading), the listing that sees it end, and the outputs brought back.
//! The cluster has 2 CPUs, as the machine; Ray jobs reserve one each, so two run at once,
//! as the local build runs two at once on this machine.

#[path = "support/cat_workspace.rs"]
mod cat_workspace;
#[path = "../tests/common/guard.rs"]
#[allow(dead_code)]
mod guard;
#[path = "../tests/common/local_server.rs"]
#[allow(dead_code)]
mod local_server;
#[path = "../tests/common/processes.rs"]
#[allow(dead_code)]
mod processes;
#[path = "../tests/common/ray.rs"]
#[allow(dead_code)]
mod ray;
#[path = "../tests/common/seaweed.rs"]
#[allow(dead_code)]
mod seaweed;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cat_workspace::{ACTIONS, workspace};
use ray::{Ray, RayConfig};
use seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};

fn manifest(remote: &str, ray: &str, executor: &str) -> String {
    let header = format!(
        "remote \"team\" url=\"{remote}\"\nexecutor \"ray\" type=\"ray\" url=\"{ray}\" remote=\"team\" poll-min=\"200ms\" poll-max=\"1s\""
    );
    cat_workspace::manifest(&header, executor)
}

/// One build in `dir`; its wall time and what it said.
fn build(dir: &Path, args: &[&str]) -> (Duration, String) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_zenbuild"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .expect("run zenbuild");
    let took = start.elapsed();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the build failed:\n{said}");
    (took, said)
}

fn main() {
    let (Some(s3), Some(ray)) = (
        Seaweed::start(),
        Ray::start(
            &RayConfig::new()
                .with_zenbuild()
                .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ),
    ) else {
        eprintln!("Ray or SeaweedFS is missing: nothing measured");
        return;
    };
    let base = tempfile::tempdir().expect("a directory");
    let mut rows = Vec::new();
    for run in 0..3 {
        let on_ray = base.path().join(format!("ray-{run}"));
        workspace(
            &on_ray,
            &manifest(&s3.url(&format!("bench-{run}")), &ray.url(), "ray"),
        );
        let (ray_took, said) = build(&on_ray, &[]);
        let here = base.path().join(format!("local-{run}"));
        workspace(&here, &manifest(&s3.url("unused"), &ray.url(), "local"));
        let (local_took, _) = build(&here, &["--no-remote"]);
        let moved = said
            .lines()
            .find(|line| line.contains("brought back"))
            .unwrap_or("")
            .trim()
            .to_string();
        rows.push((ray_took, local_took, moved));
    }
    println!("| run | {ACTIONS} actions on Ray | the same here | per action on Ray | what moved |");
    println!("|---|---|---|---|---|");
    for (run, (ray_took, local_took, moved)) in rows.iter().enumerate() {
        println!(
            "| {} | {:.2} s | {:.2} s | {:.0} ms | {moved} |",
            run + 1,
            ray_took.as_secs_f64(),
            local_took.as_secs_f64(),
            ray_took.as_secs_f64() * 1000.0 / ACTIONS as f64
        );
    }
}
