//! A sender thread of the Ray executor: it takes a queued attempt, uploads what its worker
//! needs through the courier, and submits the job. Several run at once, so that one large
//! input does not hold back the others, and none holds the state's lock while it talks to
//! the remote or to Ray.

use std::time::Instant;

use super::api::JobRequest;
use super::{Job, Queued, Shared, lock};
use crate::exec::executor::{Ended, Ending, wait_for};

/// Sends attempts until the executor closes.
pub(super) fn run(shared: &Shared) {
    loop {
        let Some((mut state, queued)) = wait_for(
            lock(&shared.state),
            &shared.work,
            |state| state.closing,
            |state| state.queued.pop_front(),
        ) else {
            return;
        };
        if let Some(why) = state.broken.clone() {
            finish(
                &mut state,
                &queued,
                Ending::NotStarted(why),
                &shared.config.executor,
            );
            continue;
        }
        state.sending.insert(queued.ticket);
        drop(state);
        send(shared, queued);
    }
}

/// Uploads and submits one attempt; one that cannot be submitted ends at once.
fn send(shared: &Shared, queued: Queued) {
    let config = &shared.config;
    let Queued { ticket, spec, wake } = queued;
    let reachable = shared.reachable.get_or_init(|| {
        shared.jobs_api.version().map(|_| ()).map_err(|e| {
            format!(
                "the Ray cluster of executor `{}` does not answer: {e}",
                config.executor
            )
        })
    });
    if let Err(why) = reachable {
        let mut state = lock(&shared.state);
        state.sending.remove(&ticket);
        state.broken.get_or_insert_with(|| why.clone());
        state.ended.push((
            ticket,
            Ended::new(Ending::NotStarted(why.clone()), config.executor.clone()),
        ));
        wake.wake();
        return;
    }
    let submitted = shared.courier.send(&spec).and_then(|sent| {
        let mut request = JobRequest::new(&sent.command);
        request.submission_id = Some(format!("{}-{}", config.tag, ticket.0));
        // Ray reserves nothing for an entrypoint by default: without a CPU it would start
        // every job at once, whatever the cluster has.
        request.num_cpus = Some(f64::from(spec.resources.cpus.max(1)));
        request.num_gpus = (spec.resources.gpus > 0).then(|| f64::from(spec.resources.gpus));
        request.memory = spec.resources.memory;
        request
            .metadata
            .insert("zenbuild_action".to_string(), spec.name.clone());
        let id = shared
            .jobs_api
            .submit(&request)
            .map_err(|e| format!("Ray refused the job: {e}"))?;
        Ok((id, sent))
    });
    let mut state = lock(&shared.state);
    state.sending.remove(&ticket);
    let stop = state.stop_after_send.remove(&ticket);
    match submitted {
        Ok((id, sent)) => {
            let cancelled = stop || config.interrupt.is_triggered();
            state.jobs.insert(
                ticket,
                Job {
                    id: id.clone(),
                    spec,
                    sent,
                    wake,
                    submitted: Instant::now(),
                    started: None,
                    status: None,
                    message: String::new(),
                    exit_code: None,
                    missing_since: None,
                    cancelled,
                },
            );
            drop(state);
            if cancelled {
                let _ = shared.jobs_api.stop(&id);
            }
            shared.work.notify_all();
        }
        Err(why) => {
            let mut ended = Ended::new(Ending::NotStarted(why), config.executor.clone());
            ended.log = None;
            state.ended.push((ticket, ended));
            wake.wake();
        }
    }
}

/// Ends a queued attempt without sending it.
pub(super) fn finish(state: &mut super::State, queued: &Queued, how: Ending, executor: &str) {
    state.ended.push((queued.ticket, Ended::new(how, executor)));
    queued.wake.wake();
}
