//! A pipeline with a metadata store of its own (`metadata` inside `pipeline`), through the
//! binary on real PostgreSQL and MariaDB servers: the runs that build it go to its store, the
//! others to the manifest's, each to one store only; `--pipeline` reads it; `metadata push`
//! sends each waiting run to its own store.
#![cfg(all(feature = "metadata-postgres", feature = "metadata-mysql"))]

mod common;
use common::{Output, Test};

/// `prepare` and `report` in the default pipeline, `sweep` in `exp`, which has its own store.
fn manifest(team: &str, exp: &str) -> String {
    format!(
        r#"metadata url="{team}"
step "prepare" {{
    cmd "tr a-z A-Z < data.csv > out/clean.csv"
    inputs "data.csv"
    outputs "out/clean.csv"
}}
pipeline "main" default=#true {{
    use "prepare"
    step "report" {{
        cmd "wc -l < out/clean.csv > out/report.txt"
        inputs "out/clean.csv"
        outputs "out/report.txt"
    }}
}}
pipeline "exp" {{
    metadata url="{exp}"
    step "sweep" {{
        cmd "cat data.csv out/clean.csv > out/sweep.txt"
        inputs "data.csv" "out/clean.csv"
        outputs "out/sweep.txt"
    }}
}}
"#
    )
}

/// The commands of the runs `log` lists, newest first, without the harness's `--report`.
fn commands(log: &Output) -> Vec<String> {
    log.json()["runs"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .map(|run| {
                    run["command"]
                        .as_array()
                        .map(|words| {
                            words
                                .iter()
                                .filter_map(|word| word.as_str())
                                .collect::<Vec<_>>()
                                .join(" ")
                                .replace(" --report .zenbuild/test-report.json", "")
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A clone of the project whose stores take `password`.
fn clone(team: &str, exp: &str, password: &str) -> Test {
    Test::new()
        .manifest(&manifest(team, exp))
        .file("data.csv", "a,b\n1,2\n")
        .env("ZENBUILD_METADATA_PASSWORD", password)
        .env_remove("ZENBUILD_METADATA_URL")
}

fn log(after: Output, store: &[&str]) -> Output {
    let mut args = vec!["log", "--format", "json"];
    args.extend(store);
    after.again_as_before().args(&args).run().success()
}

#[test]
fn a_pipeline_with_its_own_store_sends_its_runs_there_alone() {
    let servers = common::fresh_databases("own_team")
        .into_iter()
        .zip(common::fresh_databases("own_exp"));
    for ((server, team, password), (_, exp, _)) in servers {
        let built = clone(&team, &exp, &password).build(&[]).run().success();
        // The pipeline by name, then a step that only it holds.
        let built = built.again_as_before().build(&["exp"]).run().success();
        let built = built
            .again_as_before()
            .file("data.csv", "a,b\n3,4\n")
            .build(&["sweep"])
            .run()
            .success();
        // A step of the default pipeline alone goes to the manifest's store.
        let built = built.again_as_before().build(&["prepare"]).run().success();

        let manifests = log(built, &[]);
        assert_eq!(
            commands(&manifests),
            ["zenbuild build prepare", "zenbuild build"],
            "{server}: {}",
            manifests.stdout
        );
        let exps = log(manifests, &["--pipeline", "exp"]);
        assert_eq!(
            commands(&exps),
            ["zenbuild build sweep", "zenbuild build exp"],
            "{server}: {}",
            exps.stdout
        );
        // The default pipeline has no store of its own: its runs are the manifest's.
        let mains = log(exps, &["--pipeline", "main"]);
        assert_eq!(commands(&mains).len(), 2, "{server}: {}", mains.stdout);

        // In its store, `sweep`'s lineage is there, with the run that made it.
        let lineage = mains
            .again_as_before()
            .args(&[
                "lineage",
                "out/sweep.txt",
                "--pipeline",
                "exp",
                "--format",
                "json",
            ])
            .run()
            .success();
        let tree = lineage.json();
        assert_eq!(tree["actions"][0]["name"], "sweep", "{server}: {tree}");
        assert_eq!(tree["actions"][0]["status"], "ran", "{server}: {tree}");
    }
}

/// Runs recorded while the stores refused the password wait here, each for its own store; `metadata push` sends them, each to its store once.
#[test]
fn metadata_push_sends_each_run_to_its_own_store() {
    let servers = common::fresh_databases("push_team")
        .into_iter()
        .zip(common::fresh_databases("push_exp"));
    for ((server, team, password), (_, exp, _)) in servers {
        // Built with a wrong password: every run waits here.
        let built = clone(&team, &exp, "not the password")
            .build(&["exp"])
            .run()
            .success()
            .stderr_contains("could not be used");
        let built = built.again_as_before().build(&[]).run().success();
        let pushed = built
            .again()
            .env("ZENBUILD_METADATA_PASSWORD", &password)
            .env_remove("ZENBUILD_METADATA_URL")
            .args(&["metadata", "push"])
            .run()
            .success();
        let sent: Vec<&str> = pushed
            .stdout
            .lines()
            .filter(|line| line.starts_with("sent 1 run to the team metadata store"))
            .collect();
        assert_eq!(sent.len(), 2, "{server}: {}", pushed.stdout);
        let again = pushed
            .again_as_before()
            .args(&["metadata", "push"])
            .run()
            .success()
            .stdout_lacks("sent 1");
        let exps = log(again, &["--pipeline", "exp"]);
        assert_eq!(commands(&exps), ["zenbuild build exp"], "{server}");
        let manifests = log(exps, &[]);
        assert_eq!(commands(&manifests), ["zenbuild build"], "{server}");
    }
}

/// A run that waited for its pipeline's store is sent by the next build that reaches it, of
/// whichever pipeline, with a note that says so; the next build's own run goes quietly.
#[test]
fn a_run_that_waited_for_its_pipelines_store_is_sent_by_the_next_build() {
    let servers = common::fresh_databases("next_team")
        .into_iter()
        .zip(common::fresh_databases("next_exp"));
    for ((server, team, password), (_, exp, _)) in servers {
        let waited = clone(&team, &exp, "not the password")
            .build(&["exp"])
            .run()
            .success()
            .stderr_contains("could not be used");
        let sent = waited
            .again()
            .env("ZENBUILD_METADATA_PASSWORD", &password)
            .env_remove("ZENBUILD_METADATA_URL")
            .build(&[])
            .run()
            .success()
            .stderr_contains_once("sent 1 run to the team metadata store")
            .stderr_contains(&format!(
                "sent 1 run to the team metadata store {exp} (it was kept here while the store could not be used)"
            ));
        let exps = log(sent, &["--pipeline", "exp"]);
        assert_eq!(commands(&exps), ["zenbuild build exp"], "{server}");
        let manifests = log(exps, &[]);
        assert_eq!(commands(&manifests), ["zenbuild build"], "{server}");
    }
}
