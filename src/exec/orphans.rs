//! Stopping what a dead build left running, before the next one touches the workspace.
//!
//! A build killed with `kill -9` cannot stop its steps; they live on, and whatever they write
//! later lands in the next build's outputs (and, hashed there, in the cache under a key it
//! does not belong to). So whoever takes the workspace lock first kills, with SIGKILL, what is
//! left of every group the [`GroupLog`] saw start and not end, waits until none of their
//! processes can run, and only then clears the log.
//!
//! A process counts as the dead build's when it is in the recorded group, in the recorded
//! session, and started no earlier than the group's leader. If a process with the leader's
//! pid exists but started at another time, the pid was reused: the kernel frees a pid only
//! once no process uses it as a group id either, so the old group is gone entirely and
//! nothing of it is touched.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, RawPid, Signal};

use super::group_log::{GroupLog, Started};
use super::proc_stat::ProcStat;

/// How long the processes get to die after SIGKILL. They can only outlast it in
/// uninterruptible sleep (a hung network file system); then nothing may start.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Kills what is left of a dead build's steps: the log's unfinished groups, then whatever
/// still holds the log's lock (a step started in the instant before its line was written, or
/// a process that left its group); waits for them to be gone, clears the log and takes its
/// lock for this build. An error when some process does not die within [`STOP_TIMEOUT`]: the
/// log keeps it.
pub fn stop_left_over(log: &GroupLog) -> io::Result<()> {
    stop_recorded(log)?;
    stop_holders(log)
}

/// Kills every process that holds the log's lock, until this process holds it.
fn stop_holders(log: &GroupLog) -> io::Result<()> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    let mut nap = Duration::from_millis(1);
    // From `/proc`, not getpgrp(): a group whose leader lives outside this pid namespace (a
    // container's) has id 0 here, which rustix's `Pid` cannot hold. Unknown, it is 0 too, and
    // no group at or below 1 is ever killed.
    let own_group = ProcStat::of(std::process::id().cast_signed()).map_or(0, |me| me.group);
    while !log.hold()? {
        let holders = log.holders();
        if Instant::now() >= deadline {
            let pids: Vec<String> = holders.iter().map(ToString::to_string).collect();
            return Err(io::Error::other(format!(
                "processes a killed build left running do not stop (pids {}); \
                 nothing may run in this workspace until they are gone",
                pids.join(", ")
            )));
        }
        for pid in holders {
            // The holder's group went with it from the same step; never this process's own.
            if let Some(process) = ProcStat::of(pid)
                && process.group != own_group
                && process.group > 1
            {
                // The group is live, since its member `pid` was just seen in it.
                kill_group(process.group);
            }
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, Signal::KILL);
            }
        }
        thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(50));
    }
    Ok(())
}

/// Kills what is left of the log's unfinished groups, waits for it to be gone, and clears the
/// log.
fn stop_recorded(log: &GroupLog) -> io::Result<()> {
    let unfinished = log.unfinished()?;
    if unfinished.is_empty() {
        return log.clear();
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    let mut nap = Duration::from_millis(1);
    loop {
        // Without /proc nothing can be told apart safely, so nothing is killed.
        let Some(processes) = ProcStat::all() else {
            return log.clear();
        };
        let left = left_over(&unfinished, &processes);
        if left.is_empty() {
            return log.clear();
        }
        if Instant::now() >= deadline {
            let pids: Vec<String> = left.iter().map(|process| process.pid.to_string()).collect();
            return Err(io::Error::other(format!(
                "processes a killed build left running do not stop (pids {}); \
                 nothing may run in this workspace until they are gone",
                pids.join(", ")
            )));
        }
        for process in &left {
            // The group cannot be another one: its id stays reserved while `process`, a live
            // member, is in it. A member that ended since the scan is ESRCH, which is the goal
            // anyway.
            kill_group(process.group);
        }
        thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(50));
    }
}

/// SIGKILL to every process of `group`. Never to group 0, which would mean this process's own.
fn kill_group(group: RawPid) {
    if let Some(group) = Pid::from_raw(group) {
        let _ = rustix::process::kill_process_group(group, Signal::KILL);
    }
}

/// The live processes that belong to one of the `unfinished` groups.
fn left_over(unfinished: &[Started], processes: &[ProcStat]) -> Vec<ProcStat> {
    let owned: Vec<&Started> = unfinished
        .iter()
        .filter(|group| {
            !processes
                .iter()
                .any(|process| process.pid == group.group && process.start_time != group.start_time)
        })
        .collect();
    processes
        .iter()
        .filter(|process| {
            process.is_alive()
                && owned.iter().any(|group| {
                    process.group == group.group
                        && process.session == group.session
                        && process.start_time >= group.start_time
                })
        })
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    use super::*;

    fn process(pid: i32, group: i32, start_time: u64) -> ProcStat {
        ProcStat {
            pid,
            state: b'S',
            group,
            session: 1,
            start_time,
        }
    }

    fn started(group: i32, start_time: u64) -> Started {
        Started {
            group,
            start_time,
            session: 1,
        }
    }

    #[test]
    fn members_of_a_group_whose_leader_died_are_left_over() {
        let processes = [process(20, 10, 105), process(21, 11, 50)];
        let left = left_over(&[started(10, 100)], &processes);
        assert_eq!(left, vec![process(20, 10, 105)]);
    }

    #[test]
    fn a_reused_leader_pid_means_the_group_is_someone_else_s() {
        let processes = [process(10, 10, 900), process(20, 10, 905)];
        assert!(left_over(&[started(10, 100)], &processes).is_empty());
    }

    #[test]
    fn older_processes_other_sessions_and_zombies_are_not_touched() {
        let mut zombie = process(22, 10, 120);
        zombie.state = b'Z';
        let mut elsewhere = process(23, 10, 130);
        elsewhere.session = 2;
        let processes = [process(21, 10, 99), zombie, elsewhere];
        assert!(left_over(&[started(10, 100)], &processes).is_empty());
    }

    #[test]
    fn a_recorded_group_is_killed_and_the_log_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let log = GroupLog::open(&dir.path().join("groups")).unwrap();
        let mut child = Command::new("/bin/sh")
            .args(["-c", "sleep 30 & wait"])
            .process_group(0)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as RawPid;
        let shell = ProcStat::of(pid).unwrap();
        std::fs::write(
            dir.path().join("groups"),
            format!("start {pid} {} {}\n", shell.start_time, shell.session),
        )
        .unwrap();
        stop_left_over(&log).unwrap();
        // Reaped here, since this test is the shell's parent; its status shows the SIGKILL.
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        assert!(log.unfinished().unwrap().is_empty());
        assert!(
            ProcStat::all()
                .unwrap()
                .iter()
                .all(|process| process.group != pid || !process.is_alive()),
            "the group's sleep survived"
        );
    }
}
