//! Expands steps into actions: templates merged, matrices multiplied out, `{{…}}` resolved,
//! paths checked. [`super::link`] then connects the actions through their artifacts.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Deref;
use std::path::Path;

use super::action::{Action, ActionId, ExecutorId, Resources, instance_name};
use super::action_limit::ActionBudget;
use super::artifact::ArtifactKind;
use super::link::{Linker, PathUse};
use super::{Graph, PipelineInfo, StepInfo};
use crate::manifest::executor::LOCAL;
use crate::manifest::interpolate::{Vars, interpolate};
use crate::manifest::model::{ExecutorDecl, ExecutorKind, MatrixAxis, Step, StepBody};
use crate::manifest::path_chars::control_character;
use crate::manifest::source::FileId;
use crate::manifest::template::resolve_templates;
use crate::manifest::template_user::TemplateUsers;
use crate::manifest::{Diag, Manifest, ManifestError, MatrixValue, Span, Spanned};
use crate::workspace::{RelPath, SymlinkGuard, state_dir};

/// Compiles a loaded manifest whose workspace root is `root` into the action graph.
/// `diags` are the problems loading found; every problem is reported together.
pub fn compile(
    manifest: &Manifest,
    root: &Path,
    mut diags: Vec<Diag>,
) -> Result<Graph, ManifestError> {
    let templates = resolve_templates(manifest, &mut diags);
    let project = manifest.project.as_ref().map_or_else(
        || {
            root.file_name().map_or_else(
                || "workspace".to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        },
        |p| p.value.clone(),
    );
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut expander = Expander {
        manifest,
        project: &project,
        symlinks: SymlinkGuard::new(&canonical_root),
        diags: &mut diags,
        actions: Vec::new(),
        uses: Vec::new(),
        needs: Vec::new(),
    };
    // Every step is counted before any is expanded, so that a manifest over the limit is
    // refused without first building the actions that fit.
    let mut budget = ActionBudget::default();
    let bodies: Vec<Option<Settings>> = manifest
        .steps
        .iter()
        .map(|step| {
            let body = step_body(step, manifest, &templates, expander.diags)?;
            match budget.admit(step, &body.matrix) {
                Ok(()) => Some(body),
                Err(refused) => {
                    expander.diags.extend(refused);
                    None
                }
            }
        })
        .collect();
    if !budget.exhausted() {
        expander.actions.reserve_exact(budget.planned());
    }
    let mut steps = Vec::with_capacity(manifest.steps.len());
    let mut template_users = TemplateUsers::default();
    for (step, body) in manifest.steps.iter().zip(bodies) {
        let first = expander.actions.len();
        if let (Some(body), false) = (body, budget.exhausted()) {
            let before = expander.diags.len();
            expander.expand(step, &body);
            template_users.name_the_step(expander.diags, before, step, manifest);
        }
        // One for each of the manifest's steps, in its order, even one that made no action:
        // the manifest's step index is the index of these too.
        steps.push(StepInfo {
            name: step.name.value.clone(),
            actions: (first..expander.actions.len()).map(ActionId).collect(),
        });
    }
    let Expander {
        actions,
        mut uses,
        needs,
        ..
    } = expander;
    // Linking is when compiling holds the most; the room the list grew into goes first.
    uses.shrink_to_fit();
    let pipelines = check_pipelines(manifest, &mut diags);
    check_executor_remotes(manifest, &mut diags);
    let mut linker = Linker::new(&canonical_root, actions);
    linker.link(&steps, &manifest.step_index, &uses, needs, &mut diags);
    // Freed before the graph's indexes are built beside everything else.
    drop(uses);
    if diags.is_empty() {
        linker.check_cycles(&mut diags);
    }
    if !diags.is_empty() {
        dedup(&mut diags);
        return Err(ManifestError::new(&diags, &manifest.sources));
    }
    let default_pipeline = manifest
        .pipelines
        .iter()
        .position(|p| p.default.as_ref().is_some_and(|d| d.value))
        .or_else(|| (!manifest.pipelines.is_empty()).then_some(0));
    // Copying the manifest's index hashes nothing again, unlike building one from the names.
    let step_index = manifest.step_index.clone();
    Ok(linker.finish(
        project,
        steps,
        step_index,
        pipelines,
        default_pipeline,
        executors(manifest),
    ))
}

/// The built-in `local`, then the manifest's executors in their order: the indexes
/// [`ExecutorId`] counts.
fn executors(manifest: &Manifest) -> Vec<ExecutorDecl> {
    let local = ExecutorDecl {
        // Written nowhere: an empty span at the start of the root manifest.
        name: Spanned::new(
            LOCAL.to_string(),
            Span {
                file: FileId::ROOT,
                offset: 0,
                len: 0,
            },
        ),
        kind: ExecutorKind::Local,
        remote: None,
    };
    std::iter::once(local)
        .chain(manifest.executors.iter().cloned())
        .collect()
}

/// `unknown-remote` for an executor whose `remote=` names no declared remote.
fn check_executor_remotes(manifest: &Manifest, diags: &mut Vec<Diag>) {
    for executor in &manifest.executors {
        let Some(remote) = &executor.remote else {
            continue;
        };
        if manifest
            .remotes
            .iter()
            .any(|r| r.name.value == remote.value)
        {
            continue;
        }
        let declared = manifest.remotes.iter().map(|r| r.name.value.as_str());
        let diag = Diag::new(
            "unknown-remote",
            format!("remote `{}` is not declared", remote.value),
        )
        .label(remote.span, "no remote of this name")
        .suggest(&remote.value, declared);
        let diag = if diag.help.is_some() {
            diag
        } else {
            diag.help(format!(
                "declare it at the top level, for example `remote \"{}\" url=\"s3://bucket/zenbuild\"`",
                remote.value
            ))
        };
        diags.push(diag);
    }
}

/// A step's settings as it is expanded: its own, or merged with its template chain. Every
/// step's are held at once (all are counted before any is expanded), so a step's own are
/// borrowed and merged ones boxed: a pointer each, not a copy of every step.
enum Settings<'m> {
    Own(&'m StepBody),
    Merged(Box<StepBody>),
}

impl Deref for Settings<'_> {
    type Target = StepBody;

    fn deref(&self) -> &StepBody {
        match self {
            Settings::Own(body) => body,
            Settings::Merged(body) => body,
        }
    }
}

