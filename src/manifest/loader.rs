//! Reads `zenbuild.kdl` and everything it includes into a typed [`Manifest`].

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};

use super::body::{read_body, set_once};
use super::diagnostic::{Diag, ManifestError};
use super::executor::read_executor;
use super::kdl_parse::Failure;
use super::model::{ExecutorDecl, Manifest, Pipeline, Remote, Step, Template};
use super::nesting::{Hazard, MAX_COMMENT_PIECES, MAX_DEPTH};
use super::node::Cx;
use super::params::{Format, Params};
use super::path_chars::control_character;
use super::source::{FileId, Sources, Span, Spanned};
use super::syntax::Node;
use crate::workspace::{PathProblem, RelPath};

/// Nodes allowed at the top level of a manifest file.
pub const TOP_NODES: &[&str] = &[
    "project", "params", "include", "template", "pipeline", "step", "link", "remote", "executor",
    "metadata",
];
/// Nodes allowed inside a `pipeline` block.
pub const PIPELINE_NODES: &[&str] = &["step", "use", "description", "metadata"];

/// Loads the manifest at `path` (the workspace root is its directory).
///
/// KDL syntax errors stop loading at once. Other problems are returned beside the manifest,
/// which leaves out what was wrong, so that compiling can go on and report its own errors too.
pub fn load(path: &Path) -> Result<(Manifest, Vec<Diag>), ManifestError> {
    let root = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut loader = Loader {
        root,
        sources: Sources::default(),
        diags: Vec::new(),
        syntax_errors: false,
        include_stack: Vec::new(),
        manifest: Parts::default(),
        step_index: HashMap::new(),
    };
    loader.load_file(path, None);
    if loader.syntax_errors || loader.sources.is_empty() {
        return Err(ManifestError::new(&loader.diags, &loader.sources));
    }
    loader.load_params();
    loader.check_pipelines();
    let Loader {
        sources,
        diags,
        manifest,
        step_index,
        ..
    } = loader;
    let manifest = Manifest {
        project: manifest.project,
        link: manifest.link,
        metadata: manifest.metadata,
        params_files: manifest.params_files,
        params: manifest.params,
        templates: manifest.templates,
        pipelines: manifest.pipelines,
        // Compiling holds these beside the graph it builds; the doubling slack goes first.
        steps: shrunk(manifest.steps),
        remotes: manifest.remotes,
        executors: manifest.executors,
        step_index,
        sources,
    };
    Ok((manifest, diags))
}

#[derive(Default)]
struct Parts {
    project: Option<Spanned<String>>,
    link: Option<Spanned<String>>,
    metadata: Option<Spanned<String>>,
    remotes: Vec<Remote>,
    executors: Vec<ExecutorDecl>,
    params_files: Vec<Spanned<String>>,
    params: Params,
    templates: Vec<Template>,
    pipelines: Vec<Pipeline>,
    steps: Vec<Step>,
}

struct Loader {
    root: PathBuf,
    sources: Sources,
    diags: Vec<Diag>,
    /// Whether some file is not valid KDL, which ends loading.
    syntax_errors: bool,
    /// Files being read, outermost first, to name an include cycle.
    include_stack: Vec<(PathBuf, Option<Span>)>,
    manifest: Parts,
    /// Each step's place in the manifest's steps, to find duplicates without a quadratic
    /// search.
    step_index: HashMap<String, usize>,
}

