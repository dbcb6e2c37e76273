//! What a build, a plan and an explanation open in a workspace: the store, the stat cache,
//! the last keys and the Ctrl-C handle.

use super::build::{Builder, Context};
use super::executor::LocalExecutor;
use super::interrupt::Interrupt;
use super::last_keys::LastKeys;
use crate::Graph;
use crate::error::Error;
use crate::hash::StatCache;
use crate::store::{LinkMode, LocalStore, TieredStore};
use crate::workspace::Workspace;

/// The state one command works on, opened once and saved at its end.
pub struct Session {
    pub root: std::path::PathBuf,
    pub store: LocalStore,
    /// The local store with the manifest's remotes behind it, when there are any.
    pub tiered: Option<TieredStore>,
    /// Shared with the executors that upload inputs (they hash them again to be sure).
    pub stat_cache: std::sync::Arc<StatCache>,
    pub last_keys: LastKeys,
    pub interrupt: Interrupt,
    pub link_mode: LinkMode,
}

impl Session {
    /// A session under this process's Ctrl-C handler.
    pub fn open(workspace: &Workspace) -> Result<Session, Error> {
        // A second handler cannot be installed (tests run commands in one process); a
        // plain handle still lets the build stop its children when asked.
        Session::open_with(
            workspace,
            Interrupt::install().unwrap_or_else(|_| Interrupt::new()),
        )
    }

    /// A session whose steps stop when `interrupt` is raised: for watch mode, which opens
    /// one per cycle under the one Ctrl-C handler a process can have.
    pub fn open_with(workspace: &Workspace, interrupt: Interrupt) -> Result<Session, Error> {
        let root = workspace.root.clone();
        let store = LocalStore::in_workspace(&root)
            .map_err(|e| Error::store("cannot open the cache", e))?;
        Ok(Session {
            stat_cache: std::sync::Arc::new(StatCache::load(&workspace.state_dir().stat_cache())),
            last_keys: LastKeys::in_workspace(&root),
            interrupt,
            link_mode: LinkMode::default(),
            tiered: None,
            store,
            root,
        })
    }

    /// A builder on this session's store, caches and link mode.
    pub fn builder<'s>(&'s self, graph: &'s Graph) -> Builder<'s> {
        Builder::new(
            graph,
            Context {
                root: &self.root,
                store: match &self.tiered {
                    Some(tiered) => tiered,
                    None => &self.store,
                },
                stat_cache: &self.stat_cache,
                last_keys: &self.last_keys,
                link_mode: self.link_mode,
                interrupt: &self.interrupt,
            },
        )
    }

    /// The executor that runs this session's steps on this machine, stopped by its Ctrl-C.
    pub fn local_executor(&self) -> LocalExecutor {
        LocalExecutor::new(self.interrupt.clone())
    }

    /// Keeps what hashing learned; losing it costs a rehash next time, never a wrong result.
    pub fn save(&self) {
        let _ = self.stat_cache.save();
        let _ = self.last_keys.save();
    }
}
