//! A team's metadata store through the real binary, on real PostgreSQL and MariaDB servers
//! (tests/common/postgres.rs, mariadb.rs): two clones (users alice and bob) share a remote
//! cache and a database; what one built, the other's `lineage` shows; runs made while the
//! server is away are sent later; a wrong password or a newer schema costs a note, never a
//! build.
#![cfg(all(feature = "metadata-postgres", feature = "metadata-mysql"))]

mod common;
use common::postgres::Postgres;
use common::{Output, Test};

/// prepare → train (a param, a metric), cached in a shared directory.
fn manifest(metadata: &str, cache: &str) -> String {
    format!(
        r#"metadata url="{metadata}"
remote "team" url="file://{cache}"
params "params.yaml"
step "prepare" {{
    cmd "tr a-z A-Z < data.csv > out/clean.csv"
    inputs "data.csv"
    outputs "out/clean.csv"
}}
step "train" {{
    cmd "sleep {{{{params.pause}}}}; printf 'lr={{{{params.lr}}}} ' > out/model.txt; wc -c < out/clean.csv >> out/model.txt; printf '{{\"acc\": {{{{params.lr}}}}}}' > out/metrics.json"
    inputs "out/clean.csv"
    params "lr" "pause"
    outputs "out/model.txt"
    metrics "out/metrics.json"
}}
"#
    )
}

/// The project: its manifest, with the team's database and a cache directory it shares.
struct Project {
    manifest: String,
    _cache: tempfile::TempDir,
}

impl Project {
    fn new(url: &str) -> Project {
        let cache = tempfile::tempdir().expect("a shared cache");
        Project {
            manifest: manifest(url, &cache.path().display().to_string()),
            _cache: cache,
        }
    }

    /// A clone of the project for `user`, with the database's password in its environment.
    fn clone(&self, user: &str, password: &str, lr: &str) -> Test {
        Test::new()
            .manifest(&self.manifest)
            .file("data.csv", "a,b\n1,2\n")
            .file("params.yaml", &format!("lr: {lr}\npause: 0\n"))
            .env("USER", user)
            .env("ZENBUILD_METADATA_PASSWORD", password)
            .env_remove("ZENBUILD_METADATA_URL")
    }
}

#[test]
fn a_teammates_clone_shows_who_built_the_model_it_restored() {
    for (server, url, password) in common::fresh_databases("teammates") {
        let project = Project::new(&url);
        let alice = project
            .clone("alice", &password, "0.5")
            .build(&[])
            .run()
            .success();
        assert_eq!(alice.report().ran().len(), 2, "{server}");

        // Bob's fresh clone runs nothing: both results come from the cache.
        let bob = project
            .clone("bob", &password, "0.5")
            .build(&[])
            .run()
            .success();
        assert!(bob.report().ran().is_empty(), "{server}: {}", bob.stderr);
        let lineage = bob
            .again_as_before()
            .args(&["lineage", "out/model.txt", "--format", "json"])
            .run()
            .success();
        let tree = lineage.json();
        let train = &tree["actions"][0];
        assert_eq!(train["name"], "train", "{server}: {tree}");
        assert_eq!(train["status"], "ran", "{server}: {tree}");
        assert_eq!(train["user"], "alice", "{server}: {tree}");
        assert_eq!(train["params"]["lr"], 0.5, "{server}: {tree}");
        let lineage = lineage
            .again_as_before()
            .args(&["lineage", "out/model.txt"])
            .run()
            .success()
            .stdout_contains("by alice@");

        // `log` lists both clones' runs, and filters by user.
        let log = lineage
            .again_as_before()
            .args(&["log", "--format", "json"])
            .run()
            .success();
        let users: Vec<String> = log.json()["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .map(|run| run["user"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(users, ["bob", "alice"], "{server}");
        let mine = log
            .again_as_before()
            .args(&["log", "--mine", "--format", "json"])
            .run()
            .success();
        assert_eq!(
            mine.json()["runs"].as_array().map(Vec::len),
            Some(1),
            "{server}"
        );
        let text = mine.again_as_before().args(&["log"]).run().success();
        assert!(text.stdout.contains("alice@"), "{server}: {}", text.stdout);
    }
}

#[test]
fn metrics_of_two_teammates_runs_are_compared() {
    for (server, url, password) in common::fresh_databases("metrics") {
        let project = Project::new(&url);
        project
            .clone("alice", &password, "0.25")
            .build(&[])
            .run()
            .success();
        let bob = project
            .clone("bob", &password, "0.75")
            .build(&[])
            .run()
            .success();
        // Runs are numbered by the team store: alice's is 1, bob's 2.
        let diff = bob
            .again_as_before()
            .args(&["metrics", "diff", "1", "2", "--format", "json"])
            .run()
            .success();
        let text = diff.stdout.clone();
        assert!(
            text.contains("0.25") && text.contains("0.75"),
            "{server}: {text}"
        );
    }
}

#[test]
fn a_run_made_while_the_server_is_away_is_sent_when_it_is_back() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let url = pg.fresh_database("away");
    let password = pg.password().to_string();
    let project = Project::new(&url);
    let first = project
        .clone("alice", &password, "0.5")
        .build(&[])
        .run()
        .success();
    // Stopped while the next build's step runs: the build goes on and ends well.
    let test = first
        .again_as_before()
        .file("params.yaml", "lr: 0.6\npause: 2\n");
    let child = test.spawn(&["build"]);
    std::thread::sleep(std::time::Duration::from_millis(700));
    pg.stop();
    let (code, _, stderr) = common::wait(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr.matches("could not be used").count(), 1, "{stderr}");
    pg.restart();
    let back = test.args(&["log", "--format", "json"]).run().success();
    assert!(
        back.stderr.contains("sent 1 runs") || back.stderr.contains("sent 1 run"),
        "{}",
        back.stderr
    );
    assert_eq!(back.json()["runs"].as_array().map(Vec::len), Some(2));
    // Sent once: the next command sends nothing more.
    let again = back
        .again_as_before()
        .args(&["log", "--format", "json"])
        .run()
        .success();
    assert!(!again.stderr.contains("sent"), "{}", again.stderr);
    assert_eq!(again.json()["runs"].as_array().map(Vec::len), Some(2));
}

