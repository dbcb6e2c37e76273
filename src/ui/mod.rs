//! What people see: colours and rendered errors. Stages emit values; only this module prints
//! them.

mod color;
mod report;

pub use color::{ColorChoice, Colors};
pub use report::print_error;
