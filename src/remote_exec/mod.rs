//! Running an action where the workspace is not, with nothing shared but a team remote.
//!
//! The client (the build, through an executor) [`stage`]s an attempt: it uploads the input
//! blobs the remote lacks and then a self-contained [`description`], stored in the remote's
//! CAS under its digest. An engine (Ray, Slurm without a shared file system) runs
//! `zenbuild worker --remote URL DIGEST` ([`command_line`]) on some machine; the [`worker`]
//! fetches and checks the description and the inputs into a scratch directory, runs the
//! command, uploads the outputs and the result, and always stores its [`outcome`], which the
//! client reads once the engine says the job ended. Nothing here knows an engine.
//!
//! docs/remote-execution.md is the reference for users: the formats field by field, what the
//! worker does, what it trusts and verifies, its exit codes.

pub mod command_line;
pub mod description;
pub mod outcome;
pub mod stage;
pub mod worker;

pub use command_line::{WorkerCommand, without_userinfo};
pub use description::{ActionDescription, FORMAT};
pub use outcome::{End, WorkerOutcome, outcome_key, read_log, read_outcome};
pub use stage::{StageError, Staged, Stager, StepTerms};
pub use worker::{WorkRequest, Worked, work};