/// The step's settings with its template chain merged in, or `None` after reporting why not.
fn step_body<'m>(
    step: &'m Step,
    manifest: &Manifest,
    templates: &HashMap<String, StepBody>,
    diags: &mut Vec<Diag>,
) -> Option<Settings<'m>> {
    let body = match &step.template {
        None => Settings::Own(&step.body),
        Some(name) => match templates.get(&name.value) {
            Some(parent) => Settings::Merged(Box::new(step.body.inherit(parent))),
            // A template that exists but failed to resolve has been reported already.
            None if manifest
                .templates
                .iter()
                .any(|t| t.name.value == name.value) =>
            {
                return None;
            }
            None => {
                diags.push(
                    Diag::new(
                        "unknown-template",
                        format!("template `{}` is not defined", name.value),
                    )
                    .label(name.span, "no template of this name")
                    .suggest(
                        &name.value,
                        manifest.templates.iter().map(|t| t.name.value.as_str()),
                    ),
                );
                return None;
            }
        },
    };
    if body.cmd.is_none() {
        let mut diag = Diag::new(
            "missing-cmd",
            format!("step `{}` has no `cmd`", step.name.value),
        )
        .label(step.name.span, "this step has nothing to run");
        diag = match &step.template {
            Some(template) => diag.help(format!(
                "add `cmd \"…\"` to the step or to template `{}`",
                template.value
            )),
            None => diag.help("add `cmd \"…\"`: the shell command this step runs"),
        };
        diags.push(diag);
        return None;
    }
    Some(body)
}

struct Expander<'a> {
    manifest: &'a Manifest,
    project: &'a str,
    /// Remembers which path prefixes were looked at, so each is looked at once.
    symlinks: SymlinkGuard<'a>,
    diags: &'a mut Vec<Diag>,
    actions: Vec<Action>,
    /// Every input and output path of every action, for the linker.
    uses: Vec<PathUse>,
    /// `needs` of every action: (action, step name as written).
    needs: Vec<(ActionId, Spanned<String>)>,
}

