//! The spliced lockfile against the whole-file rewrite, over sequences of builds that add,
//! change, keep and drop entries: the same bytes and the same disagreement lines every time.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::json;

use super::{Found, splice};
use crate::hash::{ActionKey, Digest, InputDigest, Platform};
use crate::lockfile::built::Built;
use crate::lockfile::layout::Layout;
use crate::lockfile::update::{Updated, updated, whole};
use crate::lockfile::{LockfileError, encode};

/// Names that need escapes, sort apart from their escapes, or are empty.
const NAMES: &[&str] = &["a", "a b", "b\"q", "c\\d", "é", "z\u{1}", "", "m\n", "a\t"];
const STEPS: &[&str] = &["s", "t\"u"];

fn keys() -> Vec<ActionKey> {
    let input = |path: &str, n: u8, executable| InputDigest {
        path: path.into(),
        digest: Digest::of(&[n]),
        executable,
    };
    let key = ActionKey {
        cmd: "python3 fit.py".into(),
        inputs: vec![input("data/", 0, false), input("fit.py", 1, true)],
        outputs: vec!["out/a".into()],
        params: BTreeMap::new(),
        env: BTreeMap::new(),
        workdir: ".".into(),
        platform: Some(Platform::current()),
    };
    vec![
        key.clone(),
        ActionKey {
            cmd: "echo \"a\\b\"\n".into(),
            platform: None,
            ..key.clone()
        },
        ActionKey {
            params: BTreeMap::from([
                ("lr".into(), json!(0.1)),
                ("grid".into(), json!({"z": [1, [], {}], "a": "\u{1}é"})),
                ("big".into(), json!(2.666_666_666_666_666_7e122)),
            ]),
            env: BTreeMap::from([("SEED".into(), "0".into())]),
            ..key.clone()
        },
        ActionKey {
            inputs: vec![input("data/", 2, false)],
            workdir: "sub dir".into(),
            ..key
        },
    ]
}

fn outputs(variant: usize) -> Vec<(String, Digest, bool)> {
    let output = |path: &str, n: u8, executable| (path.to_string(), Digest::of(&[n]), executable);
    match variant {
        0 => vec![],
        1 => vec![output("out/a", 0, false)],
        // Not in path order, as an action may declare them.
        2 => vec![output("out/z", 1, true), output("out/a", 0, false)],
        3 => vec![output("out/d/", 2, false)],
        4 => vec![output("out/d/", 3, false)],
        5 => vec![output("out/a", 1, false)],
        // As 2, but no longer executable.
        _ => vec![output("out/z", 1, false), output("out/a", 0, false)],
    }
}

fn metrics(variant: usize) -> Vec<String> {
    match variant {
        0 => vec![],
        1 => vec!["out/a".into()],
        _ => vec!["out/m\"x".into(), "out/a".into()],
    }
}

/// Paths inside an output directory, each with the digest a reader read this build, if any.
fn held(variant: usize) -> Vec<(String, Option<String>)> {
    let read = |n: u8| Some(encode(&Digest::of(&[n]), n.is_multiple_of(2)));
    match variant {
        0 => vec![],
        1 => vec![("out/d/f".into(), None)],
        2 => vec![("out/d/f".into(), read(4)), ("out/d/g".into(), None)],
        _ => vec![("out/d/f".into(), read(5))],
    }
}

/// One action as a build leaves it, as indexes into the small sets above, so that builds
/// often repeat what an earlier one did.
#[derive(Clone, Copy, Debug, Default)]
struct Plan {
    step: usize,
    key: usize,
    outputs: usize,
    metrics: usize,
    held: usize,
}

/// What the plans pick from: every key and every set of outputs.
struct Sets {
    keys: Vec<ActionKey>,
    outputs: Vec<Vec<(String, Digest, bool)>>,
}

fn sets() -> Sets {
    Sets {
        keys: keys(),
        outputs: (0..7).map(outputs).collect(),
    }
}

impl Plan {
    fn built<'a>(self, name: &'a str, cached: bool, sets: &'a Sets) -> Built<'a> {
        let key = &sets.keys[self.key];
        Built {
            name,
            step: STEPS[self.step],
            cached,
            key,
            digest: key.digest(),
            outputs: &sets.outputs[self.outputs],
            metrics: metrics(self.metrics),
            held: held(self.held),
        }
    }
}

/// What changes about an action built again: each field `None` stays as it was.
#[derive(Clone, Debug)]
struct Change {
    step: Option<usize>,
    key: Option<usize>,
    outputs: Option<usize>,
    metrics: Option<usize>,
    held: Option<usize>,
    cached: bool,
}

fn change() -> impl Strategy<Value = Change> {
    let maybe = |weight, range| proptest::option::weighted(weight, range);
    (
        maybe(0.2, 0..STEPS.len()),
        maybe(0.3, 0..4usize),
        maybe(0.3, 0..7usize),
        maybe(0.2, 0..3usize),
        maybe(0.3, 0..4usize),
        any::<bool>(),
    )
        .prop_map(|(step, key, outputs, metrics, held, cached)| Change {
            step,
            key,
            outputs,
            metrics,
            held,
            cached,
        })
}

/// How the text is changed by hand between two builds.
#[derive(Clone, Copy, Debug)]
enum Mess {
    None,
    Compact,
    Reindented,
    Conflict,
    Newer,
}

#[derive(Clone, Debug)]
struct Build {
    /// The actions the graph has besides those built.
    graph: BTreeSet<usize>,
    /// In the order the build finished them.
    built: Vec<(usize, Change)>,
    mess: Mess,
}

