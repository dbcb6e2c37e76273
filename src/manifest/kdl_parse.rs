//! Reading one manifest file's KDL: the fast reader when the text is in its subset, else
//! the `kdl` crate, but only after [`super::nesting`] has made sure it cannot overflow.

use kdl::{KdlDocument, KdlError};

use super::nesting::{self, Hazard};

/// The `kdl` crate recurses deeply even on input that passes the nesting check (error
/// recovery over long runs of stray quotes, comments near the piece limit in a debug build),
/// so it runs on a thread of its own with room to spare. The memory is reserved, not used.
const FALLBACK_STACK: usize = 256 << 20;

pub enum Failure {
    Syntax(KdlError),
    Hazard(Hazard),
}

pub fn parse(text: &str) -> Result<KdlDocument, Failure> {
    if let Some(document) = super::kdl_subset::parse(text) {
        return Ok(document);
    }
    nesting::check(text).map_err(Failure::Hazard)?;
    let parse = || KdlDocument::parse(text).map_err(Failure::Syntax);
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("kdl-parse".into())
            .stack_size(FALLBACK_STACK)
            .spawn_scoped(scope, parse)
        {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had (address space exhausted): parse here, still checked.
            Err(_) => parse(),
        }
    })
}
