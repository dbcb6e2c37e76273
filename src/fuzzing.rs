//! Entry points for the fuzz targets in `fuzz/` and for `tests/fuzz_regressions.rs`, which
//! replays their seeds and every input that once broke a reader. Each function takes the bytes
//! of one file and reads them the way zenbuild reads that file, so that libFuzzer reaches
//! readers that are private to the crate. Any input must end in a value or an error: a panic,
//! a stack overflow or a runaway allocation is the defect they exist to find, and a failed
//! `assert!` here is a reader that disagrees with itself. Not an API: hidden from the docs,
//! and changed with the readers.
//!
//! Each says whether the bytes read as a good file of their kind, so that the replay test can
//! tell a seed that still reaches deep into its reader from one a format change left behind.
//!
//! Readers that only read from a path get their bytes through a file in `dir`, a directory
//! the caller gives each target for itself, so that nothing else is in it.

use std::collections::{HashMap, VecDeque};
use std::path::Path;

use kdl::KdlDocument;
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

use crate::exec::up_to_date::Record;
use crate::hash::StatCache;
use crate::lockfile::Lockfile;
use crate::lockfile::layout::Layout;
use crate::manifest::params::Format;
use crate::manifest::{kdl_subset, kdl_tree};
use crate::store::{ActionResult, check_result, listed_digest};

const MANIFEST: &str = "zenbuild.kdl";

/// `zenbuild.kdl` with these bytes: loaded (by the fast reader or, when it gives up, by the
/// `kdl` crate), compiled, and every diagnostic rendered as the command line renders it.
/// True when it compiles.
pub fn manifest(dir: &Path, bytes: &[u8]) -> bool {
    let path = dir.join(MANIFEST);
    write(&path, bytes);
    load_and_compile(dir, &path)
}

/// The fast reader against the `kdl` crate: when the fast one accepts a text, the crate's
/// document must make the same syntax tree, down to every value's text and span. True when
/// the fast reader accepts the text.
pub fn kdl_subset(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let Some(fast) = kdl_subset::parse(text) else {
        return false;
    };
    match KdlDocument::parse(text) {
        Ok(full) => assert_eq!(
            fast,
            kdl_tree::nodes(&full),
            "the fast reader and the kdl crate read {text:?} differently"
        ),
        Err(err) => panic!("the fast reader accepts {text:?}, which the kdl crate refuses: {err}"),
    }
    true
}

/// A params file in `format` with these bytes, declared by a manifest that holds nothing else:
/// parsed, merged, its errors located and rendered, and every key it offers looked up. True
/// when it loads without a problem.
pub fn params(dir: &Path, format: Format, bytes: &[u8]) -> bool {
    let name = match format {
        Format::Yaml => "params.yaml",
        Format::Json => "params.json",
        Format::Toml => "params.toml",
    };
    write(&dir.join(name), bytes);
    let path = dir.join(MANIFEST);
    write(&path, format!("params \"{name}\"\n").as_bytes());
    load_and_compile(dir, &path)
}

/// `zenbuild.lock` with these bytes, read as `status`, `gc` and a build read it; a lockfile
/// that reads must write back the bytes that read the same, or every build would rewrite it.
/// What the layout a build splices into accepts must be exactly what serde reads and writes
/// back, byte for byte. True when it reads.
pub fn lockfile(bytes: &[u8]) -> bool {
    // As a lockfile taken from a git commit is checked: the working-tree one is read as text.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    if Layout::scan(text).is_some() {
        match Lockfile::parse(text) {
            Ok(lock) => assert_eq!(
                lock.to_text(),
                text,
                "the layout accepts a text that is not what zenbuild writes"
            ),
            Err(err) => panic!("the layout accepts a text serde refuses: {err}"),
        }
    }
    let Ok(lock) = Lockfile::parse(text) else {
        return false;
    };
    for locked in lock.actions.values() {
        if let Some(key) = locked.action_key() {
            std::hint::black_box(key.digest());
        }
        std::hint::black_box(locked.output_digests());
    }
    let written = lock.to_text();
    match Lockfile::parse(&written) {
        Ok(again) => assert_eq!(again, lock, "a lockfile reads differently once written"),
        Err(err) => panic!("a lockfile that reads is written as one that does not: {err}"),
    }
    true
}

/// An action-cache entry with these bytes, decoded as the local store and every remote decode
/// it; one that decodes must survive the local store's re-encoding of a remote's entry. Then
/// held to the check every result passes before it is stored or restored, as a hostile remote
/// would send it: with tree digests that match its listings and declaring what it holds. What
/// passes must not hold a symlink that leads outside its output once the links it restores
/// beside it are followed, as the file system follows them. True when it decodes.
pub fn action_result(bytes: &[u8]) -> bool {
    let Ok(mut result) = serde_json::from_slice::<ActionResult>(bytes) else {
        return false;
    };
    let stored = match serde_json::to_vec_pretty(&result) {
        Ok(stored) => stored,
        Err(err) => panic!("a result that decodes cannot be stored: {err}"),
    };
    match serde_json::from_slice::<ActionResult>(&stored) {
        Ok(again) => assert_eq!(
            again.blobs(),
            result.blobs(),
            "a stored result names other blobs"
        ),
        Err(err) => panic!("a stored result does not decode: {err}"),
    }
    for directory in &mut result.output_directories {
        if let Some(digest) = listed_digest(directory) {
            directory.tree_digest = digest;
        }
    }
    let declared: Vec<(&str, bool)> = result
        .output_files
        .iter()
        .map(|file| (file.path.as_str(), false))
        .chain(
            result
                .output_symlinks
                .iter()
                .map(|link| (link.path.as_str(), false)),
        )
        .chain(
            result
                .output_directories
                .iter()
                .map(|dir| (dir.path.as_str(), true)),
        )
        .collect();
    if check_result(&result, &declared).is_ok() {
        let escape = symlink_escape(&result);
        assert!(
            escape.is_none(),
            "a result that passes the check restores {escape:?}, which leads outside"
        );
    }
    true
}

