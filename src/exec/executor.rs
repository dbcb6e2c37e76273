//! Where a step's command runs. The local executor runs it as a process on this machine;
//! tests use fakes, and remote backends (Slurm, REAPI) will implement the same trait.

use super::interrupt::Interrupt;
use super::local::{self, Command, RunOutcome};

pub trait Executor: Sync {
    /// Runs `command` to the end (or until `interrupt` fires) and says how it ended.
    fn run(&self, command: &Command, interrupt: &Interrupt) -> RunOutcome;
}

/// Runs commands as processes here: `sh -c` in their own process group.
pub struct LocalExecutor;

impl Executor for LocalExecutor {
    fn run(&self, command: &Command, interrupt: &Interrupt) -> RunOutcome {
        local::run(command, interrupt)
    }
}
