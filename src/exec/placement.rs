//! Where a build's steps run: the executor of each (its own `executor "NAME"`, else the
//! build's default), the pool of each executor (this machine's resources, or a cluster's jobs
//! in flight), and the backends the selected steps need, started for the build.

use std::collections::BTreeSet;

use super::build::Builder;
use super::session::Session;
use super::slurm::{DEFAULT_JOBS, SlurmExecutor};
use crate::error::Error;
use crate::graph::{ActionId, ExecutorId, Graph};
use crate::manifest::model::ExecutorKind;
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
            ExecutorKind::Slurm(settings) => settings.jobs.unwrap_or(DEFAULT_JOBS),
            ExecutorKind::Local => 1,
        })
        .collect()
}

/// Starts, by name, the backends of the executors other than `local` that `targets` use,
/// adding what they have to say (jobs a killed build left, cancelled) to `notes`.
pub fn start_executors(
    graph: &Graph,
    targets: &[ActionId],
    builder: &Builder,
    session: &Session,
    notes: &mut Vec<String>,
) -> Vec<(String, SlurmExecutor)> {
    let used: BTreeSet<ExecutorId> = targets
        .iter()
        .map(|&id| builder.executor_of(graph.action(id)))
        .filter(|&executor| executor != ExecutorId::LOCAL)
        .collect();
    let slurm_dir = StateDir::of(&session.root).slurm();
    used.into_iter()
        .filter_map(|id| {
            let declared = graph.executors.get(usize::from(id.0))?;
            match &declared.kind {
                ExecutorKind::Slurm(settings) => {
                    let name = &declared.name.value;
                    let (executor, said) =
                        SlurmExecutor::start(name, settings, &slurm_dir, session.interrupt.clone());
                    notes.extend(said);
                    Some((name.clone(), executor))
                }
                ExecutorKind::Local => None,
            }
        })
        .collect()
}
