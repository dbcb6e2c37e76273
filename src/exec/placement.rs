//! Where a build's steps run: the executor of each (its own `executor "NAME"`, else the
//! build's default), the pool of each executor (this machine's resources, or a cluster's jobs
//! in flight), and the backends the selected steps need, started for the build.

use std::collections::BTreeSet;

use super::build::Builder;
use super::courier::Courier;
use super::executor::Executor;
#[cfg(feature = "remote-http")]
use super::ray::{self, RayExecutor};
use super::session::Session;
use super::slurm::{self, SlurmExecutor};
use crate::Manifest;
use crate::error::Error;
use crate::graph::{ActionId, ExecutorId, Graph};
use crate::manifest::model::{ExecutorDecl, ExecutorKind};
use crate::remote::choice::configured;
use crate::workspace::StateDir;

/// The executor `--executor NAME` names, or `local`.
pub fn default_executor(graph: &Graph, name: Option<&str>) -> Result<ExecutorId, Error> {
    let Some(name) = name else {
        return Ok(ExecutorId::LOCAL);
    };
    graph.executor_named(name).ok_or_else(|| {
        let declared: Vec<&str> = graph
            .executors
            .iter()
            .map(|e| e.name.value.as_str())
            .collect();
        Error::BadArgument(format!(
            "`--executor {name}`: the manifest declares no executor `{name}` (it has: {})",
            declared.join(", ")
        ))
    })
}

/// How many actions each executor after `local` keeps in flight: the scheduler's lanes.
pub fn lanes(graph: &Graph) -> Vec<u32> {
    graph
        .executors
        .iter()
        .skip(1)
        .map(|executor| match &executor.kind {
            ExecutorKind::Slurm(settings) => settings.jobs.unwrap_or(slurm::DEFAULT_JOBS),
            #[cfg(feature = "remote-http")]
            ExecutorKind::Ray(settings) => settings.jobs.unwrap_or(ray::DEFAULT_JOBS),
            #[cfg(not(feature = "remote-http"))]
            ExecutorKind::Ray(settings) => settings.jobs.unwrap_or(100),
            ExecutorKind::Local => 1,
        })
        .collect()
}

/// The executors a build started, by the name steps select them with.
pub type Started = Vec<(String, Box<dyn Executor>)>;

/// Starts, by name, the backends of the executors other than `local` that `targets` use,
/// adding what they have to say (jobs a killed build left, cancelled) to `notes`. An executor
/// that cannot start fails the build: its steps must not quietly run somewhere else.
pub fn start_executors(
    (manifest, graph): (&Manifest, &Graph),
    targets: &[ActionId],
    builder: &Builder,
    session: &Session,
    notes: &mut Vec<String>,
) -> Result<Started, Error> {
    let used: BTreeSet<ExecutorId> = targets
        .iter()
        .map(|&id| builder.executor_of(graph.action(id)))
        .filter(|&executor| executor != ExecutorId::LOCAL)
        .collect();
    let slurm_dir = StateDir::of(&session.root).slurm();
    let mut started: Started = Vec::new();
    for id in used {
        let Some(declared) = graph.executors.get(usize::from(id.0)) else {
            continue;
        };
        let name = &declared.name.value;
        let courier = match &declared.remote {
            Some(_) => Some(courier(manifest, declared, session)?),
            None => None,
        };
        let executor: Box<dyn Executor> = match &declared.kind {
            ExecutorKind::Slurm(settings) => {
                let (executor, said) = SlurmExecutor::start(
                    name,
                    settings,
                    &slurm_dir,
                    courier,
                    session.interrupt.clone(),
                );
                notes.extend(said);
                Box::new(executor)
            }
            #[cfg(feature = "remote-http")]
            ExecutorKind::Ray(settings) => {
                let courier = courier.ok_or_else(|| {
                    Error::BadArgument(format!("executor `{name}` names no remote"))
                })?;
                let executor =
                    RayExecutor::start(name, settings, courier, session.interrupt.clone())
                        .map_err(Error::BadArgument)?;
                Box::new(executor)
            }
            #[cfg(not(feature = "remote-http"))]
            ExecutorKind::Ray(_) => {
                return Err(Error::BadArgument(format!(
                    "executor `{name}`: this zenbuild was built without Ray (cargo feature remote-http)"
                )));
            }
            ExecutorKind::Local => continue,
        };
        started.push((name.clone(), executor));
    }
    Ok(started)
}

/// The courier of an executor whose machines do not see the workspace: its remote, opened
/// as this machine configures it. The remote must be both read (the outputs come back
/// through it) and written (the inputs go out through it) here.
fn courier(
    manifest: &Manifest,
    declared: &ExecutorDecl,
    session: &Session,
) -> Result<Courier, Error> {
    let name = &declared.name.value;
    let Some(remote_name) = &declared.remote else {
        return Err(Error::BadArgument(format!(
            "executor `{name}` names no remote"
        )));
    };
    // Compiling checked that the name is declared.
    let Some(remote) = manifest
        .remotes
        .iter()
        .find(|r| r.name.value == remote_name.value)
    else {
        return Err(Error::BadArgument(format!(
            "executor `{name}`: remote `{}` is not declared",
            remote_name.value
        )));
    };
    let config = configured(remote);
    if !(config.read && config.write) {
        return Err(Error::BadArgument(format!(
            "executor `{name}` moves each action through remote `{}`, which this machine {} \
             (`read=`, `write=` or {}_READ/_WRITE): it must both upload the inputs and read the results",
            config.name,
            if config.read {
                "does not write"
            } else {
                "does not read"
            },
            crate::remote::env_prefix(&config.name),
        )));
    }
    Courier::open(&config, session.store.clone(), session.stat_cache.clone())
        .map_err(|e| Error::BadArgument(format!("executor `{name}`: {e}")))
}
