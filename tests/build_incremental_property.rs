//! The property behind every incremental build: after any sequence of edits, an incremental
//! build leaves the same outputs as a clean build of the same state, and runs exactly the
//! actions whose key it has never built before: those whose inputs (transitively) or command
//! changed, less those whose new inputs equal ones already built (a revert, or an upstream
//! rerun with identical output). The others are cached.
//!
//! Builds follow each other with no pause, so every one starts inside the racy window of the
//! one before, whose up-to-date record holds what it wrote as racy entries: every other edit
//! is first built by a plain `zenbuild`, which may take that shortcut and must still leave
//! what the model says, and after every build a plain one must run nothing.
//!
//! Each case is a random DAG of 3–8 steps over a few source files and a directory `data/`.
//! Step `sJ` concatenates its inputs (sources, then upstream outputs), then, if it reads
//! `data/`, the path and bytes of each file there, and appends its constant. Files in `data/`
//! come and go and are saved in place or as an editor saves (a new file renamed over the
//! old), so that its directories change too, inside the racy window of the build before. A
//! model computes every output's bytes and every action's key from the state, with no
//! zenbuild involved.

mod common;
use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

use common::{Output, Report, Test};
use proptest::prelude::*;

/// Source contents, few and short, so that edits often revert to bytes built before.
const TEXTS: [&str; 4] = ["x", "y", "xy", "z\n"];
const CONSTANTS: [&str; 3] = ["k1", "k2", "k3"];
const MAX_SOURCES: usize = 3;
/// The files `data/` may hold; `data/sub/` is always there, empty when neither of its files is.
const DATA: [&str; 3] = ["data/a.txt", "data/sub/b.txt", "data/sub/c.txt"];

#[derive(Clone, Debug)]
struct Step {
    /// Indices of the source files it reads.
    sources: Vec<usize>,
    /// Indices of the earlier steps whose outputs it reads.
    upstream: Vec<usize>,
    /// Whether it reads the directory `data/`.
    data: bool,
}

#[derive(Clone, Debug)]
struct Dag {
    sources: usize,
    steps: Vec<Step>,
}

#[derive(Clone, Debug)]
enum Edit {
    /// Source `i % sources` gets `TEXTS[t]`.
    Source(usize, usize),
    /// Source `i % sources` gets a later mtime, not new bytes.
    Touch(usize),
    /// Step `j % steps` gets `CONSTANTS[c]` in the manifest.
    Constant(usize, usize),
    /// Step `j % steps`'s output is deleted from the workspace.
    DeleteOutput(usize),
    /// `DATA[d]` gets `TEXTS[t]`, saved in place or (when true) as an editor saves, by
    /// renaming a new file over it; or, with no text, is removed.
    Data(usize, Option<usize>, bool),
}

/// What the edits change: the bytes of each source, each step's constant, and what `data/`
/// holds.
#[derive(Clone, Debug)]
struct State {
    texts: Vec<&'static str>,
    constants: Vec<&'static str>,
    data: Vec<Option<&'static str>>,
}

fn source_path(i: usize) -> String {
    format!("src/s{i}.txt")
}

fn output_path(j: usize) -> String {
    format!("out/s{j}.txt")
}

fn name(j: usize) -> String {
    format!("s{j}")
}

fn dag() -> impl Strategy<Value = Dag> {
    (2..=MAX_SOURCES, 3..=8usize).prop_flat_map(|(sources, steps)| {
        // Per step: which sources and which earlier steps it reads, as bit masks, and whether
        // it reads `data/`.
        prop::collection::vec((any::<u8>(), any::<u8>(), any::<bool>()), steps).prop_map(
            move |masks| {
                let steps = masks
                    .iter()
                    .enumerate()
                    .map(|(j, &(source_bits, upstream_bits, data))| Step {
                        sources: (0..sources).filter(|i| source_bits >> i & 1 == 1).collect(),
                        upstream: (0..j).filter(|k| upstream_bits >> k & 1 == 1).collect(),
                        data,
                    })
                    .collect();
                Dag { sources, steps }
            },
        )
    })
}

fn state() -> impl Strategy<Value = State> {
    (
        prop::collection::vec(0..TEXTS.len(), MAX_SOURCES),
        prop::collection::vec(0..CONSTANTS.len(), 8),
        prop::collection::vec(prop::option::of(0..TEXTS.len()), DATA.len()),
    )
        .prop_map(|(texts, constants, data)| State {
            texts: texts.into_iter().map(|t| TEXTS[t]).collect(),
            constants: constants.into_iter().map(|c| CONSTANTS[c]).collect(),
            data: data.into_iter().map(|t| t.map(|t| TEXTS[t])).collect(),
        })
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (0..MAX_SOURCES, 0..TEXTS.len()).prop_map(|(i, t)| Edit::Source(i, t)),
        1 => (0..MAX_SOURCES).prop_map(Edit::Touch),
        2 => (0..8usize, 0..CONSTANTS.len()).prop_map(|(j, c)| Edit::Constant(j, c)),
        1 => (0..8usize).prop_map(Edit::DeleteOutput),
        3 => (0..DATA.len(), prop::option::of(0..TEXTS.len()), any::<bool>())
            .prop_map(|(d, t, save)| Edit::Data(d, t, save)),
    ]
}

