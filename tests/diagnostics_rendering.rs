//! How errors look: `file:line:column` where the mistake is, counted in characters, with the
//! error code, the snippet and no colour unless asked for.

mod common;
use common::Test;

#[test]
fn columns_count_characters_not_bytes() {
    // "→" and "é" are three and two bytes long; the column counts each as one.
    Test::new()
        .manifest("step \"a\" { description \"→ café\"; cmd \"x\"; retries \"x\"; }\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:1:51",
            "expected the number of retries, found a string",
        );
}

#[test]
fn columns_count_characters_in_params_files_too() {
    Test::new()
        .file("p.json", "{\"name\": \"é\", \"b\": ,}\n")
        .manifest("params \"p.json\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "p.json:1:20",
            "invalid params file `p.json`: expected value",
        );
}

#[test]
fn the_location_is_the_mistake_not_the_earlier_label() {
    // "first declared here" comes first in the file; the location is still the duplicate.
    Test::new()
        .manifest("step \"a\" { cmd \"x\"; }\nstep \"a\" { cmd \"y\"; }\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:6", "step `a` is declared twice")
        .stderr_lacks("[zenbuild.kdl:1:6]");
}

#[test]
fn errors_carry_a_code_and_show_the_line() {
    Test::new()
        .manifest("project \"p\"\npipline \"main\" {}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .stderr_contains("zenbuild::unknown-node")
        .stderr_contains(" 2 │ pipline \"main\" {}")
        .stderr_contains("not a zenbuild node");
}
