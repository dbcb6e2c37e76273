//! The nodes inside a `step` or `template` block.

use std::collections::HashMap;

use super::diagnostic::Diag;
use super::model::{EnvVar, MatrixAxis, MatrixValue, PathList, StepBody};
use super::node::{Cx, type_error};
use super::source::{Span, Spanned};
use super::syntax::{Block, Entry, Node, Value};
use super::units::{parse_duration, parse_size};

/// Every node a step or template block may hold.
pub const BODY_NODES: &[&str] = &[
    "cmd",
    "description",
    "inputs",
    "outputs",
    "metrics",
    "params",
    "needs",
    "env",
    "resources",
    "workdir",
    "timeout",
    "retries",
    "cache",
    "executor",
    "matrix",
];

/// Reads the block, dropping each node's syntax once it is read.
pub fn read_body(cx: &mut Cx, block: Option<Block>) -> StepBody {
    let mut body = StepBody::default();
    for node in block.into_iter().flat_map(|block| block.nodes) {
        read_body_node(cx, &node, &mut body);
    }
    body
}

fn read_body_node(cx: &mut Cx, node: &Node, body: &mut StepBody) {
    let name = &*node.name.value;
    if !matches!(name, "env" | "resources" | "matrix") {
        cx.no_children(node);
    }
    match name {
        "cmd" => {
            cx.check_props(node, &[]);
            let cmd = cx.single_string(node, "a command string");
            if let Some(cmd) = &cmd
                && cmd.value.trim().is_empty()
            {
                cx.error(
                    Diag::new("empty-cmd", "`cmd` is empty").label(cmd.span, "nothing to run"),
                );
            }
            set_once(cx, node, &mut body.cmd, cmd);
        }
        "description" => {
            cx.check_props(node, &[]);
            let text = cx.single_string(node, "a description string");
            set_once(cx, node, &mut body.description, text);
        }
        "workdir" => {
            cx.check_props(node, &[]);
            let dir = cx.single_string(node, "a directory");
            set_once(cx, node, &mut body.workdir, dir);
        }
        "inputs" => read_list(cx, node, &mut body.inputs, "a path"),
        "outputs" => read_list(cx, node, &mut body.outputs, "a path"),
        "metrics" => read_list(cx, node, &mut body.metrics, "a path"),
        "params" => read_list(
            cx,
            node,
            &mut body.params,
            "a parameter key such as `train.seed`",
        ),
        "needs" => read_list(cx, node, &mut body.needs, "a step name"),
        "timeout" => read_timeout(cx, node, body),
        "retries" => {
            cx.check_props(node, &[]);
            let retries = cx
                .single_arg(node, "a number of retries")
                .and_then(|entry| cx.count(entry, "the number of retries", 100));
            set_once(cx, node, &mut body.retries, retries);
        }
        "cache" => {
            cx.check_props(node, &[]);
            let cache = cx
                .single_arg(node, "#true or #false")
                .and_then(|entry| cx.bool(entry, "#true or #false"));
            set_once(cx, node, &mut body.cache, cache);
        }
        "executor" => {
            cx.check_props(node, &[]);
            let executor = cx.single_string(node, "an executor name");
            set_once(cx, node, &mut body.executor, executor);
        }
        "env" => read_env(cx, node, body),
        "resources" => read_resources(cx, node, body),
        "matrix" => read_matrix(cx, node, body),
        unknown => {
            let diag = Diag::new(
                "unknown-node",
                format!("unknown node `{unknown}` in a step"),
            )
            .label(cx.name_span(node), "not a step setting")
            .suggest(unknown, BODY_NODES.iter().copied());
            let diag = if diag.help.is_some() {
                diag
            } else {
                diag.help(format!("a step may contain: {}", BODY_NODES.join(", ")))
            };
            cx.error(diag);
        }
    }
}

