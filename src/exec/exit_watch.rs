//! Waiting for a step's shell to exit while still watching the interrupt and the deadline.
//!
//! A blocking `wait` cannot also watch an in-process flag, so the executor waits in naps and
//! checks between them. Where Linux offers a pidfd (5.3 and later) a nap ends the moment the
//! child exits: a step of a few milliseconds is noticed at once, which on a thousand short
//! steps is the difference between being bound by process spawns and by sleeps. Elsewhere,
//! naps that double from 1 ms bound that delay instead.

use std::os::fd::RawFd;
use std::process::Child;
use std::time::Duration;

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
    pub fn nap(&mut self, at_most: Duration, pipes: &[RawFd]) {
        let mut fds: Vec<libc::pollfd> = pipes
            .iter()
            .map(|&fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let nap = match self {
            #[cfg(target_os = "linux")]
            ExitWatch::PidFd(fd) => {
                use std::os::fd::AsRawFd;
                fds.push(libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                SLOWEST_POLL
            }
            ExitWatch::Backoff(next) => {
                let nap = *next;
                *next = (*next * 2).min(SLOWEST_POLL);
                nap
            }
        };
        let timeout = nap.min(at_most).as_millis() as libc::c_int;
        // SAFETY: `fds` is a valid array of its length. An error (EINTR) only ends the nap
        // early, which the caller's loop tolerates.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
    }
}

#[cfg(target_os = "linux")]
fn pidfd_open(child: &Child) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; the pid is
    // our unreaped child, so it cannot name another process.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
    // SAFETY: a non-negative result is a descriptor that nothing else owns.
    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as libc::c_int) })
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
