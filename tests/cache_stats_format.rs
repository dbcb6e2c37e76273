//! `cache stats --format json`, the convention every other command uses; `--json`, which it
//! took alone, still works but is no longer shown.

mod common;
use common::Test;

fn built() -> common::Output {
    Test::new()
        .manifest(common::TWO_STEPS)
        .file("params.yaml", "lr: 0.1\n")
        .file("data/raw.txt", "b\na\n")
        .run()
        .success()
}

#[test]
fn cache_stats_takes_format_json() {
    let out = built()
        .again()
        .args(&["cache", "stats", "--format", "json"])
        .run()
        .success();
    let json = out.json();
    assert!(json["blobs"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json["last_run"]["run"], 1, "{json}");
    let text = out
        .again()
        .args(&["cache", "stats", "--format", "text"])
        .run()
        .success()
        .stdout_contains("blobs: ");
    assert!(serde_json::from_str::<serde_json::Value>(&text.stdout).is_err());
}

#[test]
fn the_old_json_flag_still_works_but_is_not_shown() {
    let out = built()
        .again()
        .args(&["cache", "stats", "--json"])
        .run()
        .success();
    assert!(out.json()["blobs"].as_u64().unwrap() > 0);
    out.again()
        .args(&["cache", "stats", "--help"])
        .run()
        .success()
        .stdout_contains("--format <FORMAT>")
        .stdout_lacks("--json");
}
