//! `.zenbuild/` with something of the wrong kind where zenbuild keeps its state (a file
//! called `.zenbuild`, `.zenbuild/cache` or `.zenbuild/state`; a directory where the lock
//! goes): every command says which path it is and what to do, rather than "File exists (os
//! error 17)", and once it is moved aside the build works.

mod common;
use common::Test;

const MANIFEST: &str = r#"
step "a" {
    cmd "cat in.txt > out/a.txt"
    inputs "in.txt"
    outputs "out/a.txt"
}
"#;

#[test]
fn a_file_where_zenbuild_keeps_a_directory_gives_the_path_and_the_fix() {
    for (place, kind) in [
        (".zenbuild", "a directory"),
        (".zenbuild/cache", "a directory"),
        (".zenbuild/state", "a directory"),
        (".zenbuild/cache/cas", "a directory"),
        (".zenbuild/lock", "a file"),
        (".zenbuild/lineage.db", "a file"),
    ] {
        let test = Test::new().manifest(MANIFEST).file("in.txt", "a\n");
        let test = match kind {
            "a directory" => test.file(place, "not a directory\n"),
            _ => test.dir(place),
        };
        let mut out = test.args(&["build"]).run();
        for args in [
            &["build"][..],
            &["log"],
            &["clean"],
            &["cache", "stats"],
            &["status"],
        ] {
            if args != ["build"] {
                out = out.again().args(args).run();
            }
            let full = out.path().join(place);
            out = out
                .code(2)
                .stderr_contains(&format!("`{place}` is not {kind}"))
                .stderr_contains(&format!("move `{}` aside or delete it", full.display()))
                .stderr_lacks("os error");
        }
        let out = out.again().remove(place).args(&["build"]).run().success();
        assert_eq!(out.read("out/a.txt"), "a\n", "{place}");
    }
}

#[test]
fn a_state_directory_that_is_a_symlink_to_a_directory_is_used() {
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Test::new()
        .manifest(MANIFEST)
        .file("in.txt", "a\n")
        .symlink(".zenbuild", &elsewhere.path().display().to_string())
        .args(&["build"])
        .run()
        .success();
    assert_eq!(out.read("out/a.txt"), "a\n");
    assert!(elsewhere.path().join("cache/ac").is_dir());
}
