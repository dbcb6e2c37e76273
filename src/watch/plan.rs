//! What watch mode watches for a compiled graph, and what a changed path means: a source
//! input of the selected actions (a file, or anything inside a directory input), a file the
//! manifest was read from, or a new file one of the manifest's globs matches. Everything else
//! (the outputs zenbuild writes, `.zenbuild/`, `.git/`, unrelated files) means nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use globset::GlobSet;

use crate::Manifest;
use crate::graph::{ActionId, ArtifactKind, Graph, globs};
use crate::workspace::state_dir;

/// What a changed path is to the build.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// A source input (its workspace path; a directory input's own path, without `/`).
    Source(String),
    /// A file the manifest was read from.
    Manifest(PathBuf),
    /// A file one of the manifest's globs matches that is not an input yet.
    NewMatch(String),
}

pub struct WatchPlan {
    root: PathBuf,
    /// Source inputs of the selected actions → whether they are directories.
    sources: HashMap<String, bool>,
    /// Which selected actions read each source input.
    readers: HashMap<String, Vec<ActionId>>,
    manifests: HashSet<PathBuf>,
    globs: Option<GlobSet>,
    /// Declared outputs (directories without `/`): what zenbuild writes itself.
    outputs: Vec<String>,
    /// Directories to watch, each with whether to watch what is below it too.
    pub dirs: Vec<(PathBuf, bool)>,
}

impl WatchPlan {
    pub fn new(root: &Path, manifest: &Manifest, graph: &Graph, targets: &[ActionId]) -> WatchPlan {
        let mut sources = HashMap::new();
        let mut readers: HashMap<String, Vec<ActionId>> = HashMap::new();
        let mut outputs = Vec::new();
        for &id in targets {
            let action = graph.action(id);
            for &input in &action.inputs {
                let artifact = graph.artifact(input);
                if artifact.producer.is_some() {
                    continue;
                }
                let path = artifact.path.as_str().to_string();
                sources.insert(path.clone(), artifact.kind == ArtifactKind::Dir);
                readers.entry(path).or_default().push(id);
            }
            outputs.extend(
                action
                    .outputs
                    .iter()
                    .map(|&output| graph.artifact(output).path.as_str().to_string()),
            );
        }
        let manifests: HashSet<PathBuf> = manifest
            .sources
            .files()
            .iter()
            .map(|file| file.path.clone())
            .collect();
        let patterns = graph
            .globs
            .as_ref()
            .map(|globs| globs.patterns.clone())
            .unwrap_or_default();
        // Compiled when the graph was: every pattern here compiles.
        let globs = globs::glob_set(&patterns);
        let mut wanted: Vec<(PathBuf, bool)> = Vec::new();
        for (path, is_dir) in &sources {
            let absolute = root.join(path);
            if *is_dir {
                // The parent too, to see the directory itself deleted and created again.
                wanted.push((parent(&absolute, root), false));
                wanted.push((absolute, true));
            } else {
                wanted.push((parent(&absolute, root), false));
            }
        }
        for pattern in &patterns {
            wanted.push((root.join(literal_prefix(pattern)), true));
        }
        for path in &manifests {
            wanted.push((parent(path, root), false));
        }
        WatchPlan {
            root: root.to_path_buf(),
            sources,
            readers,
            manifests,
            globs,
            outputs,
            dirs: minimal(wanted),
        }
    }

    /// Watching only for the manifest: what is left when it does not compile.
    pub fn manifest_only(root: &Path, manifests: HashSet<PathBuf>) -> WatchPlan {
        let dirs = minimal(manifests.iter().map(|m| (parent(m, root), false)).collect());
        WatchPlan {
            root: root.to_path_buf(),
            sources: HashMap::new(),
            readers: HashMap::new(),
            manifests,
            globs: None,
            outputs: Vec::new(),
            dirs,
        }
    }

    pub fn manifests(&self) -> &HashSet<PathBuf> {
        &self.manifests
    }

    /// Whether a source is a directory input; `None` when it is not a source.
    pub fn is_dir_source(&self, path: &str) -> Option<bool> {
        self.sources.get(path).copied()
    }

    pub fn classify(&self, path: &Path) -> Option<Change> {
        if self.manifests.contains(path) {
            return Some(Change::Manifest(path.to_path_buf()));
        }
        let relative = path.strip_prefix(&self.root).ok()?.to_str()?;
        let relative = relative.replace(std::path::MAIN_SEPARATOR, "/");
        let first = relative.split('/').next().unwrap_or("");
        if relative.is_empty() || first == state_dir::NAME || first == ".git" {
            return None;
        }
        let within = |dir: &str| relative == dir || relative.starts_with(&format!("{dir}/"));
        if self.outputs.iter().any(|output| within(output)) {
            return None;
        }
        if self.sources.contains_key(&relative) {
            return Some(Change::Source(relative));
        }
        if let Some(dir) = self
            .sources
            .iter()
            .find(|(dir, is_dir)| **is_dir && within(dir))
            .map(|(dir, _)| dir.clone())
        {
            return Some(Change::Source(dir));
        }
        if self
            .globs
            .as_ref()
            .is_some_and(|globs| globs.is_match(&relative))
        {
            return Some(Change::NewMatch(relative));
        }
        None
    }

