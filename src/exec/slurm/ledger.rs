//! The jobs a Slurm executor has in flight, written down as each is submitted, so that the
//! next build in the workspace finds the jobs of one that was killed (`kill -9`, a lost
//! login session) and cancels them before they write into outputs it is about to make.
//!
//! One file per executor, `.zenbuild/slurm/NAME.jobs`, a line per job: `ID JOB-NAME`. It is
//! removed when a build ends with none of its jobs left; the workspace lock keeps two builds
//! from sharing it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    file: Option<File>,
}

/// A job written down by an earlier build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub job_name: String,
}

impl Ledger {
    /// The ledger of executor `name` in the Slurm directory `dir`; touches nothing yet.
    pub fn new(dir: &Path, name: &str) -> Ledger {
        Ledger {
            path: dir.join(format!("{}.jobs", name.replace('/', "_"))),
            file: None,
        }
    }

    /// The jobs an earlier build left written down. Lines that do not read (a write cut
    /// short by the kill) are skipped: ids are digits, names one word.
    pub fn leftovers(&self) -> Vec<Entry> {
        let Ok(text) = fs::read_to_string(&self.path) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| {
                let (id, job_name) = line.split_once(' ')?;
                let valid = !id.is_empty()
                    && id.bytes().all(|b| b.is_ascii_digit())
                    && !job_name.is_empty()
                    && !job_name.contains(char::is_whitespace);
                valid.then(|| Entry {
                    id: id.to_string(),
                    job_name: job_name.to_string(),
                })
            })
            .collect()
    }

    /// Writes down a submitted job. The line goes out in one `write`, so that a kill leaves
    /// whole lines and perhaps one partial last line.
    pub fn record(&mut self, id: &str, job_name: &str) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let line = format!("{id} {job_name}\n");
        match &mut self.file {
            Some(file) => file.write_all(line.as_bytes()),
            None => Ok(()),
        }
    }

    /// The directory the ledger is in, beside the builds' own directories.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Nothing is in flight any more: the ledger goes.
    pub fn clear(&mut self) {
        self.file = None;
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_recorded_is_found_by_the_next_build_until_cleared() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ledger = Ledger::new(dir.path(), "cluster");
        assert!(ledger.leftovers().is_empty());
        ledger.record("41", "zenbuild-ab").expect("record");
        ledger.record("42", "zenbuild-ab").expect("record");
        let next = Ledger::new(dir.path(), "cluster");
        assert_eq!(next.leftovers().len(), 2);
        assert_eq!(next.leftovers()[1].id, "42");
        ledger.clear();
        assert!(next.leftovers().is_empty());
    }

    #[test]
    fn a_line_cut_short_or_not_written_by_zenbuild_is_skipped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ledger = Ledger::new(dir.path(), "cluster");
        fs::write(
            dir.path().join("cluster.jobs"),
            "41 zenbuild-ab\n4x zenbuild-ab\n42 \n; rm -rf /\n43",
        )
        .expect("write");
        assert_eq!(
            ledger.leftovers(),
            vec![Entry {
                id: "41".into(),
                job_name: "zenbuild-ab".into()
            }]
        );
    }
}
