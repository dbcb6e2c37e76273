//! What a result may put back: exactly the outputs its action declares, and nothing else.
//!
//! A result can come from a teammate's remote, from a cache someone edited, or from a step
//! that left odd things behind, so before one is restored (and before one is stored) it is
//! held against the declared outputs:
//!
//! - every declared output is in it exactly once, as the kind declared (a directory output as
//!   a directory, a file output as a file or a symlink), and nothing else is: no path that
//!   the action does not declare, not `.git/hooks/…`, not a source file;
//! - every path inside a directory output is made of plain names (no `..`, no empty or
//!   over-long name, no NUL), names one thing only, and lies below no file or symlink of the
//!   same listing, so nothing is ever written through a link the listing itself makes;
//! - a symlink inside a directory output points inside that directory, and a symlink that is
//!   itself an output points inside the workspace, both judged on the target's text (relative,
//!   and never climbing above where it must stay), so that a restored link cannot make the
//!   next step read `/etc/hostname` or anything else that no key covers;
//! - a directory's listing has the tree digest the result claims for it, which is what its
//!   dependents' keys are made of.
//!
//! A result that fails is a miss: the caller drops it and runs the step.
//!
//! What the step printed (`stdout_digest`, `stderr_digest`) is no output: nothing of it is
//! written into the workspace, so it is not held to anything here, and a store that lacks its
//! blob still has a usable result (the build then says the output is not in the cache). It
//! reaches the terminal only as text (see `ui::step_output`).

use std::collections::HashSet;
use std::fmt;
use std::path::{Component, Path};

use super::{ActionResult, OutputDirectory, OutputSymlink};
use crate::hash::{Digest, FileDigest, FileKind, digest_listing, symlink_digest};

/// The longest name a file system takes (`NAME_MAX`), and a bound on a whole path well below
/// `PATH_MAX`, so that what passes here can always be written.
const NAME_MAX: usize = 255;
const PATH_MAX: usize = 4000;

/// Why a result cannot be used: the path at fault and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unusable {
    pub path: String,
    pub problem: String,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.path, self.problem)
    }
}

fn unusable(path: impl Into<String>, problem: impl Into<String>) -> Unusable {
    Unusable {
        path: path.into(),
        problem: problem.into(),
    }
}

/// Checks `result` against `declared`: each output's workspace-relative path and whether it
/// was declared a directory (a trailing `/` is allowed and ignored).
pub fn check_result(result: &ActionResult, declared: &[(&str, bool)]) -> Result<(), Unusable> {
    let mut files = HashSet::new();
    let mut dirs = HashSet::new();
    for &(path, is_dir) in declared {
        let path = path.trim_end_matches('/');
        if is_dir {
            dirs.insert(path);
        } else {
            files.insert(path);
        }
    }
    let mut seen = HashSet::new();
    let top_level = result
        .output_files
        .iter()
        .map(|file| file.path.as_str())
        .chain(result.output_symlinks.iter().map(|link| link.path.as_str()));
    for path in top_level {
        claim(path, &files, &dirs, &mut seen, false)?;
    }
    for directory in &result.output_directories {
        claim(&directory.path, &dirs, &files, &mut seen, true)?;
    }
    let mut declared: Vec<&str> = files.into_iter().chain(dirs).collect();
    declared.sort_unstable();
    if let Some(missing) = declared.iter().find(|path| !seen.contains(*path)) {
        return Err(unusable(
            *missing,
            "is declared, but the result does not hold it",
        ));
    }
    // Every link of the result by its path in the workspace, for those that point through one.
    let mut links: HashSet<String> = result
        .output_symlinks
        .iter()
        .map(|link| link.path.clone())
        .collect();
    for directory in &result.output_directories {
        links.extend(
            directory
                .symlinks
                .iter()
                .map(|link| format!("{}/{}", directory.path, link.path)),
        );
    }
    for link in &result.output_symlinks {
        stays_inside("", link, &links)?;
    }
    for directory in &result.output_directories {
        check_directory(directory)?;
    }
    Ok(())
}

