//! Running the graph: the scheduler walks ready actions in parallel within the declared
//! resources; for each, the build work hashes inputs, asks the store, restores on a hit and
//! runs the command on a miss. Everything that happens goes out as [`Event`]s.
//!
//! The entry point is [`Build`]: it takes a [`BuildRequest`], sends events to a [`Sink`] and
//! returns a [`RunReport`]. It opens a [`session::Session`] (the store, the stat cache, the
//! last keys), probes the machine's [`capacity`] and runs the [`scheduler`].

pub mod attempt;
pub mod build;
pub mod capacity;
pub mod ended;
pub mod engine;
pub mod event;
pub mod executor;
pub mod exit_watch;
pub mod group_log;
pub mod input_error;
pub mod interrupt;
pub mod key;
pub mod last_keys;
pub mod local;
pub mod local_executor;
pub mod lock;
pub mod log_pipe;
mod lookup;
pub mod orphans;
pub mod placement;
pub mod preview;
pub mod proc_stat;
#[cfg(feature = "remote-http")]
pub mod ray;
pub mod reason;
pub mod replay;
pub mod request;
pub mod resources;
pub mod router;
pub mod run_result;
pub mod scheduler;
pub mod session;
pub mod slurm;
pub mod spec;
pub mod stops;
pub mod up_to_date;
pub mod verify;

pub use engine::{Build, RunReport, Sink};
pub use event::Event;
pub use request::{BuildRequest, RunKind, ShowOutput};