/// The first symlink of `result` that, followed as the file system follows it through the
/// other symlinks the result restores, climbs out of the directory output that holds it (or
/// out of the workspace, for a symlink that is an output itself); `None` when none does.
fn symlink_escape(result: &ActionResult) -> Option<String> {
    let mut links: HashMap<String, &str> = result
        .output_symlinks
        .iter()
        .map(|link| (link.path.clone(), link.target.as_str()))
        .collect();
    let mut floors = vec![(
        String::new(),
        result.output_symlinks.iter().collect::<Vec<_>>(),
    )];
    for directory in &result.output_directories {
        for link in &directory.symlinks {
            links.insert(format!("{}/{}", directory.path, link.path), &link.target);
        }
        floors.push((directory.path.clone(), directory.symlinks.iter().collect()));
    }
    for (floor, own) in floors {
        let floor: Vec<&str> = floor.split('/').filter(|name| !name.is_empty()).collect();
        for link in own {
            let path: Vec<&str> = floor.iter().copied().chain(link.path.split('/')).collect();
            let start = path[..path.len() - 1].to_vec();
            if !resolves_below(&links, start, &link.target, floor.len()) {
                return Some(format!("{} -> {}", path.join("/"), link.target));
            }
        }
    }
    None
}

/// Whether following `target` from the directory `at` (workspace-relative names) never
/// climbs above the first `floor` names, following every symlink of `links` on the way; a
/// loop the file system would refuse (ELOOP) leads nowhere, and so not outside.
fn resolves_below(
    links: &HashMap<String, &str>,
    at: Vec<&str>,
    target: &str,
    floor: usize,
) -> bool {
    /// As Linux's MAXSYMLINKS.
    const MAX_HOPS: usize = 40;
    let mut at: Vec<String> = at.into_iter().map(str::to_string).collect();
    let mut rest: VecDeque<String> = VecDeque::new();
    let mut hops = 0;
    let mut pending = Some(target.to_string());
    loop {
        if let Some(target) = pending.take() {
            if target.starts_with('/') {
                return false;
            }
            for name in target.split('/').rev() {
                rest.push_front(name.to_string());
            }
        }
        let Some(name) = rest.pop_front() else {
            return true;
        };
        match name.as_str() {
            "" | "." => {}
            ".." => {
                if at.len() <= floor {
                    return false;
                }
                at.pop();
            }
            _ => {
                at.push(name);
                if let Some(&next) = links.get(&at.join("/")) {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return true;
                    }
                    at.pop();
                    pending = Some(next.to_string());
                }
            }
        }
    }
}

/// `.zenbuild/stat-cache` with these bytes, and with them sealed by a valid checksum, so that
/// the decoder behind the checksum is reached too. True when the bytes as given hold entries.
pub fn stat_cache(dir: &Path, bytes: &[u8]) -> bool {
    let path = dir.join("stat-cache");
    write(&path, &sealed(bytes));
    std::hint::black_box(StatCache::load(&path).len());
    write(&path, bytes);
    !StatCache::load(&path).is_empty()
}

/// `.zenbuild/state/up-to-date` with these bytes, and with them sealed by a valid checksum:
/// decoded only, since checking a record stats and reads the paths it names. True when the
/// bytes as given are a record.
pub fn up_to_date(bytes: &[u8]) -> bool {
    std::hint::black_box(Record::decode(&sealed(bytes)).is_some());
    Record::decode(bytes).is_some()
}

/// The bytes followed by their BLAKE3 checksum, as zenbuild seals its own records.
fn sealed(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    crate::binary::seal(&mut out);
    out
}

fn write(path: &Path, bytes: &[u8]) {
    if let Err(err) = std::fs::write(path, bytes) {
        panic!(
            "the fuzzing directory must be writable: {}: {err}",
            path.display()
        );
    }
}

/// True when the manifest compiles; else its diagnostics are rendered.
fn load_and_compile(dir: &Path, manifest: &Path) -> bool {
    let diagnostics = match crate::manifest::load(manifest) {
        Err(err) => err.diagnostics,
        Ok((manifest, problems)) => {
            for key in manifest.params.keys() {
                std::hint::black_box(manifest.params.get(&key));
            }
            match crate::graph::compile(&manifest, dir, problems) {
                Ok(graph) => {
                    std::hint::black_box(graph.actions.len());
                    return true;
                }
                Err(err) => err.diagnostics,
            }
        }
    };
    // As `ui::print_error` renders them, where miette once panicked on far columns.
    let handler =
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    for diagnostic in &diagnostics {
        let mut out = String::new();
        let _ = handler.render_report(&mut out, diagnostic as &dyn Diagnostic);
        std::hint::black_box(out);
    }
    false
}
