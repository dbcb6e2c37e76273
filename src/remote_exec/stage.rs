//! The client's side: one attempt made ready for a worker that has nothing but the remote.
//! The inputs are described from the workspace as the key saw them, every blob the remote
//! lacks is uploaded (the remote asked once about all of them), and the description last, so
//! that a worker never finds a description whose inputs are not all there.
//!
//! An input that no longer hashes to the digest its key was made of fails the staging: the
//! worker would run on other bytes than the key says. Uploads read a private copy whose
//! digest was checked as it was made (or the local store's own blob), so a file written to
//! meanwhile can never put other bytes under a digest.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rayon::prelude::*;

use super::description::{ActionDescription, FORMAT, Inputs, ZENBUILD_VERSION};
use crate::exec::spec::ActionSpec;
use crate::hash::{
    CACHE_VERSION, Digest, FileKind, InputDigest, Platform, StatCache, hash_tree, symlink_digest,
};
use crate::remote::{Remote, RemoteError, pool};
use crate::store::{LocalStore, OutputFile, OutputSymlink, list_directory};

/// What a description needs that an [`ActionSpec`] does not carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepTerms {
    /// The platform the action's key includes; `None` when the step's key leaves it out.
    pub platform: Option<Platform>,
    /// Whether the result may be cached (`false` for `cache #false`).
    pub cache: bool,
    /// The step's metrics files, workspace-relative.
    pub metrics: Vec<String>,
}

impl StepTerms {
    /// A cacheable step without metrics, keyed for this machine's platform.
    pub fn here() -> StepTerms {
        StepTerms {
            platform: Some(Platform::current()),
            cache: true,
            metrics: Vec::new(),
        }
    }
}

/// Why an attempt could not be staged.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// An input is no longer what the key was made of: the build must hash it again.
    #[error("input `{path}` changed since the action was keyed: {why}")]
    Changed { path: String, why: String },
    #[error("input `{path}` cannot be read: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: io::Error,
    },
    /// The attempt cannot be described for a worker (a symlink input that leads out of the
    /// workspace, a name that is not UTF-8).
    #[error("{0}")]
    Unusable(String),
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

/// An attempt in the remote, ready for `zenbuild worker`.
#[derive(Clone, Debug)]
pub struct Staged {
    /// The digest of the description: the worker's argument.
    pub digest: Digest,
    pub description: ActionDescription,
    /// Distinct blobs the inputs are made of.
    pub input_blobs: usize,
    /// What this staging uploaded, the description included: only what the remote lacked.
    pub uploaded_blobs: usize,
    pub uploaded_bytes: u64,
}

/// Stages attempts into one remote from one workspace.
#[derive(Clone, Copy)]
pub struct Stager<'a> {
    pub remote: &'a dyn Remote,
    /// The workspace's store: a blob it holds is uploaded from it, and its temporary
    /// directory holds the private copies uploads read.
    pub local: &'a LocalStore,
    /// Hashes the inputs again; a file unchanged since it was hashed costs a stat.
    pub cache: &'a StatCache,
    /// Told each blob's size once it is uploaded, for progress.
    pub on_upload: Option<&'a (dyn Fn(u64) + Sync)>,
}

