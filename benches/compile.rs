//! Parsing and compiling generated manifests: `cargo bench --bench compile`.
//!
//! The target (issue: manifest language) is well under a second for 10,000 steps.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn main() {
    divan::main();
}

/// A pipeline of `steps` steps in `steps / 10` chains of ten: every step reads a source file
/// and the previous step's output, declares a param and an env var, and every tenth step is
/// a 2×2 matrix step, so templates, interpolation and matrix expansion are all exercised.
fn generate(steps: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut text = String::from(
        "project \"bench\"\nparams \"params.yaml\"\n\
         template \"py\" {\n    env PYTHONHASHSEED=\"0\"\n    resources cpus=1 memory=\"512MiB\"\n}\n\
         pipeline \"all\" default=#true {\n",
    );
    for i in 0..steps {
        let chain = i / 10;
        let _ = writeln!(text, "    step \"s{i}\" template=\"py\" {{");
        if i % 10 == 9 {
            let _ = writeln!(
                text,
                "        matrix {{\n            lr 0.1 0.01\n            depth 3 5\n        }}"
            );
            let _ = writeln!(
                text,
                "        cmd \"python3 src/train.py --lr {{{{lr}}}} --depth {{{{depth}}}} --seed {{{{params.train.seed}}}} out/{}.csv out/{i}-{{{{lr}}}}-{{{{depth}}}}.json\"",
                i - 1
            );
            let _ = writeln!(
                text,
                "        inputs \"src/train.py\" \"out/{}.csv\"",
                i - 1
            );
            let _ = writeln!(
                text,
                "        outputs \"out/{i}-{{{{lr}}}}-{{{{depth}}}}.json\""
            );
        } else {
            let _ = writeln!(
                text,
                "        cmd \"python3 src/step.py --n {i} --seed {{{{params.train.seed}}}}\""
            );
            if i % 10 == 0 {
                let _ = writeln!(text, "        inputs \"src/step.py\" \"data/{chain}.csv\"");
            } else {
                let _ = writeln!(text, "        inputs \"src/step.py\" \"out/{}.csv\"", i - 1);
            }
            let _ = writeln!(text, "        outputs \"out/{i}.csv\"");
        }
        let _ = writeln!(text, "        params \"train.seed\"\n    }}");
    }
    text.push_str("}\n");
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