impl Loader {
    fn load_file(&mut self, path: &Path, included_at: Option<Span>) {
        let name = path
            .strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) => {
                self.syntax_errors |= included_at.is_none();
                let message = format!("cannot read `{name}`: {err}");
                let diag = Diag::new("unreadable-file", message);
                self.diags.push(match included_at {
                    Some(span) => diag.label(span, "included here"),
                    None => diag,
                });
                return;
            }
        };
        let file = self.sources.add(path, name, text);
        let text = std::sync::Arc::clone(&self.sources.get(file).text);
        let nodes = match super::kdl_parse::parse(&text) {
            Ok(nodes) => nodes,
            Err(Failure::Hazard(hazard)) => {
                self.syntax_errors = true;
                self.diags.push(hazard_diag(file, &hazard));
                return;
            }
            Err(Failure::Syntax(err)) => {
                self.syntax_errors = true;
                for problem in err.diagnostics {
                    let span = problem.span;
                    if let Some(words) = super::kdl_words::reword(&text, span.offset(), span.len())
                    {
                        let at = Span {
                            file,
                            offset: words.start,
                            len: words.end - words.start,
                        };
                        let diag = Diag::new("kdl-syntax", words.message)
                            .label(at, words.label)
                            .help(words.help);
                        self.diags.push(diag);
                        continue;
                    }
                    let message = problem.message.unwrap_or_else(|| "invalid KDL".into());
                    let label = problem.label.unwrap_or_else(|| "here".into());
                    let mut diag =
                        Diag::new("kdl-syntax", message).label(Span::new(file, span), label);
                    if let Some(help) = problem.help {
                        diag = diag.help(help);
                    }
                    self.diags.push(diag);
                }
                return;
            }
        };
        self.include_stack.push((path.to_path_buf(), included_at));
        // Each node's syntax is dropped once read, so that the tree never stands beside the
        // whole manifest it became.
        for node in nodes {
            self.top_node(file, &text, node);
        }
        self.include_stack.pop();
    }

    fn top_node(&mut self, file: FileId, source: &str, node: Node) {
        let mut cx = Cx {
            file,
            source,
            diags: &mut self.diags,
        };
        match &*node.name.value {
            "project" => {
                cx.check_props(&node, &[]);
                cx.no_children(&node);
                let name = cx.single_string(&node, "a project name");
                set_once(&mut cx, &node, &mut self.manifest.project, name);
            }
            "link" => {
                cx.check_props(&node, &[]);
                cx.no_children(&node);
                let mode = cx
                    .single_string(&node, "a link mode")
                    .and_then(|mode| check_link_mode(&mut cx, mode));
                set_once(&mut cx, &node, &mut self.manifest.link, mode);
            }
            "metadata" => {
                let url = read_metadata_url(&mut cx, &node);
                set_once(&mut cx, &node, &mut self.manifest.metadata, url);
            }
            "remote" => self.remote(file, source, &node),
            "executor" => {
                let Some(name) = read_name(&mut cx, &node, "an executor name") else {
                    return;
                };
                let first = self
                    .manifest
                    .executors
                    .iter()
                    .find(|e| e.name.value == name.value)
                    .map(|e| e.name.span);
                if let Some(first) = first {
                    cx.error(duplicate("executor", &name, first));
                } else if let Some(executor) = read_executor(&mut cx, &node, name) {
                    self.manifest.executors.push(executor);
                }
            }
            "params" => {
                cx.check_props(&node, &[]);
                cx.no_children(&node);
                let files = cx.strings(&node, "a params file path");
                self.manifest.params_files.extend(files);
            }
            "include" => {
                cx.check_props(&node, &[]);
                cx.no_children(&node);
                if let Some(target) = cx.single_string(&node, "a file path") {
                    self.include(file, &target);
                }
            }
            "template" => {
                cx.check_props(&node, &["extends"]);
                let name = read_name(&mut cx, &node, "a template name");
                let extends = node
                    .prop("extends")
                    .and_then(|entry| cx.string(entry, "a template name"));
                let span = cx.span(node.span);
                let body = read_body(&mut cx, node.children);
                if let Some(name) = name {
                    if let Some(first) = self
                        .manifest
                        .templates
                        .iter()
                        .find(|t| t.name.value == name.value)
                    {
                        cx.error(duplicate("template", &name, first.name.span));
                    } else {
                        self.manifest.templates.push(Template {
                            name,
                            node: span,
                            extends,
                            body,
                        });
                    }
                }
            }
            "pipeline" => self.pipeline(file, source, node),
            "step" => {
                self.step(file, source, node);
            }
            unknown => {
                let diag = Diag::new("unknown-node", format!("unknown node `{unknown}`"))
                    .label(cx.name_span(&node), "not a zenbuild node")
                    .suggest(unknown, TOP_NODES.iter().copied());
                let diag = if diag.help.is_some() {
                    diag
                } else {
                    diag.help(format!(
                        "the top level may contain: {}",
                        TOP_NODES.join(", ")
                    ))
                };
                cx.error(diag);
            }
        }
    }

    fn remote(&mut self, file: FileId, source: &str, node: &Node) {
        let mut cx = Cx {
            file,
            source,
            diags: &mut self.diags,
        };
        cx.check_props(node, &["url", "read", "write"]);
        cx.no_children(node);
        let name = read_name(&mut cx, node, "a remote name");
        let url = if let Some(entry) = node.prop("url") {
            cx.string(entry, "the remote's URL")
        } else {
            cx.error(
                Diag::new("missing-url", "a remote needs `url=`")
                    .label(cx.name_span(node), "this remote")
                    .help("for example `remote \"team\" url=\"file:///mnt/cache\"`"),
            );
            None
        };
        let mut switch = |property: &str| {
            node.prop(property)
                .and_then(|entry| cx.bool(entry, property))
                .is_none_or(|value| value.value)
        };
        let (read, write) = (switch("read"), switch("write"));
        if let (Some(name), Some(url)) = (name, url) {
            let first = self
                .manifest
                .remotes
                .iter()
                .find(|remote| remote.name.value == name.value)
                .map(|remote| remote.name.span);
            match first {
                Some(first) => cx.error(
                    Diag::new(
                        "duplicate-remote",
                        format!("remote `{}` is declared twice", name.value),
                    )
                    .label(name.span, "declared again here")
                    .label(first, "first declared here"),
                ),
                None => self.manifest.remotes.push(Remote {
                    name,
                    url,
                    read,
                    write,
                }),
            }
        }
    }

    fn pipeline(&mut self, file: FileId, source: &str, node: Node) {
        let mut cx = Cx {
            file,
            source,
            diags: &mut self.diags,
        };
        cx.check_props(&node, &["default"]);
        let name = read_name(&mut cx, &node, "a pipeline name");
        let default = node
            .prop("default")
            .and_then(|entry| cx.bool(entry, "#true or #false"));
        let mut pipeline = Pipeline {
            name: name
                .clone()
                .unwrap_or_else(|| Spanned::new(String::new(), cx.name_span(&node))),
            default,
            description: None,
            members: Vec::new(),
            metadata: None,
        };
        for child in node.children.into_iter().flat_map(|block| block.nodes) {
            match &*child.name.value {
                "step" => {
                    if let Some(step) = self.step(file, source, child) {
                        pipeline.members.push(step);
                    }
                }
                "use" => {
                    let mut cx = Cx {
                        file,
                        source,
                        diags: &mut self.diags,
                    };
                    cx.check_props(&child, &[]);
                    cx.no_children(&child);
                    pipeline.members.extend(cx.strings(&child, "a step name"));
                }
                "description" => {
                    let mut cx = Cx {
                        file,
                        source,
                        diags: &mut self.diags,
                    };
                    cx.check_props(&child, &[]);
                    cx.no_children(&child);
                    let text = cx.single_string(&child, "a description string");
                    set_once(&mut cx, &child, &mut pipeline.description, text);
                }
                "metadata" => {
                    let mut cx = Cx {
                        file,
                        source,
                        diags: &mut self.diags,
                    };
                    let url = read_metadata_url(&mut cx, &child);
                    set_once(&mut cx, &child, &mut pipeline.metadata, url);
                }
                unknown => {
                    let diag = Diag::new(
                        "unknown-node",
                        format!("unknown node `{unknown}` in a pipeline"),
                    )
                    .label(Span::at(file, child.name.span), "not a pipeline setting")
                    .suggest(unknown, PIPELINE_NODES.iter().copied());
                    let diag = if diag.help.is_some() {
                        diag
                    } else {
                        diag.help(format!(
                            "a pipeline may contain: {}",
                            PIPELINE_NODES.join(", ")
                        ))
                    };
                    self.diags.push(diag);
                }
            }
        }
        if name.is_none() {
            return;
        }
        if let Some(first) = self
            .manifest
            .pipelines
            .iter()
            .find(|p| p.name.value == pipeline.name.value)
        {
            let diag = duplicate("pipeline", &pipeline.name, first.name.span);
            self.diags.push(diag);
            return;
        }
        self.manifest.pipelines.push(pipeline);
    }

    /// Reads a step and returns its name, for the pipeline that holds it.
    fn step(&mut self, file: FileId, source: &str, node: Node) -> Option<Spanned<String>> {
        let mut cx = Cx {
            file,
            source,
            diags: &mut self.diags,
        };
        cx.check_props(&node, &["template"]);
        let name = read_name(&mut cx, &node, "a step name");
        let template = node
            .prop("template")
            .and_then(|entry| cx.string(entry, "a template name"));
        let body = read_body(&mut cx, node.children);
        let name = name?;
        // One lookup for both the duplicate check and the insertion.
        match self.step_index.entry(name.value.clone()) {
            Entry::Occupied(first) => {
                let first = self
                    .manifest
                    .steps
                    .get(*first.get())
                    .map_or(name.span, |step| step.name.span);
                cx.error(duplicate("step", &name, first).help("step names are unique across all pipelines; to run one step in several pipelines, declare it once and `use` it elsewhere"));
                return None;
            }
            Entry::Vacant(slot) => {
                slot.insert(self.manifest.steps.len());
            }
        }
        self.manifest.steps.push(Step {
            name: name.clone(),
            template,
            body,
        });
        Some(name)
    }

    fn include(&mut self, from: FileId, target: &Spanned<String>) {
        if self.bad_characters(target, "an include") {
            return;
        }
        let from_dir = self
            .sources
            .get(from)
            .path
            .parent()
            .unwrap_or(&self.root)
            .to_path_buf();
        let relative_dir = from_dir.strip_prefix(&self.root).unwrap_or(Path::new(""));
        let joined = relative_dir.join(&target.value);
        let path = match self.workspace_file(&joined.to_string_lossy()) {
            Ok(path) => path,
            Err(problem) => {
                self.diags.push(
                    Diag::new(
                        "path-escapes-workspace",
                        format!("cannot include `{}`: {problem}", target.value),
                    )
                    .label(target.span, "included here"),
                );
                return;
            }
        };
        if let Some(position) = self
            .include_stack
            .iter()
            .position(|(open, _)| *open == path)
        {
            let mut diag = Diag::new("include-cycle", self.include_cycle_message(position))
                .label(target.span, "this include closes the cycle");
            for (_, at) in &self.include_stack[position + 1..] {
                if let Some(at) = at {
                    diag = diag.label(*at, "included here");
                }
            }
            self.diags.push(diag);
            return;
        }
        if self.sources.find(&path).is_some() {
            self.diags.push(
                Diag::new(
                    "duplicate-include",
                    format!("`{}` is included more than once", target.value),
                )
                .label(target.span, "included again here"),
            );
            return;
        }
        self.load_file(&path, Some(target.span));
    }

    /// Reports a path naming a file with NUL, a newline or another control character.
    fn bad_characters(&mut self, path: &Spanned<String>, what: &str) -> bool {
        let Some(character) = control_character(&path.value) else {
            return false;
        };
        self.diags.push(
            Diag::new(
                "bad-path-character",
                format!("`{}` contains {character}", path.value.escape_debug()),
            )
            .label(path.span, format!("in {what}"))
            .help("paths cannot hold NUL, newlines or other control characters"),
        );
        true
    }

    /// The file a manifest names, refused when it lies outside the workspace: through `..`,
    /// as an absolute path, or through a symlink that leads out, as for step paths.
    fn workspace_file(&self, text: &str) -> Result<PathBuf, PathProblem> {
        let path = RelPath::parse(text)?;
        let root = self
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.root.clone());
        path.check_symlinks(&root)?;
        Ok(self.root.join(path.as_str()))
    }

    /// Names the files of the cycle from the one at `position` of the include stack: a file
    /// that includes another which includes it back does not include "itself".
    fn include_cycle_message(&self, position: usize) -> String {
        let mut chain: Vec<&str> = self.include_stack[position..]
            .iter()
            .filter_map(|(open, _)| self.sources.find(open))
            .map(|file| self.sources.get(file).name.as_str())
            .collect();
        match chain[..] {
            [file] => format!("`{file}` includes itself"),
            [first, ..] => {
                chain.push(first);
                format!("include cycle: {}", chain.join(" → "))
            }
            [] => "include cycle".to_string(),
        }
    }

    fn load_params(&mut self) {
        let mut params = Params::default();
        let files = std::mem::take(&mut self.manifest.params_files);
        for file in &files {
            let Some(format) = Format::of(&file.value) else {
                self.diags.push(
                    Diag::new(
                        "params-format",
                        format!("`{}` is not a YAML, JSON or TOML file", file.value),
                    )
                    .label(file.span, "unknown file type")
                    .help("name params files *.yaml, *.yml, *.json or *.toml"),
                );
                continue;
            };
            if self.bad_characters(file, "a params file") {
                continue;
            }
            let path = match self.workspace_file(&file.value) {
                Ok(path) => path,
                Err(problem) => {
                    self.diags.push(
                        Diag::new(
                            "path-escapes-workspace",
                            format!("params file `{}` {problem}", file.value),
                        )
                        .label(file.span, "here"),
                    );
                    continue;
                }
            };
            let text = match std::fs::read(&path).map(String::from_utf8) {
                Ok(Ok(text)) => text,
                Ok(Err(not_utf8)) => {
                    self.not_utf8(file, &path, &not_utf8);
                    continue;
                }
                Err(err) => {
                    self.diags.push(
                        Diag::new(
                            "params-missing",
                            format!("cannot read params file `{}`: {err}", file.value),
                        )
                        .label(file.span, "declared here"),
                    );
                    continue;
                }
            };
            let id = self.sources.add(&path, file.value.clone(), text);
            let text = std::sync::Arc::clone(&self.sources.get(id).text);
            if let Err(err) = params.merge_file(format, &text) {
                let at = err.offset.unwrap_or(0).min(text.len());
                let diag = Diag::new(
                    "params-syntax",
                    format!("invalid params file `{}`: {}", file.value, err.message),
                )
                .label(
                    Span {
                        file: id,
                        offset: at,
                        len: 0,
                    },
                    "here",
                )
                .label(file.span, "declared here");
                self.diags.push(diag);
            }
        }
        self.manifest.params = params;
        self.manifest.params_files = files;
    }

    /// A params file that is not UTF-8 text, shown as far as it is, up to the first bad byte.
    fn not_utf8(
        &mut self,
        file: &Spanned<String>,
        path: &Path,
        error: &std::string::FromUtf8Error,
    ) {
        let at = error.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
        let id = self.sources.add(path, file.value.clone(), text);
        self.diags.push(
            Diag::new(
                "params-encoding",
                format!(
                    "params file `{}` is not UTF-8 text (byte {at} is not)",
                    file.value
                ),
            )
            .label(
                Span {
                    file: id,
                    offset: at,
                    len: 1,
                },
                "not UTF-8",
            )
            .label(file.span, "declared here")
            .help("params files are read as UTF-8: convert it, for example with `iconv -t UTF-8`"),
        );
    }

    /// At most one pipeline may be marked default.
    fn check_pipelines(&mut self) {
        let defaults: Vec<_> = self
            .manifest
            .pipelines
            .iter()
            .filter_map(|p| p.default.as_ref().filter(|d| d.value).map(|d| (p, d.span)))
            .collect();
        if let [(first, first_span), (second, second_span), ..] = defaults[..] {
            self.diags.push(
                Diag::new(
                    "two-defaults",
                    format!(
                        "pipelines `{}` and `{}` are both marked default",
                        first.name.value, second.name.value
                    ),
                )
                .label(second_span, "second default")
                .label(first_span, "first default"),
            );
        }
    }
}

