//! `metadata url=…` in the manifest: the mistakes it is told about at its place (a password
//! among them, since a manifest is shared), and a store that is named but never reached
//! costing a build nothing. None of these needs a database server.

mod common;
use common::Test;

const STEP: &str = "step \"a\" { cmd \"echo a > a.txt\"; outputs \"a.txt\"; }\n";

#[test]
fn a_metadata_url_is_checked_where_it_is_written() {
    Test::new()
        .manifest(&format!(
            "metadata url=\"sqlite:///x.db\"\nmetadata\n{STEP}"
        ))
        .args(&["check"])
        .run()
        .bad_manifest()
        .located_at("zenbuild.kdl:1:14")
        .stderr_contains("postgres:// or mysql://")
        .located_at("zenbuild.kdl:2:1")
        .stderr_contains("`metadata` needs `url=`")
        .error_count(2);
}

#[test]
fn a_password_in_the_manifest_is_refused_and_never_repeated_elsewhere() {
    let out = Test::new()
        .manifest(&format!(
            "metadata url=\"postgres://ml:hunter2@db.internal/zb\"\n{STEP}"
        ))
        .args(&["check"])
        .run()
        .bad_manifest()
        .stderr_contains("a password does not go in the manifest")
        .stderr_contains("ZENBUILD_METADATA_PASSWORD")
        .error_count(1);
    // The source line is quoted as written; the message itself does not repeat it.
    let message = out
        .stderr
        .lines()
        .find(|line| line.contains("a password does not go"))
        .unwrap_or_default();
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn metadata_is_set_once() {
    Test::new()
        .manifest(&format!(
            "metadata url=\"postgres://ml@a/zb\"\nmetadata url=\"mysql://ml@b/zb\"\n{STEP}"
        ))
        .args(&["check"])
        .run()
        .bad_manifest()
        .stderr_contains("`metadata` is set twice")
        .error_count(1);
}

/// Port 9 on this machine answers nothing: the build runs, records its run here, and says
/// once that the store could not be used; `log` then shows this clone's runs with the same note.
#[test]
fn a_store_that_is_never_reached_costs_one_note_and_the_run_waits_here() {
    let built = Test::new()
        .manifest(&format!(
            "metadata url=\"postgres://ml@127.0.0.1:9/zb\"\n{STEP}"
        ))
        .env("ZENBUILD_METADATA_PASSWORD", "s3cret")
        .env_remove("ZENBUILD_METADATA_URL")
        .build(&[])
        .run()
        .success()
        .stderr_contains_once("could not be used")
        .stderr_contains("postgres://ml@127.0.0.1:9/zb")
        .stderr_lacks("s3cret");
    assert_eq!(built.report().ran(), ["a"]);
    let log = built
        .again_as_before()
        .args(&["log", "--format", "json"])
        .run()
        .success()
        .stderr_contains("showing this clone's runs");
    assert_eq!(log.json()["runs"].as_array().map(Vec::len), Some(1));
    // Switched off on this machine, the store is not asked at all.
    log.again()
        .env("ZENBUILD_METADATA_URL", "")
        .args(&["log"])
        .run()
        .success()
        .stderr_lacks("could not be used");
}

#[test]
fn a_pipelines_metadata_is_checked_where_it_is_written() {
    Test::new()
        .manifest(&format!(
            "{STEP}pipeline \"exp\" {{\n    use \"a\"\n    metadata url=\"sqlite:///x.db\"\n}}\npipeline \"b\" {{\n    metadata url=\"postgres://ml@a/zb\"\n    metadata url=\"postgres://ml@b/zb\"\n}}\n"
        ))
        .args(&["check"])
        .run()
        .bad_manifest()
        .located_at("zenbuild.kdl:4:18")
        .stderr_contains("postgres:// or mysql://")
        .located_at("zenbuild.kdl:8:5")
        .stderr_contains("`metadata` is set twice")
        .error_count(2);
}

/// `--pipeline` names a pipeline of the manifest, or says which it could have meant.
#[test]
fn reading_an_unknown_pipelines_store_is_an_error_with_a_suggestion() {
    Test::new()
        .manifest(&format!("{STEP}pipeline \"experiments\" {{ use \"a\" }}\n"))
        .build(&[])
        .run()
        .success()
        .again_as_before()
        .args(&["log", "--pipeline", "experiment"])
        .run()
        .code(2)
        .stderr_contains("`experiment` is not a pipeline in this manifest")
        .stderr_contains("did you mean `experiments`?");
}
