//! The jobs of a build that was killed: the next build finds them in the ledger, cancels
//! those Slurm still runs, and waits (a bounded time) until they are over, so that none of
//! them writes into an output the new build is making.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::{Duration, Instant};

use super::commands;
use super::ledger::Ledger;
use super::monitor::cancel_ids;
use super::states::{self, JobState, JobStatus};

/// How long a build waits for the jobs a killed build left to be over.
const LEFTOVER_WAIT: Duration = Duration::from_mins(1);

/// Cancels the jobs an earlier build wrote down and did not see end (it was killed), and
/// waits until Slurm says they are over; the notes for the user.
pub(super) fn cancel_leftovers(ledger: &mut Ledger) -> Vec<String> {
    let leftovers = ledger.leftovers();
    if leftovers.is_empty() {
        return Vec::new();
    }
    let mut names: Vec<&str> = leftovers.iter().map(|e| e.job_name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let recorded: HashSet<&str> = leftovers.iter().map(|e| e.id.as_str()).collect();
    let live = |statuses: &HashMap<String, JobStatus>| -> Vec<String> {
        statuses
            .iter()
            .filter(|(id, status)| {
                recorded.contains(id.as_str()) && !matches!(status.state, JobState::Over(_))
            })
            .map(|(id, _)| id.clone())
            .collect()
    };
    let ask = || {
        commands::run(
            "squeue",
            &[
                "--noheader".into(),
                "--states=all".into(),
                format!("--name={}", names.join(",")),
                format!("--format={}", states::SQUEUE_FORMAT),
            ],
        )
        .map(|text| states::parse_squeue(&text))
    };
    let mut notes = Vec::new();
    let mut running = match ask() {
        Ok(statuses) => live(&statuses),
        Err(why) => {
            notes.push(format!(
                "an earlier build left Slurm jobs behind ({}), and Slurm could not be asked about them: {why}",
                leftovers.iter().map(|e| e.id.as_str()).collect::<Vec<_>>().join(", ")
            ));
            return notes;
        }
    };
    running.sort_unstable();
    // The scripts and exit files of builds whose jobs are all over are of no more use.
    let forget = |ledger: &mut Ledger| {
        for name in &names {
            let _ = fs::remove_dir_all(ledger.dir().join(name));
        }
        ledger.clear();
    };
    if running.is_empty() {
        forget(ledger);
        return notes;
    }
    cancel_ids(&running);
    let deadline = Instant::now() + LEFTOVER_WAIT;
    let mut left = running.clone();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        if let Ok(statuses) = ask() {
            left = live(&statuses);
        }
    }
    if left.is_empty() {
        forget(ledger);
    }
    notes.push(format!(
        "cancelled {} Slurm job{} that an earlier build left running when it was stopped: {}{}",
        running.len(),
        if running.len() == 1 { "" } else { "s" },
        running.join(", "),
        if left.is_empty() {
            String::new()
        } else {
            format!(
                " ({} not over yet after {}s)",
                left.len(),
                LEFTOVER_WAIT.as_secs()
            )
        }
    ));
    notes
}
