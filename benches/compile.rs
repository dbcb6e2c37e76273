//! Parsing and compiling generated manifests: `cargo bench --bench compile`.
//!
//! The target (issue: manifest language) is well under a second for 10,000 steps.

use std::path::{Path, PathBuf};

#[path = "support/manifest.rs"]
mod support;

fn main() {
    divan::main();
}

/// The generated manifest (see `support::manifest`) in a temporary workspace, with its params.
fn generate(steps: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = support::manifest_text(steps);
    std::fs::write(dir.path().join("zenbuild.kdl"), text).expect("write manifest");
    std::fs::write(dir.path().join("params.yaml"), "train:\n  seed: 42\n").expect("write params");
    let manifest = dir.path().join("zenbuild.kdl");
    (dir, manifest)
}

fn load_and_compile(manifest: &Path) -> zenbuild::Graph {
    let (loaded, problems) = zenbuild::manifest::load(manifest).expect("valid manifest");
    let root = manifest.parent().expect("manifest has a directory");
    zenbuild::graph::compile(&loaded, root, problems).expect("compiles")
}

#[divan::bench(args = [1_000, 10_000], sample_count = 10)]
fn parse_and_compile(bencher: divan::Bencher, steps: usize) {
    let (_dir, manifest) = generate(steps);
    bencher.bench(|| load_and_compile(&manifest));
}

#[divan::bench(args = [10_000], sample_count = 10)]
fn parse_only(bencher: divan::Bencher, steps: usize) {
    let (_dir, manifest) = generate(steps);
    bencher.bench(|| zenbuild::manifest::load(&manifest).expect("valid manifest"));
}
