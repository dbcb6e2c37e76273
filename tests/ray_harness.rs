//! The real-Ray harness (tests/common/ray.rs) works: two clusters run side by side on ports of
//! their own and, stopped, leave no process behind, not even one a job detached (a test with
//! clusters of its own); a cluster as another user runs jobs that cannot read the workspace,
//! and its head's `RAY_JOB_START_TIMEOUT_SECONDS` fails a job that cannot start (the binary's
//! shared cluster).

mod common;
use common::processes::{is_alive, start_time, still_alive};
use common::ray::{Process, Ray, RayConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Submits `entrypoint` through curl and waits for its end: the job's status and log.
fn run(ray: &Ray, id: &str, entrypoint: &str) -> (String, String) {
    let body = serde_json::json!({"entrypoint": entrypoint, "submission_id": id}).to_string();
    ray.post("/api/jobs/", &body).expect("the submission");
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let job = ray.get(&format!("/api/jobs/{id}")).expect("the job");
        let status = job["status"].as_str().unwrap_or_default().to_string();
        if matches!(status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED") {
            let logs = ray.get(&format!("/api/jobs/{id}/logs")).expect("the logs");
            return (
                status,
                logs["logs"].as_str().unwrap_or_default().to_string(),
            );
        }
        assert!(Instant::now() < deadline, "{job}{}", ray.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The TCP ports the processes listen on, with the name of the process that does, from
/// /proc/net/tcp and their sockets' inodes.
fn listening_ports(processes: &[Process]) -> BTreeMap<u16, String> {
    let mut inodes = BTreeMap::new();
    for process in processes {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", process.pid)) else {
            continue;
        };
        for fd in fds.flatten() {
            let target = std::fs::read_link(fd.path()).unwrap_or_default();
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
            {
                inodes.insert(inode.to_string(), process.name.clone());
            }
        }
    }
    let mut ports = BTreeMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address rem_address st … inode; 0A is LISTEN.
            let owner = fields.get(9).and_then(|inode| inodes.get(*inode));
            if let (Some("0A"), Some(owner)) = (fields.get(3).copied(), owner) {
                let port = fields[1].rsplit(':').next().unwrap_or_default();
                ports.insert(
                    u16::from_str_radix(port, 16).unwrap_or_default(),
                    owner.clone(),
                );
            }
        }
    }
    ports
}

/// The first port of the range the system picks ports from when a program binds port 0.
fn ephemeral_start() -> u16 {
    let range =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    range
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(32768)
}

#[test]
fn two_clusters_side_by_side_listen_only_on_their_own_ports_and_leave_nothing() {
    let config = RayConfig::new();
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| Ray::start(&config));
        let second = scope.spawn(|| Ray::start(&config));
        (
            first.join().expect("the first cluster"),
            second.join().expect("the second cluster"),
        )
    });
    let (Some(first), Some(second)) = (first, second) else {
        return;
    };
    let scratch = first.scratch_dir();
    // A job that leaves a process behind in a session of its own, as a daemon would.
    let detach = format!(
        "setsid sh -c 'sleep 600 & echo $! > {dir}/detached; wait' > /dev/null 2>&1 < /dev/null &",
        dir = scratch.display()
    );
    for ray in [&first, &second] {
        let (status, logs) = run(ray, "zb-side-by-side", "echo ran");
        assert_eq!(status, "SUCCEEDED", "{logs}");
        assert!(logs.lines().any(|line| line == "ran"), "{logs}");
    }
    let (status, _) = run(&first, "zb-detach", &detach);
    assert_eq!(status, "SUCCEEDED");
    let detached: i32 = std::fs::read_to_string(scratch.join("detached"))
        .expect("the detached process's pid")
        .trim()
        .parse()
        .expect("a pid");
    assert!(is_alive(detached));

    for ray in [&first, &second] {
        let processes = ray.processes();
        let chosen: BTreeSet<u16> = ray.ports().iter().map(|(_, port)| *port).collect();
        let listening = listening_ports(&processes);
        let first = ephemeral_start();
        let names: BTreeSet<&str> = processes.iter().map(|p| p.name.as_str()).collect();
        eprintln!(
            "ray: {} processes, {} MiB resident: {names:?}; listening on {listening:?}, chosen {:?}",
            processes.len(),
            ray.rss_bytes() >> 20,
            ray.ports()
        );
        // Ray's workers (`ray::…`) bind port 0: the system picks, so no two clusters collide.
        let strays: Vec<(&u16, &String)> = listening
            .iter()
            .filter(|(port, owner)| {
                let worker = owner.starts_with("ray::") && **port >= first;
                !chosen.contains(port) && !worker
            })
            .collect();
        assert!(
            strays.is_empty(),
            "ports not chosen by the harness: {strays:?}"
        );
    }
    assert!(first.processes().iter().any(|p| p.pid == detached));

    let pids: Vec<(i32, Option<u64>)> = first
        .processes()
        .iter()
        .chain(second.processes().iter())
        .map(|p| (p.pid, start_time(p.pid)))
        .collect();
    let dirs = [first.dir().to_path_buf(), second.dir().to_path_buf()];
    let stopping = Instant::now();
    first.stop();
    second.stop();
    eprintln!("ray: two clusters stopped in {:?}", stopping.elapsed());
    // A process killed a moment ago may take a moment to be gone, and a pid freed meanwhile
    // may already name another process (a test running beside this one starts many).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left = pids;
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left.retain(|process| still_alive(*process));
    }
    assert!(
        left.is_empty(),
        "processes outlived their cluster: {left:?}"
    );
    assert!(!dirs.iter().any(|dir| dir.exists()), "{dirs:?}");
}

