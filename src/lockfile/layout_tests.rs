//! The layout against serde: it reads every form `to_text` writes, and gives up on every
//! other, whether serde reads it or not.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::lockfile::{Locked, Lockfile};

fn locked(step: &str) -> Locked {
    Locked {
        step: step.into(),
        key: "k".repeat(64),
        cmd: "python3 -c \"print('a\\tb')\"\n".into(),
        workdir: ".".into(),
        platform: "linux-x86_64".into(),
        inputs: BTreeMap::from([("b".into(), "1".into()), ("a\u{1}é".into(), "2+x".into())]),
        outputs: BTreeMap::from([("out/d/".into(), "3".into()), ("out/a".into(), "4".into())]),
        params: BTreeMap::from([
            ("lr".into(), json!(0.1)),
            ("big".into(), json!(2.666_666_666_666_666_7e122)),
            ("n".into(), json!(-3)),
            ("u".into(), json!(u64::MAX)),
            (
                "grid".into(),
                json!({"z": [1, [], {}, [null, true, false]], "a": "\u{7f}\u{1f}\\"}),
            ),
        ]),
        env: BTreeMap::from([("SEED".into(), "0".into())]),
        metrics: vec!["out/m.json".into(), "out/a".into()],
        inside: BTreeMap::from([("out/d/f".into(), "5".into())]),
    }
}

fn sample() -> Lockfile {
    let bare = Locked {
        inputs: BTreeMap::new(),
        outputs: BTreeMap::new(),
        params: BTreeMap::new(),
        env: BTreeMap::new(),
        metrics: Vec::new(),
        inside: BTreeMap::new(),
        ..locked("bare")
    };
    Lockfile {
        version: LOCK_VERSION,
        actions: BTreeMap::from([
            ("fit".into(), locked("fit")),
            ("a \"quoted\" \\ name\n".into(), locked("q")),
            ("é".into(), bare.clone()),
            (String::new(), bare),
        ]),
    }
}

#[test]
fn reads_what_to_text_writes() {
    for lock in [Lockfile::default(), sample()] {
        let text = lock.to_text();
        let layout = Layout::scan(&text).expect("the layout of a written lockfile");
        let names: Vec<_> = layout.entries.iter().map(|e| unescape(e.name)).collect();
        let expected: Vec<_> = lock.actions.keys().map(String::as_str).collect();
        assert_eq!(names, expected);
        for entry in &layout.entries {
            let locked = &lock.actions[unescape(entry.name).as_ref()];
            assert_eq!(
                serde_json::from_str::<Locked>(entry.value).unwrap(),
                *locked
            );
            assert!(
                text.contains(&format!("{},\n", entry.text))
                    || text.contains(&format!("{}\n  }}", entry.text))
            );
            assert_eq!(unescape(entry.step), locked.step);
            assert_eq!(entry.key, locked.key);
            let pairs = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
                pairs
                    .iter()
                    .map(|(p, d)| (unescape(p).into_owned(), unescape(d).into_owned()))
                    .collect()
            };
            assert_eq!(pairs(layout.outputs(entry)), locked.outputs);
            assert_eq!(pairs(layout.inside(entry)), locked.inside);
            let metrics: Vec<_> = layout.metrics(entry).iter().map(|m| unescape(m)).collect();
            assert_eq!(metrics, locked.metrics);
        }
    }
}

