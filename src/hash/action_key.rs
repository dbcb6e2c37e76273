//! The action key: one digest over everything that can change what a step produces.
//!
//! | field      | what it holds                                                        |
//! |------------|----------------------------------------------------------------------|
//! | version    | [`CACHE_VERSION`]                                                    |
//! | `cmd`      | the command exactly as it runs, after templates, matrix and `{{…}}`  |
//! | `inputs`   | each input's workspace path and digest (files: BLAKE3 of the bytes and the executable bit; directories: the Merkle digest of the tree); an input another step wrote carries that output's digest, so identical bytes from a rerun leave dependents cached |
//! | `outputs`  | the declared output paths (directories end in `/`)                   |
//! | `params`   | the values of the params the step declares, as canonical JSON        |
//! | `env`      | the declared environment variables and their values                  |
//! | `workdir`  | the directory the command runs in                                    |
//! | `platform` | operating system and CPU architecture, unless the step opts out      |
//!
//! Not in the key, because they cannot change the outputs: the order inputs are listed in,
//! file modification times, params the step does not declare, resources, timeout, retries.
//! Changing what goes into the key or how it is encoded means bumping [`CACHE_VERSION`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Encoder;
use super::digest::Digest;

/// Salted into every key; bump it whenever the fields or their encoding change, so that no
/// result computed under the old rules is ever taken for a new one.
pub const CACHE_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionKey {
    pub cmd: String,
    pub inputs: Vec<InputDigest>,
    pub outputs: Vec<String>,
    pub params: BTreeMap<String, Value>,
    pub env: BTreeMap<String, String>,
    pub workdir: String,
    pub platform: Option<Platform>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InputDigest {
    /// Workspace-relative; directories end in `/`.
    pub path: String,
    pub digest: Digest,
    pub executable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub arch: String,
}

impl Platform {
    /// The machine zenbuild runs on.
    pub fn current() -> Platform {
        Platform {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
        }
    }
}

impl ActionKey {
    /// The key's digest. Inputs and outputs are sorted first, so listing order never matters.
    pub fn digest(&self) -> Digest {
        let mut inputs: Vec<&InputDigest> = self.inputs.iter().collect();
        inputs.sort();
        let mut outputs: Vec<&String> = self.outputs.iter().collect();
        outputs.sort();
        let mut encoder = Encoder::new();
        encoder.bytes(b"zenbuild action key");
        encoder.u64(u64::from(CACHE_VERSION));
        encoder.str(&self.cmd);
        encoder.u64(inputs.len() as u64);
        for input in inputs {
            encoder.str(&input.path);
            encoder.bytes(input.digest.as_bytes());
            encoder.u64(u64::from(input.executable));
        }
        encoder.u64(outputs.len() as u64);
        for output in outputs {
            encoder.str(output);
        }
        encoder.u64(self.params.len() as u64);
        for (key, value) in &self.params {
            encoder.str(key);
            encoder.str(&canonical_json(value));
        }
        encoder.u64(self.env.len() as u64);
        for (name, value) in &self.env {
            encoder.str(name);
            encoder.str(value);
        }
        encoder.str(&self.workdir);
        match &self.platform {
            None => encoder.u64(0),
            Some(platform) => {
                encoder.u64(1);
                encoder.str(&platform.os);
                encoder.str(&platform.arch);
            }
        }
        encoder.digest()
    }
}

/// JSON with object keys sorted at every level, so `{"a":1,"b":2}` and `{"b":2,"a":1}` agree.
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let fields: Vec<String> = sorted
                .into_iter()
                .map(|(key, value)| {
                    format!("{}:{}", Value::from(key.as_str()), canonical_json(value))
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        scalar => scalar.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> ActionKey {
        ActionKey {
            cmd: "python3 src/train.py --lr 0.1 out/clean.csv out/model.json".into(),
            inputs: vec![
                InputDigest {
                    path: "src/train.py".into(),
                    digest: Digest::of(b"print('train')\n"),
                    executable: false,
                },
                InputDigest {
                    path: "out/clean.csv".into(),
                    digest: Digest::of(b"a,b\n1,2\n"),
                    executable: false,
                },
            ],
            outputs: vec!["out/model.json".into(), "out/plots/".into()],
            params: BTreeMap::from([("train.seed".to_string(), json!(42))]),
            env: BTreeMap::from([("PYTHONHASHSEED".to_string(), "0".to_string())]),
            workdir: ".".into(),
            platform: Some(Platform {
                os: "linux".into(),
                arch: "x86_64".into(),
            }),
        }
    }

    /// Pins the encoding: if this changes, `CACHE_VERSION` must change with it.
    #[test]
    fn golden_digest() {
        assert_eq!(CACHE_VERSION, 1);
        assert_eq!(
            key().digest().to_hex(),
            "cce7721e47d095d6789688b673025f09b03fae412b399d66829d1ea4fd110ef6"
        );
    }

    /// Each field, changed alone, changes the key.
    #[test]
    fn every_field_counts() {
        type Change = Box<dyn Fn(&mut ActionKey)>;
        let base = key().digest();
        let changes: Vec<(&str, Change)> = vec![
            ("cmd", Box::new(|k| k.cmd.push(' '))),
            (
                "input path",
                Box::new(|k| k.inputs[0].path = "src/train2.py".into()),
            ),
            (
                "input digest",
                Box::new(|k| k.inputs[0].digest = Digest::of(b"other")),
            ),
            (
                "input executable bit",
                Box::new(|k| k.inputs[0].executable = true),
            ),
            (
                "input added",
                Box::new(|k| k.inputs.push(k.inputs[0].clone())),
            ),
            (
                "output path",
                Box::new(|k| k.outputs[0] = "out/model2.json".into()),
            ),
            (
                "output kind",
                Box::new(|k| k.outputs[1] = "out/plots".into()),
            ),
            (
                "param value",
                Box::new(|k| {
                    k.params.insert("train.seed".into(), json!(43));
                }),
            ),
            (
                "param type",
                Box::new(|k| {
                    k.params.insert("train.seed".into(), json!("42"));
                }),
            ),
            (
                "param added",
                Box::new(|k| {
                    k.params.insert("train.lr".into(), json!(0.1));
                }),
            ),
            (
                "env value",
                Box::new(|k| {
                    k.env.insert("PYTHONHASHSEED".into(), "1".into());
                }),
            ),
            (
                "env added",
                Box::new(|k| {
                    k.env.insert("OMP_NUM_THREADS".into(), "1".into());
                }),
            ),
            ("workdir", Box::new(|k| k.workdir = "src".into())),
            (
                "platform os",
                Box::new(|k| k.platform.as_mut().unwrap().os = "macos".into()),
            ),
            (
                "platform arch",
                Box::new(|k| k.platform.as_mut().unwrap().arch = "aarch64".into()),
            ),
            ("platform opt-out", Box::new(|k| k.platform = None)),
        ];
        for (what, change) in changes {
            let mut changed = key();
            change(&mut changed);
            assert_ne!(
                changed.digest(),
                base,
                "changing the {what} must change the key"
            );
        }
    }

    /// Moving a character between two fields changes the key: fields cannot run together.
    #[test]
    fn fields_are_delimited() {
        let mut a = key();
        a.env = BTreeMap::from([("AB".to_string(), "C".to_string())]);
        let mut b = key();
        b.env = BTreeMap::from([("A".to_string(), "BC".to_string())]);
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn listing_order_does_not_count() {
        let mut reordered = key();
        reordered.inputs.reverse();
        reordered.outputs.reverse();
        assert_eq!(reordered.digest(), key().digest());
    }

    #[test]
    fn param_object_key_order_does_not_count() {
        let mut a = key();
        a.params.insert(
            "model".into(),
            serde_json::from_str(r#"{"depth": 3, "lr": 0.1}"#).unwrap(),
        );
        let mut b = key();
        b.params.insert(
            "model".into(),
            serde_json::from_str(r#"{"lr": 0.1, "depth": 3}"#).unwrap(),
        );
        assert_eq!(a.digest(), b.digest());
        assert_eq!(
            canonical_json(&json!({"b": [1, {"d": 2, "c": 3}], "a": null})),
            r#"{"a":null,"b":[1,{"c":3,"d":2}]}"#
        );
    }
}
