//! The local executor: runs one step's command as a process on this machine.
//!
//! A step sees only what it declared: a cleared environment, no terminal (stdin is
//! `/dev/null`; stdout and stderr are one pipe, copied into one log file, so that what it
//! printed reads back in the order it was written, as with ninja), its own working directory. Each step runs in a
//! process group of its own, so that stopping it (a timeout, Ctrl-C) stops everything it
//! started, not only the shell; see [`super::interrupt`] for why Ctrl-C is forwarded by
//! [`run`] rather than delivered by the terminal.
//!
//! A step is over when its shell exits: whatever it left running in its group is killed then,
//! before its outputs are hashed, so that what is stored is what the step left at its exit and
//! nothing writes into the workspace afterwards. While the workspace lock is held, each group
//! is recorded in the lock's [`GroupLog`], whose descriptor the step holds from its first
//! instant, for the case where zenbuild itself dies (see [`super::orphans`]).

use std::collections::BTreeMap;
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{self, Child, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{Pid, Signal};

use super::exit_watch::{ExitWatch, SLOWEST_POLL};
use super::group_log::{self, GroupLog};
use super::interrupt::Interrupt;
use super::log_pipe::LogPipe;
use super::orphans::STOP_TIMEOUT;
#[cfg(target_os = "linux")]
use super::proc_stat::ProcStat;

/// The variables a step inherits from zenbuild's own environment; every other one it must
/// declare. PATH, so that the tools a user runs by hand are found the same way in a step;
/// HOME, because pip, git, conda and model caches misbehave without one.
pub const INHERITED_ENV: [&str; 2] = ["PATH", "HOME"];

/// How long a stopped step gets between SIGTERM and SIGKILL to save what it can.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// One command to run, with everything resolved.
#[derive(Debug)]
pub struct Command<'a> {
    /// Run as `/bin/sh -c cmd`.
    pub cmd: &'a str,
    /// Absolute; it must exist.
    pub workdir: &'a Path,
    /// The step's declared variables.
    pub env: &'a BTreeMap<String, String>,
    /// Variables the scheduler assigns, such as `CUDA_VISIBLE_DEVICES`.
    pub extra_env: Vec<(String, String)>,
    /// Measured from the spawn.
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL when the step is stopped; [`DEFAULT_GRACE`] but in tests.
    pub grace: Duration,
    /// Where stdout and stderr go, interleaved as written: truncated if it exists, created
    /// (parent directories included) only once the step prints something.
    pub log_path: &'a Path,
    /// Whether what the step prints is also copied to zenbuild's own stdout, as it comes:
    /// for `zenbuild worker`, whose stdout is the log its engine keeps for the job.
    pub echo: bool,
}

#[derive(Debug)]
pub enum RunOutcome {
    /// The shell exited; `sh` reports a command killed by signal N as code 128 + N.
    Exited { code: i32, duration: Duration },
    /// The shell itself (or the command it replaced itself with) died of a signal.
    Signalled { signal: i32, duration: Duration },
    /// The timeout passed and the step's process group was stopped; `after` is how long it had
    /// run when it was told to stop.
    TimedOut { after: Duration },
    /// Ctrl-C or SIGTERM reached zenbuild and the step's process group was stopped.
    Interrupted,
    /// Nothing ran: the working directory is missing, a log file cannot be created, `sh`
    /// cannot be started.
    SpawnFailed(io::Error),
    /// The process ran but its status could not be read (someone else reaped it); what was left
    /// of its group was killed.
    WaitFailed(io::Error),
}

