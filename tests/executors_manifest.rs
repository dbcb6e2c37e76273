//! `executor` declarations and `executor "NAME"` in steps: the mistakes each gets told about
//! at its place, and where a step runs kept out of its key. None of these needs a cluster:
//! the executor a cached step selects is never asked to run anything.

mod common;
use common::Test;

const CLUSTER: &str = "executor \"cluster\" type=\"slurm\" partition=\"gpu\"\n";

#[test]
fn an_unknown_executor_type_is_named_with_the_types_there_are() {
    Test::new()
        .manifest("executor \"c\" type=\"slrum\"\nstep \"a\" { cmd \"true\"; }\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:1:19", "`slrum` is not an executor type")
        .stderr_contains("did you mean `slurm`?")
        .error_count(1);
}

#[test]
fn a_property_slurm_does_not_take_is_an_error_at_its_place() {
    Test::new()
        .manifest("executor \"c\" type=\"slurm\" partiton=\"gpu\"\nstep \"a\" { cmd \"true\"; }\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .located_at("zenbuild.kdl:1:27")
        .stderr_contains("partiton")
        .stderr_contains("did you mean `partition`?");
}

#[test]
fn an_executor_needs_a_type_and_local_is_taken() {
    Test::new()
        .manifest(
            "executor \"c\" partition=\"gpu\"\nexecutor \"local\" type=\"slurm\"\nstep \"a\" { cmd \"true\"; }\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:1:1", "an executor needs `type=`")
        .error_at("zenbuild.kdl:2:10", "`local` is the built-in executor")
        .error_count(2);
}

#[test]
fn settings_of_the_wrong_kind_are_errors() {
    Test::new()
        .manifest(
            "executor \"c\" type=\"slurm\" jobs=0 poll-min=\"soon\" submit-rate=\"fast\"\nstep \"a\" { cmd \"true\"; }\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .stderr_contains("the number of jobs in flight must be at least 1")
        .stderr_contains("invalid `poll-min`")
        .stderr_contains("expected the submissions per second")
        .error_count(3);
}

#[test]
fn an_executor_declared_twice_is_an_error() {
    Test::new()
        .manifest(&format!(
            "{CLUSTER}{CLUSTER}step \"a\" {{ cmd \"true\"; }}\n"
        ))
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:10", "executor `cluster` is declared twice")
        .error_count(1);
}

#[test]
fn a_step_naming_an_undeclared_executor_is_told_the_declared_ones() {
    Test::new()
        .manifest(&format!(
            "{CLUSTER}step \"a\" {{\n    executor \"clustr\"\n    cmd \"true\"\n}}\n"
        ))
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:14", "executor `clustr` is not declared")
        .stderr_contains("did you mean `cluster`?")
        .error_count(1);
}

#[test]
fn an_unknown_executor_on_the_command_line_stops_the_build_before_it_starts() {
    Test::new()
        .manifest(&format!(
            "{CLUSTER}step \"a\" {{ outputs \"a\"; cmd \"echo > a\"; }}\n"
        ))
        .args(&["build", "--executor", "gpus"])
        .run()
        .code(1)
        .stderr_contains("the manifest declares no executor `gpus` (it has: local, cluster)");
}

/// The executor is not part of the action key: a step moved to a cluster (here, through its
/// template) is still cached, and so is one moved back.
#[test]
fn where_a_step_runs_is_not_part_of_its_key() {
    let plain = "step \"a\" {\n    outputs \"a.txt\"\n    cmd \"echo a > a.txt\"\n}\n";
    let test = Test::new().manifest(plain).build(&[]).run().success();
    assert_eq!(test.report().ran(), ["a"]);
    let moved = format!(
        "{CLUSTER}template \"remote\" {{\n    executor \"cluster\"\n}}\nstep \"a\" template=\"remote\" {{\n    outputs \"a.txt\"\n    cmd \"echo a > a.txt\"\n}}\n"
    );
    let test = test.again().manifest(&moved).build(&[]).run().success();
    assert_eq!(test.report().cached(), ["a"]);
    let test = test
        .again()
        .manifest(plain)
        .build(&["--executor", "local"])
        .run()
        .success();
    assert_eq!(test.report().cached(), ["a"]);
}

const TEAM: &str = "remote \"team\" url=\"file:///nonexistent/cache\"\n";

#[test]
fn a_ray_executor_needs_a_url_of_its_dashboard_and_a_remote() {
    Test::new()
        .manifest(&format!(
            "{TEAM}executor \"r\" type=\"ray\"\nexecutor \"s\" type=\"ray\" url=\"ray://head:10001\" remote=\"team\"\nexecutor \"t\" type=\"ray\" url=\"http://head:8265\"\nstep \"a\" {{ cmd \"true\"; }}\n"
        ))
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:1", "a Ray executor needs `url=`")
        .error_at(
            "zenbuild.kdl:3:29",
            "a Ray executor's `url=` must start with http:// or https://",
        )
        .error_at("zenbuild.kdl:4:1", "a Ray executor needs `remote=`")
        .stderr_contains("Ray's machines do not see the workspace")
        .error_count(3);
}

#[test]
fn an_executor_naming_an_undeclared_remote_is_told_the_declared_ones() {
    Test::new()
        .manifest(&format!(
            "{TEAM}executor \"r\" type=\"ray\" url=\"http://127.0.0.1:9\" remote=\"taem\"\nstep \"a\" {{ cmd \"true\"; }}\n"
        ))
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:57", "remote `taem` is not declared")
        .stderr_contains("did you mean `team`?")
        .error_count(1);
}

#[test]
fn a_slurm_executor_takes_a_remote_and_ray_takes_no_partition() {
    Test::new()
        .manifest(&format!(
            "{TEAM}executor \"c\" type=\"slurm\" remote=\"team\"\nexecutor \"r\" type=\"ray\" url=\"http://127.0.0.1:9\" remote=\"team\" partition=\"gpu\"\nexecutor \"d\" type=\"slurm\" remote=\"taem\"\nstep \"a\" {{ cmd \"true\"; }}\n"
        ))
        .args(&["check"])
        .run()
        .bad_manifest()
        .located_at("zenbuild.kdl:3:64")
        .located_at("zenbuild.kdl:4:34")
        .error_count(2);
}

/// A step moved to a Ray cluster keeps its key: nothing runs, so the cluster (which is not
/// there) is never asked.
#[test]
fn a_step_moved_to_ray_is_still_cached() {
    let plain =
        format!("{TEAM}step \"a\" {{\n    outputs \"a.txt\"\n    cmd \"echo a > a.txt\"\n}}\n");
    let test = Test::new()
        .manifest(&plain)
        .build(&["--no-remote"])
        .run()
        .success();
    assert_eq!(test.report().ran(), ["a"]);
    let moved = format!(
        "{TEAM}executor \"ray\" type=\"ray\" url=\"http://127.0.0.1:9\" remote=\"team\"\nstep \"a\" {{\n    executor \"ray\"\n    outputs \"a.txt\"\n    cmd \"echo a > a.txt\"\n}}\n"
    );
    let test = test
        .again()
        .manifest(&moved)
        .build(&["--no-remote"])
        .run()
        .success();
    assert_eq!(test.report().cached(), ["a"]);
}
