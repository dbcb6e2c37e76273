//! What people see: colours and rendered errors. Stages emit values; only this module prints
//! them.

mod color;
mod report;
mod stdout;

pub use color::{ColorChoice, Colors};
pub use report::print_error;
pub use stdout::print;
