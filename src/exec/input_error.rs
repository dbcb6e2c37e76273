//! Why an action's key cannot be computed: one of its inputs cannot be hashed. The action
//! fails without running, and each case says what the user fixes: a step upstream that did
//! not write what it declared, a source that is not there, a manifest that declares a
//! directory as a file, or a file the disk will not read.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The input lies inside another step's output directory, which that step wrote
    /// without it.
    #[error("input `{input}` is missing: `{producer}` wrote `{directory}` without it")]
    MissingFromDirectory {
        input: String,
        producer: String,
        directory: String,
    },

    /// Another step declares the input as its output and did not write it.
    #[error("input `{input}` is missing: `{producer}` should have written it")]
    NotWritten { input: String, producer: String },

    /// A source input no step produces, and the workspace does not have.
    #[error("input `{input}` does not exist")]
    Missing { input: String },

    /// Declared as a file, found to be a directory.
    #[error("input `{input}` is a directory: declare it as `{input}/`")]
    IsADirectory { input: String },

    /// There, but it could not be read.
    #[error("cannot read input `{input}`: {cause}")]
    Unreadable { input: String, cause: io::Error },
}
