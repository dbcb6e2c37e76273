//! What `zenbuild graph` draws: files inside output directories linked to them, `--steps`
//! in every format, and a step's many sources grouped into one node.

mod common;
use common::Test;

const OUTPUT_DIR: &str = r#"
step "a" { cmd "mkdir -p out/d && echo hi > out/d/f.txt"; outputs "out/d/"; }
step "b" { cmd "cat out/d/f.txt > out/b.txt"; inputs "out/d/f.txt"; outputs "out/b.txt"; }
"#;

#[test]
fn graph_links_a_file_inside_an_output_directory_to_the_directory() {
    let out = Test::new()
        .manifest(OUTPUT_DIR)
        .args(&["graph"])
        .run()
        .success()
        .stdout_contains(r#""path:out/d" -> "path:out/d/f.txt" [style=dotted, label="holds"];"#)
        .stdout_contains(r#""path:out/d/f.txt" -> "action:b";"#)
        .stdout_lacks("style=dashed");
    let out = out
        .again()
        .args(&["graph", "--format", "mermaid"])
        .run()
        .success();
    assert!(
        out.stdout.lines().any(|line| line.contains("-. holds .->")),
        "{}",
        out.stdout
    );
    let out = out
        .again()
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let file = out.artifact("out/d/f.txt");
    assert_eq!(file["producer"], "a");
    assert_eq!(file["within"], "out/d/");
    assert!(out.artifact("out/d/").get("within").is_none());
}

const SWEEP: &str = r#"
step "prepare" { cmd "mkdir -p out && cp data.csv out/clean.csv"; inputs "data.csv"; outputs "out/clean.csv"; }
step "fit" {
    matrix { lr 0.1 0.3; }
    cmd "cp out/clean.csv out/model-{{lr}}.txt"
    inputs "out/clean.csv"
    outputs "out/model-{{lr}}.txt"
}
step "report" {
    cmd "cat out/model-*.txt > report.txt"
    needs "fit"
    outputs "report.txt"
}
"#;

#[test]
fn graph_steps_draws_steps_with_edges_between_them_in_every_format() {
    let out = Test::new()
        .manifest(SWEEP)
        .file("data.csv", "x\n")
        .args(&["graph", "--steps"])
        .run()
        .success()
        .stdout_contains(r#""step:fit" [label="fit (2 actions)""#)
        .stdout_contains(r#""step:prepare" -> "step:fit";"#)
        .stdout_contains(r#""step:fit" -> "step:report";"#)
        .stdout_lacks("path:")
        .stdout_lacks("action:");
    assert_eq!(out.stdout.matches(" -> ").count(), 2, "{}", out.stdout);
    let out = out
        .again()
        .args(&["graph", "--steps", "--format", "mermaid"])
        .run()
        .success()
        .stdout_contains("s0[\"prepare\"]")
        .stdout_contains("s1[\"fit (2 actions)\"]")
        .stdout_contains("s0 --> s1")
        .stdout_contains("s1 --> s2")
        .stdout_lacks("out/");
    let out = out
        .again()
        .args(&["graph", "--steps", "--format", "json", "report"])
        .run()
        .success();
    let json = out.json();
    assert_eq!(json["steps"][1]["name"], "fit");
    assert_eq!(
        json["steps"][1]["actions"],
        serde_json::json!(["fit@lr=0.1", "fit@lr=0.3"])
    );
    assert_eq!(
        json["edges"],
        serde_json::json!([
            { "from": "prepare", "to": "fit" },
            { "from": "fit", "to": "report" },
        ])
    );
}

#[test]
fn a_step_with_many_sources_draws_them_as_one_node() {
    let mut test = Test::new().manifest(
        r#"
step "many" {
    cmd "cat src/*.py > many.txt"
    inputs "src/*.py"
    outputs "many.txt"
}
step "few" {
    cmd "cat src/a.py src/b.py many.txt > few.txt"
    inputs "src/a.py" "src/b.py" "many.txt"
    outputs "few.txt"
}
"#,
    );
    for name in ["a", "b", "c", "d", "e", "f", "g"] {
        test = test.file(&format!("src/{name}.py"), name);
    }
    let out = test
        .args(&["graph"])
        .run()
        .success()
        .stdout_contains(r#""sources:many" [label="7 sources""#)
        .stdout_contains(r#""sources:many" -> "action:many";"#)
        .stdout_contains(r#""path:src/a.py" -> "action:few";"#)
        .stdout_lacks(r#""path:src/c.py""#)
        .stdout_lacks(r#""path:src/a.py" -> "action:many";"#);
    let out = out
        .again()
        .args(&["graph", "--format", "mermaid"])
        .run()
        .success()
        .stdout_contains("7 sources")
        .stdout_lacks("src/c.py");
    let out = out
        .again()
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    assert_eq!(
        out.action("many")["inputs"].as_array().map(Vec::len),
        Some(7),
        "the JSON lists every input"
    );
}
