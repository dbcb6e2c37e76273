//! Metrics files (JSON or YAML) flattened to one value per name: `{"eval": {"auc": 0.9}}`
//! gives `eval.auc = 0.9`, list items are numbered (`per_class.0.f1`). What is not JSON or
//! YAML gives no metrics; the file is still an output.

use serde_json::Value;

use super::Metric;

pub fn flatten(path: &str, bytes: &[u8]) -> Vec<Metric> {
    let value = serde_json::from_slice::<Value>(bytes).ok().or_else(|| {
        let text = std::str::from_utf8(bytes).ok()?;
        serde_yaml_ng::from_str::<Value>(text).ok()
    });
    let mut metrics = Vec::new();
    if let Some(value) = value {
        walk(path, String::new(), value, &mut metrics);
    }
    metrics
}

fn walk(path: &str, name: String, value: Value, out: &mut Vec<Metric>) {
    let child = |key: &str| {
        if name.is_empty() {
            key.to_string()
        } else {
            format!("{name}.{key}")
        }
    };
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                walk(path, child(&key), value, out);
            }
        }
        Value::Array(items) => {
            for (index, value) in items.into_iter().enumerate() {
                walk(path, child(&index.to_string()), value, out);
            }
        }
        Value::Null => {}
        // A bare number is one metric named after nothing; call it `value`.
        scalar => out.push(Metric {
            path: path.to_string(),
            name: if name.is_empty() {
                "value".to_string()
            } else {
                name
            },
            value: scalar,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(metrics: &[Metric]) -> Vec<(String, Value)> {
        metrics
            .iter()
            .map(|m| (m.name.clone(), m.value.clone()))
            .collect()
    }

    #[test]
    fn json_and_yaml_flatten_alike() {
        let json = flatten(
            "m.json",
            br#"{"acc": 0.9, "eval": {"auc": 0.8, "ok": true}, "per_class": [{"f1": 0.5}], "none": null}"#,
        );
        let yaml = flatten(
            "m.yaml",
            b"acc: 0.9\neval:\n  auc: 0.8\n  ok: true\nper_class:\n  - f1: 0.5\nnone: null\n",
        );
        let expected = vec![
            ("acc".to_string(), json!(0.9)),
            ("eval.auc".to_string(), json!(0.8)),
            ("eval.ok".to_string(), json!(true)),
            ("per_class.0.f1".to_string(), json!(0.5)),
        ];
        assert_eq!(names(&json), expected);
        assert_eq!(names(&yaml), expected);
        assert_eq!(json[0].path, "m.json");
    }

    #[test]
    fn a_bare_value_and_junk() {
        assert_eq!(names(&flatten("m", b"0.5")), [("value".into(), json!(0.5))]);
        assert!(flatten("m", b"\xff\xfe").is_empty());
    }
}
