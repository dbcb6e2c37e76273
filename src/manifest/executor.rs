//! The top-level `executor` node: a backend that steps select with `executor "NAME"`.
//!
//! ```kdl
//! executor "cluster" type="slurm" partition="gpu" account="ml" qos="normal" extra="--constraint=a100"
//! executor "hpc" type="slurm" partition="gpu" remote="team"
//! executor "ray" type="ray" url="http://head:8265" remote="team"
//! ```
//!
//! Each kind takes its own properties; a property the kind does not know is an error with
//! its span, as everywhere in the manifest.

use std::time::Duration;

use super::diagnostic::Diag;
use super::model::{ExecutorDecl, ExecutorKind, RaySettings, SlurmSettings};
use super::node::{Cx, type_error};
use super::source::Spanned;
use super::syntax::{Entry, Node, Value};
use super::units::parse_duration;

/// The executor every manifest has: processes on this machine.
pub const LOCAL: &str = "local";

/// The kinds `type=` accepts.
pub const KINDS: &[&str] = &["slurm", "ray"];

/// The properties of `type="slurm"`.
pub const SLURM_PROPERTIES: &[&str] = &[
    "type",
    "partition",
    "account",
    "qos",
    "extra",
    "jobs",
    "poll-min",
    "poll-max",
    "latency-wait",
    "submit-rate",
    "node-retries",
    "remote",
];

/// The properties of `type="ray"`.
pub const RAY_PROPERTIES: &[&str] = &["type", "url", "remote", "jobs", "poll-min", "poll-max"];

/// Reads an `executor` node; `None` (with errors reported) when it cannot be used.
pub fn read_executor(cx: &mut Cx, node: &Node, name: Spanned<String>) -> Option<ExecutorDecl> {
    cx.no_children(node);
    if name.value == LOCAL {
        cx.error(
            Diag::new("reserved-executor", "`local` is the built-in executor")
                .label(name.span, "choose another name")
                .help("steps run locally unless they name an executor; `executor \"local\"` in a step says so explicitly"),
        );
        return None;
    }
    let Some(kind) = node.prop("type") else {
        cx.error(
            Diag::new("missing-type", "an executor needs `type=`")
                .label(cx.name_span(node), "this executor")
                .help("for example `executor \"cluster\" type=\"slurm\" partition=\"gpu\"`"),
        );
        return None;
    };
    let kind = cx.string(kind, "an executor type")?;
    match kind.value.as_str() {
        "slurm" => {
            cx.check_props(node, SLURM_PROPERTIES);
            let settings = read_slurm(cx, node);
            // Without a remote the nodes share the workspace's file system; with one they
            // need to see nothing of it.
            let remote = read_remote(cx, node);
            Some(ExecutorDecl {
                name,
                kind: ExecutorKind::Slurm(settings),
                remote,
            })
        }
        "ray" => {
            cx.check_props(node, RAY_PROPERTIES);
            let settings = read_ray(cx, node)?;
            let Some(remote) = read_remote(cx, node) else {
                cx.error(
                    Diag::new("missing-remote", "a Ray executor needs `remote=`")
                        .label(cx.name_span(node), "this executor")
                        .help(
                            "Ray's machines do not see the workspace: name the remote that \
                             carries each action's inputs and outputs, for example \
                             `remote=\"team\"`",
                        ),
                );
                return None;
            };
            Some(ExecutorDecl {
                name,
                kind: ExecutorKind::Ray(settings),
                remote: Some(remote),
            })
        }
        other => {
            cx.error(
                Diag::new(
                    "unknown-executor-type",
                    format!("`{other}` is not an executor type"),
                )
                .label(kind.span, format!("use one of: {}", KINDS.join(", ")))
                .suggest(other, KINDS.iter().copied()),
            );
            None
        }
    }
}

/// `remote="NAME"`, checked against the declared remotes once all are read.
fn read_remote(cx: &mut Cx, node: &Node) -> Option<Spanned<String>> {
    let entry = node.prop("remote")?;
    cx.string(entry, "a remote name")
}

