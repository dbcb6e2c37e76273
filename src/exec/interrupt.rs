//! Ctrl-C and SIGTERM as a value that running steps watch.
//!
//! Every step runs in its own process group (see [`super::local`]), so the terminal's Ctrl-C
//! reaches zenbuild alone and never the steps directly. That is deliberate: zenbuild must know
//! that a step was interrupted rather than failed (an interrupted step is neither cached nor
//! retried), and it must stop the step's whole tree, not only the processes that happen to be
//! in the terminal's foreground group. So the signal handler only raises this flag; each
//! running [`super::local::run`] notices it within one poll, forwards the stop to its step's
//! group itself (SIGTERM, a grace period, SIGKILL) and reports `Interrupted`.
//!
//! A second Ctrl-C means "now": the grace period is cut short and the groups are killed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A shared flag raised by Ctrl-C, SIGTERM or SIGHUP; cheap to clone into every worker.
#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    /// How many times it was triggered: once asks steps to stop, twice to stop at once.
    count: Arc<AtomicU32>,
    /// The flag this one also follows, for a [`Interrupt::child`].
    parent: Option<Arc<AtomicU32>>,
}

impl Interrupt {
    /// A handle no signal reaches: for tests and for embedding zenbuild as a library.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Installs the process-wide handler for SIGINT, SIGTERM and SIGHUP and returns the
    /// handle it triggers. Call it once, from the command line: a second call fails, because a
    /// process has one handler per signal.
    pub fn install() -> Result<Interrupt, ctrlc::Error> {
        let interrupt = Interrupt::new();
        let handle = interrupt.clone();
        ctrlc::set_handler(move || handle.trigger())?;
        Ok(interrupt)
    }

    /// A flag of its own that is also raised whenever this one is: for stopping one step
    /// while Ctrl-C still stops them all.
    #[must_use]
    pub fn child(&self) -> Interrupt {
        Interrupt {
            count: Arc::new(AtomicU32::new(0)),
            parent: Some(Arc::clone(&self.count)),
        }
    }

    fn count(&self) -> u32 {
        let own = self.count.load(Ordering::SeqCst);
        let parent = self
            .parent
            .as_ref()
            .map_or(0, |parent| parent.load(Ordering::SeqCst));
        own.max(parent)
    }

    pub fn trigger(&self) {
        // Saturating, so that a user holding Ctrl-C down cannot wrap the count back to zero.
        let _ = self
            .count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_add(1));
    }

    /// Steps should stop, after their grace period.
    pub fn is_triggered(&self) -> bool {
        self.count() > 0
    }

    /// Triggered again: the user does not want to wait for the grace period.
    pub fn is_urgent(&self) -> bool {
        self.count() > 1
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn starts_quiet_and_escalates() {
        let interrupt = Interrupt::new();
        assert!(!interrupt.is_triggered());
        interrupt.trigger();
        assert!(interrupt.is_triggered());
        assert!(!interrupt.is_urgent());
        interrupt.trigger();
        assert!(interrupt.is_urgent());
    }

    #[test]
    fn a_child_follows_its_parent_but_not_the_other_way() {
        let parent = Interrupt::new();
        let child = parent.child();
        child.trigger();
        assert!(child.is_triggered());
        assert!(!parent.is_triggered());
        let other = parent.child();
        parent.trigger();
        parent.trigger();
        assert!(other.is_triggered() && other.is_urgent());
    }

    #[test]
    fn clones_share_the_flag() {
        let interrupt = Interrupt::new();
        let worker = interrupt.clone();
        thread::spawn(move || worker.trigger())
            .join()
            .expect("the triggering thread panicked");
        assert!(interrupt.is_triggered());
    }

    const HELPER_VARIABLE: &str = "ZENBUILD_TEST_INTERRUPT_HELPER";

    /// The handler is process-wide and can be installed once, so it is tried in a fresh copy of
    /// this test binary: the test process itself keeps dying on Ctrl-C as usual.
    #[test]
    fn sigterm_triggers_the_installed_handle() {
        let test_binary = std::env::current_exe().expect("the test binary's path");
        let output = Command::new(test_binary)
            .args([
                "--exact",
                "exec::interrupt::tests::helper_installs_and_signals_itself",
            ])
            .args(["--include-ignored", "--nocapture", "--test-threads=1"])
            .env(HELPER_VARIABLE, "1")
            .output()
            .expect("running the test binary again");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "helper failed: {output:?}");
        // Without this a renamed helper would pass by running nothing.
        assert!(stdout.contains("1 passed"), "helper did not run: {stdout}");
    }

    #[test]
    #[ignore = "runs only inside sigterm_triggers_the_installed_handle"]
    fn helper_installs_and_signals_itself() {
        if std::env::var_os(HELPER_VARIABLE).is_none() {
            return;
        }
        let interrupt = Interrupt::install().expect("installing the handler");
        // This very process, whose SIGTERM now only raises the flag.
        let me = rustix::process::getpid();
        let sent = rustix::process::kill_process(me, rustix::process::Signal::TERM);
        assert_eq!(sent, Ok(()), "kill");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !interrupt.is_triggered() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert!(interrupt.is_triggered());
        assert!(
            Interrupt::install().is_err(),
            "a second handler was accepted"
        );
    }
}
