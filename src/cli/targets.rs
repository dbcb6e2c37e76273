//! Command-line targets: a pipeline, a step (all its instances) or one action instance.

use super::path_arg::workspace_path;
use crate::error::Error;
use crate::graph::{ActionId, ArtifactKind, Graph};
use crate::manifest::diagnostic::did_you_mean;
use crate::workspace::RelPath;

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
        } else if let Some(writer) = writer_of_path(graph, target)? {
            roots.push(writer);
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

/// The targets with each path replaced by the name of the action that writes it (or the
/// output directory holding it), for commands that treat the named actions apart from
/// their dependencies.
pub fn names(graph: &Graph, targets: &[String]) -> Result<Vec<String>, Error> {
    targets
        .iter()
        .map(|target| {
            let is_name = graph.pipeline(target).is_some()
                || graph.step(target).is_some()
                || graph.action_by_name(target).is_some();
            if is_name {
                return Ok(target.clone());
            }
            Ok(match writer_of_path(graph, target)? {
                Some(writer) => graph.action(writer).name.clone(),
                None => target.clone(),
            })
        })
        .collect()
}

/// For a target that is a path (it has a `/` or names something on disk), the action that
/// writes it; `None` for a target that is no path, which is then an unknown name.
fn writer_of_path(graph: &Graph, target: &str) -> Result<Option<ActionId>, Error> {
    let resolved = workspace_path(&graph.root, target);
    let on_disk = resolved
        .as_ref()
        .is_ok_and(|path| graph.root.join(path).exists());
    if !target.contains('/') && !on_disk {
        return Ok(None);
    }
    let path = resolved?;
    let path = RelPath::parse(path.trim_end_matches('/'))
        .map_err(|e| Error::BadArgument(format!("`{target}`: {e}")))?;
    let writer = graph.actions.iter().position(|action| {
        action.outputs.iter().any(|&output| {
            let output = graph.artifact(output);
            output.path == path
                || (output.kind == ArtifactKind::Dir && path.is_within(&output.path))
        })
    });
    if let Some(index) = writer {
        return Ok(Some(ActionId(index)));
    }
    Err(Error::UnknownTarget {
        message: format!("no step writes `{path}`"),
        help: Some(
            "a path target names a step's output or a file inside an output directory; \
             `zenbuild graph` shows which step writes what"
                .into(),
        ),
    })
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

/// The `metadata url=` of the pipeline a build of `targets` goes to, when the pipelines they
/// belong to name one store of their own (see [`Graph::own_store`]); no targets is the
/// default pipeline.
pub fn own_store(graph: &Graph, targets: &[String]) -> Result<Option<String>, Error> {
    if targets.is_empty() {
        return Ok(graph
            .default_pipeline()
            .and_then(|pipeline| pipeline.metadata.clone()));
    }
    let (pipelines, others): (Vec<&String>, Vec<&String>) = targets
        .iter()
        .partition(|target| graph.pipeline(target).is_some());
    let pipelines: Vec<&str> = pipelines.into_iter().map(String::as_str).collect();
    let others: Vec<String> = others.into_iter().cloned().collect();
    let actions = named(graph, &others)?;
    Ok(graph.own_store(&pipelines, &actions).map(str::to_string))
}

/// `zenbuild run NAME` takes a pipeline, not a step or an action.
pub fn require_pipeline(graph: &Graph, name: &str) -> Result<(), Error> {
    if graph.pipeline(name).is_some() {
        return Ok(());
    }
    let names = graph.pipelines.iter().map(|p| p.name.as_str());
    Err(unknown_pipeline(
        name,
        names,
        "`zenbuild list` shows the pipelines; `zenbuild build TARGET` builds a step",
    ))
}

/// `name` is none of the manifest's pipelines `names`: the closest one, else `otherwise`.
pub fn unknown_pipeline<'n>(
    name: &str,
    names: impl IntoIterator<Item = &'n str>,
    otherwise: &str,
) -> Error {
    Error::UnknownTarget {
        message: format!("`{name}` is not a pipeline in this manifest"),
        help: did_you_mean(name, names)
            .map(|close| format!("did you mean `{close}`?"))
            .or_else(|| Some(otherwise.to_string())),
    }
}