/// Takes `path` as one of the outputs of its kind (`own`), once.
fn claim<'a>(
    path: &'a str,
    own: &HashSet<&str>,
    other: &HashSet<&str>,
    seen: &mut HashSet<&'a str>,
    as_dir: bool,
) -> Result<(), Unusable> {
    if !own.contains(path) {
        let problem = match (other.contains(path), as_dir) {
            (true, true) => "is a directory in the result but declared as a file",
            (true, false) => "is a file in the result but declared as a directory",
            (false, _) => "is not an output the step declares",
        };
        return Err(unusable(path, problem));
    }
    if !seen.insert(path) {
        return Err(unusable(path, "is in the result twice"));
    }
    Ok(())
}

fn check_directory(directory: &OutputDirectory) -> Result<(), Unusable> {
    let shown = |inside: &str| format!("{}/{inside}", directory.path);
    let mut leaves = HashSet::new();
    let paths = directory
        .files
        .iter()
        .map(|file| (file.path.as_str(), true))
        .chain(
            directory
                .symlinks
                .iter()
                .map(|link| (link.path.as_str(), true)),
        )
        .chain(
            directory
                .empty_directories
                .iter()
                .map(|dir| (dir.as_str(), false)),
        );
    let mut all = HashSet::new();
    for (path, leaf) in paths {
        plain(path).map_err(|problem| unusable(shown(path), problem))?;
        if !all.insert(path) {
            return Err(unusable(shown(path), "is in the result twice"));
        }
        if leaf {
            leaves.insert(path);
        }
    }
    for path in &all {
        let below_a_leaf = Path::new(path)
            .ancestors()
            .skip(1)
            .filter_map(Path::to_str)
            .any(|ancestor| leaves.contains(ancestor));
        if below_a_leaf {
            return Err(unusable(
                shown(path),
                "lies below a file or symlink of the same result",
            ));
        }
    }
    let links: HashSet<String> = directory
        .symlinks
        .iter()
        .map(|link| link.path.clone())
        .collect();
    for link in &directory.symlinks {
        stays_inside(&directory.path, link, &links)?;
    }
    match listed_digest(directory) {
        Some(digest) if digest == directory.tree_digest => Ok(()),
        _ => Err(unusable(
            format!("{}/", directory.path),
            format!(
                "does not list the tree {} the result claims for it",
                directory.tree_digest.short()
            ),
        )),
    }
}

/// The tree digest of what `directory` lists, as hashing the restored directory would give.
pub fn listed_digest(directory: &OutputDirectory) -> Option<Digest> {
    let files = directory.files.iter().map(|file| {
        let digest = FileDigest {
            digest: file.digest,
            size: file.size,
            executable: file.executable,
            kind: FileKind::Regular,
        };
        (Path::new(&file.path), digest)
    });
    let links = directory.symlinks.iter().map(|link| {
        (
            Path::new(&link.path),
            symlink_digest(link.target.as_bytes()),
        )
    });
    let empty = directory.empty_directories.iter().map(Path::new);
    digest_listing(files.chain(links), empty)
}

/// A path below a directory output: plain names, short enough to be written.
pub(crate) fn plain(path: &str) -> Result<(), &'static str> {
    if path.is_empty() || path.len() > PATH_MAX || path.contains('\0') {
        return Err("is not a path a file can have");
    }
    for component in Path::new(path).components() {
        match component {
            Component::Normal(name) if name.len() <= NAME_MAX => {}
            Component::Normal(_) => return Err("has a name longer than a file system takes"),
            _ => return Err("is not a plain relative path (no `..`, `.` or leading `/`)"),
        }
    }
    // `a//b`, `a/./b` and `a/` have plain components but are not the path they are listed
    // as: two spellings of one path would pass for two paths.
    if path.split('/').any(|part| part.is_empty() || part == ".") {
        return Err("is not a plain relative path (no `..`, `.` or leading `/`)");
    }
    Ok(())
}

