//! Reading one manifest file's KDL into the [`syntax`](super::syntax) tree: the fast reader
//! when the text is in its subset, else the `kdl` crate, but only after [`super::nesting`]
//! has made sure it cannot overflow.

use kdl::{KdlDocument, KdlError};

use super::nesting::{self, Hazard};
use super::syntax::Node;

/// The `kdl` crate recurses deeply even on input that passes the nesting check (error
/// recovery over long runs of stray quotes, comments near the piece limit in a debug build),
/// so it runs on a thread of its own with room to spare. The memory is reserved, not used.
const FALLBACK_STACK: usize = 256 << 20;

pub enum Failure {
    Syntax(KdlError),
    Hazard(Hazard),
}

pub fn parse(text: &str) -> Result<Vec<Node<'_>>, Failure> {
    if let Some(nodes) = super::kdl_subset::parse(text) {
        return Ok(nodes);
    }
    nesting::check(text).map_err(Failure::Hazard)?;
    // The crate's document is turned into the tree, and dropped, on the same roomy stack.
    let parse = || {
        KdlDocument::parse(text)
            .map(|document| super::kdl_tree::nodes(&document))
            .map_err(Failure::Syntax)
    };
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