    /// The selected actions that read any of `sources`, and everything downstream of them.
    pub fn affected(&self, graph: &Graph, sources: &[String]) -> BTreeSet<ActionId> {
        let mut affected = BTreeSet::new();
        let mut stack: Vec<ActionId> = sources
            .iter()
            .filter_map(|source| self.readers.get(source))
            .flatten()
            .copied()
            .collect();
        while let Some(id) = stack.pop() {
            if !affected.insert(id) {
                continue;
            }
            stack.extend(
                graph
                    .actions
                    .iter()
                    .enumerate()
                    .filter(|(_, action)| action.deps.contains(&id))
                    .map(|(index, _)| ActionId(index)),
            );
        }
        affected
    }
}

/// The directory part of a glob before its first wildcard: `src` for `src/**/*.py`.
fn literal_prefix(pattern: &str) -> String {
    let pattern = pattern.trim_start_matches("./");
    let mut parts = Vec::new();
    for part in pattern.split('/') {
        if part.contains(['*', '?', '[', '{']) {
            break;
        }
        parts.push(part);
    }
    // The last literal part of a pattern without wildcards is the file itself.
    if parts.len() == pattern.split('/').count() {
        parts.pop();
    }
    parts.join("/")
}

fn parent(path: &Path, root: &Path) -> PathBuf {
    path.parent()
        .map_or_else(|| root.to_path_buf(), Path::to_path_buf)
}

/// Drops watches another one already covers: anything below a recursive watch, and
/// duplicates.
fn minimal(mut wanted: Vec<(PathBuf, bool)>) -> Vec<(PathBuf, bool)> {
    // Recursive first, shortest first, so that covering watches are kept.
    wanted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept: Vec<(PathBuf, bool)> = Vec::new();
    for (dir, recursive) in wanted {
        let covered = kept.iter().any(|(other, other_recursive)| {
            (*other_recursive && dir.starts_with(other)) || (*other == dir && !recursive)
        });
        if !covered {
            kept.push((dir, recursive));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefixes() {
        assert_eq!(literal_prefix("src/**/*.py"), "src");
        assert_eq!(literal_prefix("./data/raw/*.csv"), "data/raw");
        assert_eq!(literal_prefix("*.py"), "");
        assert_eq!(literal_prefix("a/b/c.txt"), "a/b");
    }

    #[test]
    fn covered_watches_are_dropped() {
        let kept = minimal(vec![
            (PathBuf::from("/w/src"), false),
            (PathBuf::from("/w/src"), true),
            (PathBuf::from("/w/src/deep"), false),
            (PathBuf::from("/w"), false),
            (PathBuf::from("/w"), false),
        ]);
        assert_eq!(
            kept,
            [
                (PathBuf::from("/w/src"), true),
                (PathBuf::from("/w"), false)
            ]
        );
    }

    #[test]
    fn classifies_sources_outputs_manifests_and_glob_matches() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/a.py"), "a").unwrap();
        let text = r#"
step "lint" {
    cmd "cat src/*.py > out/lint.txt"
    inputs "src/*.py" "data/"
    outputs "out/lint.txt"
}
"#;
        std::fs::write(root.join("zenbuild.kdl"), text).unwrap();
        let (manifest, problems) = crate::manifest::load(&root.join("zenbuild.kdl")).unwrap();
        let graph = crate::graph::compile(&manifest, &root, problems).unwrap();
        let targets = graph.topological_order();
        let plan = WatchPlan::new(&root, &manifest, &graph, &targets);
        let at = |p: &str| plan.classify(&root.join(p));
        assert_eq!(at("src/a.py"), Some(Change::Source("src/a.py".into())));
        assert_eq!(at("src/b.py"), Some(Change::NewMatch("src/b.py".into())));
        assert_eq!(at("data/x/y.csv"), Some(Change::Source("data".into())));
        assert_eq!(
            at("zenbuild.kdl"),
            Some(Change::Manifest(root.join("zenbuild.kdl")))
        );
        assert_eq!(at("out/lint.txt"), None);
        assert_eq!(at(".zenbuild/stat-cache"), None);
        assert_eq!(at("src/a.py.swp"), None);
        assert_eq!(plan.affected(&graph, &["src/a.py".into()]).len(), 1);
        assert!(plan.dirs.contains(&(root.join("src"), true)));
        assert!(plan.dirs.contains(&(root.join("data"), true)));
    }
}