fn read_timeout(cx: &mut Cx, node: &Node, body: &mut StepBody) {
    cx.check_props(node, &[]);
    let timeout = cx
        .single_arg(node, "a duration such as \"30m\"")
        .and_then(|entry| {
            let span = cx.value_span(entry);
            let parsed = match &entry.value {
                Value::String(text) => parse_duration(text).map_err(|e| e.to_string()),
                Value::Integer(n) => parse_duration(&n.to_string()).map_err(|e| e.to_string()),
                other => Err(format!(
                    "expected a duration such as \"30m\", found {}",
                    other.describe()
                )),
            };
            match parsed {
                Ok(duration) => Some(Spanned::new(duration, span)),
                Err(message) => {
                    cx.error(Diag::new("bad-duration", message).label(span, "invalid timeout"));
                    None
                }
            }
        });
    set_once(cx, node, &mut body.timeout, timeout);
}

/// Scalar settings may be written once per block; a second one is almost always a mistake.
pub fn set_once<T>(
    cx: &mut Cx,
    node: &Node,
    slot: &mut Option<Spanned<T>>,
    value: Option<Spanned<T>>,
) {
    let Some(value) = value else { return };
    if let Some(first) = slot {
        let name = &node.name.value;
        cx.error(
            Diag::new("duplicate-setting", format!("`{name}` is set twice"))
                .label(cx.name_span(node), "set again here")
                .label(first.span, "first set here"),
        );
        return;
    }
    *slot = Some(value);
}

fn read_list(cx: &mut Cx, node: &Node, list: &mut PathList, expected: &str) {
    cx.check_props(node, &["replace"]);
    if let Some(entry) = node.prop("replace")
        && let Some(replace) = cx.bool(entry, "#true or #false")
    {
        list.replace |= replace.value;
    }
    let items = cx.strings(node, expected);
    if list.items.is_empty() {
        list.items = items;
    } else {
        list.items.extend(items);
    }
}

