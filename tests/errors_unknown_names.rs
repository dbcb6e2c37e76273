//! Misspelled nodes and properties get the location and a "did you mean".

mod common;
use common::Test;

#[test]
fn unknown_top_level_node_suggests_the_right_one() {
    Test::new()
        .manifest("project \"p\"\npipline \"train\" {}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:1", "unknown node `pipline`")
        .stderr_contains("did you mean `pipeline`?")
        .error_count(1);
}

#[test]
fn unknown_step_node_suggests_the_right_one() {
    Test::new()
        .manifest("pipeline \"p\" {\n    step \"a\" {\n        cmd \"true\"\n        outptus \"x\"\n    }\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:4:9", "unknown node `outptus` in a step")
        .stderr_contains("did you mean `outputs`?");
}

#[test]
fn unknown_pipeline_node_suggests_the_right_one() {
    Test::new()
        .manifest(
            "pipeline \"p\" {\n    descripton \"main\"\n    step \"a\" { cmd \"true\"; }\n}\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:2:5",
            "unknown node `descripton` in a pipeline",
        )
        .stderr_contains("did you mean `description`?")
        .error_count(1);
}

#[test]
fn an_unknown_node_with_nothing_close_lists_what_is_allowed() {
    Test::new()
        .manifest("workflow \"w\" {}\npipeline \"p\" {\n    jobs 3\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:1:1", "unknown node `workflow`")
        .stderr_contains(
            "the top level may contain: project, params, include, template, pipeline, step",
        )
        .error_at("zenbuild.kdl:3:5", "unknown node `jobs` in a pipeline")
        .stderr_contains("a pipeline may contain: step, use, description")
        .error_count(2);
}

#[test]
fn unknown_node_in_a_template() {
    Test::new()
        .manifest("template \"t\" {\n    evn A=\"1\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:5", "unknown node `evn` in a step")
        .stderr_contains("did you mean `env`?")
        .error_count(1);
}

#[test]
fn unknown_property_suggests_the_right_one() {
    Test::new()
        .manifest("template \"py\" { cmd \"x\"; }\nstep \"s\" templte=\"py\" {\n    cmd \"x\"\n    inputs \"a\" replce=#true\n    resources cpu=2\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:10", "`step` has no property `templte`")
        .stderr_contains("did you mean `template`?")
        .error_at("zenbuild.kdl:4:16", "`inputs` has no property `replce`")
        .stderr_contains("did you mean `replace`?")
        .error_at("zenbuild.kdl:5:15", "`resources` has no property `cpu`")
        .stderr_contains("did you mean `cpus`?")
        .error_count(3);
}

#[test]
fn a_property_on_a_node_that_takes_none() {
    Test::new()
        .manifest("project \"p\" version=\"1\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:1:13", "`project` has no property `version`")
        .stderr_contains("`project` takes no properties")
        .error_count(1);
}

#[test]
fn an_unknown_property_with_nothing_close_lists_what_is_allowed() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    resources disk=\"1GiB\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:15", "`resources` has no property `disk`")
        .stderr_contains("`resources` takes: cpus, memory, gpus")
        .error_count(1);
}
