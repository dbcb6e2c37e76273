//! What is left of a recorded run once its last row is committed: closing the store, which
//! for SQLite checkpoints the log into the database, syncs both and removes the log, and
//! freeing the records kept in case the store had to be replaced. Neither has anything left
//! to say, and after a build of 10,000 cached steps they cost it tens of milliseconds (more as
//! the history grows): they are done on a thread of their own, beside what the build does
//! next. The process waits for them before it ends ([`wait`]), so that every store is closed
//! whole.

use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

/// The threads still dropping what was handed to [`drop_later`].
static DROPPING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Drops `value` on a thread of its own; [`wait`] waits for it. When no thread can be
/// started, `value` is dropped here and now.
pub fn drop_later<T: Send + 'static>(value: T) {
    let spawned = std::thread::Builder::new()
        .name("lineage-close".into())
        .spawn(move || drop(value));
    if let Ok(thread) = spawned {
        let mut dropping = DROPPING.lock().unwrap_or_else(PoisonError::into_inner);
        // A long `zenbuild watch` hands over a value per cycle; those done are forgotten.
        dropping.retain(|thread| !thread.is_finished());
        dropping.push(thread);
    }
}

/// Waits until everything handed to [`drop_later`] is dropped. A program that records runs
/// calls it before it ends: a store left half-closed is whole (SQLite finishes the checkpoint
/// at the next open), but its log stays on disk until then.
pub fn wait() {
    let dropping = std::mem::take(&mut *DROPPING.lock().unwrap_or_else(PoisonError::into_inner));
    for thread in dropping {
        // A panic while dropping has been printed; there is nothing more to do about it.
        let _ = thread.join();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts its drops.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            std::thread::sleep(std::time::Duration::from_millis(20));
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn wait_returns_once_everything_handed_over_is_dropped() {
        let dropped = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            drop_later(Counted(Arc::clone(&dropped)));
        }
        wait();
        assert_eq!(dropped.load(Ordering::SeqCst), 3);
    }
}