/// Runs `command` to its end, its timeout or `interrupt`, whichever comes first.
///
/// The environment is exactly, later entries overriding earlier ones: [`INHERITED_ENV`] from
/// zenbuild's own environment (those that are set), then `command.env`, then
/// `command.extra_env`. So a step may declare its own PATH, and a scheduler-assigned device
/// wins over a declared one.
///
/// A stopped step's group gets SIGTERM, then SIGKILL once `command.grace` has passed (or at
/// once on a second Ctrl-C). Processes a step leaves behind in its group when its shell
/// exits get SIGKILL at once, and `run` returns only once they are gone. Processes that left
/// the group (`setsid`, a daemon) are beyond reach: they are neither waited for nor killed.
pub fn run(command: &Command, interrupt: &Interrupt) -> RunOutcome {
    run_recorded(command, interrupt, group_log::active())
}

/// [`run`], recording the step's group in `groups`.
fn run_recorded(
    command: &Command,
    interrupt: &Interrupt,
    groups: Option<Arc<GroupLog>>,
) -> RunOutcome {
    match start_recorded(command, interrupt, groups) {
        Ok(started) => started.wait(command, interrupt),
        Err(outcome) => outcome,
    }
}

/// A step whose process has started; [`Started::wait`] sees it to its end.
pub struct Started {
    child: Child,
    log: LogPipe,
    group: Pid,
    at: Instant,
    groups: Option<Arc<GroupLog>>,
}

/// Starts `command` as [`run`] does, for a caller that waits for it elsewhere (the local
/// executor starts a step on the thread that submits it and waits on another); how it ended
/// instead when it could not start.
pub fn start(command: &Command, interrupt: &Interrupt) -> Result<Started, RunOutcome> {
    start_recorded(command, interrupt, group_log::active())
}

fn start_recorded(
    command: &Command,
    interrupt: &Interrupt,
    groups: Option<Arc<GroupLog>>,
) -> Result<Started, RunOutcome> {
    if interrupt.is_triggered() {
        return Err(RunOutcome::Interrupted);
    }
    let (child, log) = spawn(command, groups.as_ref()).map_err(RunOutcome::SpawnFailed)?;
    let group = Pid::from_child(&child);
    Ok(Started {
        child,
        log,
        group,
        at: Instant::now(),
        groups,
    })
}

impl Started {
    /// Waits for the step to end, its timeout or `interrupt`, whichever comes first;
    /// `command` is the one it was started with.
    pub fn wait(self, command: &Command, interrupt: &Interrupt) -> RunOutcome {
        let Started {
            mut child,
            log,
            group,
            at: started,
            groups,
        } = self;
        let mut logs = [log];
        let deadline = command.timeout.map(|timeout| started + timeout);
        let mut watch = ExitWatch::new(&child);
        // Naps rather than a blocking wait, because the interrupt, the deadline and the
        // output must be watched at the same time; signals go to the group, so the `Child`
        // is needed only here.
        let outcome = loop {
            match child.try_wait() {
                Ok(Some(status)) => break finished(status, started.elapsed()),
                Ok(None) => {}
                Err(error) => {
                    stop(&mut child, Duration::ZERO, interrupt, &mut logs);
                    break RunOutcome::WaitFailed(error);
                }
            }
            if interrupt.is_triggered() {
                stop(&mut child, command.grace, interrupt, &mut logs);
                break RunOutcome::Interrupted;
            }
            let now = Instant::now();
            let mut nap = SLOWEST_POLL;
            if let Some(deadline) = deadline {
                if now >= deadline {
                    let after = started.elapsed();
                    stop(&mut child, command.grace, interrupt, &mut logs);
                    break RunOutcome::TimedOut { after };
                }
                nap = nap.min(deadline - now);
            }
            watch.nap(nap, &pipes(&logs));
            logs.iter_mut().for_each(LogPipe::pump);
        };
        // The shell is reaped by now, and every way out of the loop above either found the
        // group empty or sent it SIGKILL; what is left is killed and waited for here.
        let left = empty_group(group, groups.as_deref());
        logs.iter_mut().for_each(LogPipe::finish);
        match left {
            Ok(()) => outcome,
            Err(error) => RunOutcome::WaitFailed(error),
        }
    }
}

