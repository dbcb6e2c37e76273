//! Connects actions through the paths they read and write: an input that is (or lies inside,
//! or contains) another action's output makes that action a dependency.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use super::action::{Action, ActionId};
use super::artifact::{Artifact, ArtifactId, ArtifactKind};
use super::cycle::find_cycles;
use super::globs;
use super::path_index::PathIndex;
use super::{Graph, PipelineInfo, StepInfo};
use crate::manifest::model::ExecutorDecl;
use crate::manifest::{Diag, Span, Spanned};
use crate::workspace::RelPath;

/// One path an action reads or writes, as declared.
pub struct PathUse {
    pub action: ActionId,
    pub path: RelPath,
    pub kind: ArtifactKind,
    /// The pattern, for a glob input.
    pub glob: Option<String>,
    pub output: bool,
    pub metrics: bool,
    pub span: Span,
}

#[derive(Clone, Copy)]
struct Produced {
    action: ActionId,
    artifact: ArtifactId,
    span: Span,
}

pub struct Linker<'a> {
    root: &'a Path,
    actions: Vec<Action>,
    artifacts: Vec<Artifact>,
    by_path: PathIndex,
    /// Output paths. Hashed rather than ordered: looking up every input of 100,000 steps in an
    /// ordered map was a tenth of compiling them, in string comparisons of long common
    /// prefixes.
    produced: HashMap<String, Produced>,
    /// The output paths in order, so that everything under a directory is one range: made
    /// once every output is known, when the first directory input asks.
    ordered: Option<Vec<(String, Produced)>>,
    source_files: Option<Vec<String>>,
    /// Every glob that compiled, for [`globs::Expansion`].
    glob_patterns: Vec<String>,
    /// Output declarations already reported for clashing between instances of one step.
    matrix_clashes: HashSet<Span>,
}

