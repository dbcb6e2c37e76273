//! A process a step leaves running when its shell exits: the step is over then, so it is
//! killed before the outputs are hashed, and it cannot change them afterwards.

mod common;
use std::time::Duration;

use common::Test;

#[test]
fn a_process_a_step_leaves_behind_cannot_change_its_output_later() {
    let out = Test::new()
        .manifest(
            r#"
step "a" {
    cmd "(sleep 1; echo late > a.txt) & echo early > a.txt"
    outputs "a.txt"
}
step "b" {
    cmd "cat a.txt > b.txt"
    inputs "a.txt"
    outputs "b.txt"
}
"#,
        )
        .build(&[])
        .run()
        .success();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(out.read("a.txt"), "early\n");
    assert_eq!(out.read("b.txt"), "early\n");
    let out = out.again().build(&[]).run().success();
    assert_eq!(out.report().cached(), ["a", "b"], "{}", out.report());
    assert_eq!(out.read("a.txt"), "early\n");
}
