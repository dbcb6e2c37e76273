//! 50 short actions on the test harness's Slurm, three ways: through a real S3 remote
//! (SeaweedFS) from a workspace the node cannot see (`remote=`), from a workspace the node
//! shares (no remote), and built here. What sending each action through the remote costs
//! over a shared file system (`cargo bench --bench slurm_remote`; runs as root, needs Slurm
//! and SeaweedFS as the tests do, see tests/common/slurm.rs and seaweed.rs).
//!
//! Each action is `cat src/I.txt > out/I.txt` over a 1 KiB source. The node has 2 CPUs, as
//! the machine; each job asks for one, so two run at once, as the local build runs two.

#[path = "../tests/common/seaweed.rs"]
#[allow(dead_code)]
mod seaweed;
// slurm.rs takes its accounting database from mariadb.rs, which needs the two after it.
#[path = "support/cat_workspace.rs"]
mod cat_workspace;
#[path = "../tests/common/guard.rs"]
#[allow(dead_code)]
mod guard;
#[path = "../tests/common/local_server.rs"]
#[allow(dead_code)]
mod local_server;
#[path = "../tests/common/mariadb.rs"]
#[allow(dead_code)]
mod mariadb;
#[path = "../tests/common/slurm.rs"]
#[allow(dead_code)]
mod slurm;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cat_workspace::{ACTIONS, workspace};
use seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};
use slurm::Slurm;

fn manifest(remote: &str, partition: &str, executor: &str, through_remote: bool) -> String {
    let header = format!(
        "remote \"team\" url=\"{remote}\"\nexecutor \"hpc\" type=\"slurm\" partition=\"{partition}\" poll-min=\"200ms\" poll-max=\"1s\" latency-wait=\"2s\"{}",
        if through_remote {
            " remote=\"team\""
        } else {
            ""
        }
    );
    cat_workspace::manifest(&header, executor)
}

/// One build in `dir`; its wall time and what it said. The jobs find `zenbuild` on the PATH
/// and the remote's credentials in `home`'s `worker.env`.
fn build(slurm: &Slurm, dir: &Path, home: &Path, args: &[&str]) -> (Duration, String) {
    let binary = Path::new(env!("CARGO_BIN_EXE_zenbuild"));
    let path = format!(
        "{}:{}",
        binary.parent().expect("its directory").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let start = Instant::now();
    let out = Command::new(binary)
        .arg("-C")
        .arg(dir)
        .args(args)
        .envs(slurm.env())
        .env("PATH", path)
        .env("HOME", home)
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
    let (Some(s3), Some(slurm)) = (Seaweed::start(), Slurm::shared_hiding_workspaces()) else {
        eprintln!("Slurm or SeaweedFS is missing: nothing measured");
        return;
    };
    let hidden = slurm.hidden().expect("a directory the node does not see");
    let home = tempfile::tempdir().expect("a home for the jobs");
    let config = home.path().join(".config/zenbuild");
    std::fs::create_dir_all(&config).expect("its config directory");
    std::fs::write(
        config.join("worker.env"),
        format!(
            "export AWS_ACCESS_KEY_ID={ACCESS_KEY}\nexport AWS_SECRET_ACCESS_KEY={SECRET_KEY}\n"
        ),
    )
    .expect("worker.env");
    let unseen = tempfile::tempdir_in(hidden).expect("a directory");
    let seen = tempfile::tempdir().expect("a directory");
    let partition = slurm.partition();
    let mut rows = Vec::new();
    for run in 0..3 {
        let remote = s3.url(&format!("bench-{run}"));
        let through = unseen.path().join(format!("remote-{run}"));
        workspace(&through, &manifest(&remote, partition, "hpc", true));
        let (remote_took, said) = build(slurm, &through, home.path(), &[]);
        let shared = seen.path().join(format!("shared-{run}"));
        workspace(&shared, &manifest(&remote, partition, "hpc", false));
        let (shared_took, _) = build(slurm, &shared, home.path(), &["--no-remote"]);
        let here = seen.path().join(format!("local-{run}"));
        workspace(&here, &manifest(&remote, partition, "local", false));
        let (local_took, _) = build(slurm, &here, home.path(), &["--no-remote"]);
        let moved = said
            .lines()
            .find(|line| line.contains("brought back"))
            .unwrap_or("")
            .trim()
            .to_string();
        rows.push((remote_took, shared_took, local_took, moved));
    }
    println!(
        "| run | {ACTIONS} actions on Slurm through the remote | on Slurm, shared file system | the same here | what moved |"
    );
    println!("|---|---|---|---|---|");
    for (run, (remote_took, shared_took, local_took, moved)) in rows.iter().enumerate() {
        println!(
            "| {} | {:.2} s | {:.2} s | {:.2} s | {moved} |",
            run + 1,
            remote_took.as_secs_f64(),
            shared_took.as_secs_f64(),
            local_took.as_secs_f64(),
        );
    }
}
