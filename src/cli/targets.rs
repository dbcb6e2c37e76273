//! Command-line targets: a pipeline, a step (all its instances) or one action instance.

use crate::error::Error;
use crate::graph::{ActionId, Graph};
use crate::manifest::diagnostic::did_you_mean;

/// The actions the targets name, with everything they depend on; every action when `targets`
/// is empty.
pub fn select(graph: &Graph, targets: &[String]) -> Result<Vec<ActionId>, Error> {
    if targets.is_empty() {
        return Ok(graph.topological_order());
    }
    Ok(graph.closure(&named(graph, targets)?))
}

/// The actions the targets name themselves, without what they depend on: a pipeline's steps'
/// instances, a step's instances, an action.
pub fn named(graph: &Graph, targets: &[String]) -> Result<Vec<ActionId>, Error> {
    let mut roots = Vec::new();
    for target in targets {
        if let Some(pipeline) = graph.pipeline(target) {
            let steps = pipeline.steps.iter().filter_map(|name| graph.step(name));
            roots.extend(steps.flat_map(|step| step.actions.iter().copied()));
        } else if let Some(step) = graph.step(target) {
            roots.extend(step.actions.iter().copied());
        } else if let Some(action) = graph.action_by_name(target) {
            roots.push(action);
        } else {
            let names = graph
                .pipelines
                .iter()
                .map(|p| p.name.as_str())
                .chain(graph.steps.iter().map(|s| s.name.as_str()))
                .chain(graph.actions.iter().map(|a| a.name.as_str()));
            return Err(Error::UnknownTarget {
                message: format!("`{target}` is not a pipeline, step or action in this manifest"),
                help: did_you_mean(target, names)
                    .map(|name| format!("did you mean `{name}`?"))
                    .or_else(|| Some("`zenbuild list` shows the pipelines and steps".into())),
            });
        }
    }
    Ok(roots)
}

/// The actions to build: as [`select`] for named targets; with none, the default pipeline,
/// or every action when the manifest has no pipeline.
pub fn select_or_default(graph: &Graph, targets: &[String]) -> Result<Vec<ActionId>, Error> {
    if !targets.is_empty() {
        return select(graph, targets);
    }
    Ok(match graph.default_pipeline() {
        Some(pipeline) => graph.pipeline_actions(pipeline),
        None => graph.topological_order(),
    })
}

/// `zenbuild run NAME` takes a pipeline, not a step or an action.
pub fn require_pipeline(graph: &Graph, name: &str) -> Result<(), Error> {
    if graph.pipeline(name).is_some() {
        return Ok(());
    }
    let names = graph.pipelines.iter().map(|p| p.name.as_str());
    Err(Error::UnknownTarget {
        message: format!("`{name}` is not a pipeline in this manifest"),
        help: did_you_mean(name, names)
            .map(|close| format!("did you mean `{close}`?"))
            .or_else(|| {
                Some(
                    "`zenbuild list` shows the pipelines; `zenbuild build TARGET` builds a step"
                        .into(),
                )
            }),
    })
}
