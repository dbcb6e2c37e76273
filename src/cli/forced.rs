//! `--force TARGET…` and `--force-all`: which actions of a build run even when cached.

use std::collections::HashSet;

use clap::Args;

use super::targets::named;
use crate::error::Error;
use crate::graph::{ActionId, Graph};

#[derive(Debug, Args, Default, Clone)]
pub struct ForceArgs {
    /// Rerun these pipelines, steps or actions even when cached; what their new outputs change
    /// reruns as usual (build targets go before `--force`, or after `--`)
    #[arg(long, value_name = "TARGET", num_args = 1..)]
    pub force: Vec<String>,

    /// Rerun every action of the build, even when cached
    #[arg(long, conflicts_with = "force")]
    pub force_all: bool,
}

impl ForceArgs {
    pub fn any(&self) -> bool {
        self.force_all || !self.force.is_empty()
    }

    /// The actions of `built` that must run whatever the cache holds. A forced target outside
    /// the build is a mistake to point out, not a rerun to skip in silence.
    pub fn resolve(&self, graph: &Graph, built: &[ActionId]) -> Result<HashSet<ActionId>, Error> {
        let built: HashSet<ActionId> = built.iter().copied().collect();
        if self.force_all {
            return Ok(built);
        }
        let mut forced = HashSet::new();
        for target in &self.force {
            let actions = named(graph, std::slice::from_ref(target)).map_err(|e| match e {
                Error::UnknownTarget { message, help } => Error::UnknownTarget {
                    message: format!("`--force {target}`: {message}"),
                    help,
                },
                other => other,
            })?;
            if let Some(&outside) = actions.iter().find(|id| !built.contains(id)) {
                return Err(Error::UnknownTarget {
                    message: format!(
                        "`--force {target}`: `{}` is not part of this build",
                        graph.action(outside).name
                    ),
                    help: Some(format!(
                        "name it as a target too: `zenbuild build {target} --force {target}`"
                    )),
                });
            }
            forced.extend(actions);
        }
        Ok(forced)
    }
}
