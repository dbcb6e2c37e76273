//! `gc --dry-run` names the action and the age of every result it would remove (it used to
//! print bare digests), and counts the blobs with their size.

mod common;
use common::{Output, Test};

/// Built with `lr: 0.1`, then `lr: 0.2`: the first train's result is kept by nothing.
fn two_trains() -> (Output, String) {
    let out = Test::new()
        .manifest(common::TWO_STEPS)
        .file("params.yaml", "lr: 0.1\n")
        .file("data/raw.txt", "b\na\n")
        .build(&[])
        .run()
        .success();
    let old = out.report().action("train")["key"]
        .as_str()
        .unwrap()
        .to_string();
    let out = out
        .again()
        .file("params.yaml", "lr: 0.2\n")
        .run()
        .success()
        .stderr_contains("1 ran");
    (out, old)
}

/// The local cache's file for the result under `key`.
fn result_file(out: &Output, key: &str) -> std::path::PathBuf {
    let ac = zenbuild::workspace::StateDir::of(out.path()).ac();
    for fan_out in std::fs::read_dir(&ac).unwrap() {
        for entry in std::fs::read_dir(fan_out.unwrap().path()).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with(key) {
                return path;
            }
        }
    }
    panic!("no result for {key} in {}", ac.display());
}

fn dry_run(out: Output, format: &str) -> Output {
    out.again()
        .args(&["gc", "--dry-run", "--keep-days", "0", "--keep-commits", "0"])
        .args(&["--format", format])
        .run()
        .success()
}

#[test]
fn a_dry_run_names_each_results_action_and_age() {
    let (out, old) = two_trains();
    // As if it had been built three days ago.
    let path = result_file(&out, &old);
    let mut result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    result["execution"]["started_ms"] = (now_ms - 3 * 86_400_000 - 60_000).into();
    std::fs::write(&path, result.to_string()).unwrap();

    let out = dry_run(out, "text")
        .stdout_contains(&format!(
            "would remove result {old} of `train`, made 3 days ago"
        ))
        .stdout_contains("that no kept result needs")
        .stdout_lacks("would remove blob ");
    let json = dry_run(out, "json").json();
    let removed = json["removed"].as_array().unwrap();
    let train = removed
        .iter()
        .find(|r| r["digest"] == old.as_str())
        .unwrap();
    assert_eq!(train["action"], "train", "{json}");
    let age = train["age_secs"].as_u64().unwrap();
    assert!((3 * 86_400..4 * 86_400).contains(&age), "{json}");
}
