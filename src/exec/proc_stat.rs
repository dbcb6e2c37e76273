//! The few fields of `/proc/<pid>/stat` that say which process group a process is in and
//! when it started: enough to tell a step's process from an unrelated one that reuses its id
//! (see [`super::group_log`] and [`super::orphans`]).

use std::fs;

use rustix::process::RawPid;

/// One process as `/proc` describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: RawPid,
    /// `R`, `S`, `D`, `Z` (a zombie: ended, waiting to be reaped), …
    pub state: u8,
    pub group: RawPid,
    pub session: RawPid,
    /// In clock ticks since boot (field 22): with the pid, it names one process for good.
    pub start_time: u64,
}

impl ProcStat {
    /// Parses `pid (name) state ppid pgrp session … starttime …`, where the name may hold
    /// spaces and parentheses (so the fields start after the last `)`).
    pub fn parse(stat: &[u8]) -> Option<ProcStat> {
        let close = stat.iter().rposition(|&byte| byte == b')')?;
        let pid = number(stat[..close].split(|&byte| byte == b' ').next()?)?;
        let mut fields = stat[close + 1..]
            .split(|&byte| byte == b' ')
            .filter(|field| !field.is_empty());
        // Fields 3 (state) onwards; starttime is field 22.
        let state = *fields.next()?.first()?;
        let _parent = fields.next()?;
        let group = number(fields.next()?)?;
        let session = number(fields.next()?)?;
        let start_time = number(fields.nth(15)?)?;
        Some(ProcStat {
            pid: RawPid::try_from(pid).ok()?,
            state,
            group: RawPid::try_from(group).ok()?,
            session: RawPid::try_from(session).ok()?,
            start_time,
        })
    }

    /// Whether it can still run (or write): anything but a zombie.
    pub fn is_alive(&self) -> bool {
        self.state != b'Z'
    }

    /// The process `pid`, if it exists.
    pub fn of(pid: RawPid) -> Option<ProcStat> {
        ProcStat::parse(&fs::read(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Every process `/proc` lists now; `None` where there is no `/proc` to read.
    pub fn all() -> Option<Vec<ProcStat>> {
        let entries = fs::read_dir("/proc").ok()?;
        Some(
            entries
                .flatten()
                .filter_map(|entry| {
                    let pid = entry.file_name().to_str()?.parse().ok()?;
                    // A process that ended since the directory was listed has no stat left.
                    ProcStat::of(pid)
                })
                .collect(),
        )
    }
}

/// A decimal field, without allocating.
fn number(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 20 {
        return None;
    }
    field.iter().try_fold(0u64, |n, &byte| {
        let digit = byte.checked_sub(b'0').filter(|digit| *digit < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name_with_spaces_and_parentheses() {
        let stat = b"4242 (a (weird) name) S 1 4240 4100 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10\n";
        let parsed = ProcStat::parse(stat).expect("a valid stat line");
        assert_eq!(
            parsed,
            ProcStat {
                pid: 4242,
                state: b'S',
                group: 4240,
                session: 4100,
                start_time: 987_654,
            }
        );
        assert!(parsed.is_alive());
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let stat = b"7 (sh) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0";
        assert!(!ProcStat::parse(stat).unwrap().is_alive());
    }

    #[test]
    fn truncated_or_garbled_lines_are_none() {
        assert_eq!(ProcStat::parse(b""), None);
        assert_eq!(ProcStat::parse(b"12 (sh) S 1 12"), None);
        assert_eq!(
            ProcStat::parse(b"x (sh) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"),
            None
        );
        assert_eq!(ProcStat::parse(b"12 sh S 1 12 12"), None);
    }

    #[test]
    fn this_process_is_found_as_it_is() {
        let me = ProcStat::of(std::process::id() as RawPid).expect("our own stat");
        assert_eq!(me.pid, std::process::id() as RawPid);
        // `libc`, not rustix: rustix asserts group and session ids are positive, and one whose
        // leader lives outside this pid namespace (a container's) reads as 0.
        // SAFETY: getpgrp() and getsid(0) only read the calling process's ids.
        let (group, session) = unsafe { (libc::getpgrp(), libc::getsid(0)) };
        assert_eq!(me.group, group);
        assert_eq!(me.session, session);
        assert!(me.start_time > 0);
        let all = ProcStat::all().expect("a /proc to read");
        // Its state may have changed between the two reads; its identity may not.
        assert!(
            all.iter()
                .any(|other| (other.pid, other.start_time) == (me.pid, me.start_time))
        );
    }
}
