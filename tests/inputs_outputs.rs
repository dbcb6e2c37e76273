//! `inputs`, `outputs` and `metrics`: files, directories (trailing `/`), globs over the
//! repository's files and other steps' outputs, and the paths that cannot work.

mod common;
use common::Test;
use serde_json::json;

fn sources() -> Test {
    Test::new()
        .file("src/a.py", "")
        .file("src/b.py", "")
        .file("src/readme.md", "")
        .file("src/pkg/c.py", "")
        .file("src/pkg/deep/d.py", "")
        .file("data/raw/x.csv", "")
}

const MANIFEST: &str = r#"step "gen" {
    cmd "gen"
    outputs "gen/extra.py" "gen/dir/"
}
step "use" {
    cmd "use"
    inputs "src/*.py" "data/raw/" "config.yaml"
    outputs "out/model.pkl" "out/plots/"
    metrics "out/metrics.json"
}
step "deep" {
    cmd "deep"
    inputs "src/**/*.py" "gen/*.py"
}
"#;

fn graph() -> common::Output {
    sources()
        .manifest(MANIFEST)
        .args(&["graph", "--format", "json"])
        .run()
        .success()
}

#[test]
fn files_directories_and_single_level_globs() {
    let out = graph();
    let action = out.action("use");
    assert_eq!(
        action["inputs"],
        json!(["config.yaml", "data/raw/", "src/a.py", "src/b.py"])
    );
    assert_eq!(out.artifact("data/raw/")["kind"], "dir");
    assert_eq!(out.artifact("config.yaml")["kind"], "file");
    assert_eq!(
        out.artifact("src/a.py")["producer"],
        serde_json::Value::Null
    );
}

#[test]
fn outputs_are_files_and_directories_and_metrics_are_outputs_too() {
    let out = graph();
    let action = out.action("use");
    assert_eq!(
        action["outputs"],
        json!(["out/model.pkl", "out/plots/", "out/metrics.json"])
    );
    assert_eq!(action["metrics"], json!(["out/metrics.json"]));
    assert_eq!(out.artifact("out/plots/")["kind"], "dir");
    assert_eq!(out.artifact("out/metrics.json")["producer"], "use");
}

#[test]
fn recursive_globs_match_source_files_and_other_steps_outputs() {
    let out = graph();
    let deep = out.action("deep");
    assert_eq!(
        deep["inputs"],
        json!([
            "gen/extra.py",
            "src/a.py",
            "src/b.py",
            "src/pkg/c.py",
            "src/pkg/deep/d.py"
        ])
    );
    // gen/extra.py does not exist yet: it matched because `gen` declares it.
    assert_eq!(deep["deps"], json!(["gen"]));
}

#[test]
fn a_glob_matching_nothing() {
    sources()
        .manifest("step \"s\" {\n    cmd \"x\"\n    inputs \"src/*.py\" \"nothing/*.csv\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:23", "`nothing/*.csv` matches no files")
        .stderr_contains("globs match files in the repository that git does not ignore, and the outputs other steps declare")
        .error_count(1);
}

#[test]
fn globs_skip_files_git_ignores() {
    Test::new()
        .file(".gitignore", "ignored/\n")
        .file("ignored/x.py", "")
        .manifest("step \"s\" {\n    cmd \"x\"\n    inputs \"ignored/*.py\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:12", "`ignored/*.py` matches no files");
}

#[test]
fn outputs_and_metrics_cannot_be_globs() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    outputs \"out/*.pkl\"\n    metrics \"out/m-?.json\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:13", "outputs cannot be a glob")
        .error_at("zenbuild.kdl:4:13", "metrics cannot be a glob")
        .stderr_contains("declare the directory the step writes into, with a trailing `/`")
        .error_count(2);
}

#[test]
fn an_output_produced_by_two_steps() {
    Test::new()
        .manifest("step \"a\" {\n    cmd \"x\"\n    outputs \"out/x.txt\"\n}\nstep \"b\" {\n    cmd \"y\"\n    outputs \"out/x.txt\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:7:13", "`out/x.txt` is an output of both `a` and `b`")
        .stderr_contains("also written by `a`")
        .stderr_contains("each path has exactly one producer; rename one of the outputs")
        .error_count(1);
}

#[test]
fn an_output_inside_another_steps_output_directory() {
    Test::new()
        .manifest("step \"a\" {\n    cmd \"x\"\n    outputs \"data/\"\n}\nstep \"b\" {\n    cmd \"y\"\n    metrics \"data/inner.json\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:7:13",
            "`data/inner.json` is an output of `b` but lies inside `data/`, an output of `a`",
        )
        .stderr_contains("each path has one producer; give one of the steps a separate directory")
        .error_count(1);
}

/// Outputs inside other steps' output directories are reported in the order of their paths,
/// whatever order the manifest declares them in.
#[test]
fn outputs_inside_output_directories_are_reported_in_path_order() {
    let out = Test::new()
        .manifest("step \"a\" {\n    cmd \"x\"\n    outputs \"data/\"\n}\nstep \"c\" {\n    cmd \"z\"\n    outputs \"data/z.json\"\n}\nstep \"b\" {\n    cmd \"y\"\n    outputs \"data/b.json\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_count(2);
    let first = out.stderr.find("`data/b.json` is an output of `b`");
    let second = out.stderr.find("`data/z.json` is an output of `c`");
    assert!(
        first.is_some() && second.is_some() && first < second,
        "{}",
        out.stderr
    );
}

#[test]
fn an_output_that_is_also_an_input_of_the_same_step() {
    Test::new()
        .manifest("step \"d\" {\n    cmd \"x\"\n    inputs \"d.txt\"\n    outputs \"d.txt\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:12",
            "`d.txt` is both an input and an output of `d`",
        )
        .stderr_contains("a step cannot read what it writes; write the result to a new path")
        .error_count(1);
}

#[test]
fn an_input_directory_holding_the_steps_own_output() {
    Test::new()
        .manifest(
            "step \"d\" {\n    cmd \"x\"\n    inputs \"out/\"\n    outputs \"out/result.txt\"\n}\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:12",
            "`out` is both an input and an output of `d`",
        )
        .error_count(1);
}

#[test]
fn reading_a_directory_output_as_a_file() {
    Test::new()
        .manifest("step \"a\" {\n    cmd \"x\"\n    outputs \"data/\"\n}\nstep \"b\" {\n    cmd \"y\"\n    inputs \"data\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:7:12", "`a` declares `data` as a directory")
        .stderr_contains("write `data/` to read the directory")
        .error_count(1);
}

#[test]
fn outputs_cannot_be_in_dot_git_dot_zenbuild_or_the_root() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    outputs \".zenbuild/x\" \".git/y\" \"./\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:13", "`.zenbuild/x` belongs to .zenbuild")
        .error_at("zenbuild.kdl:3:27", "`.git/y` belongs to .git")
        .error_at(
            "zenbuild.kdl:3:36",
            "the workspace root cannot be one of the outputs",
        )
        .error_count(3);
}

#[test]
fn a_list_needs_at_least_one_path() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    outputs\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:5", "`outputs` needs at least one argument")
        .stderr_contains("add a path here")
        .error_count(1);
}
