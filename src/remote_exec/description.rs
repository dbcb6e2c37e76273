//! The action description, format [`FORMAT`]: everything a worker without the workspace
//! needs to run one attempt at an action, as JSON, stored in the remote's CAS under the
//! BLAKE3 of its bytes. docs/remote-execution.md lists every field.
//!
//! The inputs are described in the shapes of an [`ActionResult`]'s outputs: a file by its
//! digest, size and executable bit, a symlink by its target, a directory by its Merkle digest
//! with its whole tree (files, symlinks, empty directories). So the worker lays them out with
//! the code that restores a result, and every check a cached result goes through holds for
//! them too.
//!
//! A worker reads a description it did not write, from a store others can write to: decoding
//! checks the bytes against the digest they were fetched by, the format, and every path and
//! size, before anything is laid out ([`decode`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::hash::{CACHE_VERSION, Digest, Platform};
use crate::store::{ActionResult, OutputDirectory, OutputFile, OutputSymlink, check_result, plain};

/// The format this zenbuild writes and the only one it reads. A change to a field's meaning,
/// or a new field, is a new format: a worker must never run what it half understands.
pub const FORMAT: &str = "zenbuild-action/1";

/// The most bytes a description may have. It lists every file of the input directories, a
/// few hundred bytes each: a million files fit.
pub const MAX_DESCRIPTION_BYTES: u64 = 1 << 30;

/// The version of the zenbuild that wrote a description or an outcome.
pub const ZENBUILD_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One attempt at one action, with nothing left to resolve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionDescription {
    /// [`FORMAT`].
    pub format: String,
    /// The writer's version, for messages.
    pub zenbuild: String,
    /// The [`CACHE_VERSION`] the key was made under: a worker of another one would collect
    /// outputs that the writer's restore cannot check.
    pub cache_version: u32,
    /// The action's name, for messages and logs.
    pub name: String,
    /// The action key; a cacheable result is stored under it.
    pub key: Digest,
    /// Run as `/bin/sh -c command`.
    pub command: String,
    /// The variables the step declared; with PATH and HOME they are all it sees.
    pub env: BTreeMap<String, String>,
    /// Where the command runs, relative to the root of the inputs (`.` for the root).
    pub workdir: String,
    pub inputs: Inputs,
    /// The declared outputs, relative to the root; directories end in `/`.
    pub outputs: Vec<String>,
    /// The step's metrics files, read into its result.
    pub metrics: Vec<String>,
    /// How long the command may run, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Whether the result may be cached under `key` (`cache #false`: no).
    pub cache: bool,
    /// 1 for the first attempt; retries count on.
    pub attempt: u32,
    /// The platform the key includes; a worker on another one refuses the action. `None`
    /// when the key leaves the platform out.
    pub platform: Option<Platform>,
}

/// The inputs, in the shapes of a result's outputs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Regular files, by path from the root.
    pub files: Vec<OutputFile>,
    /// Symlinks, recreated with their target text.
    pub symlinks: Vec<OutputSymlink>,
    /// Directories, each with its tree (paths inside relative to it; its own path without
    /// the trailing `/`).
    pub directories: Vec<OutputDirectory>,
}

/// Why bytes are not a description a worker can use.
#[derive(Debug, thiserror::Error)]
pub enum DescriptionError {
    #[error("the description is {size} bytes, more than a worker reads ({MAX_DESCRIPTION_BYTES})")]
    TooLarge { size: u64 },
    #[error(
        "the description's bytes hash to {actual}, not to the digest {expected} it was fetched by"
    )]
    Digest { expected: Digest, actual: Digest },
    #[error(
        "the description is in format `{found}`, which this zenbuild ({ZENBUILD_VERSION}) does not \
         read (it reads {FORMAT}): install the same zenbuild on the workers as on the client"
    )]
    Format { found: String },
    #[error("the description does not decode: {0}")]
    Malformed(String),
    #[error("the description cannot be used: {0}")]
    Invalid(String),
}

/// The one field read before the others.
#[derive(Deserialize)]
struct Head {
    format: Option<serde_json::Value>,
}

