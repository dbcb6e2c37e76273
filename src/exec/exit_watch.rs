//! Waiting for a step's shell to exit while still watching the interrupt and the deadline.
//!
//! A blocking `wait` cannot also watch an in-process flag, so the executor waits in naps and
//! checks between them. Where Linux offers a pidfd (5.3 and later) a nap ends the moment the
//! child exits: a step of a few milliseconds is noticed at once, which on a thousand short
//! steps is the difference between being bound by process spawns and by sleeps. Elsewhere,
//! naps that double from 1 ms bound that delay instead.

use std::os::fd::BorrowedFd;
use std::process::Child;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

/// The longest nap: how late an interrupt or a deadline may be noticed, and, without a pidfd,
/// how often a step running for hours wakes zenbuild (~20 times a second).
pub const SLOWEST_POLL: Duration = Duration::from_millis(50);

pub enum ExitWatch {
    #[cfg(target_os = "linux")]
    PidFd(std::os::fd::OwnedFd),
    Backoff(Duration),
}

impl ExitWatch {
    /// A watch on `child`, which must not have been reaped yet (a zombie is fine: its pidfd
    /// reads as exited at once).
    pub fn new(child: &Child) -> ExitWatch {
        #[cfg(target_os = "linux")]
        if let Some(fd) = pidfd_open(child) {
            return ExitWatch::PidFd(fd);
        }
        let _ = child;
        ExitWatch::Backoff(Duration::from_millis(1))
    }

    /// Returns once the child has exited, one of `pipes` has something to read (or has
    /// closed), or `at_most` (capped at the next nap) has passed. The caller then checks with
    /// `try_wait`, which is what reaps.
    pub fn nap(&mut self, at_most: Duration, pipes: &[BorrowedFd<'_>]) {
        let mut fds: Vec<PollFd<'_>> = pipes
            .iter()
            .map(|&fd| PollFd::from_borrowed_fd(fd, PollFlags::IN))
            .collect();
        let nap = match self {
            #[cfg(target_os = "linux")]
            ExitWatch::PidFd(fd) => {
                fds.push(PollFd::new(fd, PollFlags::IN));
                SLOWEST_POLL
            }
            ExitWatch::Backoff(next) => {
                let nap = *next;
                *next = (*next * 2).min(SLOWEST_POLL);
                nap
            }
        };
        // A nap is at most SLOWEST_POLL, which always fits.
        let timeout = Timespec::try_from(nap.min(at_most)).unwrap_or_default();
        // An error (EINTR) only ends the nap early, which the caller's loop tolerates.
        let _ = rustix::event::poll(&mut fds, Some(&timeout));
    }
}

/// `None` before Linux 5.3, or where a sandbox forbids the call.
#[cfg(target_os = "linux")]
fn pidfd_open(child: &Child) -> Option<std::os::fd::OwnedFd> {
    use rustix::process::{Pid, PidfdFlags};
    // The pid is our unreaped child, so it cannot name another process.
    rustix::process::pidfd_open(Pid::from_child(child), PidfdFlags::empty()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::Instant;

    #[test]
    fn a_nap_ends_when_the_child_exits() {
        let mut child = Command::new("/bin/sh")
            .args(["-c", "sleep 0.05"])
            .spawn()
            .unwrap();
        let mut watch = ExitWatch::new(&child);
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            watch.nap(Duration::from_secs(5), &[]);
        }
        // Either way the exit is seen within a nap; this bounds nothing about speed.
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_nap_never_exceeds_what_is_asked() {
        let mut child = Command::new("/bin/sh")
            .args(["-c", "sleep 5"])
            .spawn()
            .unwrap();
        let mut watch = ExitWatch::new(&child);
        let started = Instant::now();
        watch.nap(Duration::from_millis(10), &[]);
        assert!(started.elapsed() < Duration::from_secs(4));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