#[test]
fn two_clones_building_at_once_keep_consistent_lineage() {
    for (server, url, password) in common::fresh_databases("together") {
        let project = Project::new(&url);
        let a = project.clone("alice", &password, "0.5");
        let b = project.clone("bob", &password, "0.5");
        let (ca, cb) = (a.spawn(&["build"]), b.spawn(&["build"]));
        let (code_a, _, err_a) = common::wait(ca);
        let (code_b, _, err_b) = common::wait(cb);
        assert_eq!(
            (code_a, code_b),
            (Some(0), Some(0)),
            "{server}: {err_a}\n{err_b}"
        );
        let mut out: Output = a.args(&["log", "--format", "json"]).run().success();
        let runs = out.json()["runs"].as_array().cloned().unwrap_or_default();
        assert_eq!(runs.len(), 2, "{server}: {}", out.stdout);
        for run in &runs {
            let id = run["id"].to_string();
            out = out
                .again_as_before()
                .args(&["show", &id, "--format", "json"])
                .run()
                .success();
            assert_eq!(
                out.json()["actions"].as_array().map(Vec::len),
                Some(2),
                "{server}: run {id}"
            );
        }
    }
}

#[test]
fn a_wrong_password_is_one_note_and_the_build_goes_on() {
    for (server, url, _) in common::fresh_databases("password") {
        let project = Project::new(&url);
        let built = project
            .clone("alice", "not-the-password", "0.5")
            .build(&[])
            .run()
            .success()
            .stderr_contains_once("could not be used")
            .stderr_lacks("not-the-password");
        assert_eq!(built.report().ran().len(), 2, "{server}");
    }
}

/// A clone that built without the team store sends its whole history with `metadata push`,
/// each run once however often it is pushed; `metadata migrate` says the schema's version.
#[test]
fn metadata_push_sends_a_clones_history_once() {
    for (server, url, password) in common::fresh_databases("push") {
        let project = Project::new(&url);
        // Built twice with the store switched off on this machine.
        let built = project
            .clone("alice", &password, "0.5")
            .env("ZENBUILD_METADATA_URL", "")
            .build(&[])
            .run()
            .success();
        let built = built
            .again_as_before()
            .file("params.yaml", "lr: 0.7\npause: 0\n")
            .build(&[])
            .run()
            .success();
        let migrated = built
            .again()
            .env("ZENBUILD_METADATA_PASSWORD", &password)
            .args(&["metadata", "migrate"])
            .run()
            .success()
            .stdout_contains("schema version 6");
        let pushed = migrated
            .again()
            .env("ZENBUILD_METADATA_PASSWORD", &password)
            .args(&["metadata", "push"])
            .run()
            .success()
            .stdout_contains("sent 2 runs");
        let again = pushed
            .again()
            .env("ZENBUILD_METADATA_PASSWORD", &password)
            .args(&["metadata", "push"])
            .run()
            .success()
            .stdout_contains("sent 0 runs");
        let log = again
            .again()
            .env("ZENBUILD_METADATA_PASSWORD", &password)
            .args(&["log", "--format", "json"])
            .run()
            .success();
        assert_eq!(
            log.json()["runs"].as_array().map(Vec::len),
            Some(2),
            "{server}"
        );
    }
}

/// A team database written by a newer zenbuild is refused with a message that says so, and
/// the build goes on.
#[test]
fn a_database_of_a_newer_schema_is_one_clear_note() {
    let Some(pg) = Postgres::shared() else {
        return;
    };
    let url = pg.fresh_database("newer");
    let password = pg.password().to_string();
    let project = Project::new(&url);
    let first = project
        .clone("alice", &password, "0.5")
        .build(&[])
        .run()
        .success();
    pg.query(&url, "UPDATE zenbuild_schema SET version = 99")
        .expect("an administrator's update");
    first
        .again_as_before()
        .file("params.yaml", "lr: 0.6\npause: 0\n")
        .build(&[])
        .run()
        .success()
        .stderr_contains_once("written by a newer zenbuild");
}