fn build() -> impl Strategy<Value = Build> {
    let mess = prop_oneof![
        12 => Just(Mess::None),
        1 => Just(Mess::Compact),
        1 => Just(Mess::Reindented),
        1 => Just(Mess::Conflict),
        1 => Just(Mess::Newer),
    ];
    (
        proptest::collection::btree_set(0..NAMES.len(), 0..=NAMES.len()),
        proptest::collection::btree_map(0..NAMES.len(), change(), 0..=NAMES.len()),
        any::<u64>(),
        mess,
    )
        .prop_map(|(graph, built, seed, mess)| {
            let mut built: Vec<_> = built.into_iter().collect();
            // Any order of finishing, not only that of the names.
            let len = built.len().max(1);
            built.rotate_left(usize::try_from(seed).unwrap_or(0) % len);
            Build { graph, built, mess }
        })
}

fn messed(text: &str, mess: Mess) -> String {
    match mess {
        Mess::None => text.to_string(),
        Mess::Compact => {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            serde_json::to_string(&value).unwrap()
        }
        Mess::Reindented => text.replace("\n  ", "\n   "),
        Mess::Conflict => text.replacen("\n    \"", "\n<<<<<<< HEAD\n    \"", 1),
        Mess::Newer => text.replacen("\"version\": 1", "\"version\": 7", 1),
    }
}

/// The text a result leaves: its own, or `old` when it keeps that.
fn text_of(updated: Updated, old: Option<&str>) -> (String, Vec<String>) {
    let text = updated
        .text
        .or_else(|| old.map(str::to_string))
        .expect("a text to keep");
    (text, updated.disagreements)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn splices_the_bytes_the_whole_rewrite_writes(
        builds in proptest::collection::vec(build(), 1..10),
    ) {
        let sets = sets();
        let mut plans: BTreeMap<usize, Plan> = BTreeMap::new();
        let mut text: Option<String> = None;
        for build in builds {
            let mut done = Vec::new();
            for (name, change) in &build.built {
                let was = plans.get(name).copied().unwrap_or_default();
                let plan = Plan {
                    step: change.step.unwrap_or(was.step),
                    key: change.key.unwrap_or(was.key),
                    outputs: change.outputs.unwrap_or(was.outputs),
                    metrics: change.metrics.unwrap_or(was.metrics),
                    held: change.held.unwrap_or(was.held),
                };
                plans.insert(*name, plan);
                done.push(plan.built(NAMES[*name], change.cached, &sets));
            }
            let find = |name: &str| match NAMES.iter().position(|known| *known == name) {
                Some(index) => match build.built.iter().position(|(built, _)| *built == index) {
                    Some(at) => Found::Built(at),
                    None if build.graph.contains(&index) => Found::Kept,
                    None => Found::Gone,
                },
                None => Found::Gone,
            };
            let old = text.as_deref().map(|text| messed(text, build.mess));
            let old = old.as_deref();
            let expected = whole(old, &done, &find);
            let got = match (old, build.mess) {
                // What the whole rewrite wrote, the splice must take, not hand back.
                (Some(old), Mess::None) => {
                    let layout = Layout::scan(old);
                    prop_assert!(layout.is_some(), "the layout gave up on {:?}", old);
                    let spliced = layout.and_then(|layout| splice(&layout, &done, &find));
                    prop_assert!(spliced.is_some(), "the splice gave up on {:?}", old);
                    spliced.ok_or(LockfileError::Git(String::new()))
                }
                _ => updated(old, &done, &find),
            };
            match (expected, got) {
                (Ok(expected), Ok(got)) => {
                    let expected = text_of(expected, old);
                    prop_assert_eq!(&text_of(got, old), &expected);
                    text = Some(expected.0);
                }
                (Err(LockfileError::Newer { .. }), Err(LockfileError::Newer { .. })) => {
                    text = None;
                }
                (expected, got) => {
                    prop_assert!(false, "whole: {:?}, spliced: {:?}", expected.err(), got.err());
                }
            }
        }
    }
}

#[test]
fn a_build_that_changes_nothing_leaves_the_text() {
    let sets = sets();
    let plan = Plan {
        outputs: 2,
        metrics: 2,
        ..Plan::default()
    };
    let done = [plan.built("fit", true, &sets)];
    let find = |name: &str| {
        if name == "fit" {
            Found::Built(0)
        } else {
            Found::Gone
        }
    };
    let text = whole(None, &done, &find).unwrap().text.unwrap();
    let layout = Layout::scan(&text).unwrap();
    let again = splice(&layout, &done, &find).unwrap();
    assert_eq!(again.text, None);
    assert!(again.disagreements.is_empty());
}

#[test]
fn a_cached_action_that_left_other_outputs_under_the_same_key_is_reported() {
    let sets = sets();
    let find = |name: &str| {
        if name == "fit" {
            Found::Built(0)
        } else {
            Found::Gone
        }
    };
    let first = [Plan {
        outputs: 1,
        ..Plan::default()
    }
    .built("fit", false, &sets)];
    let text = whole(None, &first, &find).unwrap().text.unwrap();
    let cached = [Plan {
        outputs: 5,
        ..Plan::default()
    }
    .built("fit", true, &sets)];
    let spliced = splice(&Layout::scan(&text).unwrap(), &cached, &find).unwrap();
    assert_eq!(
        spliced.disagreements.len(),
        1,
        "{:?}",
        spliced.disagreements
    );
    assert!(
        spliced.disagreements[0].contains(&format!(
            "`out/a` is {} in the cache, {} in",
            Digest::of(&[1]).short(),
            Digest::of(&[0]).short()
        )),
        "{}",
        spliced.disagreements[0]
    );
    assert_eq!(
        spliced.text,
        whole(Some(&text), &cached, &find).unwrap().text
    );
}