/// The description in `bytes`, which were fetched as `expected`, checked whole.
pub fn decode(bytes: &[u8], expected: &Digest) -> Result<ActionDescription, DescriptionError> {
    let size = bytes.len() as u64;
    if size > MAX_DESCRIPTION_BYTES {
        return Err(DescriptionError::TooLarge { size });
    }
    let actual = Digest::of(bytes);
    if actual != *expected {
        return Err(DescriptionError::Digest {
            expected: *expected,
            actual,
        });
    }
    // The format first, so that a newer writer's description is called that, not malformed.
    let head: Head =
        serde_json::from_slice(bytes).map_err(|e| DescriptionError::Malformed(e.to_string()))?;
    match head.format {
        Some(serde_json::Value::String(format)) if format == FORMAT => {}
        Some(other) => {
            return Err(DescriptionError::Format {
                found: other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_string),
            });
        }
        None => {
            return Err(DescriptionError::Format {
                found: "(none)".to_string(),
            });
        }
    }
    let description: ActionDescription =
        serde_json::from_slice(bytes).map_err(|e| DescriptionError::Malformed(e.to_string()))?;
    description.validate().map_err(DescriptionError::Invalid)?;
    Ok(description)
}

impl ActionDescription {
    /// The bytes stored in the CAS and their digest, the name they are stored under.
    pub fn encode(&self) -> Result<(Vec<u8>, Digest), serde_json::Error> {
        let bytes = serde_json::to_vec(self)?;
        let digest = Digest::of(&bytes);
        Ok((bytes, digest))
    }

    /// Each declared output's path and whether it is a directory, as the store takes them.
    pub fn declared_outputs(&self) -> Vec<(&str, bool)> {
        self.outputs
            .iter()
            .map(|path| (path.as_str(), path.ends_with('/')))
            .collect()
    }

    /// The inputs as a result holding them, for laying them out as a restore would.
    pub fn inputs_as_result(&self) -> ActionResult {
        ActionResult {
            output_files: self.inputs.files.clone(),
            output_symlinks: self.inputs.symlinks.clone(),
            output_directories: self.inputs.directories.clone(),
            ..ActionResult::default()
        }
    }

    /// Every distinct blob the inputs are made of, with its size.
    pub fn input_blobs(&self) -> BTreeMap<Digest, u64> {
        self.input_files()
            .map(|(_, file)| (file.digest, file.size))
            .collect()
    }

    /// Every regular file of the inputs, with its path from the root.
    pub fn input_files(&self) -> impl Iterator<Item = (String, &OutputFile)> {
        let top = self.inputs.files.iter().map(|f| (f.path.clone(), f));
        let inside = self.inputs.directories.iter().flat_map(|dir| {
            dir.files
                .iter()
                .map(move |f| (format!("{}/{}", dir.path, f.path), f))
        });
        top.chain(inside)
    }

