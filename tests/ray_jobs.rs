//! The Ray Jobs client (src/exec/ray/api.rs) against a real Ray (tests/common/ray.rs): what
//! the executor will rely on — statuses through to their ends with exit codes, logs, stop,
//! resources that no node has, many jobs at once, and what a job sees of its node — as this
//! Ray really reports it. The tests share the binary's cluster and tell their jobs apart by
//! submission id; figures go to stderr (`--nocapture`).
#![cfg(feature = "remote-http")]

mod common;
use common::processes::is_alive;
use common::ray::{CPUS, Ray, RayConfig, SLOT};
use std::path::Path;
use std::time::{Duration, Instant};
use zenbuild::exec::ray::api::{Job, JobKind, JobRequest, JobStatus, RayError, RayJobs};

/// A variable of the cluster's environment, to see whether jobs inherit it.
const MARKER: (&str, &str) = ("ZENBUILD_TEST_MARKER", "from-the-head");

fn cluster() -> Option<(&'static Ray, RayJobs)> {
    let ray = Ray::shared(&RayConfig::new().with_zenbuild().env(MARKER.0, MARKER.1))?;
    let jobs = RayJobs::new(&ray.url()).expect("the dashboard's URL");
    Some((ray, jobs))
}

fn request(id: &str, entrypoint: &str) -> JobRequest {
    let mut request = JobRequest::new(entrypoint);
    request.submission_id = Some(id.to_string());
    request.num_cpus = Some(1.0);
    request
}

