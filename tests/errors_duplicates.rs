//! Names that must be unique, and settings that may be written once: the error points at the
//! second one, and the first is shown too.

mod common;
use common::Test;

#[test]
fn a_step_name_used_twice() {
    Test::new()
        .manifest(
            r#"pipeline "a" {
    step "train" { cmd "x"; }
}
pipeline "b" {
    step "train" { cmd "y"; }
}
"#,
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:5:10", "step `train` is declared twice")
        .stderr_contains("first declared here")
        .stderr_contains("declare it once and `use` it elsewhere")
        .error_count(1);
}

#[test]
fn a_template_name_used_twice() {
    Test::new()
        .manifest("template \"py\" { cmd \"a\"; }\ntemplate \"py\" { cmd \"b\"; }\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:10", "template `py` is declared twice")
        .error_count(1);
}

#[test]
fn a_pipeline_name_used_twice() {
    Test::new()
        .manifest("pipeline \"main\" {}\npipeline \"main\" {}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:10", "pipeline `main` is declared twice")
        .error_count(1);
}

#[test]
fn cmd_written_twice_points_at_the_second() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"make a\"\n    cmd \"make b\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:5", "`cmd` is set twice")
        .stderr_contains("first set here")
        .stderr_lacks("[zenbuild.kdl:2:")
        .error_count(1);
}

#[test]
fn a_setting_written_twice_far_apart_still_shows_where_it_is_repeated() {
    let filler = "    // …\n".repeat(10);
    Test::new()
        .manifest(&format!(
            "step \"s\" {{\n    retries 1\n{filler}    retries 2\n    cmd \"x\"\n}}\n"
        ))
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:13:5", "`retries` is set twice")
        .error_count(1);
}

#[test]
fn project_set_twice() {
    Test::new()
        .manifest("project \"a\"\nproject \"b\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:1", "`project` is set twice")
        .error_count(1);
}