/// Each of these edits leaves a text that serde reads (or refuses), but not one `to_text`
/// writes.
#[test]
fn gives_up_on_any_other_form() {
    let mut lock = Lockfile::default();
    lock.actions.insert("fit".into(), locked("fit"));
    let text = lock.to_text();
    assert!(Layout::scan(&text).is_some());
    let edit = |from: &str, to: &str| {
        assert!(text.contains(from), "no {from:?} in\n{text}");
        text.replacen(from, to, 1)
    };
    let entry = Layout::scan(&text).unwrap().entries[0].text;
    let all = sample().to_text();
    let layout = Layout::scan(&all).unwrap();
    let (fit, last) = (layout.entries[2].text, layout.entries[3].text);
    let edits = [
        ("compact", serde_json::to_string(&lock).unwrap() + "\n"),
        ("four spaces", text.replace("\n  ", "\n    ")),
        ("crlf", text.replace('\n', "\r\n")),
        ("no final newline", text.trim_end().to_string()),
        ("two final newlines", format!("{text}\n")),
        ("trailing garbage", format!("{text}x")),
        ("newer", edit("\"version\": 1", "\"version\": 2")),
        ("older", edit("\"version\": 1", "\"version\": 0")),
        (
            "conflict",
            edit("      \"step\"", "<<<<<<< HEAD\n      \"step\""),
        ),
        (
            "unknown field",
            edit("\"step\"", "\"note\": \"x\",\n      \"step\""),
        ),
        ("missing field", edit("      \"workdir\": \".\",\n", "")),
        (
            "fields reordered",
            edit(
                "\"workdir\": \".\",\n      \"platform\": \"linux-x86_64\"",
                "\"platform\": \"linux-x86_64\",\n      \"workdir\": \".\"",
            ),
        ),
        (
            "empty optional map",
            edit("{\n        \"SEED\": \"0\"\n      }", "{}"),
        ),
        (
            "empty metrics",
            edit(
                "[\n        \"out/m.json\",\n        \"out/a\"\n      ]",
                "[]",
            ),
        ),
        (
            "unsorted map",
            edit(
                "\"out/a\": \"4\",\n        \"out/d/\": \"3\"",
                "\"out/d/\": \"3\",\n        \"out/a\": \"4\"",
            ),
        ),
        (
            "duplicate key",
            edit("\"out/d/\": \"3\"", "\"out/a\": \"3\""),
        ),
        ("duplicate name", edit(entry, &format!("{entry},\n{entry}"))),
        (
            "unsorted names",
            all.replacen(fit, "\0", 1)
                .replacen(last, fit, 1)
                .replacen('\0', last, 1),
        ),
        ("escaped slash", edit("out/m.json", "out\\/m.json")),
        ("escaped letter", edit("out/m.json", "out/\\u006d.json")),
        ("long escape for a newline", edit("\\n\"", "\\u000a\"")),
        ("upper-case escape", edit("\\u001f", "\\u001F")),
        ("raw tab", edit("\\t", "\t")),
        ("float exponent", edit("\"lr\": 0.1", "\"lr\": 1e-1")),
        ("trailing zero", edit("\"n\": -3", "\"n\": -3.00")),
        ("minus zero", edit("\"n\": -3", "\"n\": -0")),
        (
            "duplicate nested key",
            edit("\"a\": \"\u{7f}", "\"z\": \"\u{7f}"),
        ),
        ("space before colon", edit("\"cmd\": ", "\"cmd\" : ")),
        ("tab indent", edit("      \"cmd\"", "\t\t\t\"cmd\"")),
    ];
    for (what, edited) in edits {
        assert!(edited != text && edited != all, "{what} changed nothing");
        assert!(Layout::scan(&edited).is_none(), "read {what}:\n{edited}");
    }
}

#[test]
fn gives_up_past_the_depth_limit() {
    let nested = |depth: usize| {
        let mut lock = Lockfile::default();
        let mut value = json!(1);
        for _ in 0..depth {
            value = json!([value]);
        }
        let mut entry = locked("deep");
        entry.params = BTreeMap::from([("p".into(), value)]);
        lock.actions.insert("deep".into(), entry);
        lock.to_text()
    };
    assert!(Layout::scan(&nested(MAX_DEPTH)).is_some());
    assert!(Layout::scan(&nested(MAX_DEPTH + 1)).is_none());
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let text = nested(1).replace("[\n          1\n        ]", &deep);
    assert!(text.contains(&deep));
    assert!(Layout::scan(&text).is_none());
}

/// What the layout reads, serde reads as the lockfile `to_text` writes as the same bytes.
fn agrees(text: &str) -> bool {
    if Layout::scan(text).is_none() {
        return true;
    }
    Lockfile::parse(text).is_ok_and(|lock| lock.to_text() == text)
}

const PIECES: &[&str] = &[
    " ",
    "\n",
    ",",
    "\"",
    "\\",
    "\\u0041",
    "\\u001F",
    "\\/",
    "\\n",
    "0",
    "1.0",
    "e5",
    "-",
    "{}",
    "[]",
    "}",
    "]",
    "\"a\": \"b\",\n        ",
    "null",
    "é",
    "\t",
    "\u{1}",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Whatever the layout accepts is exactly what `to_text` writes for what serde reads.
    #[test]
    fn never_accepts_another_form(
        edits in proptest::collection::vec(
            (any::<usize>(), 0usize..PIECES.len(), any::<bool>()),
            1..4,
        ),
    ) {
        let mut text = sample().to_text();
        for (at, piece, delete) in edits {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if delete {
                let mut end = (at + 1 + at % 3).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                text.replace_range(at..end, "");
            } else {
                text.insert_str(at, PIECES[piece]);
            }
        }
        prop_assert!(agrees(&text), "the layout accepts {:?}", text);
    }
}

/// The run ends at the first quote, backslash or control character wherever it lies among
/// the bytes looked at together, and not at all without one.
#[test]
fn a_plain_run_ends_where_a_byte_at_a_time_says() {
    for len in 0..50 {
        for end in [b'"', b'\\', b'\n', 0x1f, 0x00] {
            for at in 0..=len {
                let mut bytes = vec![b'a'; len];
                if at < len {
                    bytes[at] = end;
                }
                let slow = bytes
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\' || b < 0x20);
                assert_eq!(plain_run(&bytes), slow, "len {len}, at {at}, byte {end}");
            }
        }
    }
    assert_eq!(plain_run("é\u{7f} ~".as_bytes()), None);
}