/// Polls the job until `done` holds; fails the test after `limit`.
fn wait_for(
    ray: &Ray,
    jobs: &RayJobs,
    id: &str,
    limit: Duration,
    done: impl Fn(&Job) -> bool,
) -> Job {
    let deadline = Instant::now() + limit;
    loop {
        let job = jobs.job(id).expect("the job");
        if done(&job) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} is still {} after {limit:?}: {job:?}{}",
            job.status,
            ray.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_end(ray: &Ray, jobs: &RayJobs, id: &str) -> Job {
    wait_for(ray, jobs, id, Duration::from_mins(1), |job| {
        job.status.is_terminal()
    })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until `path` holds a line, and returns it.
fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !read(path).ends_with('\n') {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    read(path).trim().to_string()
}

#[test]
fn a_job_with_resources_runs_to_succeeded_with_its_metadata_and_times() {
    let Some((ray, jobs)) = cluster() else { return };
    let version = jobs.version().expect("the version");
    eprintln!("ray: {version:?}");
    assert_eq!(version.ray_version, "2.60.0");

    let mut job = request("zb-resources", "echo ran");
    job.num_gpus = Some(0.0);
    job.memory = Some(100 << 20);
    job.metadata.insert("step".into(), "train".into());
    let submitted = Instant::now();
    let id = jobs.submit(&job).expect("the submission");
    let submit_took = submitted.elapsed();
    assert_eq!(id, "zb-resources");
    let running = wait_for(ray, &jobs, &id, Duration::from_mins(1), |job| {
        job.status != JobStatus::Pending
    });
    let started_after = submitted.elapsed();
    let ended = wait_for_end(ray, &jobs, &id);
    eprintln!(
        "ray: submit answered in {submit_took:?}; left PENDING ({}) after {started_after:?}; \
         ended after {:?}: {ended:?}",
        running.status,
        submitted.elapsed()
    );
    assert_eq!(ended.status, JobStatus::Succeeded, "{}", ray.logs());
    assert_eq!(ended.driver_exit_code, Some(0));
    assert_eq!(ended.kind, JobKind::Submission);
    assert_eq!(ended.entrypoint, "echo ran");
    assert_eq!(
        ended.metadata.get("step").map(String::as_str),
        Some("train")
    );
    let (start, end) = (
        ended.start_time_ms.expect("a start"),
        ended.end_time_ms.expect("an end"),
    );
    assert!(start <= end, "{ended:?}");
    let listed = jobs.list().expect("the listing");
    assert!(listed.iter().any(|job| job == &ended), "{listed:?}");
}

#[test]
fn failures_end_failed_with_the_entrypoints_exit_code() {
    let Some((ray, jobs)) = cluster() else { return };
    let cases = [
        ("zb-exit-3", "echo failing >&2; exit 3", 3),
        ("zb-not-found", "zenbuild-no-such-command --flag", 127),
        ("zb-killed", "kill -9 $$", -9),
    ];
    for (id, entrypoint, _) in cases {
        jobs.submit(&request(id, entrypoint))
            .expect("the submission");
    }
    for (id, _, code) in cases {
        let job = wait_for_end(ray, &jobs, id);
        eprintln!("ray: {id}: {job:?}");
        assert_eq!(job.status, JobStatus::Failed, "{job:?}");
        assert_eq!(job.driver_exit_code, Some(code), "{job:?}");
    }
    let logs = jobs.logs("zb-not-found", 4096).expect("the logs");
    assert!(logs.text.contains("not found"), "{logs:?}");
}

/// The log is the entrypoint's output with two lines of Ray's, the second anywhere in it:
/// Ray writes `Running entrypoint…` through a buffer it flushes after starting the command
/// (seen before, among and after all of this one's 2,002 lines).
#[test]
fn logs_are_the_entrypoints_output_among_lines_of_rays_and_their_tail_is_bounded() {
    let Some((ray, jobs)) = cluster() else { return };
    let entrypoint = "echo to stdout; echo to stderr >&2; seq 1 2000";
    let id = jobs
        .submit(&request("zb-logs", entrypoint))
        .expect("the submission");
    assert_eq!(wait_for_end(ray, &jobs, &id).status, JobStatus::Succeeded);
    let whole = jobs.logs(&id, usize::MAX).expect("the logs");
    assert!(!whole.truncated);
    let lines: Vec<&str> = whole.text.lines().collect();
    let numbers: Vec<String> = (1..=2000).map(|n| n.to_string()).collect();
    let rays = format!("Running entrypoint for job zb-logs: {entrypoint}");
    assert!(
        lines[0].ends_with("INFO job_manager.py:581 -- Runtime env is setting up.")
            && lines.contains(&rays.as_str()),
        "{whole:?}"
    );
    let expected = format!("to stdout\nto stderr\n{}\n", numbers.join("\n"));
    assert_eq!(whole.entrypoint_output(&id), expected);
    let tail = jobs.logs(&id, 10).expect("the logs' tail");
    assert_eq!(
        tail,
        zenbuild::exec::ray::api::JobLogs {
            text: whole.text[whole.text.len() - 10..].to_string(),
            truncated: true
        }
    );
}

#[test]
fn stop_ends_a_running_job_stopped_and_its_processes_with_it() {
    let Some((ray, jobs)) = cluster() else { return };
    let scratch = ray.scratch_dir();
    let entrypoint = format!(
        "echo $$ > {dir}/shell; sleep 600 & echo $! > {dir}/child; \
         trap 'echo got TERM; exit 9' TERM; wait",
        dir = scratch.display()
    );
    let id = jobs
        .submit(&request("zb-stop", &entrypoint))
        .expect("the submission");
    let shell: i32 = wait_for_file(&scratch.join("shell"))
        .parse()
        .expect("a pid");
    let child: i32 = wait_for_file(&scratch.join("child"))
        .parse()
        .expect("a pid");
    assert_eq!(jobs.job(&id).expect("the job").status, JobStatus::Running);
    let asked = Instant::now();
    assert!(jobs.stop(&id).expect("the stop"));
    let stopped = wait_for_end(ray, &jobs, &id);
    let took = asked.elapsed();
    eprintln!("ray: stopped in {took:?}: {stopped:?}");
    assert_eq!(stopped.status, JobStatus::Stopped, "{stopped:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_alive(shell) || is_alive(child) {
        assert!(
            Instant::now() < deadline,
            "the entrypoint ({shell}) or its child ({child}) outlived the stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "ray: the processes were gone {:?} after the stop",
        asked.elapsed()
    );
    let logs = jobs.logs(&id, 4096).expect("the logs");
    eprintln!("ray: the stopped job's log: {logs:?}");
    assert!(
        !jobs.stop(&id).expect("a second stop"),
        "a stopped job stops once"
    );
}

/// Ray says why in general words only, and a stop does not end a job that no node can
/// start: the stop is a call on the job's supervisor actor, which waits for the actor to be
/// placed. (It fails after `RAY_JOB_START_TIMEOUT_SECONDS`, 15 minutes by default: see
/// `tests/ray_harness.rs`.)
#[test]
fn a_job_asking_more_cpus_than_the_cluster_has_stays_pending_even_stopped() {
    let Some((_ray, jobs)) = cluster() else {
        return;
    };
    let mut job = request("zb-too-big", "true");
    job.num_cpus = Some(f64::from(CPUS + 1));
    let id = jobs.submit(&job).expect("the submission");
    std::thread::sleep(Duration::from_secs(5));
    let pending = jobs.job(&id).expect("the job");
    eprintln!("ray: asking {} CPUs of {CPUS}: {pending:?}", CPUS + 1);
    assert_eq!(pending.status, JobStatus::Pending, "{pending:?}");
    assert!(
        pending.message.contains("waiting for resources"),
        "{pending:?}"
    );
    assert!(jobs.stop(&id).expect("the stop"));
    std::thread::sleep(Duration::from_secs(3));
    let still = jobs.job(&id).expect("the job");
    assert_eq!(still.status, JobStatus::Pending, "{still:?}");
}

/// A job stopped while it waits runs once it can, to be stopped then: its entrypoint starts.
#[test]
fn a_job_stopped_while_pending_starts_its_entrypoint_when_it_can_then_stops() {
    let Some((ray, jobs)) = cluster() else { return };
    let scratch = ray.scratch_dir();
    let mut holder = request("zb-slot-holder", "sleep 600");
    holder.resources.insert(SLOT.into(), 1.0);
    let mut waiter = request(
        "zb-slot-waiter",
        &format!("echo started > {}/waiter; sleep 600", scratch.display()),
    );
    waiter.resources.insert(SLOT.into(), 1.0);
    jobs.submit(&holder).expect("the submission");
    wait_for(
        ray,
        &jobs,
        "zb-slot-holder",
        Duration::from_mins(1),
        |job| job.status == JobStatus::Running,
    );
    jobs.submit(&waiter).expect("the submission");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        jobs.job("zb-slot-waiter").expect("the job").status,
        JobStatus::Pending
    );
    assert!(jobs.stop("zb-slot-waiter").expect("the stop"));
    assert!(jobs.stop("zb-slot-holder").expect("the stop"));
    let stopped = wait_for_end(ray, &jobs, "zb-slot-waiter");
    assert_eq!(stopped.status, JobStatus::Stopped, "{stopped:?}");
    assert_eq!(read(&scratch.join("waiter")), "started\n");
}

#[test]
fn a_job_runs_as_the_heads_user_with_the_heads_environment() {
    let Some((ray, jobs)) = cluster() else { return };
    let id = jobs
        .submit(&request(
            "zb-environment",
            "echo user=$(id -un); echo cwd=$(pwd); command -v zenbuild; zenbuild --version; env | sort",
        ))
        .expect("the submission");
    assert_eq!(
        wait_for_end(ray, &jobs, &id).status,
        JobStatus::Succeeded,
        "{}",
        ray.logs()
    );
    let logs = jobs.logs(&id, 1 << 20).expect("the logs").text;
    eprintln!("ray: what a job sees:\n{logs}");
    let user = String::from_utf8_lossy(
        &std::process::Command::new("id")
            .arg("-un")
            .output()
            .expect("id")
            .stdout,
    )
    .trim()
    .to_string();
    assert!(logs.contains(&format!("user={user}\n")), "{logs}");
    assert!(
        logs.contains(&format!("{}\n", ray.bin_dir().join("zenbuild").display())),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("zenbuild {}", env!("CARGO_PKG_VERSION"))),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("{}={}\n", MARKER.0, MARKER.1)),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("HOME={}\n", ray.home().display())),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("cwd={}\n", ray.dir().display())),
        "{logs}"
    );
    // Not the address the head was told (127.0.0.1): Ray hands jobs the machine's own.
    let port = ray
        .gcs_address()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let address = logs
        .lines()
        .find_map(|line| line.strip_prefix("RAY_ADDRESS="))
        .unwrap_or_default();
    assert!(address.ends_with(&format!(":{port}")), "{logs}");
}

