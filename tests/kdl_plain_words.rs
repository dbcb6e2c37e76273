//! The manifest mistakes a new user makes first, in plain words: a KDL 1 boolean, a path left
//! unquoted, a block that is never closed, and a mistake inside a template, which names the
//! steps that use it. Each is located (file:line:column with a snippet), and its whole
//! rendering is pinned in tests/golden/kdl_words/: regenerate after an intended change with
//! `ZENBUILD_BLESS=1 cargo test --test kdl_plain_words` and review the diff.

mod common;
use std::path::Path;

use common::{Output, Test};

fn check(manifest: &str) -> Output {
    Test::new()
        .manifest(manifest)
        .args(&["check"])
        .run()
        .bad_manifest()
}

fn golden(name: &str, out: &Output) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/kdl_words/{name}.txt"));
    if std::env::var_os("ZENBUILD_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &out.stderr).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with ZENBUILD_BLESS=1 to create it)",
            path.display()
        )
    });
    assert!(
        out.stderr == expected,
        "stderr differs from {}\n--- expected\n{expected}\n--- actual\n{}",
        path.display(),
        out.stderr
    );
}

#[test]
fn a_kdl_1_boolean_says_kdl_2_writes_hash_true() {
    let out = check(
        "project \"p\"\npipeline \"main\" default=true {\n    step \"s\" { cmd \"x\"; }\n}\n",
    )
    .error_at("zenbuild.kdl:2:25", "KDL 2 writes booleans as #true")
    .stderr_contains("write #true")
    .stderr_lacks("Expected identifier string")
    .error_count(1);
    golden("kdl_1_boolean", &out);
}

#[test]
fn an_unquoted_path_says_quote_it() {
    let out = check("step \"s\" {\n    cmd \"x\"\n    inputs src/a.py \"b.csv\"\n}\n")
        .error_at(
            "zenbuild.kdl:3:12",
            "paths are strings in KDL: quote it: \"src/a.py\"",
        )
        .stderr_lacks("Expected identifier string")
        .error_count(1);
    golden("unquoted_path", &out);
}

#[test]
fn a_missing_brace_points_at_the_block_left_open_once() {
    // The `}` on the last line closes `step "a"` by count, but by its indentation it is the
    // pipeline's: the step is the block whose `}` is missing.
    let out = check(
        "pipeline \"main\" {\n    step \"a\" {\n        cmd \"x\"\n\n    step \"b\" {\n        cmd \"y\"\n    }\n}\n",
    )
    .error_at("zenbuild.kdl:2:14", "a block is never closed")
    .error_times("a block is never closed", 1)
    .error_count(1);
    golden("missing_brace", &out);
}

#[test]
fn a_mistake_in_a_template_names_the_steps_that_use_it() {
    let manifest = r#"template "fit" {
    cmd "python3 fit.py {{params.lr}} > {{step}}.txt"
    outputs "{{step}}.txt"
}
step "small" template="fit"
step "large" template="fit"
step "alone" { cmd "echo"; }
"#;
    let out = check(manifest)
        .error_at(
            "zenbuild.kdl:2:25",
            "param `lr` is not defined in the params files",
        )
        .stderr_contains("step `small` uses template `fit`")
        .stderr_contains("step `large` uses template `fit`")
        .stderr_lacks("`alone`")
        .error_times("param `lr` is not defined in the params files", 1)
        .error_count(1);
    golden("template_users", &out);
}

#[test]
fn a_template_in_an_included_file_names_the_step_in_a_note() {
    Test::new()
        .manifest("include \"templates.kdl\"\nstep \"a\" template=\"t\"\n")
        .file(
            "templates.kdl",
            "template \"base\" {\n    cmd \"echo {{nope}}\"\n}\ntemplate \"t\" extends=\"base\" {\n    outputs \"o\"\n}\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("templates.kdl:2:15", "`{{nope}}` is not defined")
        .note_at("zenbuild.kdl:2:19", "step `a` uses template `t`")
        .error_count(1);
}
