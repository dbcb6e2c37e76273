//! What a worker takes from the remote before anything runs: the description, read and
//! checked whole, then every input blob, each checked against its digest as it arrives, laid
//! out below the scratch directory's `work/` as a restore lays out a result (never through a
//! symlink, never outside it).

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::Path;

use rayon::prelude::*;

use super::scratch::{Scratch, remove_all};
use crate::hash::{Digest, StatCache, hash_file, hash_tree, symlink_digest};
use crate::remote::{Remote, pool};
use crate::remote_exec::description::{self, ActionDescription, MAX_DESCRIPTION_BYTES};
use crate::store::{Downloaded, LinkMode, LocalStore, StoreError, restore_outputs};

/// The description `digest`, fetched into the scratch directory and checked; what is wrong
/// with it, as a phrase.
pub fn fetch_description(
    remote: &dyn Remote,
    scratch: &Scratch,
    digest: &Digest,
) -> Result<ActionDescription, String> {
    let path = scratch.description();
    match remote.get_blob(digest, &path) {
        Ok(true) => {}
        Ok(false) => return Err(format!("the description {digest} is not in the remote")),
        Err(e) => return Err(format!("cannot fetch the description {digest}: {e}")),
    }
    let size = fs::metadata(&path).map_or(0, |meta| meta.len());
    if size > MAX_DESCRIPTION_BYTES {
        return Err(description::DescriptionError::TooLarge { size }.to_string());
    }
    let bytes = fs::read(&path).map_err(|e| format!("cannot read the description: {e}"))?;
    description::decode(&bytes, digest).map_err(|e| e.to_string())
}

/// Downloads every input blob and lays the inputs out in `scratch.work()`; returns the
/// bytes downloaded.
pub fn lay_out(
    remote: &dyn Remote,
    description: &ActionDescription,
    scratch: &Scratch,
) -> Result<u64, String> {
    let store_dir = scratch.input_store();
    let store = LocalStore::open(&store_dir)
        .map_err(|e| format!("cannot make a store for the inputs: {e}"))?;
    let sizes = description.input_blobs();
    // Each blob by one of the inputs made of it, to say which input is at fault.
    let mut named: BTreeMap<Digest, String> = BTreeMap::new();
    for (path, file) in description.input_files() {
        named.entry(file.digest).or_insert(path);
    }
    pool::requests().install(|| {
        sizes.par_iter().try_for_each(|(digest, &size)| {
            let input = named.get(digest).map_or("?", String::as_str);
            fetch_blob(remote, &store, digest, size, input)
        })
    })?;
    restore_outputs(
        &store,
        &scratch.work(),
        &description.inputs_as_result(),
        LinkMode::Reflink,
    )
    .map_err(|e| format!("cannot lay out the inputs: {e}"))?;
    // Each input is its own file now: the downloads are not needed any more.
    drop(store);
    remove_all(&store_dir);
    check_overlaps(description, &scratch.work())?;
    Ok(sizes.values().sum())
}

fn fetch_blob(
    remote: &dyn Remote,
    store: &LocalStore,
    digest: &Digest,
    size: u64,
    input: &str,
) -> Result<(), String> {
    let fetched = store
        .download(remote, digest)
        .map_err(|e| format!("cannot fetch input `{input}` (blob {digest}): {e}"))?;
    match fetched {
        Downloaded::Stored(blob) if blob.size == size => Ok(()),
        Downloaded::Stored(blob) => Err(format!(
            "input `{input}`: blob {digest} is {} bytes, and the description says {size}",
            blob.size
        )),
        Downloaded::Missing => Err(format!(
            "input `{input}`: blob {digest} is not in the remote"
        )),
        Downloaded::Refused(StoreError::CorruptBlob { actual, .. }) => Err(format!(
            "input `{input}`: the remote's blob {digest} hashes to {actual}: it was damaged or \
             tampered with"
        )),
        Downloaded::Refused(e) => Err(format!("input `{input}`: blob {digest}: {e}")),
    }
}

/// Inputs that lie inside a directory input (`data/` and `data/train.csv`) were laid out one
/// over the other: each of them must still be what the description says, or the command
/// would see bytes its key does not cover. Hashed again only where inputs overlap.
fn check_overlaps(description: &ActionDescription, work: &Path) -> Result<(), String> {
    let inputs = &description.inputs;
    let dirs: HashSet<&str> = inputs.directories.iter().map(|d| d.path.as_str()).collect();
    let paths = (inputs.files.iter().map(|f| f.path.as_str()))
        .chain(inputs.symlinks.iter().map(|l| l.path.as_str()))
        .chain(dirs.iter().copied());
    let mut overlapping = HashSet::new();
    for path in paths {
        let outer = Path::new(path)
            .ancestors()
            .skip(1)
            .filter_map(Path::to_str)
            .filter(|ancestor| dirs.contains(ancestor))
            .collect::<Vec<_>>();
        if !outer.is_empty() {
            overlapping.insert(path);
            overlapping.extend(outer);
        }
    }
    if overlapping.is_empty() {
        return Ok(());
    }
    let disagree = |path: &str| {
        format!("input `{path}` overlaps another input that says otherwise of its contents")
    };
    let cache = StatCache::in_memory();
    for file in inputs
        .files
        .iter()
        .filter(|f| overlapping.contains(f.path.as_str()))
    {
        let hashed = hash_file(&work.join(&file.path)).map_err(|e| e.to_string())?;
        if hashed.digest != file.digest || hashed.executable != file.executable {
            return Err(disagree(&file.path));
        }
    }
    for link in inputs
        .symlinks
        .iter()
        .filter(|l| overlapping.contains(l.path.as_str()))
    {
        let hashed = hash_file(&work.join(&link.path)).map_err(|e| e.to_string())?;
        if hashed.digest != symlink_digest(link.target.as_bytes()).digest {
            return Err(disagree(&link.path));
        }
    }
    for dir in inputs
        .directories
        .iter()
        .filter(|d| overlapping.contains(d.path.as_str()))
    {
        let tree = hash_tree(&work.join(&dir.path), &cache).map_err(|e| e.to_string())?;
        if tree.digest != dir.tree_digest {
            return Err(disagree(&dir.path));
        }
    }
    Ok(())
}