#[test]
fn errors_say_what_went_wrong() {
    let Some((_ray, jobs)) = cluster() else {
        return;
    };
    match jobs.job("zb-no-such-job") {
        Err(RayError::NoSuchJob { id, .. }) => assert_eq!(id, "zb-no-such-job"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        jobs.stop("zb-no-such-job"),
        Err(RayError::NoSuchJob { .. })
    ));
    assert!(matches!(
        jobs.logs("zb-no-such-job", 10),
        Err(RayError::NoSuchJob { .. })
    ));

    jobs.submit(&request("zb-twice", "true"))
        .expect("the submission");
    match jobs.submit(&request("zb-twice", "true")) {
        Err(RayError::Duplicate { id, .. }) => assert_eq!(id, "zb-twice"),
        other => panic!("{other:?}"),
    }

    let mut running = request("zb-delete-running", "sleep 600");
    running.num_cpus = Some(0.0);
    let id = jobs.submit(&running).expect("the submission");
    match jobs.delete(&id) {
        Err(error @ RayError::Http { status: 500, .. }) => {
            eprintln!("ray: deleting a job that runs: {error}");
            assert!(error.to_string().contains("non-terminal state"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert!(jobs.stop(&id).expect("the stop"));

    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let closed = RayJobs::new(&format!("http://127.0.0.1:{port}")).expect("a URL");
    match closed.list() {
        Err(error @ RayError::Unreachable { .. }) => eprintln!("ray: {error}"),
        other => panic!("{other:?}"),
    }
}
