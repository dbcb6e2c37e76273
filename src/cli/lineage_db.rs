//! Opening the workspace's lineage database for the commands that read it.

use crate::error::Error;
use crate::exec::lock::WorkspaceLock;
use crate::lineage::{LineageError, MetadataStore, SqliteStore};
use crate::workspace::Workspace;

/// The workspace's lineage. Runs left `running` by a build that was killed are closed as
/// interrupted first, when the workspace lock shows that no build is running.
pub fn open(workspace: &Workspace) -> Result<SqliteStore, Error> {
    let Some(mut store) = open_if_built(workspace)? else {
        return Err(Error::NothingYet(
            "no lineage yet: nothing has been built in this workspace".into(),
        ));
    };
    if let Ok(Some(_lock)) = WorkspaceLock::try_acquire(&workspace.state_dir()) {
        store.close_abandoned_runs()?;
    }
    Ok(store)
}

/// The workspace's lineage as it is, or `None` when nothing was ever built here (opening
/// would create an empty database).
pub fn open_if_built(workspace: &Workspace) -> Result<Option<SqliteStore>, Error> {
    Ok(open_existing(workspace)?)
}

/// [`open_if_built`], with the lineage's own error, for a caller that can do without a
/// damaged database.
pub fn open_existing(workspace: &Workspace) -> Result<Option<SqliteStore>, LineageError> {
    let path = workspace.state_dir().lineage_db();
    if !path.exists() {
        return Ok(None);
    }
    SqliteStore::open(&path).map(Some)
}