impl Stager<'_> {
    /// Describes `spec` (its inputs read under `spec.root`), uploads what the remote lacks
    /// and then the description.
    pub fn stage(&self, spec: &ActionSpec, terms: &StepTerms) -> Result<Staged, StageError> {
        let (description, sources) = describe(spec, terms, self.cache)?;
        let digests: Vec<Digest> = sources.keys().copied().collect();
        let missing = self.remote.missing_blobs(&digests)?;
        let (blobs, bytes) = (AtomicUsize::new(0), AtomicU64::new(0));
        pool::requests().install(|| {
            missing.par_iter().try_for_each(|digest| {
                let Some((path, source)) = sources.get(digest) else {
                    return Ok(());
                };
                let size = self.upload(digest, path, source)?;
                blobs.fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(size, Ordering::Relaxed);
                if let Some(on_upload) = self.on_upload {
                    on_upload(size);
                }
                Ok::<(), StageError>(())
            })
        })?;
        let (encoded, digest) = description
            .encode()
            .map_err(|e| StageError::Unusable(format!("cannot encode the description: {e}")))?;
        if !self.remote.contains_blob(&digest)? {
            self.put_bytes(&digest, &encoded)?;
            blobs.fetch_add(1, Ordering::Relaxed);
            bytes.fetch_add(encoded.len() as u64, Ordering::Relaxed);
        }
        Ok(Staged {
            digest,
            description,
            input_blobs: digests.len(),
            uploaded_blobs: blobs.into_inner(),
            uploaded_bytes: bytes.into_inner(),
        })
    }

    /// Uploads the blob `digest`, whose bytes are the file at `from` (`path` in the
    /// workspace); returns its size.
    fn upload(&self, digest: &Digest, path: &str, from: &Source) -> Result<u64, StageError> {
        let blob = self.local.blob_path(digest);
        let stored_whole =
            std::fs::metadata(&blob).is_ok_and(|meta| meta.is_file() && meta.len() == from.size);
        if stored_whole {
            self.remote.put_blob(digest, &blob)?;
            return Ok(from.size);
        }
        let snapshot = self
            .local
            .snapshot(&from.file, digest)
            .map_err(|e| match e {
                crate::store::StoreError::Io { source, .. } => StageError::Unreadable {
                    path: path.to_string(),
                    source,
                },
                other => StageError::Changed {
                    path: path.to_string(),
                    why: other.to_string(),
                },
            })?;
        self.remote.put_blob(digest, snapshot.path())?;
        Ok(snapshot.size)
    }

    fn put_bytes(&self, digest: &Digest, bytes: &[u8]) -> Result<(), StageError> {
        let local = |e: io::Error| {
            RemoteError::Local(format!("cannot write the description to upload it: {e}"))
        };
        // Named as the store's temporary files are, so that a killed upload's is swept.
        let mut file = tempfile::Builder::new()
            .suffix(".tmp")
            .tempfile_in(self.local.temp_dir())
            .map_err(local)?;
        file.write_all(bytes).map_err(local)?;
        file.flush().map_err(local)?;
        self.remote.put_blob(digest, file.path())?;
        Ok(())
    }
}

/// Where a blob's bytes are in the workspace.
struct Source {
    file: PathBuf,
    size: u64,
}

/// For each blob of the inputs (by digest), one input made of it and where its file is.
type Sources = BTreeMap<Digest, (String, Source)>;

/// The description of `spec`, and for each blob of its inputs (by digest), one input that is
/// made of it and where its file is.
fn describe(
    spec: &ActionSpec,
    terms: &StepTerms,
    cache: &StatCache,
) -> Result<(ActionDescription, Sources), StageError> {
    let mut inputs = Inputs::default();
    let mut sources = BTreeMap::new();
    for input in &spec.inputs {
        match input.path.strip_suffix('/') {
            Some(dir) => {
                let absolute = spec.root.join(dir);
                let tree = hash_tree(&absolute, cache).map_err(|e| unreadable(dir, e))?;
                if tree.digest != input.digest {
                    return Err(changed(dir, &input.digest, &tree.digest));
                }
                let listed = list_directory(dir, &absolute, &tree)
                    .map_err(|e| StageError::Unusable(format!("input `{}`: {e}", input.path)))?;
                for file in &listed.files {
                    let path = format!("{dir}/{}", file.path);
                    sources
                        .entry(file.digest)
                        .or_insert_with(|| (path, source(&absolute.join(&file.path), file.size)));
                }
                inputs.directories.push(listed);
            }
            None => describe_file(&spec.root, input, cache, &mut inputs, &mut sources)?,
        }
    }
    let mut env = spec.env.clone();
    // A device the scheduler here granted means nothing on the worker, whose engine assigns
    // its own (and the worker hands those on): only a declared variable travels.
    if !spec.gpus.is_empty() && env.get("CUDA_VISIBLE_DEVICES") == Some(&spec.gpus.join(",")) {
        env.remove("CUDA_VISIBLE_DEVICES");
    }
    let description = ActionDescription {
        format: FORMAT.to_string(),
        zenbuild: ZENBUILD_VERSION.to_string(),
        cache_version: CACHE_VERSION,
        name: spec.name.clone(),
        key: spec.key,
        command: spec.command.clone(),
        env,
        workdir: spec.workdir.clone(),
        inputs,
        outputs: spec.outputs.clone(),
        metrics: terms.metrics.clone(),
        timeout_ms: spec
            .timeout
            .map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
        cache: terms.cache,
        attempt: spec.attempt,
        platform: terms.platform.clone(),
    };
    // Refused here, where the user can be told which input is at fault, rather than by
    // every worker.
    description.validate().map_err(|problem| {
        StageError::Unusable(format!(
            "`{}` cannot run where the workspace is not: {problem}",
            spec.name
        ))
    })?;
    Ok((description, sources))
}