/// Whether the link's target, read from the link's directory, stays below `floor` (a
/// directory output's path, or `""` for the workspace): never absolute, never climbing out,
/// and never through another link of the same result (`links`, by path below the floor),
/// since the file system would follow that one too (`t -> .` makes `t/t/../..` climb).
/// With every link held to this, no chain of them leads out.
fn stays_inside(
    floor: &str,
    link: &OutputSymlink,
    links: &HashSet<String>,
) -> Result<(), Unusable> {
    let shown = if floor.is_empty() {
        link.path.clone()
    } else {
        format!("{floor}/{}", link.path)
    };
    let outside = || {
        let place = if floor.is_empty() {
            "the workspace".to_string()
        } else {
            format!("its output directory `{floor}/`")
        };
        unusable(
            &shown,
            format!("is a symlink to `{}`, outside {place}", link.target),
        )
    };
    if link.target.is_empty() || link.target.contains('\0') || link.target.len() > PATH_MAX {
        return Err(unusable(&shown, "is a symlink with no usable target"));
    }
    // The link's own directory, below the floor, is where its target starts.
    let mut at: Vec<String> = Path::new(&link.path)
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect();
    let components: Vec<Component> = Path::new(&link.target).components().collect();
    for (index, component) in components.iter().enumerate() {
        match component {
            Component::Normal(name) => {
                at.push(name.to_string_lossy().into_owned());
                let through = at.join("/");
                if index + 1 < components.len() && links.contains(&through) {
                    return Err(unusable(
                        &shown,
                        format!(
                            "is a symlink to `{}`, which goes through the symlink `{through}` \
                             of the same result",
                            link.target
                        ),
                    ));
                }
            }
            Component::CurDir => {}
            Component::ParentDir => {
                at.pop().ok_or_else(outside)?;
            }
            Component::RootDir | Component::Prefix(_) => return Err(outside()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_tree;
    use crate::store::{OutputDirectory, OutputFile};

    fn file(path: &str, bytes: &[u8]) -> OutputFile {
        OutputFile {
            path: path.into(),
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            executable: false,
        }
    }

    fn link(path: &str, target: &str) -> OutputSymlink {
        OutputSymlink {
            path: path.into(),
            target: target.into(),
        }
    }

    /// A directory output listing `files`, with the tree digest it really has.
    fn directory(
        path: &str,
        files: Vec<OutputFile>,
        symlinks: Vec<OutputSymlink>,
    ) -> OutputDirectory {
        let mut directory = OutputDirectory {
            path: path.into(),
            tree_digest: Digest::of(b""),
            files,
            symlinks,
            empty_directories: Vec::new(),
        };
        directory.tree_digest = listed_digest(&directory).unwrap();
        directory
    }

    fn result(
        files: Vec<OutputFile>,
        symlinks: Vec<OutputSymlink>,
        dirs: Vec<OutputDirectory>,
    ) -> ActionResult {
        ActionResult {
            output_files: files,
            output_symlinks: symlinks,
            output_directories: dirs,
            ..ActionResult::default()
        }
    }

    const DECLARED: &[(&str, bool)] = &[("out/a.txt", false), ("latest", false), ("data/", true)];

    fn good() -> ActionResult {
        result(
            vec![file("out/a.txt", b"a")],
            vec![link("latest", "out/a.txt")],
            vec![directory(
                "data",
                vec![file("train/0.csv", b"0"), file("test.csv", b"t")],
                vec![
                    link("first.csv", "train/0.csv"),
                    link("train/up", "../test.csv"),
                ],
            )],
        )
    }

    fn problem(result: &ActionResult) -> String {
        check_result(result, DECLARED).unwrap_err().to_string()
    }

    #[test]
    fn a_result_holding_exactly_the_declared_outputs_passes() {
        check_result(&good(), DECLARED).unwrap();
    }

    /// What the step printed is neither an output nor a reason to refuse: a result that names
    /// output blobs of any kind, older (two streams) or newer (one, cut), is judged by its
    /// outputs alone.
    #[test]
    fn what_the_step_printed_does_not_decide_whether_a_result_is_usable() {
        let older = ActionResult {
            stdout_digest: Some(Digest::of(b"out")),
            stderr_digest: Some(Digest::of(b"err")),
            ..good()
        };
        check_result(&older, DECLARED).unwrap();
        let newer = ActionResult {
            stdout_digest: Some(Digest::of(b"not in any store")),
            stdout_cut: true,
            ..good()
        };
        check_result(&newer, DECLARED).unwrap();
        let mut bad = newer;
        bad.output_files.clear();
        assert!(problem(&bad).contains("out/a.txt"));
    }

    /// A saved result and the real tree agree: what a step stores passes.
    #[test]
    fn the_tree_digest_of_a_real_directory_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("d/sub")).unwrap();
        std::fs::write(dir.path().join("d/sub/x"), b"x").unwrap();
        let tree = hash_tree(&dir.path().join("d"), &crate::hash::StatCache::in_memory()).unwrap();
        let mut made = directory("d", vec![file("sub/x", b"x")], vec![]);
        assert_eq!(made.tree_digest, tree.digest);
        made.tree_digest = Digest::of(b"another tree");
        let declared = [("d/", true)];
        let bad = result(vec![], vec![], vec![made]);
        assert!(
            check_result(&bad, &declared)
                .unwrap_err()
                .problem
                .contains("tree")
        );
    }

    #[test]
    fn an_undeclared_path_is_refused() {
        for path in [".git/hooks/pre-commit", "src.txt", "out/a.txt/../b", "../x"] {
            let mut bad = good();
            bad.output_files.push(file(path, b"x"));
            assert!(
                problem(&bad).contains("is not an output the step declares"),
                "{path}"
            );
        }
    }

    #[test]
    fn a_declared_output_missing_or_twice_or_of_the_other_kind_is_refused() {
        let mut bad = good();
        bad.output_files.clear();
        assert!(problem(&bad).contains("`out/a.txt` is declared, but the result does not hold it"));
        let mut bad = good();
        bad.output_files.push(file("out/a.txt", b"b"));
        assert!(problem(&bad).contains("twice"));
        let mut bad = good();
        bad.output_files.push(file("data", b"b"));
        assert!(problem(&bad).contains("declared as a directory"));
        let mut bad = good();
        let as_dir = directory("latest", vec![file("x", b"x")], vec![]);
        bad.output_directories.push(as_dir);
        assert!(problem(&bad).contains("declared as a file"));
    }

    #[test]
    fn paths_inside_a_directory_must_be_plain_and_unique() {
        for path in [
            "../escape",
            "/etc/passwd",
            "a/../../b",
            "",
            "a//b",
            "./a",
            "a/./b",
            "a/",
            "a\0b",
        ] {
            let mut bad = good();
            bad.output_directories[0].files.push(file(path, b"x"));
            let message = problem(&bad);
            assert!(
                message.contains("not a plain relative path") || message.contains("not a path"),
                "{path:?}: {message}"
            );
        }
        let mut bad = good();
        bad.output_directories[0]
            .files
            .push(file(&"n".repeat(256), b"x"));
        assert!(problem(&bad).contains("longer"));
        let mut bad = good();
        bad.output_directories[0].files.push(file("test.csv", b"x"));
        assert!(problem(&bad).contains("twice"));
    }

    /// The escape through a link the listing makes itself: `s -> /tmp/outside` plus `s/sub/f`.
    #[test]
    fn nothing_may_lie_below_a_symlink_or_file_of_the_same_result() {
        let mut bad = good();
        let data = &mut bad.output_directories[0];
        data.symlinks.push(link("s", "train"));
        data.files.push(file("s/sub/f", b"x"));
        assert!(problem(&bad).contains("`data/s/sub/f` lies below a file or symlink"));
        let mut bad = good();
        bad.output_directories[0]
            .files
            .push(file("test.csv/x", b"x"));
        assert!(problem(&bad).contains("lies below"));
    }

    #[test]
    fn symlinks_must_point_inside_what_holds_them() {
        for (path, target) in [
            ("s", "/tmp/outside"),
            ("s", "../model.bin"),
            ("train/s", "../../x"),
        ] {
            let mut bad = good();
            bad.output_directories[0].symlinks.push(link(path, target));
            let message = problem(&bad);
            assert!(
                message.contains("outside its output directory `data/`"),
                "{message}"
            );
        }
        for target in ["/etc/hostname", "../outside", "out/../../x"] {
            let mut bad = good();
            bad.output_symlinks[0].target = target.into();
            assert!(problem(&bad).contains("outside the workspace"), "{target}");
        }
        // Through another link of the result, which the file system would follow.
        let mut bad = good();
        let data = &mut bad.output_directories[0];
        data.symlinks.push(link("t", "."));
        let climb = format!("{}{}etc/hostname", "t/".repeat(20), "../".repeat(20));
        data.symlinks.push(link("s", &climb));
        assert!(
            problem(&bad).contains("goes through the symlink `t`"),
            "{}",
            problem(&bad)
        );
        let mut bad = good();
        bad.output_symlinks[0].target = "data/first.csv/../x".into();
        assert!(problem(&bad).contains("goes through the symlink `data/first.csv`"));
        // Inside is fine, even when it climbs first.
        let mut fine = good();
        fine.output_symlinks[0].target = "out/../out/a.txt".into();
        check_result(&fine, DECLARED).unwrap();
    }
}