fn read_name(cx: &mut Cx, node: &Node, expected: &str) -> Option<Spanned<String>> {
    let name = cx.single_string(node, expected)?;
    if is_name(&name.value) {
        return Some(name);
    }
    cx.error(
        Diag::new("bad-name", format!("`{}` is not a valid name", name.value))
            .label(name.span, "use letters, digits, `_`, `-` and `.`")
            .help("names appear in instance names like `fit@lr=0.1`, so they cannot contain `@`, `=`, `,`, `/` or spaces"),
    );
    None
}

/// How outputs come back from the cache: the values `zenbuild build --link` takes too.
pub const LINK_MODES: &[&str] = &["reflink", "hardlink", "copy"];

fn check_link_mode(cx: &mut Cx, mode: Spanned<String>) -> Option<Spanned<String>> {
    if LINK_MODES.contains(&mode.value.as_str()) {
        return Some(mode);
    }
    let diag = Diag::new(
        "bad-link-mode",
        format!("`{}` is not a link mode", mode.value),
    )
    .label(mode.span, "use reflink, hardlink or copy")
    .suggest(&mode.value, LINK_MODES.iter().copied());
    cx.error(diag);
    None
}

pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Why a file was refused before parsing, at the brace or comment to fix.
fn hazard_diag(file: FileId, hazard: &Hazard) -> Diag {
    let at = |offset| Span {
        file,
        offset,
        len: 1,
    };
    match *hazard {
        Hazard::TooDeep { offset } => Diag::new(
            "nested-too-deep",
            format!("blocks are nested more than {MAX_DEPTH} levels deep"),
        )
        .label(at(offset), format!("block {} levels deep", MAX_DEPTH + 1))
        .help("zenbuild manifests need a few levels; this many is a generated or broken file"),
        Hazard::UnmatchedClose { offset } => Diag::new("kdl-syntax", "unexpected `}`")
            .label(at(offset), "no block to close here"),
        Hazard::Unclosed { offset } => Diag::new("kdl-syntax", "a block is never closed")
            .label(at(offset), "this `{` has no `}`")
            .help("add the missing `}` at the end of this block or of a block inside it"),
        Hazard::CommentTooComplex { offset } => Diag::new(
            "comment-too-complex",
            format!(
                "this `/* */` comment nests more than {MAX_DEPTH} levels deep or holds more than {MAX_COMMENT_PIECES} `*`, `/` and runs of text between them"
            ),
        )
        .label(at(offset), "comment starts here")
        .help("comment the text out with `//` line comments, or remove it"),
    }
}