    /// Whether a worker may run it: every field within what this zenbuild can honour, every
    /// path one a file can have below the root, nothing listed twice, every directory's
    /// listing that of the tree it claims. What is wrong, as a phrase.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format `{}` is not {FORMAT}", self.format));
        }
        if self.cache_version != CACHE_VERSION {
            return Err(format!(
                "it was keyed under cache version {}, and this zenbuild ({ZENBUILD_VERSION}) \
                 keys under {CACHE_VERSION}: install the same zenbuild on the workers as on \
                 the client",
                self.cache_version
            ));
        }
        if self.name.is_empty() || self.name.contains('\0') {
            return Err("the action has no usable name".to_string());
        }
        if self.command.is_empty() || self.command.contains('\0') {
            return Err("the command is empty or holds a NUL".to_string());
        }
        if self.attempt == 0 {
            return Err("attempts count from 1".to_string());
        }
        for (name, value) in &self.env {
            if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
                return Err(format!("`{name}` is not a variable a process can have"));
            }
        }
        if self.workdir != "." {
            plain(&self.workdir)
                .map_err(|problem| format!("workdir `{}` {problem}", self.workdir))?;
        }
        self.validate_outputs()?;
        self.validate_inputs()
    }

    fn validate_outputs(&self) -> Result<(), String> {
        let mut seen = HashSet::new();
        for output in &self.outputs {
            let path = output.strip_suffix('/').unwrap_or(output);
            plain(path).map_err(|problem| format!("output `{output}` {problem}"))?;
            if !seen.insert(path) {
                return Err(format!("output `{output}` is declared twice"));
            }
        }
        for metrics in &self.metrics {
            plain(metrics).map_err(|problem| format!("metrics file `{metrics}` {problem}"))?;
        }
        Ok(())
    }

    fn validate_inputs(&self) -> Result<(), String> {
        let inputs = &self.inputs;
        // Each top-level input, and whether it is a directory.
        let mut kinds: HashMap<&str, bool> = HashMap::new();
        let paths = (inputs.files.iter().map(|f| (f.path.as_str(), false)))
            .chain(inputs.symlinks.iter().map(|l| (l.path.as_str(), false)))
            .chain(inputs.directories.iter().map(|d| (d.path.as_str(), true)));
        for (path, is_dir) in paths {
            plain(path).map_err(|problem| format!("input `{path}` {problem}"))?;
            if kinds.insert(path, is_dir).is_some() {
                return Err(format!("input `{path}` is listed twice"));
            }
        }
        for path in kinds.keys() {
            let below = Path::new(path)
                .ancestors()
                .skip(1)
                .filter_map(Path::to_str)
                .find(|ancestor| kinds.get(ancestor) == Some(&false));
            if let Some(file) = below {
                return Err(format!("input `{path}` lies below the input file `{file}`"));
            }
        }
        // A blob is one size wherever it is used, and the sizes must add up.
        let mut sizes: HashMap<Digest, u64> = HashMap::new();
        let mut total: u64 = 0;
        for (path, file) in self.input_files() {
            if *sizes.entry(file.digest).or_insert(file.size) != file.size {
                return Err(format!(
                    "input `{path}` gives blob {} another size than another input does",
                    file.digest.short()
                ));
            }
            total = total
                .checked_add(file.size)
                .ok_or_else(|| "the inputs' sizes add up to more than a disk holds".to_string())?;
        }
        // The checks a cached result passes: trees that are what they claim, symlinks that
        // stay inside (the root for a top-level one, its directory for one inside).
        let declared: Vec<(&str, bool)> = kinds.into_iter().collect();
        check_result(&self.inputs_as_result(), &declared)
            .map_err(|unusable| format!("input {unusable}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::listed_digest;

    fn file(path: &str, bytes: &[u8], executable: bool) -> OutputFile {
        OutputFile {
            path: path.to_string(),
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            executable,
        }
    }

    fn directory() -> OutputDirectory {
        let mut dir = OutputDirectory {
            path: "data".to_string(),
            tree_digest: Digest::of(b""),
            files: vec![
                file("a.csv", b"a\n", false),
                file("sub/b.csv", b"b\n", false),
            ],
            symlinks: vec![OutputSymlink {
                path: "latest".to_string(),
                target: "a.csv".to_string(),
            }],
            empty_directories: vec!["empty".to_string()],
        };
        dir.tree_digest = listed_digest(&dir).unwrap();
        dir
    }

    fn description() -> ActionDescription {
        ActionDescription {
            format: FORMAT.to_string(),
            zenbuild: ZENBUILD_VERSION.to_string(),
            cache_version: CACHE_VERSION,
            name: "train@lr=0.1".to_string(),
            key: Digest::of(b"key"),
            command: "sh train.sh > out/model.txt".to_string(),
            env: BTreeMap::from([("SEED".to_string(), "1".to_string())]),
            workdir: ".".to_string(),
            inputs: Inputs {
                files: vec![file("train.sh", b"echo hi\n", true)],
                symlinks: vec![OutputSymlink {
                    path: "current".to_string(),
                    target: "data/a.csv".to_string(),
                }],
                directories: vec![directory()],
            },
            outputs: vec!["out/model.txt".to_string(), "out/plots/".to_string()],
            metrics: vec!["out/model.txt".to_string()],
            timeout_ms: Some(60_000),
            cache: true,
            attempt: 1,
            platform: Some(Platform::current()),
        }
    }

    fn encoded(description: &ActionDescription) -> (Vec<u8>, Digest) {
        description.encode().unwrap()
    }

    /// The text of a description with `change` applied to its JSON, and that text's digest.
    fn edited(change: impl FnOnce(&mut serde_json::Value)) -> (Vec<u8>, Digest) {
        let mut json = serde_json::to_value(description()).unwrap();
        change(&mut json);
        let bytes = serde_json::to_vec(&json).unwrap();
        let digest = Digest::of(&bytes);
        (bytes, digest)
    }

    fn refusal(bytes: &[u8], digest: &Digest) -> String {
        decode(bytes, digest).unwrap_err().to_string()
    }

    #[test]
    fn a_description_round_trips() {
        let description = description();
        let (bytes, digest) = encoded(&description);
        assert_eq!(decode(&bytes, &digest).unwrap(), description);
        // Encoding is stable: the same description is the same blob.
        assert_eq!(encoded(&description).1, digest);
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with(r#"{"format":"zenbuild-action/1","#),
            "{text}"
        );
    }

    #[test]
    fn tampered_bytes_are_refused_by_their_digest() {
        let (mut bytes, digest) = encoded(&description());
        let at = bytes.iter().position(|&b| b == b'>').unwrap();
        bytes[at] = b'<';
        let message = refusal(&bytes, &digest);
        assert!(message.contains("hash to"), "{message}");
        assert!(message.contains(&digest.to_hex()), "{message}");
    }

    #[test]
    fn an_unknown_format_is_named_as_such() {
        let (bytes, digest) = edited(|json| json["format"] = "zenbuild-action/2".into());
        let message = refusal(&bytes, &digest);
        assert!(message.contains("`zenbuild-action/2`"), "{message}");
        assert!(message.contains("does not read"), "{message}");
        let (bytes, digest) = edited(|json| {
            json.as_object_mut().unwrap().remove("format");
        });
        assert!(refusal(&bytes, &digest).contains("(none)"));
        // A field this version does not know is another format too, not something to skip.
        let (bytes, digest) = edited(|json| json["sandbox"] = "strict".into());
        assert!(refusal(&bytes, &digest).contains("unknown field `sandbox`"));
        let (bytes, digest) = edited(|json| json["cache_version"] = 99.into());
        assert!(refusal(&bytes, &digest).contains("cache version 99"));
        let digest = Digest::of(b"[1, 2");
        assert!(refusal(b"[1, 2", &digest).contains("does not decode"));
    }

    #[test]
    fn paths_that_leave_the_root_or_repeat_are_refused() {
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "`../x` is not a plain",
                Box::new(|j| j["inputs"]["files"][0]["path"] = "../x".into()),
            ),
            (
                "`/etc/passwd` is not a plain",
                Box::new(|j| j["inputs"]["files"][0]["path"] = "/etc/passwd".into()),
            ),
            (
                "`a/./b` is not a plain",
                Box::new(|j| j["inputs"]["files"][0]["path"] = "a/./b".into()),
            ),
            (
                "not a path a file can have",
                Box::new(|j| j["inputs"]["files"][0]["path"] = "a\0b".into()),
            ),
            (
                "not a path a file can have",
                Box::new(|j| j["inputs"]["files"][0]["path"] = "".into()),
            ),
            (
                "`data` is listed twice",
                Box::new(|j| j["inputs"]["files"][0]["path"] = "data".into()),
            ),
            (
                "lies below the input file `train.sh`",
                Box::new(|j| j["inputs"]["symlinks"][0]["path"] = "train.sh/x".into()),
            ),
            (
                "output `../out` is not a plain",
                Box::new(|j| j["outputs"][0] = "../out".into()),
            ),
            (
                "`out/plots/` is declared twice",
                Box::new(|j| j["outputs"][0] = "out/plots".into()),
            ),
            ("workdir `/tmp`", Box::new(|j| j["workdir"] = "/tmp".into())),
            (
                "metrics file `../m.json`",
                Box::new(|j| j["metrics"][0] = "../m.json".into()),
            ),
            (
                "`data/../../x` is not a plain",
                Box::new(|j| j["inputs"]["directories"][0]["files"][0]["path"] = "../../x".into()),
            ),
            (
                "outside the workspace",
                Box::new(|j| j["inputs"]["symlinks"][0]["target"] = "../../etc/passwd".into()),
            ),
            (
                "outside the workspace",
                Box::new(|j| j["inputs"]["symlinks"][0]["target"] = "/etc/passwd".into()),
            ),
            (
                "outside its output directory `data/`",
                Box::new(|j| {
                    j["inputs"]["directories"][0]["symlinks"][0]["target"] = "../train.sh".into();
                }),
            ),
            (
                "does not list the tree",
                Box::new(|j| j["inputs"]["directories"][0]["files"][0]["executable"] = true.into()),
            ),
            (
                "another size",
                Box::new(|j| {
                    j["inputs"]["directories"][0]["files"][1]["digest"] =
                        j["inputs"]["files"][0]["digest"].clone();
                }),
            ),
            (
                "add up",
                Box::new(|j| {
                    j["inputs"]["files"][0]["size"] = u64::MAX.into();
                    j["inputs"]["directories"][0]["files"][0]["size"] = u64::MAX.into();
                }),
            ),
            ("not a variable", Box::new(|j| j["env"]["A=B"] = "x".into())),
            ("command is empty", Box::new(|j| j["command"] = "".into())),
            (
                "attempts count from 1",
                Box::new(|j| j["attempt"] = 0.into()),
            ),
        ];
        for (expected, edit) in cases {
            let (bytes, digest) = edited(edit);
            let message = refusal(&bytes, &digest);
            assert!(
                message.contains(expected),
                "expected `{expected}` in: {message}"
            );
        }
    }

    #[test]
    fn what_a_worker_lays_out_is_listed_once_with_its_size() {
        let description = description();
        let blobs = description.input_blobs();
        assert_eq!(blobs.len(), 3);
        assert_eq!(blobs[&Digest::of(b"echo hi\n")], 8);
        let paths: Vec<String> = description.input_files().map(|(path, _)| path).collect();
        assert_eq!(paths, ["train.sh", "data/a.csv", "data/sub/b.csv"]);
        assert_eq!(
            description.declared_outputs(),
            [("out/model.txt", false), ("out/plots/", true)]
        );
    }
}
