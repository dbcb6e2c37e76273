//! What a step leaves on disk is untrusted, symlinks included: a link a step makes where
//! another step's outputs go (`out -> /somewhere/else`) is never followed by zenbuild, when
//! clearing old outputs, creating their directories or restoring them; and a step whose
//! output is a link out of the workspace fails instead of storing (and sharing) it.

mod common;
use std::path::Path;

use common::Test;

/// `a` leaves `out` as a link to `outside`; `b` declares `out/data/`.
fn pipeline(outside: &Path, a_links: bool) -> String {
    let link = if a_links {
        format!("ln -sfn {} out; ", outside.display())
    } else {
        String::new()
    };
    format!(
        r#"
step "a" {{
    cmd "{link}echo a > a.txt"
    outputs "a.txt"
    cache #false
}}
step "b" {{
    cmd "mkdir -p out/data && echo b > out/data/b.txt"
    needs "a"
    outputs "out/data/"
}}
"#
    )
}

fn outside_with_data() -> tempfile::TempDir {
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("data")).unwrap();
    std::fs::write(outside.path().join("data/keep.txt"), "precious\n").unwrap();
    outside
}

fn untouched(outside: &Path) {
    let names: Vec<_> = std::fs::read_dir(outside.join("data"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["keep.txt"], "nothing written beside it");
    assert_eq!(
        std::fs::read_to_string(outside.join("data/keep.txt")).unwrap(),
        "precious\n"
    );
}

/// Clearing `b`'s old outputs went through the link and deleted `outside/data/`.
#[test]
fn clearing_outputs_never_deletes_through_a_symlink_a_step_made() {
    let outside = outside_with_data();
    let out = Test::new()
        .manifest(&pipeline(outside.path(), true))
        .build(&[])
        .run()
        .code(1)
        .stderr_contains("`out` is a symlink");
    untouched(outside.path());
    assert_eq!(out.report().status("b"), "failed");
}

/// With `a` uncached, a cached `b` was restored through the link, outside the workspace.
#[test]
fn restoring_outputs_never_writes_through_a_symlink_a_step_made() {
    let outside = outside_with_data();
    let out = Test::new()
        .manifest(&pipeline(outside.path(), false))
        .build(&[])
        .run()
        .success();
    let out = out
        .again()
        .remove("out")
        .manifest(&pipeline(outside.path(), true))
        .build(&[])
        .run()
        .code(1)
        .stderr_contains("cannot restore its outputs")
        .stderr_contains("`out` is a symlink");
    untouched(outside.path());
    assert!(
        std::fs::symlink_metadata(out.path().join("out"))
            .unwrap()
            .is_symlink()
    );
}

/// A step whose output is a link to a file of this machine: the next step reads that file,
/// which no key covers, and the result would go to every teammate.
#[test]
fn an_output_that_links_out_of_the_workspace_fails_the_step() {
    let out = Test::new()
        .manifest(
            r#"
step "a" { cmd "ln -s /etc/hostname host.txt"; outputs "host.txt"; }
step "b" { cmd "cat host.txt > b.txt"; inputs "host.txt"; outputs "b.txt"; }
"#,
        )
        .build(&[])
        .run()
        .code(1)
        .stderr_contains("`host.txt` is a symlink to `/etc/hostname`, outside the workspace");
    let report = out.report();
    assert_eq!(report.status("a"), "failed", "{report}");
    assert_eq!(report.status("b"), "skipped", "{report}");
    assert!(!out.exists("b.txt"));
}

/// Links that stay where they belong are outputs like any other, restored as links.
#[test]
fn links_inside_the_workspace_and_inside_their_directory_are_kept() {
    let out = Test::new()
        .manifest(
            r#"
step "a" {
    cmd "echo m > model.bin && ln -sf model.bin latest && mkdir -p d/sub && echo x > d/sub/x && ln -sf sub/x d/first"
    outputs "model.bin" "latest" "d/"
}
"#,
        )
        .build(&[])
        .run()
        .success();
    let out = out
        .again()
        .remove("latest")
        .remove("d")
        .build(&[])
        .run()
        .success();
    assert_eq!(out.report().status("a"), "cached");
    assert_eq!(
        std::fs::read_link(out.path().join("latest")).unwrap(),
        Path::new("model.bin")
    );
    assert_eq!(out.read("d/first"), "x\n");
}

/// Each link inside the directory, read as text, stays in it; followed one through the other,
/// `s` reaches `/etc/hostname`, which the next step read and the result shared.
#[test]
fn a_link_that_climbs_out_through_another_link_fails_the_step() {
    let climb = format!("{}{}etc/hostname", "t/".repeat(20), "../".repeat(20));
    let out = Test::new()
        .manifest(&format!(
            r#"
step "a" {{ cmd "mkdir -p out/d && ln -s . out/d/t && ln -s {climb} out/d/s"; outputs "out/d/"; }}
step "b" {{ cmd "cat out/d/s > b.txt"; inputs "out/d/"; outputs "b.txt"; }}
"#
        ))
        .build(&[])
        .run()
        .code(1)
        .stderr_contains("which goes through the symlink `t` of the same result");
    assert_eq!(out.report().status("b"), "skipped");
    assert!(!out.exists("b.txt"));
}
