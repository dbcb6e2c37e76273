//! `zenbuild lineage PATH|DIGEST [--down]`: where an artifact came from, back to source files
//! (every command, param and commit on the way), or with `--down` everything made from it.
//! Any version ever recorded can be asked for by its digest, after the file was overwritten.

use clap::Args;
use std::fmt::Write as _;

use super::format::{Format, print_json};
use super::lineage_db;
use super::path_arg::workspace_path;
use crate::error::Error;
use crate::hash::{StatCache, hash_tree};
use crate::lineage::tree::{self, Direction, Node, Step};
use crate::lineage::{ArtifactRecord, MetadataStore};
use crate::ui::{Colors, print};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct LineageArgs {
    /// A path (relative to the current directory, as in git), or a digest or its first digits
    pub artifact: String,

    /// Show what was derived from it instead of what it was derived from
    #[arg(long)]
    pub down: bool,

    #[command(flatten)]
    pub store: lineage_db::StoreArg,

    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(workspace: &Workspace, args: &LineageArgs, colors: Colors) -> Result<(), Error> {
    let store = lineage_db::open(workspace, &args.store)?;
    let root = resolve(workspace, store.as_ref(), &args.artifact, colors)?;
    let direction = if args.down {
        Direction::Down
    } else {
        Direction::Up
    };
    let tree = tree::build(store.as_ref(), &root, direction)?;
    if args.format == Format::Json {
        return print_json(&tree);
    }
    let mut text = String::new();
    render_node(&tree, direction, "", "", colors, &mut text);
    print(&text)
}

/// The recorded artifact the argument names: the file as it is now if a build recorded that
/// version, else the latest version recorded at that path or with that digest.
fn resolve(
    workspace: &Workspace,
    store: &dyn MetadataStore,
    argument: &str,
    colors: Colors,
) -> Result<ArtifactRecord, Error> {
    let digest_like = !argument.is_empty() && argument.chars().all(|c| c.is_ascii_hexdigit());
    // A digest prefix names no file; a path is taken from the current directory.
    let path = match workspace_path(&workspace.root, argument) {
        Ok(path) if !digest_like || workspace.root.join(&path).exists() => path,
        Ok(_) => argument.to_string(),
        Err(_) if digest_like => argument.to_string(),
        Err(e) => return Err(e),
    };
    let path = path.as_str();
    let on_disk = workspace.root.join(path.trim_end_matches('/'));
    let current = if on_disk.is_dir() {
        let cache = StatCache::load(&workspace.state_dir().stat_cache());
        hash_tree(&on_disk, &cache)
            .ok()
            .map(|tree| (format!("{}/", path.trim_end_matches('/')), tree.digest))
    } else if on_disk.is_file() {
        let cache = StatCache::load(&workspace.state_dir().stat_cache());
        cache
            .digest_file(&on_disk)
            .ok()
            .map(|file| (path.to_string(), file.digest))
    } else {
        None
    };
    let recorded = store.find_artifacts(path)?;
    if let Some((path, digest)) = &current {
        let digest = digest.to_hex();
        if let Some(found) = recorded
            .iter()
            .find(|a| &a.path == path && a.digest == digest)
        {
            return Ok(found.clone());
        }
        if let Some(latest) = recorded.first() {
            eprintln!(
                "{} `{path}` has changed since a build last recorded it; showing the version recorded last ({})",
                colors.bold("note:"),
                &latest.digest[..12.min(latest.digest.len())]
            );
        }
    }
    recorded.into_iter().next().ok_or_else(|| {
        Error::BadArgument(format!(
            "no build recorded `{argument}`: give a path a step reads or writes, or a digest"
        ))
    })
}

fn render_node(
    node: &Node,
    direction: Direction,
    lead: &str,
    rest: &str,
    colors: Colors,
    out: &mut String,
) {
    let digest = &node.digest[..12.min(node.digest.len())];
    let note = if node.repeated {
        " (shown above)".to_string()
    } else if node.actions.is_empty() && direction == Direction::Up {
        " (source)".to_string()
    } else if let Some(directory) = &node.within {
        format!(" (in {directory})")
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{lead}{} {}{note}",
        colors.bold(&node.path),
        colors.dim(digest)
    );
    for (index, step) in node.actions.iter().enumerate() {
        let last = index + 1 == node.actions.len();
        render_step(step, direction, rest, last, colors, out);
    }
}

/// The user and host this command's runs are recorded as.
fn me() -> &'static (String, String) {
    static ME: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    ME.get_or_init(|| {
        (
            crate::lineage::recorder::user(),
            crate::lineage::recorder::host(),
        )
    })
}

fn render_step(
    step: &Step,
    direction: Direction,
    rest: &str,
    last: bool,
    colors: Colors,
    out: &mut String,
) {
    let (branch, below) = if last {
        ("└─ ", "   ")
    } else {
        ("├─ ", "│  ")
    };
    let commit = match &step.commit {
        Some(commit) => format!(
            " at {}{}",
            &commit[..8.min(commit.len())],
            if step.dirty == Some(true) { "*" } else { "" }
        ),
        None => String::new(),
    };
    let reads = if step.reads.is_empty() {
        String::new()
    } else {
        format!(" reads {}", step.reads.join(", "))
    };
    // Someone else's run (a teammate's, in a team store) says whose it is; one's own need not.
    let me = me();
    let by = match (&step.user, &step.host) {
        (Some(user), Some(host)) if (user, host) != (&me.0, &me.1) => {
            format!(" by {user}@{host}")
        }
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{rest}{branch}{} (run {}{commit}{by}){reads}: {}",
        colors.green(&step.name),
        step.run,
        step.cmd
    );
    let inner = format!("{rest}{below}");
    if !step.params.is_empty() {
        let params: Vec<String> = step
            .params
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let _ = writeln!(out, "{inner}   params {}", params.join(" "));
    }
    for (index, node) in step.artifacts.iter().enumerate() {
        let last = index + 1 == step.artifacts.len();
        let (lead, rest) = if last {
            (format!("{inner}└─ "), format!("{inner}   "))
        } else {
            (format!("{inner}├─ "), format!("{inner}│  "))
        };
        render_node(node, direction, &lead, &rest, colors, out);
    }
}