/// Describes the file or symlink input `input`.
fn describe_file(
    root: &Path,
    input: &InputDigest,
    cache: &StatCache,
    inputs: &mut Inputs,
    sources: &mut Sources,
) -> Result<(), StageError> {
    let absolute = root.join(&input.path);
    let hashed = cache
        .digest_file(&absolute)
        .map_err(|e| unreadable(&input.path, e))?;
    if hashed.digest != input.digest {
        return Err(changed(&input.path, &input.digest, &hashed.digest));
    }
    if hashed.executable != input.executable {
        return Err(StageError::Changed {
            path: input.path.clone(),
            why: "its executable bit changed".to_string(),
        });
    }
    match hashed.kind {
        FileKind::Regular => {
            inputs.files.push(OutputFile {
                path: input.path.clone(),
                digest: hashed.digest,
                size: hashed.size,
                executable: hashed.executable,
            });
            sources
                .entry(hashed.digest)
                .or_insert_with(|| (input.path.clone(), source(&absolute, hashed.size)));
        }
        FileKind::Symlink => {
            let target = std::fs::read_link(&absolute).map_err(|e| unreadable(&input.path, e))?;
            let target = target.into_os_string().into_string().map_err(|_| {
                StageError::Unusable(format!(
                    "input `{}` is a symlink whose target is not UTF-8",
                    input.path
                ))
            })?;
            let digest = symlink_digest(target.as_bytes()).digest;
            if digest != input.digest {
                return Err(changed(&input.path, &input.digest, &digest));
            }
            inputs.symlinks.push(OutputSymlink {
                path: input.path.clone(),
                target,
            });
        }
    }
    Ok(())
}

fn source(file: &Path, size: u64) -> Source {
    Source {
        file: file.to_path_buf(),
        size,
    }
}

fn changed(path: &str, keyed: &Digest, now: &Digest) -> StageError {
    StageError::Changed {
        path: path.to_string(),
        why: format!(
            "it hashes to {} now, and was keyed as {}",
            now.short(),
            keyed.short()
        ),
    }
}