/// Kills whatever is still running in `group` (its leader, the shell, already reaped) and
/// waits until none of it can run, then records the group as ended. An error when something
/// outlasts [`STOP_TIMEOUT`]: only a process in uninterruptible sleep can, and the step must
/// not be taken as finished while it may still write.
///
/// The group is signalled only after a probe found a member in it, which keeps its id
/// reserved; see [`stop`].
fn empty_group(group: Pid, groups: Option<&GroupLog>) -> io::Result<()> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    let mut nap = Duration::from_millis(1);
    while group_is_running(group) {
        if Instant::now() >= deadline {
            return Err(io::Error::other(format!(
                "the processes it left running in its process group {group} do not stop"
            )));
        }
        signal_group(group, Signal::KILL);
        thread::sleep(nap);
        nap = (nap * 2).min(SLOWEST_POLL);
    }
    if let Some(groups) = groups {
        groups.ended(group.as_raw_pid());
    }
    Ok(())
}

/// The open pipes of a step's logs, to wait on.
fn pipes(logs: &[LogPipe]) -> Vec<BorrowedFd<'_>> {
    logs.iter().filter_map(LogPipe::fd).collect()
}

fn spawn(command: &Command, groups: Option<&Arc<GroupLog>>) -> io::Result<(Child, LogPipe)> {
    let log =
        LogPipe::prepare(command.log_path).map_err(|error| log_error(command.log_path, &error))?;
    // One pipe behind both descriptors: two would lose the order between a line on stdout
    // and the warning printed just after it on stderr.
    let (reader, writer) = io::pipe()?;
    let writer_too = writer.try_clone()?;
    let inherited = INHERITED_ENV
        .iter()
        .filter_map(|name| std::env::var_os(name).map(|value| (*name, value)));
    // `/bin/sh` rather than `sh`: the step's own PATH must not choose the shell that reads it.
    let mut process = process::Command::new("/bin/sh");
    process
        .arg("-c")
        .arg(command.cmd)
        .current_dir(command.workdir)
        .env_clear()
        .envs(inherited)
        .envs(command.env)
        .envs(command.extra_env.iter().map(|(name, value)| (name, value)))
        // A step in a background process group that read the terminal would be stopped by
        // SIGTTIN and hang the build; with /dev/null it reads end-of-file instead.
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_too)
        // The group id becomes the child's pid, which `stop` relies on.
        .process_group(0);
    let spawned = match groups {
        Some(groups) => groups.handing_down(|| process.spawn()),
        None => process.spawn(),
    };
    // Our copies of the write end must close, or the pipe never reaches its end.
    drop(process);
    let mut child = spawned.map_err(|error| spawn_error(command.workdir, &error))?;
    if let Some(groups) = groups {
        groups.started(Pid::from_child(&child).as_raw_pid());
    }
    match LogPipe::new(reader, command.log_path, log) {
        Ok(log) => Ok((child, log.echoing(command.echo))),
        Err(error) => {
            stop(&mut child, Duration::ZERO, &Interrupt::new(), &mut []);
            // A group that will not empty stays in the log for the next lock holder.
            let _ = empty_group(Pid::from_child(&child), groups.map(Arc::as_ref));
            Err(error)
        }
    }
}

fn log_error(path: &Path, error: &io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("cannot create log file {}: {error}", path.display()),
    )
}

/// The OS says only "No such file or directory", which reads as if `sh` were missing.
fn spawn_error(workdir: &Path, error: &io::Error) -> io::Error {
    if !workdir.is_dir() {
        return io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "working directory {} does not exist or is not a directory",
                workdir.display()
            ),
        );
    }
    io::Error::new(
        error.kind(),
        format!("cannot start /bin/sh in {}: {error}", workdir.display()),
    )
}

fn finished(status: ExitStatus, duration: Duration) -> RunOutcome {
    // A status from wait is either an exit or a death by signal, never neither.
    match status.signal() {
        Some(signal) => RunOutcome::Signalled { signal, duration },
        None => RunOutcome::Exited {
            code: status.code().unwrap_or(-1),
            duration,
        },
    }
}

