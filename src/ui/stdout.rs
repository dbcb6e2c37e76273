//! Writing results to standard output. A reader that goes away early (`zenbuild graph | head`)
//! is not an error: the rest of the output is simply not wanted.

use std::io::Write;

use crate::error::Error;

pub fn print(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("cannot write to standard output", e)),
    }
}
