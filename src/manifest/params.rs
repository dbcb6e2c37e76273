//! Hyperparameter files (`params "params.yaml"`): YAML, JSON or TOML, merged into one tree
//! that steps address with dotted keys such as `train.seed`.

use serde::de::DeserializeSeed;
use serde_json::{Map, Value};

use super::params_value::{DUPLICATE_KEY_START, ValueSeed, too_deep_message};
use super::yaml_depth;

/// The merged parameters of every `params` file, later files overriding earlier ones key by key.
#[derive(Clone, Debug, Default)]
pub struct Params {
    root: Map<String, Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Toml,
}

impl Format {
    pub fn of(path: &str) -> Option<Format> {
        let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "toml" => Some(Format::Toml),
            _ => None,
        }
    }
}

/// Why a params file could not be read, with the byte offset of the problem when known.
pub struct ParseError {
    pub message: String,
    pub offset: Option<usize>,
}

impl Params {
    /// Parses one file's text and merges it over what is already here.
    pub fn merge_file(&mut self, format: Format, text: &str) -> Result<(), ParseError> {
        let value = parse(format, text)?;
        match value {
            Value::Object(map) => {
                merge(&mut self.root, map);
                Ok(())
            }
            // An empty YAML file is null: no parameters.
            Value::Null => Ok(()),
            _ => Err(ParseError {
                message: "a params file must hold a mapping of names to values at its top level"
                    .into(),
                offset: None,
            }),
        }
    }

    /// The value at a dotted key (`train.seed`, `layers.0`).
    pub fn get(&self, key: &str) -> Option<&Value> {
        let mut parts = key.split('.');
        let mut value = self.root.get(parts.next()?)?;
        for part in parts {
            value = match value {
                Value::Object(map) => map.get(part)?,
                Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(value)
    }

    /// Every dotted key that [`Params::get`] answers, for "did you mean" suggestions.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for (name, value) in &self.root {
            collect_keys(name.clone(), value, &mut keys);
        }
        keys
    }
}

fn collect_keys(prefix: String, value: &Value, keys: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (name, child) in map {
            collect_keys(format!("{prefix}.{name}"), child, keys);
        }
    }
    keys.push(prefix);
}

fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(more)) => merge(existing, more),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

fn parse(format: Format, text: &str) -> Result<Value, ParseError> {
    let seed = || ValueSeed { depth: 0 };
    let parsed = match format {
        Format::Json => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            seed()
                .deserialize(&mut deserializer)
                .and_then(|value| deserializer.end().map(|()| value))
                .map_err(|e| ParseError {
                    offset: offset_of(text, e.line(), e.column()),
                    message: strip_position(&e.to_string()),
                })
        }
        Format::Yaml => {
            if let Some(offset) = yaml_depth::too_deep(text) {
                return Err(ParseError {
                    message: too_deep_message(),
                    offset: Some(offset),
                });
            }
            seed()
                .deserialize(serde_yaml_ng::Deserializer::from_str(text))
                .map_err(|e| ParseError {
                    offset: e.location().map(|location| location.index()),
                    message: strip_position(&e.to_string()),
                })
        }
        Format::Toml => toml::de::Deserializer::parse(text)
            .and_then(|deserializer| seed().deserialize(deserializer))
            .map_err(|e| ParseError {
                offset: e.span().map(|span| span.start),
                message: e.message().to_string(),
            }),
    };
    // Each parser has its own, larger, nesting limit and its own words for it.
    parsed.map_err(|mut error| {
        let deep = ["recursion", "recurse", &too_deep_message()];
        if deep.iter().any(|words| error.message.contains(words)) {
            error.message = too_deep_message();
        }
        // serde_yaml_ng puts the path of the value first, which the snippet shows anyway.
        if let Some(at) = error.message.find(DUPLICATE_KEY_START) {
            error.message.drain(..at);
        }
        error
    })
}

/// The parsers append "at line X column Y"; the rendered snippet already shows where.
fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    Some((line_start + column.saturating_sub(1)).min(text.len()))
}

/// How a parameter value appears when interpolated into a command or path: strings bare,
/// everything else as compact JSON.
pub fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::params_value::MAX_PARAMS_DEPTH;

    #[test]
    fn later_files_override_key_by_key() {
        let mut params = Params::default();
        params
            .merge_file(Format::Yaml, "train:\n  seed: 1\n  lr: 0.1\n")
            .ok()
            .unwrap();
        params
            .merge_file(Format::Json, r#"{"train": {"seed": 2}}"#)
            .ok()
            .unwrap();
        params
            .merge_file(Format::Toml, "[data]\nrows = 10\n")
            .ok()
            .unwrap();
        assert_eq!(params.get("train.seed"), Some(&Value::from(2)));
        assert_eq!(params.get("train.lr"), Some(&Value::from(0.1)));
        assert_eq!(params.get("data.rows"), Some(&Value::from(10)));
        assert_eq!(params.get("train.missing"), None);
        assert!(params.keys().contains(&"train.seed".to_string()));
    }

    #[test]
    fn list_items_by_index() {
        let mut params = Params::default();
        params
            .merge_file(Format::Yaml, "layers: [64, 32]\n")
            .ok()
            .unwrap();
        assert_eq!(params.get("layers.1"), Some(&Value::from(32)));
        assert_eq!(params.get("layers.2"), None);
    }

    #[test]
    fn a_key_written_twice_is_an_error_in_every_format() {
        for (format, text) in [
            (Format::Yaml, "a: 1\nb:\n  c: 1\n  c: 2\n"),
            (Format::Json, r#"{"a": 1, "a": 2}"#),
            (Format::Toml, "a = 1\na = 2\n"),
        ] {
            let err = Params::default().merge_file(format, text).err().unwrap();
            assert!(
                err.message.contains("`c`")
                    || err.message.contains("`a`")
                    || err.message.contains("duplicate"),
                "{format:?}: {}",
                err.message
            );
        }
    }

    #[test]
    fn nesting_past_the_limit_is_refused_with_one_message() {
        let depth = MAX_PARAMS_DEPTH + 1;
        for (format, text) in [
            (
                Format::Yaml,
                format!("a: {}{}\n", "[".repeat(depth), "]".repeat(depth)),
            ),
            (Format::Yaml, format!("a:\n{}x\n", "- ".repeat(depth))),
            (
                Format::Json,
                format!("{{\"a\": {}{}}}", "[".repeat(depth), "]".repeat(depth)),
            ),
            (
                Format::Json,
                format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000)),
            ),
            (
                Format::Toml,
                format!("a = {}{}\n", "[".repeat(depth), "]".repeat(depth)),
            ),
            (
                Format::Toml,
                format!("a = {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
            ),
        ] {
            let err = Params::default().merge_file(format, &text).err().unwrap();
            assert_eq!(err.message, too_deep_message(), "{format:?}");
        }
        let ok = format!(
            "a: {}{}\n",
            "[".repeat(MAX_PARAMS_DEPTH - 1),
            "]".repeat(MAX_PARAMS_DEPTH - 1)
        );
        assert!(Params::default().merge_file(Format::Yaml, &ok).is_ok());
    }

    #[test]
    fn errors_carry_offsets() {
        let mut params = Params::default();
        let err = params
            .merge_file(Format::Json, "{\n  \"a\": ,\n}")
            .err()
            .unwrap();
        assert_eq!(err.offset, Some(9));
    }
}
