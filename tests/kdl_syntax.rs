//! Text that is not KDL 2.0: the parser's errors come out located, with exit code 2, and
//! nothing else is checked until the syntax is right.

mod common;
use common::Test;

#[test]
fn an_unterminated_string() {
    Test::new()
        .manifest("step \"a\" {\n    cmd \"echo hi\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:2:9",
            "Unexpected newline in single-line quoted string",
        )
        .stderr_contains("zenbuild::kdl-syntax")
        .error_count(1);
}

#[test]
fn a_block_that_is_never_closed() {
    Test::new()
        .manifest("project \"p\"\nstep \"a\" {\n    cmd \"x\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:10", "a block is never closed");
}

#[test]
fn kdl_v1_booleans() {
    // KDL 1 wrote `true`; KDL 2 writes `#true`, and a bare `true` is not a value.
    Test::new()
        .manifest(
            "project \"p\"\npipeline \"main\" default=true {\n    step \"s\" { cmd \"x\"; }\n}\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .located_at("zenbuild.kdl:2:25")
        .stderr_contains("zenbuild::kdl-syntax");
}

#[test]
fn kdl_v1_bare_false_as_an_argument() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    cache false\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .located_at("zenbuild.kdl:3:11")
        .stderr_contains("zenbuild::kdl-syntax");
}

#[test]
fn syntax_errors_stop_before_other_checks() {
    Test::new()
        .manifest("step \"s\" {\n    comd \"x\"\n}\nstep \"t\" { cmd \"unclosed }\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .stderr_contains("zenbuild::kdl-syntax")
        .stderr_lacks("unknown node `comd`");
}

#[test]
fn a_syntax_error_in_an_included_file_is_located_there() {
    Test::new()
        .manifest("project \"p\"\ninclude \"more.kdl\"\n")
        .file("more.kdl", "step \"s\" {\n    cmd \"x\"\n}}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .located_at("more.kdl:3:2")
        .stderr_contains("zenbuild::kdl-syntax");
}

#[test]
fn every_kind_of_kdl_value_the_manifest_reads_parses() {
    // Raw strings, escapes, comments, slashdash and semicolons are all KDL 2.0.
    let out = Test::new()
        .manifest(
            "/* block comment */ project \"p\" // line comment\nstep \"s\" {\n    /-cmd \"disabled\"\n    cmd #\"echo \"raw\" {{step}}\"#\n    description \"tab\\there\"; retries 0x2\n}\n",
        )
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let action = out.action("s");
    assert_eq!(action["cmd"], "echo \"raw\" s");
    assert_eq!(action["description"], "tab\there");
    assert_eq!(action["retries"], 2);
}
