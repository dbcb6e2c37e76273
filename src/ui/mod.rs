//! What people see: colours and rendered errors. Stages emit values; only this module prints
//! them.

pub mod build_report;
mod color;
pub mod progress;
mod report;
mod stdout;

pub use color::{ColorChoice, Colors};
pub use report::print_error;
pub use stdout::print;
