//! Fifty short jobs through the Ray Jobs client against a real Ray (tests/common/ray.rs), in
//! a binary of their own so that nothing else runs on its cluster: how fast Ray takes
//! submissions, how long until all have run, and what a listing of them all costs. Figures
//! go to stderr (`--nocapture`).
#![cfg(feature = "remote-http")]

mod common;
use common::ray::{Ray, RayConfig};
use std::time::{Duration, Instant};
use zenbuild::exec::ray::api::{Job, JobRequest, JobStatus, RayJobs};

#[test]
fn fifty_short_jobs_run_and_one_listing_shows_them_all() {
    let Some(ray) = Ray::shared(&RayConfig::new()) else {
        return;
    };
    let jobs = RayJobs::new(&ray.url()).expect("the dashboard's URL");
    let ids: Vec<String> = (0..50).map(|i| format!("zb-many-{i}")).collect();
    let started = Instant::now();
    for id in &ids {
        let mut request = JobRequest::new("true");
        request.submission_id = Some(id.clone());
        request.num_cpus = Some(1.0);
        jobs.submit(&request).expect("the submission");
    }
    let submitted = started.elapsed();
    let mut listing = Duration::ZERO;
    let mut listings = 0;
    loop {
        let asked = Instant::now();
        let listed = jobs.list().expect("the listing");
        listing += asked.elapsed();
        listings += 1;
        let ours: Vec<&Job> = listed
            .iter()
            .filter(|job| {
                job.submission_id
                    .as_ref()
                    .is_some_and(|id| ids.contains(id))
            })
            .collect();
        assert_eq!(ours.len(), ids.len(), "a listing misses some of the jobs");
        if let Some(failed) = ours
            .iter()
            .find(|job| job.status.is_terminal() && job.status != JobStatus::Succeeded)
        {
            panic!("{failed:?}{}", ray.logs());
        }
        if ours.iter().all(|job| job.status == JobStatus::Succeeded) {
            break;
        }
        assert!(started.elapsed() < Duration::from_mins(5), "{}", ray.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    let all = started.elapsed();
    // What one listing costs once the cluster is idle.
    let mut idle: Vec<Duration> = (0..5)
        .map(|_| {
            let asked = Instant::now();
            jobs.list().expect("the listing");
            asked.elapsed()
        })
        .collect();
    idle.sort();
    let listed = jobs.list().expect("the listing");
    let ours: Vec<&Job> = listed
        .iter()
        .filter(|job| {
            job.submission_id
                .as_ref()
                .is_some_and(|id| ids.contains(id))
        })
        .collect();
    // Ray's `start_time` is the submission's; `end_time` when the supervisor saw the end.
    let mut spans: Vec<u64> = ours
        .iter()
        .map(|job| {
            job.end_time_ms
                .unwrap_or(0)
                .saturating_sub(job.start_time_ms.unwrap_or(0))
        })
        .collect();
    spans.sort_unstable();
    eprintln!(
        "ray: 50 jobs submitted in {submitted:?} ({:.1}/s), all SUCCEEDED after {all:?} \
         ({:.2} s a job on {} CPUs); {listings} listings while they ran took {:?} on average; \
         one of {} jobs, idle: {:?} to {:?}; submission to end {} to {} ms",
        50.0 / submitted.as_secs_f64(),
        all.as_secs_f64() / 50.0 * f64::from(common::ray::CPUS),
        common::ray::CPUS,
        listing / listings,
        listed.len(),
        idle[0],
        idle[4],
        spans[0],
        spans[spans.len() - 1],
    );
    for id in &ids {
        assert!(jobs.delete(id).expect("the deletion"));
    }
    let left = jobs.list().expect("the listing");
    assert!(
        !left.iter().any(|job| job
            .submission_id
            .as_ref()
            .is_some_and(|id| ids.contains(id))),
        "deleted jobs are no longer listed"
    );
}