/// The binary's shared cluster: as `nobody`, with a short start timeout for pending jobs.
fn other_user() -> Option<&'static Ray> {
    Ray::shared(
        &RayConfig::new()
            .with_zenbuild()
            .user("nobody")
            .env("RAY_JOB_START_TIMEOUT_SECONDS", "5"),
    )
}

#[test]
fn a_cluster_as_another_user_runs_jobs_that_cannot_read_the_workspace() {
    let Some(ray) = other_user() else { return };
    let workspace = tempfile::tempdir().expect("a workspace");
    // tempfile makes directories 0755 (umask 022): readable by every user until closed.
    std::fs::set_permissions(workspace.path(), std::fs::Permissions::from_mode(0o700))
        .expect("chmod 700");
    std::fs::write(workspace.path().join("data.txt"), "private").expect("a file");
    let data = workspace.path().join("data.txt");
    let (status, logs) = run(
        ray,
        "zb-other-user",
        &format!(
            "id -un; echo HOME=$HOME; zenbuild --version; cat {} || exit 4",
            data.display()
        ),
    );
    eprintln!("ray: a job of a cluster run as nobody:\n{logs}");
    assert_eq!(status, "FAILED", "{logs}");
    assert!(logs.contains("\nnobody\n"), "{logs}");
    assert!(logs.contains("Permission denied"), "{logs}");
    assert!(
        logs.contains(&format!("zenbuild {}", env!("CARGO_PKG_VERSION"))),
        "{logs}"
    );
    let processes = ray.processes();
    let users: BTreeSet<u32> = processes.iter().map(|p| p.uid).collect();
    assert_eq!(users, BTreeSet::from([65534]), "{processes:?}");
    assert!(Path::new(&ray.home()).is_dir());
}

/// `RAY_JOB_START_TIMEOUT_SECONDS` (15 minutes by default) in the head's environment: a job
/// that cannot start within it fails, whatever it waits for.
#[test]
fn a_job_pending_longer_than_the_start_timeout_fails() {
    let Some(ray) = other_user() else { return };
    let body = serde_json::json!({
        "entrypoint": "true",
        "submission_id": "zb-start-timeout",
        "entrypoint_num_cpus": common::ray::CPUS + 1,
    });
    let submitted = Instant::now();
    ray.post("/api/jobs/", &body.to_string())
        .expect("the submission");
    loop {
        let job = ray.get("/api/jobs/zb-start-timeout").expect("the job");
        match job["status"].as_str().unwrap_or_default() {
            "PENDING" => {}
            "FAILED" => {
                eprintln!("ray: failed after {:?}: {job}", submitted.elapsed());
                assert_eq!(
                    job["error_type"], "JOB_SUPERVISOR_ACTOR_START_TIMEOUT",
                    "{job}"
                );
                assert!(submitted.elapsed() >= Duration::from_secs(5));
                return;
            }
            _ => panic!("{job}"),
        }
        assert!(submitted.elapsed() < Duration::from_mins(1), "{job}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