impl Expander<'_> {
    fn expand(&mut self, step: &Step, body: &StepBody) {
        let params = self.declared_params(body);
        for need in &body.needs.items {
            if !self.manifest.step_index.contains_key(&need.value) {
                self.diags.push(
                    Diag::new(
                        "unknown-step",
                        format!("step `{}` is not defined", need.value),
                    )
                    .label(need.span, "no step of this name")
                    .suggest(
                        &need.value,
                        self.manifest.steps.iter().map(|s| s.name.value.as_str()),
                    ),
                );
            }
        }
        let executor = body.executor.as_ref().and_then(|name| self.executor(name));
        let resources = Resources {
            cpus: body.resources.cpus.as_ref().map_or(1, |c| c.value),
            memory: body.resources.memory.as_ref().map(|m| m.value),
            gpus: body.resources.gpus.as_ref().map_or(0, |g| g.value),
        };
        for matrix in combinations(&body.matrix) {
            let id = ActionId(self.actions.len());
            let vars = Vars {
                matrix: &matrix,
                params: &self.manifest.params,
                step: &step.name.value,
                project: self.project,
            };
            // A failed substitution is reported and left empty: the action is still made, so
            // that its paths are checked too and one run reports every problem.
            let cmd = body
                .cmd
                .as_ref()
                .and_then(|cmd| self.interpolate(cmd, &vars))
                .map(Cow::into_owned)
                .unwrap_or_default();
            let workdir = body
                .workdir
                .as_ref()
                .and_then(|dir| {
                    let text = self.interpolate(dir, &vars)?;
                    self.path(dir, &text, "workdir", true).map(|(path, _)| path)
                })
                .unwrap_or_else(RelPath::root);
            let env = body
                .env
                .iter()
                .filter_map(|var| {
                    let value = self.interpolate(&var.value, &vars)?;
                    Some((var.name.value.clone(), value.into_owned()))
                })
                .collect();
            for (list, role) in [
                (&body.inputs, Role::Input),
                (&body.outputs, Role::Output),
                (&body.metrics, Role::Metrics),
            ] {
                for item in &list.items {
                    self.add_path(id, item, &vars, role);
                }
            }
            for need in &body.needs.items {
                self.needs.push((id, need.clone()));
            }
            self.actions.push(Action {
                name: instance_name(&step.name.value, &matrix),
                step: step.name.value.clone(),
                matrix,
                description: body.description.as_ref().map(|d| d.value.clone()),
                cmd,
                inputs: Vec::new(),
                outputs: Vec::new(),
                metrics: Vec::new(),
                params: params.clone(),
                env,
                workdir,
                resources,
                timeout: body.timeout.as_ref().map(|t| t.value),
                retries: body.retries.as_ref().map_or(0, |r| r.value),
                cache: body.cache.as_ref().is_none_or(|c| c.value),
                executor,
                deps: Vec::new(),
                span: step.name.span,
            });
        }
    }

    /// The executor a step names, reporting a name the manifest does not declare.
    fn executor(&mut self, name: &Spanned<String>) -> Option<ExecutorId> {
        if name.value == LOCAL {
            return Some(ExecutorId::LOCAL);
        }
        if let Some(index) = self
            .manifest
            .executors
            .iter()
            .position(|e| e.name.value == name.value)
        {
            // `local` is first; an executor past u16 cannot be declared in a manifest that
            // loads (each takes a line), so the conversion only guards the type.
            return u16::try_from(index + 1).ok().map(ExecutorId);
        }
        let declared = std::iter::once(LOCAL).chain(
            self.manifest
                .executors
                .iter()
                .map(|e| e.name.value.as_str()),
        );
        let diag = Diag::new(
            "unknown-executor",
            format!("executor `{}` is not declared", name.value),
        )
        .label(name.span, "no executor of this name")
        .suggest(&name.value, declared);
        let diag = if diag.help.is_some() {
            diag
        } else {
            diag.help(format!(
                "declare it at the top level, for example `executor \"{}\" type=\"slurm\" partition=\"gpu\"`",
                name.value
            ))
        };
        self.diags.push(diag);
        None
    }

    /// The values of the params the step lists, reporting keys the params files lack.
    fn declared_params(&mut self, body: &StepBody) -> BTreeMap<String, serde_json::Value> {
        let mut params = BTreeMap::new();
        for key in &body.params.items {
            if let Some(value) = self.manifest.params.get(&key.value) {
                params.insert(key.value.clone(), value.clone());
            } else {
                let keys = self.manifest.params.keys();
                let diag = Diag::new(
                    "undefined-param",
                    format!("param `{}` is not defined in the params files", key.value),
                )
                .label(key.span, "no such param")
                .suggest(&key.value, keys.iter().map(String::as_str));
                let diag = match (&diag.help, self.manifest.params_files.is_empty()) {
                    (None, true) => {
                        diag.help("declare the file that defines it: `params \"params.yaml\"`")
                    }
                    _ => diag,
                };
                self.diags.push(diag);
            }
        }
        params
    }

    fn interpolate<'t>(&mut self, text: &'t Spanned<String>, vars: &Vars) -> Option<Cow<'t, str>> {
        interpolate(text, vars, &self.manifest.sources)
            .map_err(|diag| self.diags.push(diag))
            .ok()
    }

    fn add_path(&mut self, action: ActionId, item: &Spanned<String>, vars: &Vars, role: Role) {
        let Some(text) = self.interpolate(item, vars) else {
            return;
        };
        let is_glob = text.contains(['*', '?', '[', '{']);
        if is_glob && role != Role::Input {
            self.diags.push(
                Diag::new("glob-output", format!("{} cannot be a glob", role.plural()))
                    .label(
                        item.span,
                        "zenbuild must know each output's path before the step runs",
                    )
                    .help("declare the directory the step writes into, with a trailing `/`"),
            );
            return;
        }
        let Some((path, kind)) = self.path(item, &text, role.plural(), role == Role::Input) else {
            return;
        };
        if path.is_root() {
            self.diags.push(
                Diag::new(
                    "path-is-root",
                    format!("the workspace root cannot be one of the {}", role.plural()),
                )
                .label(item.span, "names the whole workspace"),
            );
            return;
        }
        if role != Role::Input && matches!(path.first_component(), state_dir::NAME | ".git") {
            self.diags.push(
                Diag::new(
                    "reserved-output",
                    format!("`{}` belongs to {}", text, path.first_component()),
                )
                .label(item.span, "steps cannot write here"),
            );
            return;
        }
        self.uses.push(PathUse {
            action,
            path,
            kind,
            glob: is_glob.then(|| text.into_owned()),
            output: role != Role::Input,
            metrics: role == Role::Metrics,
            span: item.span,
        });
    }

    /// Parses and checks a written path; a trailing `/` marks a directory. `whole` checks the
    /// last component for a symlink leading out too (paths that are read).
    fn path(
        &mut self,
        item: &Spanned<String>,
        text: &str,
        what: &str,
        whole: bool,
    ) -> Option<(RelPath, ArtifactKind)> {
        if let Some(character) = control_character(text) {
            self.diags.push(
                Diag::new(
                    "bad-path-character",
                    format!("`{}` contains {character}", text.escape_debug()),
                )
                .label(item.span, format!("in {what}"))
                .help("paths cannot hold NUL, newlines or other control characters"),
            );
            return None;
        }
        let kind = if text.ends_with('/') {
            ArtifactKind::Dir
        } else {
            ArtifactKind::File
        };
        let checked = RelPath::parse(text).and_then(|path| {
            // What a step reads must not lead out, its last component included; what it
            // writes is removed and replaced, so only the directories above it matter.
            if whole {
                self.symlinks.check(&path)?;
            } else {
                self.symlinks.check_parents(&path)?;
            }
            Ok(path)
        });
        match checked {
            Ok(path) => Some((path, kind)),
            Err(problem) => {
                self.diags.push(
                    Diag::new("path-escapes-workspace", format!("`{text}` {problem}"))
                        .label(item.span, format!("in {what}"))
                        .help("every path in zenbuild.kdl is relative to the directory holding it and must stay inside it"),
                );
                None
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Input,
    Output,
    Metrics,
}

impl Role {
    fn plural(self) -> &'static str {
        match self {
            Role::Input => "inputs",
            Role::Output => "outputs",
            Role::Metrics => "metrics",
        }
    }
}

/// Every combination of matrix values, the first variable varying slowest; one empty
/// combination for a step without a matrix.
fn combinations(axes: &[MatrixAxis]) -> Vec<Vec<(String, MatrixValue)>> {
    let mut combos: Vec<Vec<(String, MatrixValue)>> = vec![Vec::new()];
    for axis in axes {
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                axis.values.iter().map(move |value| {
                    let mut next = combo.clone();
                    next.push((axis.name.value.clone(), value.value.clone()));
                    next
                })
            })
            .collect();
    }
    combos
}