/// Stops the step's whole process group: SIGTERM so that it can clean up, then SIGKILL for
/// whatever is still there when `grace` ends or the user interrupts again. Returns when the
/// shell is reaped and its group is empty or killed.
///
/// The group is signalled only while its id cannot belong to anyone else: before the shell is
/// reaped its pid (the group id) stays reserved, and afterwards only while the last probe
/// found members left in the group, which also keep the id reserved.
fn stop(child: &mut Child, grace: Duration, interrupt: &Interrupt, logs: &mut [LogPipe]) {
    let group = Pid::from_child(child);
    signal_group(group, Signal::TERM);
    let deadline = Instant::now() + grace;
    let mut watch = ExitWatch::new(child);
    let mut probe = Duration::from_millis(1);
    let mut reaped = false;
    loop {
        // An error means there is nothing left to reap either.
        reaped = reaped || !matches!(child.try_wait(), Ok(None));
        // Until the shell is reaped its zombie counts as a member, so probing means nothing.
        if reaped && !group_is_running(group) {
            return;
        }
        let now = Instant::now();
        if now >= deadline || interrupt.is_urgent() {
            break;
        }
        // Once the shell is reaped its pidfd stays readable, so the rest of the grace period
        // is spent in sleeps that double, probing the group after each. Until then the logs
        // are kept flowing: a step that prints while it cleans up must not block on a full
        // pipe and be killed for it.
        if reaped {
            logs.iter_mut().for_each(LogPipe::finish);
            thread::sleep(probe.min(deadline - now));
            probe = (probe * 2).min(SLOWEST_POLL);
        } else {
            watch.nap(deadline - now, &pipes(logs));
            logs.iter_mut().for_each(LogPipe::pump);
        }
    }
    signal_group(group, Signal::KILL);
    if !reaped {
        // SIGKILL cannot be ignored, so this wait is short; its status no longer matters.
        let _ = child.wait();
    }
}

fn signal_group(group: Pid, signal: Signal) {
    // Its only failure that can happen here is ESRCH, an empty group, which is the goal anyway.
    let _ = rustix::process::kill_process_group(group, signal);
}

