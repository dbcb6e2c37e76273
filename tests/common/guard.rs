//! A guard for a test's database server: a `sh` process, started before the server, that is
//! told the server's PID on its stdin and stops it by that PID when the pipe closes — on drop,
//! at the test binary's exit, and also when the test process is killed outright, which no
//! `Drop` or `atexit` covers. It then removes the server's directory (unless told `keep`).
//!
//! A server may be stopped and started again while the guard watches (a test takes its
//! database away mid-build): the stopped PID is forgotten, so that a PID the kernel hands to
//! another process later is never signalled. Servers and guard sit in process groups of their
//! own, so that a Ctrl-C on `cargo test` reaches only the test process. A server's own workers
//! are its to stop: `PostgreSQL`'s make themselves leaders of groups of their own, and end by
//! themselves when the postmaster is gone, even a killed one.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shell functions for a guard's end: `alive PID`, and `wait_gone TENTHS`, which waits up to
/// TENTHS tenths of a second for every process in `$watched` to be gone (entries `PID` or
/// `PID:SIGNAL`). The Slurm harness's guard uses them too.
pub const WAITING: &str = r#"
alive() {
    [ -r "/proc/$1/stat" ] || return 1
    read -r _ _ state _ < "/proc/$1/stat" 2>/dev/null || return 1
    [ "$state" != Z ]
}
wait_gone() {
    i=0
    while [ $i -lt "$1" ]; do
        any=
        for entry in $watched; do alive "${entry%:*}" && any=1; done
        [ -z "$any" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
"#;

/// Reads `PID SIGNAL`, `forget PID` and `keep` lines until stdin closes; then sends each
/// watched PID its signal (the server's own clean, fast shutdown: a killed `PostgreSQL` leaks
/// shared memory), SIGKILL after 20 s, and removes `$1`.
const WATCH: &str = r#"
trap '' INT HUP
watched= keep=
while read -r word arg; do
    case $word in
        keep) keep=1 ;;
        forget)
            left=
            for entry in $watched; do [ "${entry%:*}" = "$arg" ] || left="$left $entry"; done
            watched=$left ;;
        *) watched="$watched $word:$arg" ;;
    esac
done
"#;

const STOP: &str = r#"
for entry in $watched; do kill -"${entry#*:}" "${entry%:*}" 2>/dev/null; done
wait_gone 200 || for entry in $watched; do kill -KILL "${entry%:*}" 2>/dev/null; done
wait_gone 50
[ -n "$keep" ] || rm -rf "$1"
"#;

pub struct Guard {
    /// The guard and the pipe that keeps it waiting; `None` once closed.
    inner: Mutex<Option<(Child, ChildStdin)>>,
}

impl Guard {
    /// A guard that removes `dir` when it closes; `ZENBUILD_KEEP_<what>` set keeps it.
    pub fn spawn(dir: &Path, what: &str) -> Guard {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg([WATCH, WAITING, STOP].concat())
            .arg(format!("zenbuild-{what}-guard"))
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start the guard");
        let pipe = child.stdin.take().expect("the guard's stdin");
        let guard = Guard {
            inner: Mutex::new(Some((child, pipe))),
        };
        if std::env::var_os(format!("ZENBUILD_KEEP_{}", what.to_uppercase())).is_some() {
            guard.keep();
        }
        guard
    }

    /// Starts a server in a process group of its own and has the guard stop it with `signal`.
    pub fn daemon(&self, command: &mut Command, signal: libc::c_int) -> Result<Child, String> {
        let child = command
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", command.get_program().display()))?;
        self.tell(&format!("{} {signal}", child.id()));
        Ok(child)
    }

    /// Stops a server started by [`Guard::daemon`] and waits for it: `signal`, then SIGKILL
    /// after `limit`. The guard forgets it.
    pub fn stop(&self, child: &mut Child, signal: libc::c_int, limit: Duration) {
        let pid = child.id() as libc::pid_t;
        // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child's.
        unsafe { libc::kill(pid, signal) };
        let deadline = Instant::now() + limit;
        while matches!(child.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.tell(&format!("forget {pid}"));
    }

    /// Leaves the directory in place, for a failing test's logs.
    pub fn keep(&self) {
        self.tell("keep");
    }

    /// Stops every watched server, removes the directory and waits for all of it (idempotent).
    pub fn close(&self) {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some((mut child, pipe)) = inner {
            drop(pipe);
            let _ = child.wait();
        }
    }

    fn tell(&self, line: &str) {
        if let Some((_, pipe)) = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            let _ = writeln!(pipe, "{line}");
        }
    }
}

/// The one server a harness runs under its guard (PostgreSQL's postmaster, `mariadbd`):
/// started until it answers, stopped and started again by a test, and stopped for good with
/// the guard.
pub struct Supervised {
    guard: Guard,
    /// The server's own clean, fast shutdown.
    signal: libc::c_int,
    /// The running server; `None` while stopped.
    child: Mutex<Option<Child>>,
}

impl Supervised {
    /// Nothing running yet; the guard removes `dir` at the end (see [`Guard::spawn`]).
    pub fn new(dir: &Path, what: &str, signal: libc::c_int) -> Supervised {
        Supervised {
            guard: Guard::spawn(dir, what),
            signal,
            child: Mutex::new(None),
        }
    }

    /// Starts `command` (told to the guard) and waits up to a minute until `ready`; a server
    /// that does not answer is stopped again.
    pub fn start(
        &self,
        what: &str,
        command: &mut Command,
        ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        let mut child = self.guard.daemon(command, self.signal)?;
        if let Err(why) =
            super::local_server::wait_ready(what, &mut child, Duration::from_mins(1), ready)
        {
            self.guard
                .stop(&mut child, self.signal, Duration::from_secs(5));
            return Err(why);
        }
        *self.child() = Some(child);
        Ok(())
    }

    /// A new server's first start failed (`why`): its directory `dir` is kept for `logs`,
    /// whatever runs is stopped, and the test fails saying so.
    pub fn fail_boot(&self, label: &str, dir: &Path, why: &str, logs: &str) -> ! {
        self.keep();
        self.shutdown();
        panic!(
            "{label} did not start: {why}\n(kept {}){logs}",
            dir.display()
        );
    }

    /// Stops the server (its data stays); connections are then refused. Idempotent.
    pub fn stop(&self) {
        if let Some(mut child) = self.child().take() {
            self.guard
                .stop(&mut child, self.signal, Duration::from_secs(30));
        }
    }

    /// The server's PID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child().as_ref().map(Child::id)
    }

    /// Leaves the directory in place, for a failing test's logs.
    pub fn keep(&self) {
        self.guard.keep();
    }

    /// Stops the server and removes its directory, waiting for both.
    pub fn shutdown(&self) {
        self.guard.close();
        if let Some(mut child) = self.child().take() {
            // The guard has stopped it; should the guard have died, it is killed here.
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    fn child(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