/// Pipelines name steps that exist; returns them with the names resolved.
fn check_pipelines(manifest: &Manifest, diags: &mut Vec<Diag>) -> Vec<PipelineInfo> {
    let names = &manifest.step_index;
    manifest
        .pipelines
        .iter()
        .map(|pipeline| {
            let mut steps: Vec<String> = Vec::with_capacity(pipeline.members.len());
            let mut seen: HashSet<&str> = HashSet::with_capacity(pipeline.members.len());
            for member in &pipeline.members {
                if !names.contains_key(&member.value) {
                    diags.push(
                        Diag::new(
                            "unknown-step",
                            format!("step `{}` is not defined", member.value),
                        )
                        .label(member.span, "no step of this name")
                        .suggest(&member.value, names.keys().map(String::as_str)),
                    );
                } else if seen.insert(&member.value) {
                    steps.push(member.value.clone());
                }
            }
            PipelineInfo {
                name: pipeline.name.value.clone(),
                description: pipeline.description.as_ref().map(|d| d.value.clone()),
                steps,
                metadata: pipeline.metadata.as_ref().map(|url| url.value.clone()),
            }
        })
        .collect()
}

/// A matrix step repeats the same mistake once per instance; report it once.
fn dedup(diags: &mut Vec<Diag>) {
    let mut seen = HashSet::new();
    diags.retain(|diag| {
        let primary = diag
            .labels
            .first()
            .map(|(span, _)| (span.file, span.offset, span.len));
        seen.insert((diag.code, diag.message.clone(), primary))
    });
}
