//! A step's environment: what it declares with `env`, PATH and HOME, and nothing else of
//! zenbuild's own environment. Declared values are part of the key; the rest is not.

mod common;
use common::Test;

fn manifest(greeting: &str) -> String {
    format!(
        r##"
step "show" {{
    env GREETING="{greeting}" COUNT=3
    cmd #"printf '%s|%s|%s|%s' "$GREETING" "$COUNT" "${{ZB_UNDECLARED-unset}}" "${{PATH:+has-path}}" > out/env.txt"#
    outputs "out/env.txt"
}}
"##
    )
}

#[test]
fn declared_variables_reach_the_command_and_undeclared_ones_do_not() {
    let out = Test::new()
        .manifest(&manifest("hello"))
        .env("ZB_UNDECLARED", "leaked")
        .env("GREETING", "from outside")
        .build(&[])
        .run()
        .success();
    assert_eq!(out.read("out/env.txt"), "hello|3|unset|has-path");

    // zenbuild's own environment is not in the key: a different value reruns nothing.
    let out = out
        .again()
        .env("ZB_UNDECLARED", "something else")
        .build(&[])
        .run()
        .success();
    assert_eq!(out.report().cached(), ["show"]);

    // A declared value is.
    let out = out
        .again()
        .manifest(&manifest("bonjour"))
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["show"], "{report}");
    assert!(report.reasons("show").contains("GREETING"), "{report}");
    assert_eq!(out.read("out/env.txt"), "bonjour|3|unset|has-path");
}