/// The properties of a Ray executor; `None` (reported) without a usable `url=`.
fn read_ray(cx: &mut Cx, node: &Node) -> Option<RaySettings> {
    let Some(entry) = node.prop("url") else {
        cx.error(
            Diag::new("missing-url", "a Ray executor needs `url=`")
                .label(cx.name_span(node), "this executor")
                .help("the address of its dashboard, which serves the Jobs API: for example `url=\"http://head:8265\"`"),
        );
        return None;
    };
    let url = cx.string(entry, "the Ray dashboard's URL")?;
    if !(url.value.starts_with("http://") || url.value.starts_with("https://")) {
        cx.error(
            Diag::new(
                "bad-url",
                "a Ray executor's `url=` must start with http:// or https://",
            )
            .label(url.span, "the address of the Ray dashboard"),
        );
        return None;
    }
    let jobs = node.prop("jobs").and_then(|entry| {
        let value = cx.count(entry, "the number of jobs in flight", 100_000)?;
        at_least_one(cx, &value)
    });
    let settings = RaySettings {
        url: url.value,
        jobs,
        poll_min: node
            .prop("poll-min")
            .and_then(|entry| read_duration(cx, entry, "poll-min")),
        poll_max: node
            .prop("poll-max")
            .and_then(|entry| read_duration(cx, entry, "poll-max")),
    };
    check_poll(cx, node, settings.poll_min, settings.poll_max);
    Some(settings)
}

fn at_least_one(cx: &mut Cx, value: &Spanned<u32>) -> Option<u32> {
    if value.value == 0 {
        cx.error(
            Diag::new(
                "out-of-range",
                "the number of jobs in flight must be at least 1",
            )
            .label(value.span, "0 is too few"),
        );
        return None;
    }
    Some(value.value)
}

/// `bad-poll` when the longest pause is shorter than the shortest.
fn check_poll(cx: &mut Cx, node: &Node, least: Option<Duration>, most: Option<Duration>) {
    if let (Some(least), Some(most)) = (least, most)
        && least > most
        && let Some(entry) = node.prop("poll-max")
    {
        cx.error(
            Diag::new("bad-poll", "`poll-max` is shorter than `poll-min`").label(
                cx.value_span(entry),
                "the longest pause between status queries",
            ),
        );
    }
}

fn read_slurm(cx: &mut Cx, node: &Node) -> SlurmSettings {
    let text = |cx: &mut Cx, property: &str, what: &str| {
        node.prop(property)
            .and_then(|entry| cx.string(entry, what))
            .map(|s| s.value)
            .filter(|s| !s.trim().is_empty())
    };
    let count = |cx: &mut Cx, property: &str, what: &str, least: u32, most: u32| {
        let entry = node.prop(property)?;
        let value = cx.count(entry, what, most)?;
        if value.value < least {
            cx.error(
                Diag::new("out-of-range", format!("{what} must be at least {least}"))
                    .label(value.span, format!("{} is too few", value.value)),
            );
            return None;
        }
        Some(value.value)
    };
    let duration = |cx: &mut Cx, property: &str| {
        node.prop(property)
            .and_then(|entry| read_duration(cx, entry, property))
    };
    let settings = SlurmSettings {
        partition: text(cx, "partition", "a partition name"),
        account: text(cx, "account", "an account name"),
        qos: text(cx, "qos", "a quality of service"),
        extra: text(cx, "extra", "sbatch options")
            .map(|extra| extra.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        jobs: count(cx, "jobs", "the number of jobs in flight", 1, 100_000),
        poll_min: duration(cx, "poll-min"),
        poll_max: duration(cx, "poll-max"),
        latency_wait: duration(cx, "latency-wait"),
        submit_rate: count(cx, "submit-rate", "the submissions per second", 1, 10_000),
        node_retries: count(
            cx,
            "node-retries",
            "the retries after a node failure",
            0,
            100,
        ),
    };
    check_poll(cx, node, settings.poll_min, settings.poll_max);
    settings
}

fn read_duration(cx: &mut Cx, entry: &Entry, property: &str) -> Option<Duration> {
    let span = cx.value_span(entry);
    let parsed = match &entry.value {
        Value::String(text) => parse_duration(text).map_err(|e| e.to_string()),
        Value::Integer(n) => parse_duration(&n.to_string()).map_err(|e| e.to_string()),
        other => {
            cx.error(type_error(span, "a duration such as \"5s\"", other));
            return None;
        }
    };
    match parsed {
        Ok(duration) => Some(duration),
        Err(message) => {
            cx.error(
                Diag::new("bad-duration", message).label(span, format!("invalid `{property}`")),
            );
            None
        }
    }
}