fn unreadable(path: &str, source: io::Error) -> StageError {
    StageError::Unreadable {
        path: path.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::graph::Resources;
    use crate::hash::hash_file;
    use crate::remote::DirRemote;
    use crate::remote_exec::description::decode;

    struct Fixture {
        dir: tempfile::TempDir,
        remote: DirRemote,
        local: LocalStore,
        cache: StatCache,
    }

    impl Fixture {
        /// A workspace with a script, a dataset directory (nested, empty, a symlink inside,
        /// one file twice) and a symlink input, and an empty shared-directory remote.
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("ws");
            let write = |path: &str, bytes: &str| {
                let path = root.join(path);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, bytes).unwrap();
            };
            write("train.sh", "cat data/a.csv\n");
            fs::set_permissions(root.join("train.sh"), fs::Permissions::from_mode(0o755)).unwrap();
            write("data/a.csv", "a\n");
            write("data/sub/b.csv", "b\n");
            write("data/sub/same.csv", "a\n");
            fs::create_dir_all(root.join("data/empty")).unwrap();
            symlink("a.csv", root.join("data/latest")).unwrap();
            symlink("data/a.csv", root.join("current")).unwrap();
            Fixture {
                remote: DirRemote::new(&dir.path().join("remote")),
                local: LocalStore::in_workspace(&root).unwrap(),
                cache: StatCache::in_memory(),
                dir,
            }
        }

        fn root(&self) -> PathBuf {
            self.dir.path().join("ws")
        }

        /// The inputs as the build keys them: a file by its digest and mode, a directory by
        /// its tree.
        fn keyed(&self, paths: &[&str]) -> Vec<InputDigest> {
            paths
                .iter()
                .map(|path| {
                    if let Some(dir) = path.strip_suffix('/') {
                        let tree = hash_tree(&self.root().join(dir), &StatCache::in_memory());
                        return InputDigest {
                            path: (*path).to_string(),
                            digest: tree.unwrap().digest,
                            executable: false,
                        };
                    }
                    let file = hash_file(&self.root().join(path)).unwrap();
                    InputDigest {
                        path: (*path).to_string(),
                        digest: file.digest,
                        executable: file.executable,
                    }
                })
                .collect()
        }

        fn spec(&self, inputs: Vec<InputDigest>) -> ActionSpec {
            ActionSpec {
                name: "train".to_string(),
                executor: "ray".to_string(),
                key: Digest::of(b"the key"),
                command: "sh train.sh > out/model.txt".to_string(),
                env: BTreeMap::from([("SEED".to_string(), "1".to_string())]),
                root: self.root(),
                workdir: ".".to_string(),
                inputs,
                outputs: vec!["out/model.txt".to_string()],
                resources: Resources::default(),
                gpus: Vec::new(),
                timeout: Some(std::time::Duration::from_secs(90)),
                attempt: 2,
                log: self.dir.path().join("log"),
            }
        }

        fn stager<'a>(&'a self, on_upload: Option<&'a (dyn Fn(u64) + Sync)>) -> Stager<'a> {
            Stager {
                remote: &self.remote,
                local: &self.local,
                cache: &self.cache,
                on_upload,
            }
        }

        fn blobs_in_remote(&self) -> usize {
            fs::read_dir(self.dir.path().join("remote/cas")).map_or(0, Iterator::count)
        }
    }

    const INPUTS: [&str; 3] = ["train.sh", "data/", "current"];

    #[test]
    fn each_blob_goes_up_once_and_the_description_names_them_all() {
        let fixture = Fixture::new();
        let uploaded = AtomicU64::new(0);
        let count = |size: u64| {
            uploaded.fetch_add(size, Ordering::SeqCst);
        };
        let spec = fixture.spec(fixture.keyed(&INPUTS));
        let staged = fixture
            .stager(Some(&count))
            .stage(&spec, &StepTerms::here())
            .unwrap();
        // train.sh, a.csv (twice in the tree), b.csv: three blobs, and the description.
        assert_eq!(staged.input_blobs, 3);
        assert_eq!(staged.uploaded_blobs, 4);
        assert_eq!(uploaded.load(Ordering::SeqCst), 15 + 2 + 2);
        assert_eq!(fixture.blobs_in_remote(), 4);

        let fetched = fixture.dir.path().join("fetched");
        assert!(fixture.remote.get_blob(&staged.digest, &fetched).unwrap());
        let description = decode(&fs::read(&fetched).unwrap(), &staged.digest).unwrap();
        assert_eq!(description, staged.description);
        assert_eq!(description.key, spec.key);
        assert_eq!(description.attempt, 2);
        assert_eq!(description.timeout_ms, Some(90_000));
        assert_eq!(description.platform, Some(Platform::current()));
        assert!(description.inputs.files[0].executable);
        assert_eq!(description.inputs.symlinks[0].target, "data/a.csv");
        let data = &description.inputs.directories[0];
        assert_eq!(data.path, "data");
        assert_eq!(data.empty_directories, ["empty"]);
        assert_eq!(data.symlinks[0].path, "latest");
        for digest in description.input_blobs().keys() {
            assert!(fixture.remote.contains_blob(digest).unwrap());
        }

        // Everything is there now: staging again sends nothing.
        let again = fixture
            .stager(None)
            .stage(&spec, &StepTerms::here())
            .unwrap();
        assert_eq!(again.digest, staged.digest);
        assert_eq!((again.uploaded_blobs, again.uploaded_bytes), (0, 0));
    }

    #[test]
    fn an_input_changed_since_it_was_keyed_fails_and_nothing_goes_up() {
        let fixture = Fixture::new();
        let keyed = fixture.keyed(&INPUTS);
        fs::write(fixture.root().join("train.sh"), "rm -rf /\n").unwrap();
        let error = fixture
            .stager(None)
            .stage(&fixture.spec(keyed.clone()), &StepTerms::here())
            .unwrap_err();
        assert!(
            matches!(&error, StageError::Changed { path, .. } if path == "train.sh"),
            "{error}"
        );
        fs::write(fixture.root().join("train.sh"), "cat data/a.csv\n").unwrap();
        fs::write(fixture.root().join("data/new.csv"), "new\n").unwrap();
        let error = fixture
            .stager(None)
            .stage(&fixture.spec(keyed), &StepTerms::here())
            .unwrap_err();
        assert!(
            matches!(&error, StageError::Changed { path, .. } if path == "data"),
            "{error}"
        );
        assert_eq!(fixture.blobs_in_remote(), 0);
    }

    #[test]
    fn bytes_that_are_not_the_digest_are_never_uploaded_under_it() {
        let fixture = Fixture::new();
        let path = fixture.root().join("data/a.csv");
        let error = fixture
            .local
            .snapshot(&path, &Digest::of(b"other\n"))
            .unwrap_err();
        assert!(
            error.to_string().contains("changed since it was hashed"),
            "{error}"
        );
        let snapshot = fixture.local.snapshot(&path, &Digest::of(b"a\n")).unwrap();
        assert_eq!(fs::read(snapshot.path()).unwrap(), b"a\n");
        let kept = snapshot.path().to_path_buf();
        drop(snapshot);
        assert!(!kept.exists(), "a snapshot is removed once uploaded");
    }

    #[test]
    fn a_symlink_out_of_the_workspace_cannot_be_staged() {
        let fixture = Fixture::new();
        fs::remove_file(fixture.root().join("current")).unwrap();
        symlink("/etc/hostname", fixture.root().join("current")).unwrap();
        let error = fixture
            .stager(None)
            .stage(&fixture.spec(fixture.keyed(&INPUTS)), &StepTerms::here())
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("cannot run where the workspace is not"),
            "{message}"
        );
        assert!(
            message.contains("`current` is a symlink to `/etc/hostname`"),
            "{message}"
        );
        assert_eq!(fixture.blobs_in_remote(), 0);
    }

    #[test]
    fn a_device_granted_here_does_not_travel_and_a_declared_one_does() {
        let fixture = Fixture::new();
        let mut spec = fixture.spec(fixture.keyed(&INPUTS));
        spec.gpus = vec!["0".to_string(), "1".to_string()];
        spec.env
            .insert("CUDA_VISIBLE_DEVICES".to_string(), "0,1".to_string());
        let terms = StepTerms {
            platform: None,
            cache: false,
            metrics: vec!["out/model.txt".to_string()],
        };
        let staged = fixture.stager(None).stage(&spec, &terms).unwrap();
        assert!(!staged.description.env.contains_key("CUDA_VISIBLE_DEVICES"));
        assert_eq!(staged.description.platform, None);
        assert!(!staged.description.cache);
        spec.gpus.clear();
        let staged = fixture.stager(None).stage(&spec, &terms).unwrap();
        assert_eq!(staged.description.env["CUDA_VISIBLE_DEVICES"], "0,1");
    }
}
