//! Random and mutated manifests never make the loader or compiler panic: every input ends in
//! a graph or in diagnostics.

use std::path::Path;

use proptest::prelude::*;

/// Real manifests to mutate: the examples and a few shapes the examples lack.
fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts: Vec<String> = [
        "examples/quickstart/zenbuild.kdl",
        "examples/sweep/zenbuild.kdl",
        "examples/sweep/templates.kdl",
    ]
    .iter()
    .map(|path| std::fs::read_to_string(root.join(path)).expect("example manifest"))
    .collect();
    texts.push(
        r##"project "x"
template "t" { env A="1"; resources cpus=2 memory="1GiB" gpus=1; timeout "1h30m"; retries 2 }
pipeline "p" default=#true {
    step "a" template="t" { matrix { k 1 2.5 "s" #true; }; cmd "echo {{k}} > out/{{k}}.txt"; outputs "out/{{k}}.txt"; }
    step "b" { cmd "cat out/*"; inputs "out/"; needs "a"; workdir "sub"; cache #false; outputs "b/" }
    use "c"
}
step "c" { cmd "true"; inputs "zenbuild.kdl" "*.kdl"; outputs #"c "quoted".txt"#; }
"##
        .to_string(),
    );
    texts
}

/// Characters that matter to KDL and to zenbuild's own syntax.
const ALPHABET: &[&str] = &[
    "{", "}", "\"", "#", "=", ";", "\n", " ", "/", "*", "-", "(", ")", "\\", "{{", "}}", "..", "@",
    ",", "0", "1.5", "x", "é", "\t", "#true", "#\"", "/-", "step", "cmd", "needs", "matrix",
    "template", "include", "params",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, piece: usize },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..12).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), 0..ALPHABET.len()).prop_map(|(at, piece)| Edit::Insert { at, piece }),
        any::<usize>().prop_map(|line| Edit::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
    ]
}

fn char_boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &mut String, edit: &Edit) {
    match *edit {
        Edit::Delete { at, len } => {
            let start = char_boundary(text, at);
            let end = char_boundary(text, (start + len).min(text.len()));
            text.replace_range(start..end.max(start), "");
        }
        Edit::Insert { at, piece } => {
            let at = char_boundary(text, at);
            text.insert_str(at, ALPHABET[piece]);
        }
        Edit::DuplicateLine { line } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let index = line % lines.len();
                lines.insert(index, lines[index]);
            }
            *text = lines.join("\n");
        }
        Edit::SwapLines { a, b } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let (a, b) = (a % lines.len(), b % lines.len());
                lines.swap(a, b);
            }
            *text = lines.join("\n");
        }
    }
}

/// Loads and compiles `text` as a workspace's manifest; only a panic fails.
fn load_and_compile(dir: &Path, text: &str) {
    std::fs::write(dir.join("zenbuild.kdl"), text).expect("write manifest");
    if let Ok((manifest, problems)) = zenbuild::manifest::load(&dir.join("zenbuild.kdl")) {
        let _ = zenbuild::graph::compile(&manifest, dir, problems);
    }
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The sweep example's include and params, so mutated copies reach the compiler.
    for file in ["templates.kdl", "params.yaml"] {
        std::fs::copy(
            root.join("examples/sweep").join(file),
            dir.path().join(file),
        )
        .expect("copy example file");
    }
    std::fs::create_dir_all(dir.path().join("sub")).expect("create sub");
    dir
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_manifests_never_panic(base in 0usize..4, edits in prop::collection::vec(edit(), 1..6)) {
        let corpus = corpus();
        let mut text = corpus[base % corpus.len()].clone();
        for edit in &edits {
            apply(&mut text, edit);
        }
        let dir = workspace();
        load_and_compile(dir.path(), &text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let dir = workspace();
        load_and_compile(dir.path(), &text);
    }

    #[test]
    fn token_soup_never_panics(pieces in prop::collection::vec(0..ALPHABET.len(), 0..60)) {
        let text: String = pieces.iter().map(|&i| ALPHABET[i]).collect::<Vec<_>>().join(" ");
        let dir = workspace();
        load_and_compile(dir.path(), &text);
    }
}