fn read_env(cx: &mut Cx, node: &Node, body: &mut StepBody) {
    cx.no_args(node);
    for entry in &node.entries {
        let Some(name) = &entry.name else { continue };
        let name_span = cx.span(name.span);
        if !is_env_name(&name.value) {
            cx.error(
                Diag::new(
                    "bad-env-name",
                    format!("`{}` is not a valid environment variable name", name.value),
                )
                .label(
                    name_span,
                    "use letters, digits and `_`, not starting with a digit",
                ),
            );
            continue;
        }
        let value = match &entry.value {
            Value::String(s) => s.to_string(),
            Value::Integer(n) => n.to_string(),
            Value::Float(_) => value_text(cx, entry),
            Value::Bool(b) => b.to_string(),
            Value::Null => {
                cx.error(type_error(cx.value_span(entry), "a value", &entry.value));
                continue;
            }
        };
        let var = EnvVar {
            name: Spanned::new(name.value.to_string(), name_span),
            value: Spanned::new(value, cx.value_span(entry)),
        };
        // Within one block the last assignment wins, as for KDL properties.
        body.env
            .retain(|existing| existing.name.value != var.name.value);
        body.env.push(var);
    }
    if let Some(children) = &node.children {
        cx.error(
            Diag::new("unexpected-children", "`env` takes properties, not a block")
                .label(cx.span(children.span), "write `env NAME=\"value\"` instead"),
        );
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn read_resources(cx: &mut Cx, node: &Node, body: &mut StepBody) {
    cx.no_args(node);
    cx.no_children(node);
    cx.check_props(node, &["cpus", "memory", "gpus"]);
    if let Some(entry) = node.prop("cpus")
        && let Some(cpus) = cx.count(entry, "cpus", 4096)
    {
        if cpus.value == 0 {
            cx.error(
                Diag::new("out-of-range", "a step needs at least one cpu")
                    .label(cpus.span, "must be 1 or more"),
            );
        } else {
            body.resources.cpus = Some(cpus);
        }
    }
    if let Some(entry) = node.prop("gpus")
        && let Some(gpus) = cx.count(entry, "gpus", 1024)
    {
        body.resources.gpus = Some(gpus);
    }
    if let Some(entry) = node.prop("memory") {
        let span = cx.value_span(entry);
        let parsed = match &entry.value {
            Value::String(text) => parse_size(text).map_err(|e| e.to_string()),
            Value::Integer(n) if *n >= 0 => u64::try_from(*n).map_err(|e| e.to_string()),
            other => Err(format!(
                "expected a size such as \"2GiB\", found {}",
                other.describe()
            )),
        };
        match parsed {
            Ok(bytes) => body.resources.memory = Some(Spanned::new(bytes, span)),
            Err(message) => {
                cx.error(Diag::new("bad-size", message).label(span, "invalid memory size"));
            }
        }
    }
}

fn read_matrix(cx: &mut Cx, node: &Node, body: &mut StepBody) {
    cx.no_args(node);
    cx.check_props(node, &[]);
    let Some(children) = &node.children else {
        cx.error(
            Diag::new("empty-matrix", "`matrix` needs a block of variables")
                .label(cx.name_span(node), "add `{ name value1 value2 }`"),
        );
        return;
    };
    for axis_node in &children.nodes {
        cx.no_children(axis_node);
        cx.check_props(axis_node, &[]);
        let name = Spanned::new(axis_node.name.value.to_string(), cx.name_span(axis_node));
        if !is_matrix_variable(&name.value) {
            cx.error(
                Diag::new(
                    "bad-matrix-variable",
                    format!("`{}` cannot be a matrix variable", name.value),
                )
                .label(
                    name.span,
                    "use letters, digits, `_` and `-`, not `params`, `step` or `project`",
                ),
            );
            continue;
        }
        if let Some(first) = body
            .matrix
            .iter()
            .find(|axis| axis.name.value == name.value)
        {
            cx.error(
                Diag::new(
                    "duplicate-setting",
                    format!("matrix variable `{}` is declared twice", name.value),
                )
                .label(name.span, "declared again here")
                .label(first.name.span, "first declared here"),
            );
            continue;
        }
        let mut values: Vec<Spanned<MatrixValue>> = Vec::new();
        // Values as written, to find a repeated one without comparing every pair: an axis
        // of a million values must not take a trillion comparisons to be refused.
        let mut seen: HashMap<String, Span> = HashMap::new();
        for entry in axis_node.args() {
            let span = cx.value_span(entry);
            let value = match entry.value {
                Value::String(ref s) => MatrixValue::String(s.to_string()),
                Value::Integer(value) => MatrixValue::Integer {
                    value,
                    text: value_text(cx, entry),
                },
                Value::Float(value) => MatrixValue::Float {
                    value,
                    text: value_text(cx, entry),
                },
                Value::Bool(b) => MatrixValue::Bool(b),
                Value::Null => {
                    cx.error(type_error(
                        span,
                        "a string, number or boolean",
                        &entry.value,
                    ));
                    continue;
                }
            };
            if let Some(&same) = seen.get(&value.to_string()) {
                cx.error(
                    Diag::new(
                        "duplicate-matrix-value",
                        format!(
                            "`{}` appears twice in matrix variable `{}`",
                            value, name.value
                        ),
                    )
                    .label(span, "repeated here")
                    .label(same, "first here"),
                );
                continue;
            }
            seen.insert(value.to_string(), span);
            values.push(Spanned::new(value, span));
        }
        if values.is_empty() {
            cx.error(
                Diag::new(
                    "empty-matrix",
                    format!("matrix variable `{}` has no values", name.value),
                )
                .label(name.span, "add one or more values"),
            );
            continue;
        }
        body.matrix.push(MatrixAxis { name, values });
    }
}

/// A number as written (`0.10` stays `0.10`), from the text the entry points into.
fn value_text(cx: &Cx, entry: &Entry) -> String {
    cx.text(entry.text).trim().to_string()
}

/// Names a matrix may declare: usable as `{{name}}`, and not one of the names `{{…}}`
/// already gives a meaning (`params.…`, `step`, `project`).
pub fn is_matrix_variable(name: &str) -> bool {
    is_variable_name(name) && !matches!(name, "params" | "step" | "project")
}

/// Names usable as `{{name}}`.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