impl Dag {
    fn inputs(&self, j: usize) -> Vec<String> {
        let step = &self.steps[j];
        let sources = step.sources.iter().map(|&i| source_path(i));
        sources
            .chain(step.upstream.iter().map(|&k| output_path(k)))
            .collect()
    }

    fn manifest(&self, state: &State) -> String {
        let mut text = String::new();
        for j in 0..self.steps.len() {
            let inputs = self.inputs(j);
            let out = output_path(j);
            let mut cmd = if inputs.is_empty() {
                format!(": > {out}; ")
            } else {
                format!("cat {} > {out}; ", inputs.join(" "))
            };
            let mut quoted: Vec<String> = inputs.iter().map(|p| format!("\"{p}\"")).collect();
            if self.steps[j].data {
                let _ = write!(
                    cmd,
                    "for f in {}; do if [ -f $f ]; then printf %s $f >> {out}; cat $f >> {out}; fi; done; ",
                    DATA.join(" ")
                );
                quoted.push("\"data/\"".to_string());
            }
            let _ = write!(cmd, "printf %s {} >> {out}", state.constants[j]);
            let declared = if quoted.is_empty() {
                String::new()
            } else {
                format!("    inputs {}\n", quoted.join(" "))
            };
            let _ = write!(
                text,
                "step \"{}\" {{\n    cmd \"{cmd}\"\n{declared}    outputs \"{}\"\n}}\n",
                name(j),
                output_path(j)
            );
        }
        text
    }

    /// Every step's output bytes, as the commands would write them.
    fn outputs(&self, state: &State) -> Vec<String> {
        let mut outputs: Vec<String> = Vec::with_capacity(self.steps.len());
        for (j, step) in self.steps.iter().enumerate() {
            let mut bytes: String = step.sources.iter().map(|&i| state.texts[i]).collect();
            for &k in &step.upstream {
                bytes.push_str(&outputs[k]);
            }
            if step.data {
                for (path, text) in DATA.iter().zip(&state.data) {
                    if let Some(text) = text {
                        bytes.push_str(path);
                        bytes.push_str(text);
                    }
                }
            }
            bytes.push_str(state.constants[j]);
            outputs.push(bytes);
        }
        outputs
    }

    /// What determines step `j`'s action key in the model: its command (which only the
    /// constant varies) and the bytes of each input, in order; for `data/`, which files it
    /// holds and their bytes.
    fn key(&self, j: usize, state: &State, outputs: &[String]) -> (usize, String, Vec<String>) {
        let step = &self.steps[j];
        let data = step.data.then(|| format!("data/ {:?}", state.data));
        let inputs = step
            .sources
            .iter()
            .map(|&i| state.texts[i].to_string())
            .chain(step.upstream.iter().map(|&k| outputs[k].clone()))
            .chain(data)
            .collect();
        (j, state.constants[j].to_string(), inputs)
    }

    /// The steps that read step `j`'s output, directly or not.
    fn dependents(&self, roots: BTreeSet<usize>) -> BTreeSet<usize> {
        let mut reached = roots;
        for (j, step) in self.steps.iter().enumerate() {
            if step.upstream.iter().any(|k| reached.contains(k)) {
                reached.insert(j);
            }
        }
        reached
    }

    /// The steps whose inputs or command an edit can change: everything it reaches.
    fn affected(&self, edit: &Edit) -> BTreeSet<usize> {
        match *edit {
            Edit::Source(i, _) => {
                let i = i % self.sources;
                let readers = (0..self.steps.len())
                    .filter(|&j| self.steps[j].sources.contains(&i))
                    .collect();
                self.dependents(readers)
            }
            Edit::Constant(j, _) => self.dependents(BTreeSet::from([j % self.steps.len()])),
            Edit::Data(..) => {
                let readers = (0..self.steps.len())
                    .filter(|&j| self.steps[j].data)
                    .collect();
                self.dependents(readers)
            }
            Edit::Touch(_) | Edit::DeleteOutput(_) => BTreeSet::new(),
        }
    }

    /// A workspace holding the manifest and sources of `state`, never built.
    fn workspace(&self, state: &State) -> Test {
        let mut test = Test::new().manifest(&self.manifest(state)).dir("data/sub");
        for i in 0..self.sources {
            test = test.file(&source_path(i), state.texts[i]);
        }
        for (path, text) in DATA.iter().zip(&state.data) {
            if let Some(text) = text {
                test = test.file(path, text);
            }
        }
        test
    }
}