impl<'a> Linker<'a> {
    pub fn new(root: &'a Path, actions: Vec<Action>) -> Linker<'a> {
        Linker {
            root,
            actions,
            artifacts: Vec::new(),
            by_path: PathIndex::default(),
            produced: HashMap::new(),
            ordered: None,
            source_files: None,
            glob_patterns: Vec::new(),
            matrix_clashes: HashSet::new(),
        }
    }

    /// Links the actions of `steps` (found by name through `step_index`) through the paths
    /// they use and the steps they need.
    pub fn link(
        &mut self,
        steps: &[StepInfo],
        step_index: &HashMap<String, usize>,
        uses: &[PathUse],
        needs: Vec<(ActionId, Spanned<String>)>,
        diags: &mut Vec<Diag>,
    ) {
        // At most an artifact a use: reserved at once, rather than doubled into while the
        // rest of linking holds its most.
        self.artifacts.reserve(uses.len());
        // Every output is known before any input is looked up.
        for output in uses.iter().filter(|u| u.output) {
            self.add_output(output, diags);
        }
        self.check_nested_outputs(diags);
        for input in uses.iter().filter(|u| !u.output) {
            match &input.glob {
                Some(pattern) => self.add_glob(input, pattern, diags),
                None => self.add_input(input.action, &input.path, input.kind, input.span, diags),
            }
        }
        for (action, need) in needs {
            let Some(needed) = step_index
                .get(&need.value)
                .and_then(|&index| steps.get(index))
            else {
                continue;
            };
            for &dep in &needed.actions {
                let outputs = self.actions[dep.0].outputs.clone();
                for artifact in outputs {
                    self.artifacts[artifact.0].consumers.push(action);
                    self.actions[action.0].inputs.push(artifact);
                }
                self.actions[action.0].deps.push(dep);
            }
        }
        for action in &mut self.actions {
            action
                .inputs
                .sort_by(|a, b| self.artifacts[a.0].path.cmp(&self.artifacts[b.0].path));
            action.inputs.dedup();
            action.deps.sort();
            action.deps.dedup();
        }
        for artifact in &mut self.artifacts {
            artifact.consumers.sort();
            artifact.consumers.dedup();
        }
    }

    pub fn check_cycles(&self, diags: &mut Vec<Diag>) {
        diags.extend(find_cycles(&self.actions));
    }

    fn artifact(&mut self, path: &RelPath, kind: ArtifactKind) -> ArtifactId {
        self.by_path.artifact(&mut self.artifacts, path, kind)
    }

    fn add_output(&mut self, output: &PathUse, diags: &mut Vec<Diag>) {
        if let Some(existing) = self.produced.get(output.path.as_str()) {
            if existing.action == output.action {
                // The same path in `outputs` and `metrics`: it is still a metrics file.
                let artifact = existing.artifact;
                let action = &mut self.actions[output.action.0];
                if output.metrics && !action.metrics.contains(&artifact) {
                    action.metrics.push(artifact);
                }
                return;
            }
            // Every instance of a matrix step clashes with the first one; one report is enough.
            let same_step =
                self.actions[existing.action.0].step == self.actions[output.action.0].step;
            if !same_step || self.matrix_clashes.insert(output.span) {
                diags.push(two_producers(
                    &self.actions,
                    &output.path,
                    existing.action,
                    existing.span,
                    output,
                ));
            }
            return;
        }
        let artifact = self.artifact(&output.path, output.kind);
        self.artifacts[artifact.0].producer = Some(output.action);
        let action = &mut self.actions[output.action.0];
        action.outputs.push(artifact);
        if output.metrics {
            action.metrics.push(artifact);
        }
        self.produced.insert(
            output.path.as_str().to_string(),
            Produced {
                action: output.action,
                artifact,
                span: output.span,
            },
        );
    }

    /// An output inside another action's output directory would have two writers. Reported in
    /// the order of the paths, as a reader of the manifest would list them.
    fn check_nested_outputs(&self, diags: &mut Vec<Diag>) {
        let mut nested: Vec<(&str, &Produced)> = self
            .produced
            .iter()
            .filter(|(path, _)| {
                RelPath::parse(path)
                    .is_ok_and(|path| path.ancestors().any(|a| self.produced.contains_key(a)))
            })
            .map(|(path, inner)| (path.as_str(), inner))
            .collect();
        nested.sort_unstable_by_key(|(path, _)| *path);
        for (path, inner) in nested {
            let path = RelPath::parse(path).unwrap_or_else(|_| RelPath::root());
            for ancestor in path.ancestors() {
                let Some(outer) = self.produced.get(ancestor) else {
                    continue;
                };
                if outer.action == inner.action {
                    continue;
                }
                let outer_name = &self.actions[outer.action.0].name;
                let inner_name = &self.actions[inner.action.0].name;
                diags.push(
                    Diag::new(
                        "output-conflict",
                        format!("`{path}` is an output of `{inner_name}` but lies inside `{ancestor}/`, an output of `{outer_name}`"),
                    )
                    .label(inner.span, format!("written by `{inner_name}`"))
                    .label(outer.span, format!("the whole directory is written by `{outer_name}`"))
                    .help("each path has one producer; give one of the steps a separate directory"),
                );
            }
        }
    }

    fn add_glob(&mut self, input: &PathUse, pattern: &str, diags: &mut Vec<Diag>) {
        let matcher = match globs::matcher(pattern) {
            Ok(matcher) => matcher,
            Err(err) => {
                diags.push(
                    Diag::new(
                        "bad-glob",
                        format!("`{pattern}` is not a valid glob: {}", err.kind()),
                    )
                    .label(input.span, "invalid pattern"),
                );
                return;
            }
        };
        self.glob_patterns.push(pattern.to_string());
        let root = self.root;
        let files = self
            .source_files
            .get_or_insert_with(|| globs::source_files(root));
        let mut matches: BTreeMap<String, ArtifactKind> = files
            .iter()
            .filter(|file| matcher.is_match(file.as_str()))
            .map(|file| (file.clone(), ArtifactKind::File))
            .collect();
        for (path, produced) in &self.produced {
            if matcher.is_match(path.as_str()) {
                matches.insert(path.clone(), self.artifacts[produced.artifact.0].kind);
            }
        }
        if matches.is_empty() {
            diags.push(
                Diag::new("glob-matches-nothing", format!("`{pattern}` matches no files"))
                    .label(input.span, "no source file or step output matches")
                    .help("globs match files in the repository that git does not ignore, and the outputs other steps declare"),
            );
            return;
        }
        for (path, kind) in matches {
            if let Ok(path) = RelPath::parse(&path) {
                self.add_input(input.action, &path, kind, input.span, diags);
            }
        }
    }

    fn add_input(
        &mut self,
        action: ActionId,
        path: &RelPath,
        kind: ArtifactKind,
        span: Span,
        diags: &mut Vec<Diag>,
    ) {
        let mut producers: Vec<(ActionId, Span)> = Vec::new();
        let mut contained_in: Option<ActionId> = None;
        if let Some(exact) = self.produced.get(path.as_str()) {
            let declared = self.artifacts[exact.artifact.0].kind;
            if declared != kind {
                diags.push(kind_mismatch(
                    &self.actions[exact.action.0].name,
                    path,
                    declared,
                    span,
                    exact.span,
                ));
                return;
            }
            producers.push((exact.action, exact.span));
            contained_in = Some(exact.action);
        }
        for ancestor in path.ancestors() {
            if let Some(outer) = self.produced.get(ancestor) {
                producers.push((outer.action, outer.span));
                contained_in = Some(outer.action);
            }
        }
        if kind == ArtifactKind::Dir {
            let prefix = format!("{}/", path.as_str());
            let produced = &self.produced;
            let ordered = self.ordered.get_or_insert_with(|| {
                let mut ordered: Vec<(String, Produced)> = produced
                    .iter()
                    .map(|(path, produced)| (path.clone(), *produced))
                    .collect();
                ordered.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                ordered
            });
            let start = ordered.partition_point(|(p, _)| *p < prefix);
            for (_, inner) in ordered[start..]
                .iter()
                .take_while(|(p, _)| p.starts_with(&prefix))
            {
                producers.push((inner.action, inner.span));
            }
        }
        if let Some((_, output_span)) = producers.iter().find(|(producer, _)| *producer == action) {
            let name = &self.actions[action.0].name;
            diags.push(
                Diag::new(
                    "input-is-output",
                    format!("`{path}` is both an input and an output of `{name}`"),
                )
                .label(span, "read here")
                .label(*output_span, "written here")
                .help("a step cannot read what it writes; write the result to a new path"),
            );
            return;
        }
        let artifact = self.artifact(path, kind);
        if self.artifacts[artifact.0].producer.is_none() {
            self.artifacts[artifact.0].producer = contained_in;
        }
        self.artifacts[artifact.0].consumers.push(action);
        let action = &mut self.actions[action.0];
        action.inputs.push(artifact);
        action
            .deps
            .extend(producers.into_iter().map(|(producer, _)| producer));
    }

    pub fn finish(
        self,
        project: String,
        steps: Vec<StepInfo>,
        step_index: HashMap<String, usize>,
        pipelines: Vec<PipelineInfo>,
        default_pipeline: Option<usize>,
        executors: Vec<ExecutorDecl>,
    ) -> Graph {
        let action_index = self
            .actions
            .iter()
            .enumerate()
            .map(|(index, action)| (action.name.clone(), ActionId(index)))
            .collect();
        Graph {
            root: self.root.to_path_buf(),
            step_index,
            action_index,
            project,
            actions: self.actions,
            artifacts: self.artifacts,
            steps,
            pipelines,
            default_pipeline,
            globs: self
                .source_files
                .map(|files| globs::Expansion::new(self.glob_patterns, &files)),
            executors,
        }
    }
}

fn two_producers(
    actions: &[Action],
    path: &RelPath,
    first: ActionId,
    first_span: Span,
    second: &PathUse,
) -> Diag {
    let first_name = &actions[first.0].name;
    let second_name = &actions[second.action.0].name;
    let diag = Diag::new(
        "output-conflict",
        format!("`{path}` is an output of both `{first_name}` and `{second_name}`"),
    )
    .label(second.span, format!("written by `{second_name}`"))
    .label(first_span, format!("also written by `{first_name}`"));
    if actions[first.0].step == actions[second.action.0].step {
        let variables: Vec<String> = actions[first.0]
            .matrix
            .iter()
            .map(|(name, _)| format!("{{{{{name}}}}}"))
            .collect();
        diag.help(format!(
            "every matrix instance writes this path; put the matrix variables in it, e.g. {}",
            variables.join(", ")
        ))
    } else {
        diag.help("each path has exactly one producer; rename one of the outputs")
    }
}

fn kind_mismatch(
    producer: &str,
    path: &RelPath,
    declared: ArtifactKind,
    span: Span,
    output_span: Span,
) -> Diag {
    let (declared_as, fix) = match declared {
        ArtifactKind::Dir => (
            "a directory",
            format!("write `{path}/` to read the directory"),
        ),
        ArtifactKind::File => ("a file", format!("write `{path}` without the trailing `/`")),
    };
    Diag::new(
        "kind-mismatch",
        format!("`{producer}` declares `{path}` as {declared_as}"),
    )
    .label(span, "read with the other kind here")
    .label(output_span, format!("declared as {declared_as} here"))
    .help(fix)
}
