//! A stager thread of a Slurm executor with `remote=`: it takes a queued attempt, uploads
//! what its worker needs through the courier, and leaves it for the monitor to submit.
//! Several run at once, so that one large input holds back neither the other attempts nor
//! the monitor's status queries, and none holds the state's lock while it talks to the
//! remote.

use super::{Queued, Shared, State, lock};
use crate::exec::executor::{Ended, Ending, wait_for};

/// Stages attempts until the executor closes.
pub(super) fn run(shared: &Shared) {
    let Some(courier) = &shared.courier else {
        return;
    };
    let executor = &shared.config.executor;
    loop {
        let Some((mut state, mut queued)) = wait_for(
            lock(&shared.state),
            &shared.work,
            |state| state.closing,
            |state| state.queued.pop_front(),
        ) else {
            return;
        };
        if let Some(why) = state.broken.clone() {
            finish(&mut state, &queued, Ending::NotStarted(why), executor);
            continue;
        }
        if shared.config.interrupt.is_triggered() {
            finish(&mut state, &queued, Ending::Cancelled, executor);
            continue;
        }
        state.sending.insert(queued.ticket);
        drop(state);
        let sent = courier.send(&queued.spec);
        let mut state = lock(&shared.state);
        state.sending.remove(&queued.ticket);
        let stopped =
            state.stop_after_send.remove(&queued.ticket) || shared.config.interrupt.is_triggered();
        match sent {
            Ok(_) if stopped => finish(&mut state, &queued, Ending::Cancelled, executor),
            Ok(sent) => {
                queued.sent = Some(sent);
                state.staged.push_back(queued);
                drop(state);
                shared.work.notify_all();
            }
            Err(why) => finish(&mut state, &queued, Ending::NotStarted(why), executor),
        }
    }
}

/// Ends an attempt that was never submitted.
pub(super) fn finish(state: &mut State, queued: &Queued, how: Ending, executor: &str) {
    let mut ended = Ended::new(how, executor);
    ended.log = None;
    state.ended.push((queued.ticket, ended));
    queued.wake.wake();
}
