//! `zenbuild graph --format dot|mermaid|json`.

mod common;
use common::Test;

const MANIFEST: &str = r#"project "demo \"quoted\""
step "prep" { cmd "x"; outputs "data/"; }
step "fit" { cmd "x"; inputs "data/train.csv"; outputs "model.pkl"; }
step "notify" { cmd "x"; needs "fit"; }
"#;

fn graph(format: &str) -> common::Output {
    Test::new()
        .manifest(MANIFEST)
        .args(&["graph", "--format", format])
        .run()
        .success()
}

#[test]
fn dot_is_a_digraph_of_actions_and_artifacts() {
    let out = graph("dot")
        .stdout_contains("digraph \"demo \\\"quoted\\\"\" {\n")
        .stdout_contains("  \"action:fit\" [label=\"fit\", shape=box")
        .stdout_contains("  \"path:data\" [label=\"data/\", shape=folder];")
        .stdout_contains("  \"path:model.pkl\" [label=\"model.pkl\", shape=note];")
        .stdout_contains("  \"path:data/train.csv\" -> \"action:fit\";")
        .stdout_contains("  \"action:fit\" -> \"path:model.pkl\";")
        .stdout_contains("  \"path:model.pkl\" -> \"action:notify\";")
        .stdout_contains(
            "  \"path:data\" -> \"path:data/train.csv\" [style=dotted, label=\"holds\"];",
        )
        .stdout_lacks("[style=dashed]");
    assert!(out.stdout.ends_with("}\n"), "{}", out.dump());
    // Every edge joins declared nodes.
    let declared: Vec<&str> = out
        .stdout
        .lines()
        .filter(|line| line.contains(" [label="))
        .filter_map(|line| line.trim().split(" [").next())
        .collect();
    for edge in out.stdout.lines().filter(|line| line.contains(" -> ")) {
        let edge = edge
            .trim()
            .trim_end_matches(';')
            .split(" [")
            .next()
            .unwrap_or_default();
        for end in edge.split(" -> ") {
            assert!(
                declared.contains(&end),
                "{end} is not declared\n{}",
                out.dump()
            );
        }
    }
}

#[test]
fn dot_is_the_default_format() {
    let out = Test::new()
        .manifest(MANIFEST)
        .args(&["graph"])
        .run()
        .success();
    assert_eq!(out.stdout, graph("dot").stdout);
}

#[test]
fn graphviz_accepts_the_dot_output() {
    if !Test::has_program("dot") {
        println!(
            "note: Graphviz `dot` is not installed; skipping the check that it accepts the output"
        );
        return;
    }
    let out = graph("dot");
    let path = out.dir.path().join("graph.dot");
    std::fs::write(&path, &out.stdout).expect("write graph.dot");
    let svg = std::process::Command::new("dot")
        .arg("-Tsvg")
        .arg(&path)
        .output()
        .expect("run dot");
    assert!(
        svg.status.success(),
        "dot rejected the graph: {}\n{}",
        String::from_utf8_lossy(&svg.stderr),
        out.stdout
    );
    assert!(String::from_utf8_lossy(&svg.stdout).contains("<svg"));
}

#[test]
fn mermaid_is_a_flowchart() {
    let out = graph("mermaid");
    assert!(out.stdout.starts_with("flowchart LR\n"), "{}", out.dump());
    let out = out
        .stdout_contains("    a1[\"fit\"]\n")
        .stdout_contains("[(\"data/\")]")
        .stdout_contains("[/\"model.pkl\"/]")
        .stdout_contains("    f0 -. holds .-> f2\n")
        .stdout_contains("    classDef action fill:#dbeafe,stroke:#1d4ed8\n")
        .stdout_contains("    class a0,a1,a2 action\n");
    // Every node an edge uses is declared with a label first.
    let declared: Vec<&str> = out
        .stdout
        .lines()
        .filter(|line| line.contains("[\"") || line.contains("[/\"") || line.contains("[(\""))
        .filter_map(|line| line.trim().split('[').next())
        .collect();
    for edge in out
        .stdout
        .lines()
        .filter(|line| line.contains("-->") || line.contains("-.->"))
    {
        for end in edge
            .split_whitespace()
            .filter(|word| !word.starts_with('-'))
        {
            assert!(
                declared.contains(&end),
                "{end} is not declared\n{}",
                out.dump()
            );
        }
    }
}

#[test]
fn json_describes_the_whole_graph() {
    let out = graph("json");
    let json = out.json();
    assert_eq!(json["project"], "demo \"quoted\"");
    assert_eq!(out.action_names(), ["prep", "fit", "notify"]);
    let fit = out.action("fit");
    assert_eq!(fit["deps"], serde_json::json!(["prep"]));
    let artifacts: Vec<&str> = json["artifacts"]
        .as_array()
        .map(|items| items.iter().filter_map(|a| a["path"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(artifacts, ["data/", "data/train.csv", "model.pkl"]);
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    Test::new()
        .manifest(MANIFEST)
        .args(&["graph", "--format", "png"])
        .run()
        .bad_manifest()
        .stderr_contains("invalid value 'png'")
        .stderr_contains("[possible values: dot, mermaid, json]");
}
