//! The manifest mistakes a new user makes first, in plain words: a KDL 1 boolean, a path left
//! unquoted, a block that is never closed, and a mistake inside a template, which names the
//! steps that use it. Each is located (`file:line:column` with a snippet), and its whole
//! rendering is pinned in `tests/golden/kdl_words/`: regenerate after an intended change with
//! `ZENBUILD_BLESS=1 cargo test --test kdl_plain_words` and review the diff.

mod common;
use common::golden::assert_golden;
use common::{Output, Test};

fn check(manifest: &str) -> Output {
    Test::new()
        .manifest(manifest)
        .args(&["check"])
        .run()
        .bad_manifest()
}

fn golden(name: &str, out: &Output) {
    assert_golden(&format!("tests/golden/kdl_words/{name}.txt"), &out.stderr);
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

/// The rendered diagnostic (from its code line to the next one's) whose message is `message`.
fn block<'a>(stderr: &'a str, message: &str) -> &'a str {
    let at = stderr
        .find(&format!("× {message}"))
        .unwrap_or_else(|| panic!("no {message:?} in\n{stderr}"));
    let end = stderr[at..]
        .find("zenbuild::")
        .map_or(stderr.len(), |next| at + next);
    &stderr[at..end]
}

#[test]
fn each_template_mistake_names_exactly_the_steps_that_make_it() {
    // `a` has the matrix variable `k`; `b` and `c` do not, so only they make the `{{k}}`
    // mistakes, while all three lack the param.
    let manifest = r#"template "t" {
    params "nope"
    cmd "echo {{k}} > {{step}}.txt"
    outputs "{{step}}-{{k}}.txt"
}
step "a" template="t" {
    matrix {
        k 1 2
    }
}
step "b" template="t"
step "c" template="t"
"#;
    let out = check(manifest).error_count(3);
    let param = block(
        &out.stderr,
        "param `nope` is not defined in the params files",
    );
    for step in ["a", "b", "c"] {
        assert!(
            param.contains(&format!("step `{step}` uses template `t`")),
            "{param}"
        );
    }
    let out = out
        .located_at("zenbuild.kdl:3:15")
        .located_at("zenbuild.kdl:4:23");
    let stderr = out.stderr.replace("zenbuild::undefined-param", "");
    let variables: Vec<&str> = stderr
        .match_indices("× `{{k}}` is not defined")
        .map(|(at, _)| {
            let end = stderr[at..]
                .find("zenbuild::")
                .map_or(stderr.len(), |n| at + n);
            &stderr[at..end]
        })
        .collect();
    assert_eq!(variables.len(), 2, "{stderr}");
    for variable in variables {
        assert!(
            variable.contains("step `b` uses template `t`"),
            "{variable}"
        );
        assert!(
            variable.contains("step `c` uses template `t`"),
            "{variable}"
        );
        assert!(!variable.contains("step `a`"), "{variable}");
    }
}

#[test]
fn many_mistakes_in_a_template_many_steps_use_are_folded_in_linear_time() {
    // Folding each step's copy of each mistake into the first one once searched the earlier
    // diagnostics and removed from the middle of the list: 20,000 mistakes used by two steps
    // took 8 s in a debug build instead of 0.2 s.
    let inputs: Vec<String> = (0..30_000).map(|i| format!("\"../x{i}\"")).collect();
    let manifest = format!(
        "template \"t\" {{\n    cmd \"x\"\n    inputs {}\n}}\nstep \"a\" template=\"t\"\nstep \"b\" template=\"t\"\nstep \"c\" template=\"t\"\n",
        inputs.join(" ")
    );
    let started = std::time::Instant::now();
    let out = check(&manifest).error_count(30_000);
    let took = started.elapsed();
    assert!(took.as_secs() < 6, "took {took:?}");
    assert!(
        out.stderr.contains("step `c` uses template `t`"),
        "{}",
        &out.stderr[..2000]
    );
}