/// Applies `edit` to the workspace and the model.
fn apply(dag: &Dag, state: &mut State, test: Test, edit: &Edit) -> Test {
    match *edit {
        Edit::Source(i, t) => {
            let i = i % dag.sources;
            state.texts[i] = TEXTS[t];
            test.file(&source_path(i), TEXTS[t])
        }
        Edit::Touch(i) => test.touch(&source_path(i % dag.sources)),
        Edit::Constant(j, c) => {
            state.constants[j % dag.steps.len()] = CONSTANTS[c];
            test.manifest(&dag.manifest(state))
        }
        Edit::DeleteOutput(j) => test.remove(&output_path(j % dag.steps.len())),
        Edit::Data(d, text, save) => {
            let was = std::mem::replace(&mut state.data[d], text.map(|t| TEXTS[t]));
            match (text, was) {
                (Some(t), Some(_)) if save => test.save(DATA[d], TEXTS[t]),
                (Some(t), _) => test.file(DATA[d], TEXTS[t]),
                (None, Some(_)) => test.remove(DATA[d]),
                (None, None) => test,
            }
        }
    }
}

/// Checks one build against the model: the outputs' bytes, and which steps ran (those whose
/// key is new) and which were cached. Records the new keys in `built`.
fn check(
    dag: &Dag,
    state: &State,
    out: &Output,
    built: &mut HashSet<(usize, String, Vec<String>)>,
    context: &str,
) -> BTreeSet<usize> {
    let report = out.report();
    let outputs = dag.outputs(state);
    let mut ran = BTreeSet::new();
    for (j, expected) in outputs.iter().enumerate() {
        let key = dag.key(j, state, &outputs);
        let status = if built.contains(&key) {
            "cached"
        } else {
            "ran"
        };
        assert_eq!(
            report.status(&name(j)),
            status,
            "{}: {context}\n{report}",
            name(j)
        );
        if status == "ran" {
            ran.insert(j);
        }
        built.insert(key);
        assert_eq!(
            &out.read(&output_path(j)),
            expected,
            "{}: {context}",
            name(j)
        );
    }
    ran
}

const SHORTCUT: &str = "up to date (nothing changed since the last build)";

/// A plain build right after the last one (inside its racy window, so maybe through its
/// up-to-date record) left the model's outputs; its keys are now built.
fn right_after(
    dag: &Dag,
    state: &State,
    out: &Output,
    built: &mut HashSet<(usize, String, Vec<String>)>,
    context: &str,
) {
    let outputs = dag.outputs(state);
    for (j, expected) in outputs.iter().enumerate() {
        assert_eq!(
            &out.read(&output_path(j)),
            expected,
            "{} after a plain build: {context}\n{}",
            name(j),
            out.stderr
        );
        built.insert(dag.key(j, state, &outputs));
    }
}

/// Builds `state` from scratch in a new workspace and checks that every output, and every
/// action's key, equals the incremental build's.
fn matches_a_clean_build(dag: &Dag, state: &State, incremental: &Output, context: &str) {
    let clean = dag.workspace(state).build(&[]).run().success();
    let clean_report: Report = clean.report();
    let report = incremental.report();
    assert_eq!(clean_report.ran().len(), dag.steps.len(), "{clean_report}");
    for j in 0..dag.steps.len() {
        let path = output_path(j);
        assert_eq!(
            incremental.read(&path),
            clean.read(&path),
            "{path}: {context}"
        );
        assert_eq!(
            report.action(&name(j))["key"],
            clean_report.action(&name(j))["key"],
            "{}: {context}",
            name(j)
        );
        assert_eq!(
            report.output(&name(j), &path),
            clean_report.output(&name(j), &path),
            "{}: {context}",
            name(j)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        // Every case runs zenbuild a dozen times; shrinking a failure is worth it, a long
        // search is not.
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    #[test]
    fn an_incremental_build_equals_a_clean_build(
        dag in dag(),
        initial in state(),
        edits in prop::collection::vec(edit(), 1..=6),
    ) {
        let mut state = initial;
        let mut built = HashSet::new();
        let out = dag.workspace(&state).build(&[]).run().success();
        let ran = check(&dag, &state, &out, &mut built, "first build");
        prop_assert_eq!(ran.len(), dag.steps.len());

        let mut test = out.again();
        for (n, edit) in edits.iter().enumerate() {
            let context = format!("after edit {n} {edit:?} of {edits:?}\n{}", dag.manifest(&state));
            test = apply(&dag, &mut state, test, edit);
            if n % 2 == 0 {
                let plain = test.run().success();
                right_after(&dag, &state, &plain, &mut built, &context);
                test = plain.again();
            }
            let out = test.build(&[]).run().success();
            let ran = check(&dag, &state, &out, &mut built, &context);
            let affected = dag.affected(edit);
            prop_assert!(
                ran.is_subset(&affected),
                "ran {:?}, but the edit reaches only {:?}: {}", ran, affected, context
            );
            matches_a_clean_build(&dag, &state, &out, &context);
            let after = out.again().run().success();
            prop_assert!(
                after.stderr.contains(SHORTCUT) || after.stderr.contains(" 0 ran"),
                "the build right after ran something: {}\n{}", after.stderr, context
            );
            test = after.again();
        }
    }
}