fn shrunk<T>(mut items: Vec<T>) -> Vec<T> {
    items.shrink_to_fit();
    items
}

fn duplicate(kind: &'static str, name: &Spanned<String>, first: Span) -> Diag {
    let code = match kind {
        "template" => "duplicate-template",
        "pipeline" => "duplicate-pipeline",
        "executor" => "duplicate-executor",
        _ => "duplicate-step",
    };
    Diag::new(code, format!("{kind} `{}` is declared twice", name.value))
        .label(name.span, "declared again here")
        .label(first, "first declared here")
}

/// `metadata url="postgres://…"`: the team's metadata store, checked as a URL here so that a
/// typo is an error at its place rather than a warning at every build.
fn read_metadata_url(cx: &mut Cx, node: &Node) -> Option<Spanned<String>> {
    cx.check_props(node, &["url"]);
    cx.no_children(node);
    let Some(entry) = node.prop("url") else {
        cx.error(
            Diag::new("missing-url", "`metadata` needs `url=`")
                .label(cx.name_span(node), "this setting")
                .help("for example `metadata url=\"postgres://ml@db.internal:5432/zenbuild\"`"),
        );
        return None;
    };
    let url = cx.string(entry, "a database URL")?;
    let parsed = crate::lineage::server::ServerUrl::parse(&url.value);
    if parsed
        .as_ref()
        .is_ok_and(|parsed| parsed.password.is_some())
    {
        // A manifest is committed and shared: the password stays on each machine.
        cx.error(
            Diag::new(
                "bad-metadata-url",
                "a password does not go in the manifest's `metadata url=`",
            )
            .label(url.span, "written with USER:PASSWORD@")
            .help("write USER@HOST…, and set ZENBUILD_METADATA_PASSWORD (or PGPASSWORD, ~/.pgpass, MYSQL_PWD) where zenbuild runs"),
        );
        return None;
    }
    if let Err(bad) = parsed {
        cx.error(
            Diag::new("bad-metadata-url", bad.to_string())
                .label(url.span, "the team's metadata store")
                .help("postgres://USER@HOST:PORT/DATABASE or mysql://USER@HOST:PORT/DATABASE; the password comes from ZENBUILD_METADATA_PASSWORD"),
        );
        return None;
    }
    Some(url)
}
