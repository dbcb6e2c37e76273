//! Hyperparameter files (`params "params.yaml"`): YAML, JSON or TOML, merged into one tree
//! that steps address with dotted keys such as `train.seed`.

use serde_json::{Map, Value};

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
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| ParseError {
            offset: offset_of(text, e.line(), e.column()),
            message: strip_position(&e.to_string()),
        }),
        Format::Yaml => serde_yaml_ng::from_str(text).map_err(|e| ParseError {
            offset: e.location().map(|location| location.index()),
            message: strip_position(&e.to_string()),
        }),
        Format::Toml => toml::from_str::<Value>(text).map_err(|e| ParseError {
            offset: e.span().map(|span| span.start),
            message: e.message().to_string(),
        }),
    }
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
    fn errors_carry_offsets() {
        let mut params = Params::default();
        let err = params
            .merge_file(Format::Json, "{\n  \"a\": ,\n}")
            .err()
            .unwrap();
        assert_eq!(err.offset, Some(9));
    }
}
