//! The threads that talk to remotes for `plan` and `cache push`: more than the cores, since
//! requests wait on the network, and few enough not to flood a server.

use std::sync::OnceLock;

/// How many requests are in flight at once.
pub const REQUESTS: usize = 16;

pub fn requests() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(REQUESTS)
            .thread_name(|index| format!("zenbuild-remote-{index}"))
            .build()
            .unwrap_or_else(|_| {
                rayon::ThreadPoolBuilder::new()
                    .build()
                    .expect("a thread pool with default settings")
            })
    })
}
