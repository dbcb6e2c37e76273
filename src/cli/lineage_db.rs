//! Opening the lineage for the commands that read it: the team's metadata store when the
//! manifest (or `ZENBUILD_METADATA_URL`) names one and it answers, with this clone's runs
//! sent to it first; else this clone's SQLite file. A team store that is out of reach is a
//! note, and the clone's own lineage is shown. `--pipeline NAME` reads the store of a
//! pipeline that names its own.

use clap::Args;

use crate::error::Error;
use crate::exec::lock::WorkspaceLock;
use crate::lineage::delivery::{self, Delivered};
use crate::lineage::team::Team;
use crate::lineage::{LineageError, MetadataStore, SqliteStore};
use crate::manifest::{Manifest, Spanned};
use crate::workspace::Workspace;

/// Which store a command that reads the lineage reads.
#[derive(Debug, Default, Args)]
pub struct StoreArg {
    /// Read the metadata store of this pipeline (the one its `metadata url=` names)
    #[arg(long, value_name = "NAME")]
    pub pipeline: Option<String>,
}

/// The lineage the commands read. Runs left `running` here by a build that was killed are
/// closed as interrupted first, when the workspace lock shows that no build is running.
pub fn open(workspace: &Workspace, store: &StoreArg) -> Result<Box<dyn MetadataStore>, Error> {
    let team = chosen(workspace, store)?;
    open_optional(workspace, team)?.ok_or_else(|| {
        Error::NothingYet("no lineage yet: nothing has been built in this workspace".into())
    })
}

/// [`open`], or `None` when there is no team store and nothing was ever built here.
pub fn open_optional(
    workspace: &Workspace,
    team: Option<Team>,
) -> Result<Option<Box<dyn MetadataStore>>, LineageError> {
    let mut local = open_existing(workspace)?;
    if let Some(local) = &mut local {
        close_abandoned(workspace, local)?;
    }
    if let Some(team) = team {
        match open_team(local.as_ref(), &team) {
            Ok(store) => return Ok(Some(Box::new(store))),
            Err(why) => eprintln!(
                "note: {}; showing this clone's runs",
                delivery::away_note(&team, &why)
            ),
        }
    }
    Ok(local.map(|store| Box::new(store) as Box<dyn MetadataStore>))
}

/// The team store, with this clone's finished runs sent to it first.
fn open_team(
    local: Option<&SqliteStore>,
    team: &Team,
) -> Result<crate::lineage::server::ServerStore, String> {
    if let Some(local) = local {
        match delivery::deliver_from(local, team) {
            Delivered::Sent(0) => {}
            Delivered::Sent(n) => eprintln!(
                "note: sent {n} runs of this clone to the team metadata store {}",
                team.shown()
            ),
            Delivered::Away(why) => return Err(why),
        }
    }
    team.open().map_err(|e| e.to_string())
}

fn close_abandoned(
    workspace: &Workspace,
    store: &mut dyn MetadataStore,
) -> Result<(), LineageError> {
    if let Ok(Some(_lock)) = WorkspaceLock::try_acquire(&workspace.state_dir()) {
        store.close_abandoned_runs()?;
    }
    Ok(())
}

/// The store `store` chooses: the one the manifest (or this machine) names, or with
/// `--pipeline` that pipeline's; `None` for the clone's file alone.
pub fn chosen(workspace: &Workspace, store: &StoreArg) -> Result<Option<Team>, Error> {
    let Some(name) = store.pipeline.as_deref() else {
        return Ok(team(workspace));
    };
    // The pipeline has to be found, so a manifest that cannot be read is the answer.
    let (manifest, _) = crate::manifest::load(&workspace.manifest)?;
    let Some(pipeline) = manifest
        .pipelines
        .iter()
        .find(|pipeline| pipeline.name.value == name)
    else {
        let names = manifest.pipelines.iter().map(|p| p.name.value.as_str());
        return Err(super::targets::unknown_pipeline(
            name,
            names,
            "`zenbuild list` shows the pipelines",
        ));
    };
    let url = |setting: &Option<Spanned<String>>| setting.as_ref().map(|url| url.value.clone());
    Ok(noted(Team::of_pipeline(
        url(&manifest.metadata).as_deref(),
        url(&pipeline.metadata).as_deref(),
    )))
}

/// The team store the workspace's manifest (or this machine) names, if any. A manifest that
/// cannot be read names none here: the command that builds says what is wrong with it.
fn team(workspace: &Workspace) -> Option<Team> {
    let from_manifest = manifest_naming_a_store(workspace)
        .and_then(|manifest| manifest.metadata.map(|url| url.value));
    noted(Team::configured(from_manifest.as_deref()))
}

/// Every team store of the workspace: the manifest's and the pipelines' own.
pub fn every(workspace: &Workspace) -> Vec<Team> {
    let manifest = manifest_naming_a_store(workspace);
    let found = match &manifest {
        Some(manifest) => Team::every(
            manifest.metadata.as_ref().map(|url| url.value.as_str()),
            manifest
                .pipelines
                .iter()
                .filter_map(|pipeline| pipeline.metadata.as_ref())
                .map(|url| url.value.as_str()),
        ),
        None => Team::every(None, []),
    };
    noted(found.map(Some)).unwrap_or_default()
}

/// The manifest, when it may name a team store.
fn manifest_naming_a_store(workspace: &Workspace) -> Option<Manifest> {
    // Reading the whole manifest costs a large one a good part of a second, which `log` never
    // paid before: a manifest whose text names neither `metadata` nor an `include` has none.
    let may_name_one = std::env::var_os(crate::lineage::team::URL_VAR).is_none()
        && std::fs::read_to_string(&workspace.manifest)
            .is_ok_and(|text| text.contains("metadata") || text.contains("include"));
    may_name_one
        .then(|| crate::manifest::loader::load(&workspace.manifest).ok())
        .flatten()
        .map(|(manifest, _)| manifest)
}

/// A store named by a URL that cannot be used is a note, and none.
fn noted<T>(found: Result<Option<T>, crate::lineage::server::url::BadUrl>) -> Option<T> {
    match found {
        Ok(team) => team,
        Err(bad) => {
            eprintln!("note: {bad}");
            None
        }
    }
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