/// Whether a process that can still run is in the group. Probing with killpg counts zombies
/// too, and where no init reaps orphans (a container started without one, some sandboxes) the
/// shell's children linger as zombies: every stop would wait out its whole grace period. On
/// Linux the members are therefore looked up in /proc, but only when the probe finds any: a
/// step that left nothing behind, the usual case, costs one system call.
fn group_is_running(group: Pid) -> bool {
    // Signal 0 only checks that the group exists; nothing is delivered.
    if rustix::process::test_kill_process_group(group) == Err(Errno::SRCH) {
        return false;
    }
    #[cfg(target_os = "linux")]
    if let Some(processes) = ProcStat::all() {
        return processes
            .iter()
            .any(|process| process.group == group.as_raw_pid() && process.is_alive());
    }
    true
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::fs;
    use std::path::PathBuf;

    use rustix::process::RawPid;
    use tempfile::TempDir;

    use super::*;

    /// A temporary working directory with the log under `logs/`, a directory `run` must create.
    struct Fixture {
        dir: TempDir,
        no_env: BTreeMap<String, String>,
        log_path: PathBuf,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = TempDir::new().expect("creating a temporary directory");
            let log_path = dir.path().join("logs/output");
            Fixture {
                dir,
                no_env: BTreeMap::new(),
                log_path,
            }
        }

        fn command<'a>(&'a self, cmd: &'a str) -> Command<'a> {
            Command {
                cmd,
                workdir: self.dir.path(),
                env: &self.no_env,
                extra_env: Vec::new(),
                timeout: None,
                grace: Duration::from_millis(200),
                log_path: &self.log_path,
                echo: false,
            }
        }

        fn run(&self, cmd: &str) -> RunOutcome {
            run(&self.command(cmd), &Interrupt::new())
        }

        fn read(&self, path: impl AsRef<Path>) -> String {
            let path = self.dir.path().join(path);
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        }
    }

    fn exit_code(outcome: &RunOutcome) -> i32 {
        match outcome {
            RunOutcome::Exited { code, .. } => *code,
            other => panic!("expected an exit, got {other:?}"),
        }
    }

    /// Whether `pid` is gone or a zombie (an init that does not reap orphans leaves those)
    /// within a second: a signal is delivered when its target is next scheduled, which on a
    /// busy machine is a little after `kill` returns.
    fn has_ended(pid: &str) -> bool {
        let stat_path = format!("/proc/{}/stat", pid.trim());
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let running = fs::read_to_string(&stat_path).is_ok_and(|stat| {
                // The state letter follows the parenthesised command name.
                stat.rsplit(')')
                    .next()
                    .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
            });
            if !running {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn reports_the_exit_code() {
        let fixture = Fixture::new();
        assert_eq!(exit_code(&fixture.run("true")), 0);
        assert_eq!(exit_code(&fixture.run("exit 3")), 3);
    }

    #[test]
    fn reports_death_by_signal() {
        let outcome = Fixture::new().run("kill -KILL $$");
        assert!(
            matches!(outcome, RunOutcome::Signalled { signal: 9, .. }),
            "{outcome:?}"
        );
    }

    #[test]
    fn captures_stdout_and_stderr_in_the_order_written() {
        let fixture = Fixture::new();
        let outcome = fixture.run("echo out1; echo err1 >&2; echo out2; echo err2 >&2");
        assert_eq!(exit_code(&outcome), 0);
        assert_eq!(fixture.read("logs/output"), "out1\nerr1\nout2\nerr2\n");
    }

    #[test]
    fn a_silent_step_leaves_no_log_file() {
        let fixture = Fixture::new();
        assert_eq!(exit_code(&fixture.run("true")), 0);
        assert!(!fixture.log_path.exists());
    }

    #[test]
    fn a_process_left_behind_holding_the_output_does_not_hold_the_step() {
        let fixture = Fixture::new();
        let started = Instant::now();
        let outcome = fixture.run("sleep 30 & echo $! > straggler; echo done");
        assert_eq!(exit_code(&outcome), 0);
        assert!(started.elapsed() < Duration::from_secs(10), "{outcome:?}");
        assert_eq!(fixture.read("logs/output"), "done\n");
        // Killed rather than waited for, and gone by the time `run` returns: it can write
        // nothing into the outputs that are hashed next. No grace: the step is over.
        let straggler = fixture.read("straggler");
        let gone =
            fs::read_to_string(format!("/proc/{}/stat", straggler.trim())).map_or(true, |stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z'))
            });
        assert!(gone, "the straggler {straggler} still runs");
    }

    #[test]
    fn a_straggler_cannot_change_an_output_after_the_step_exits() {
        let fixture = Fixture::new();
        let outcome = fixture.run("(sleep 0.3; echo late > out) & echo early > out");
        assert_eq!(exit_code(&outcome), 0);
        thread::sleep(Duration::from_millis(600));
        assert_eq!(fixture.read("out"), "early\n");
    }

    #[test]
    fn a_step_is_in_the_group_log_from_its_start_until_its_group_is_empty() {
        let fixture = Fixture::new();
        let path = fixture.dir.path().join("state/process-groups");
        let log = Arc::new(GroupLog::open(&path).unwrap());
        let env = BTreeMap::from([("LOG".to_string(), path.display().to_string())]);
        // The line is written just after the spawn returns, which a busy machine may let the
        // shell outrun: it waits (up to 5 s) for the line while it lives, as it would be seen.
        let mut command = fixture.command(
            "echo $$ > shell; for i in $(seq 100); do grep -q \"^start $$ \" \"$LOG\" && break; \
             sleep 0.05; done; cp \"$LOG\" during; sleep 30 &",
        );
        command.env = &env;
        let outcome = run_recorded(&command, &Interrupt::new(), Some(Arc::clone(&log)));
        assert_eq!(exit_code(&outcome), 0);

        let shell: RawPid = fixture.read("shell").trim().parse().unwrap();
        let during = fixture.read("during");
        let line = during
            .lines()
            .find(|line| line.starts_with(&format!("start {shell} ")))
            .unwrap_or_else(|| panic!("the shell {shell} is not in the log: {during:?}"));
        let fields: Vec<&str> = line.split(' ').collect();
        // `libc`, not rustix: rustix asserts a session id is positive, and one whose leader lives
        // outside this pid namespace (a container's) reads as 0.
        // SAFETY: getsid(0) only reads the calling process's session id.
        let session = unsafe { libc::getsid(0) };
        assert_eq!(fields[3], session.to_string(), "{line}");
        assert!(fields[2].parse::<u64>().unwrap() > 0, "{line}");
        assert!(
            log.unfinished().unwrap().is_empty(),
            "its group is still unfinished: {}",
            fixture.read("state/process-groups")
        );
    }

    #[test]
    fn runs_in_the_working_directory() {
        let fixture = Fixture::new();
        assert_eq!(exit_code(&fixture.run("pwd -P > where")), 0);
        let expected = fixture
            .dir
            .path()
            .canonicalize()
            .expect("canonical tempdir");
        assert_eq!(fixture.read("where").trim_end(), expected.to_str().unwrap());
    }

    #[test]
    fn environment_is_declared_plus_path_and_home() {
        let fixture = Fixture::new();
        let declared = BTreeMap::from([
            ("ZB_DECLARED".to_string(), "a b=c".to_string()),
            ("CUDA_VISIBLE_DEVICES".to_string(), "7".to_string()),
        ]);
        let mut command = fixture.command("env > env.txt");
        command.env = &declared;
        command.extra_env = vec![("CUDA_VISIBLE_DEVICES".to_string(), "1".to_string())];
        assert_eq!(exit_code(&run(&command, &Interrupt::new())), 0);

        let seen: BTreeMap<String, String> = fixture
            .read("env.txt")
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        assert_eq!(seen["ZB_DECLARED"], "a b=c");
        assert_eq!(seen["CUDA_VISIBLE_DEVICES"], "1", "extra_env wins");
        for name in INHERITED_ENV {
            assert_eq!(seen.get(name), std::env::var(name).ok().as_ref(), "{name}");
        }
        // Whatever the test process has (cargo sets plenty of CARGO_* variables), none of it
        // leaks; only the shell's own bookkeeping variables are added.
        let allowed: BTreeSet<&str> = ["ZB_DECLARED", "CUDA_VISIBLE_DEVICES", "PATH", "HOME"]
            .into_iter()
            .chain(["PWD", "OLDPWD", "SHLVL", "_"])
            .collect();
        let leaked: Vec<&String> = seen
            .keys()
            .filter(|name| !allowed.contains(name.as_str()))
            .collect();
        assert!(leaked.is_empty(), "leaked into the step: {leaked:?}");
        assert!(std::env::vars().any(|(name, _)| !allowed.contains(name.as_str())));
    }

    #[test]
    fn stdin_is_empty_not_the_terminal() {
        assert_eq!(exit_code(&Fixture::new().run("cat")), 0);
    }

    #[test]
    fn timeout_stops_the_whole_group() {
        let fixture = Fixture::new();
        let mut command = fixture.command("sleep 30 & echo $! > grandchild; wait");
        command.timeout = Some(Duration::from_millis(200));
        // Both processes die of SIGTERM at once, so none of this may be waited out.
        command.grace = Duration::from_secs(10);
        let started = Instant::now();
        let outcome = run(&command, &Interrupt::new());
        let elapsed = started.elapsed();

        let RunOutcome::TimedOut { after } = outcome else {
            panic!("expected a timeout, got {outcome:?}");
        };
        assert!(after >= Duration::from_millis(200), "{after:?}");
        assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
        assert!(
            has_ended(&fixture.read("grandchild")),
            "the grandchild survived"
        );
    }

    #[test]
    fn interrupt_from_another_thread_stops_the_step() {
        let fixture = Fixture::new();
        let interrupt = Interrupt::new();
        let ctrl_c = interrupt.clone();
        let presser = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            ctrl_c.trigger();
        });
        let mut command = fixture.command("sleep 30");
        command.grace = Duration::from_secs(10);
        let started = Instant::now();
        let outcome = run(&command, &interrupt);
        presser.join().expect("the triggering thread panicked");

        assert!(matches!(outcome, RunOutcome::Interrupted), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(1), "{outcome:?}");
    }

    #[test]
    fn an_earlier_interrupt_runs_nothing() {
        let fixture = Fixture::new();
        let interrupt = Interrupt::new();
        interrupt.trigger();
        let outcome = run(&fixture.command("touch ran"), &interrupt);
        assert!(matches!(outcome, RunOutcome::Interrupted), "{outcome:?}");
        assert!(!fixture.dir.path().join("ran").exists());
    }

    #[test]
    fn a_step_ignoring_sigterm_is_killed_after_the_grace_period() {
        let fixture = Fixture::new();
        let mut command = fixture.command("trap '' TERM; sleep 30 & echo $! > grandchild; wait");
        command.timeout = Some(Duration::from_millis(100));
        command.grace = Duration::from_millis(300);
        let started = Instant::now();
        let outcome = run(&command, &Interrupt::new());
        let elapsed = started.elapsed();

        assert!(
            matches!(outcome, RunOutcome::TimedOut { .. }),
            "{outcome:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(400),
            "not given its grace: {elapsed:?}"
        );
        assert!(elapsed < Duration::from_millis(1400), "{elapsed:?}");
        assert!(
            has_ended(&fixture.read("grandchild")),
            "the grandchild survived"
        );
    }

    #[test]
    fn a_second_interrupt_skips_the_grace_period() {
        let fixture = Fixture::new();
        let mut command = fixture.command("trap '' TERM; sleep 30");
        command.grace = Duration::from_secs(30);
        let interrupt = Interrupt::new();
        let ctrl_c = interrupt.clone();
        let presser = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            ctrl_c.trigger();
            thread::sleep(Duration::from_millis(100));
            ctrl_c.trigger();
        });
        let started = Instant::now();
        let outcome = run(&command, &interrupt);
        presser.join().expect("the triggering thread panicked");

        assert!(matches!(outcome, RunOutcome::Interrupted), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(1), "{outcome:?}");
    }

    #[test]
    fn a_missing_workdir_is_a_spawn_failure_that_names_it() {
        let fixture = Fixture::new();
        let missing = fixture.dir.path().join("no/such/dir");
        let mut command = fixture.command("true");
        command.workdir = &missing;
        let outcome = run(&command, &Interrupt::new());

        let RunOutcome::SpawnFailed(error) = outcome else {
            panic!("expected a spawn failure, got {outcome:?}");
        };
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        let message = error.to_string();
        assert!(message.contains("working directory"), "{message}");
        assert!(message.contains(missing.to_str().unwrap()), "{message}");
    }

    #[test]
    fn an_uncreatable_log_is_a_spawn_failure_that_names_it() {
        let fixture = Fixture::new();
        fs::write(fixture.dir.path().join("file"), "").expect("writing a file");
        let blocked = fixture.dir.path().join("file/output");
        let mut command = fixture.command("touch ran");
        command.log_path = &blocked;
        let outcome = run(&command, &Interrupt::new());

        let RunOutcome::SpawnFailed(error) = outcome else {
            panic!("expected a spawn failure, got {outcome:?}");
        };
        assert!(error.to_string().contains("log file"), "{error}");
        assert!(!fixture.dir.path().join("ran").exists());
    }
}
