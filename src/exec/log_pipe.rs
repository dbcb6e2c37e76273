//! A step's output (stdout and stderr share one pipe): copied into its log file as it comes,
//! and read back, its end at most [`KEPT_OUTPUT`], for the build to show and keep.
//!
//! A pipe rather than the file itself as the step's descriptor, so that the file is created
//! only once the step writes something: most steps of a large pipeline print nothing, and
//! creating two empty files per step was a third of the cost of a cold build of a thousand
//! short steps. A log that exists from an earlier run is truncated when the step starts, so
//! that no stale output outlives the run; that reuses its file rather than creating one.
//!
//! What the step writes is copied while it runs (a `tail -f` on the log works as before) and
//! drained once it exits. Output that a process the step left behind writes after that is
//! lost: the pipe is closed when the step ends, as with ninja's pipes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::event::Printed;

/// How much of a step's output is kept with its result and shown: the last MiB. A training
/// loop that logs every batch must not fill the cache or the terminal; the log file keeps all
/// of it.
pub const KEPT_OUTPUT: u64 = 1 << 20;

pub struct LogPipe {
    pipe: Option<File>,
    path: PathBuf,
    log: Option<File>,
    /// Also copy to zenbuild's own stdout (a worker's, which its engine keeps as the job's log).
    echo: bool,
}

impl LogPipe {
    /// Readies the log at `path` before the step starts: its directory created, an earlier
    /// run's file truncated. An error here means the log cannot be written at all.
    pub fn prepare(path: &Path) -> io::Result<Option<File>> {
        if let Some(parent) = path.parent()
            && !parent.is_dir()
        {
            fs::create_dir_all(parent)?;
        }
        match OpenOptions::new().write(true).truncate(true).open(path) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Copies from `pipe`, the read end of the step's stream, into `path`; `log` is what
    /// [`LogPipe::prepare`] returned for it.
    pub fn new(pipe: impl Into<OwnedFd>, path: &Path, log: Option<File>) -> io::Result<LogPipe> {
        let pipe = File::from(pipe.into());
        set_nonblocking(&pipe)?;
        Ok(LogPipe {
            pipe: Some(pipe),
            path: path.to_path_buf(),
            log,
            echo: false,
        })
    }

    /// Copies what comes to zenbuild's own stdout too, when `echo` is set.
    #[must_use]
    pub fn echoing(self, echo: bool) -> LogPipe {
        LogPipe { echo, ..self }
    }

    /// The pipe to wait on, while it is open.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.pipe.as_ref().map(AsFd::as_fd)
    }

    /// Copies whatever the pipe holds now, without waiting for more; closes it at its end.
    pub fn pump(&mut self) {
        #[allow(
            clippy::large_stack_arrays,
            reason = "64 KiB on a thread stack of 2 MiB or more; on the heap it would be allocated at every pump"
        )]
        let mut buffer = [0u8; 64 * 1024];
        loop {
            let Some(pipe) = self.pipe.as_mut() else {
                return;
            };
            match pipe.read(&mut buffer) {
                Ok(0) => {
                    self.pipe = None;
                    return;
                }
                Ok(n) => self.write(&buffer[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock: nothing more for now. Anything else: the pipe is unusable.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.pipe = None;
                    return;
                }
            }
        }
    }

    /// Copies what is left once the step has ended, and closes the pipe.
    pub fn finish(&mut self) {
        self.pump();
        self.pipe = None;
    }

    /// A log that cannot be written loses the output, never the step: what the step wrote to
    /// its outputs is what the build is about, and the pipe must be drained either way lest
    /// the step block on it.
    fn write(&mut self, bytes: &[u8]) {
        if self.echo {
            // Like the log file, a stdout that cannot be written costs the copy, not the step.
            let mut stdout = io::stdout().lock();
            if stdout
                .write_all(bytes)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                self.echo = false;
            }
        }
        if self.log.is_none() {
            self.log = File::create(&self.path).ok();
        }
        if let Some(log) = self.log.as_mut()
            && log.write_all(bytes).is_err()
        {
            self.log = None;
        }
    }
}

/// The end of the log at `path`, at most `limit` bytes; `Nothing` when the step printed
/// nothing (there is no file then). Output that was cut starts at a line's beginning, so
/// that no half line (or half character) leads it.
pub fn read_kept(path: &Path, limit: u64) -> io::Result<Printed> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Printed::Nothing),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let cut = len > limit;
    if cut {
        file.seek(SeekFrom::Start(len - limit))?;
    }
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(Printed::from_end(bytes, cut))
}

fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn run(cmd: &str, path: &Path) {
        let log = LogPipe::prepare(path).unwrap();
        let mut child = Command::new("/bin/sh")
            .args(["-c", cmd])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = LogPipe::new(child.stdout.take().unwrap(), path, log).unwrap();
        while child.try_wait().unwrap().is_none() {
            pipe.pump();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        pipe.finish();
    }

    #[test]
    fn a_silent_step_creates_no_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/out");
        run("true", &path);
        assert!(!path.exists());
        assert!(dir.path().join("logs").is_dir());
    }

    #[test]
    fn output_is_copied_whole_even_when_it_exceeds_the_pipe() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        run("head -c 1000000 /dev/zero", &path);
        assert_eq!(fs::metadata(&path).unwrap().len(), 1_000_000);
    }

    #[test]
    fn what_is_kept_is_the_end_from_a_line_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        assert_eq!(read_kept(&path, 10).unwrap(), Printed::Nothing);
        fs::write(&path, "").unwrap();
        assert_eq!(read_kept(&path, 10).unwrap(), Printed::Nothing);
        fs::write(&path, "one\ntwo\n").unwrap();
        let whole = Printed::Kept {
            text: "one\ntwo\n".into(),
            cut: false,
        };
        assert_eq!(read_kept(&path, 10).unwrap(), whole);
        fs::write(&path, "first line\nsecond\nthird\n").unwrap();
        let end = Printed::Kept {
            text: "third\n".into(),
            cut: true,
        };
        assert_eq!(read_kept(&path, 10).unwrap(), end);
    }

    #[test]
    fn an_earlier_runs_log_is_emptied_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        run("echo first", &path);
        assert_eq!(fs::read_to_string(&path).unwrap(), "first\n");
        let inode = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap());
        run("true", &path);
        assert_eq!(fs::read_to_string(&path).unwrap(), "");
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap()),
            inode
        );
    }
}
