//! What an action is, apart from how one run went: its name, step, key and command, the
//! artifacts it read and wrote, its params and its metrics. A run that finds an action cached
//! repeats all of that from an earlier run, so a store keeps each content once, found by its
//! digest, and a run adds only how the action went (status, timings, executor, reasons).

use std::collections::BTreeMap;

use super::{ActionRecord, Metric};
use crate::hash::{Encoder, canonical_json};

/// Salted into every digest. Changing what goes into one means bumping it: a content written
/// under another version then never matches, and is stored again rather than misread.
const CONTENT_VERSION: &str = "zenbuild lineage content 1";

/// An action's content as a store writes it: each artifact once, params and metrics once per
/// name, all in order, so that equal contents have equal digests whatever order a record
/// listed them in.
pub struct Content<'r> {
    pub name: &'r str,
    pub step: &'r str,
    pub key: Option<&'r str>,
    pub cmd: &'r str,
    pub inputs: Vec<Artifact<'r>>,
    pub outputs: Vec<Artifact<'r>>,
    /// Name → canonical JSON; a name given twice keeps its last value.
    pub params: Vec<(&'r str, String)>,
    /// By file and name; a name given twice keeps its last value.
    pub metrics: Vec<&'r Metric>,
}

/// A file or directory an action read or wrote, with its digest and the size recorded for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Artifact<'r> {
    pub path: &'r str,
    pub digest: &'r str,
    pub size: Option<u64>,
}

impl<'r> Content<'r> {
    pub fn of(record: &'r ActionRecord) -> Content<'r> {
        let params: BTreeMap<&str, String> = record
            .params
            .iter()
            .map(|(name, value)| (name.as_str(), canonical_json(value)))
            .collect();
        let metrics: BTreeMap<(&str, &str), &Metric> = record
            .metrics
            .iter()
            .map(|metric| ((metric.path.as_str(), metric.name.as_str()), metric))
            .collect();
        Content {
            name: &record.name,
            step: &record.step,
            key: record.key.as_deref(),
            cmd: &record.cmd,
            inputs: artifacts(&record.inputs),
            outputs: artifacts(&record.outputs),
            params: params.into_iter().collect(),
            metrics: metrics.into_values().collect(),
        }
    }

    /// Names this content: equal digests, equal contents.
    pub fn digest(&self) -> String {
        let mut encoder = Encoder::new();
        encoder.str(CONTENT_VERSION);
        encoder.str(self.name);
        encoder.str(self.step);
        encoder.optional(self.key);
        encoder.str(self.cmd);
        for artifacts in [&self.inputs, &self.outputs] {
            encoder.u64(artifacts.len() as u64);
            for artifact in artifacts {
                encoder.str(artifact.path);
                encoder.str(artifact.digest);
                // The size is the artifact's, not the action's, but a content first recorded
                // without one must not stand for a later record that has it.
                encoder.optional(artifact.size.map(u64::to_le_bytes).as_ref());
            }
        }
        encoder.u64(self.params.len() as u64);
        for (name, value) in &self.params {
            encoder.str(name);
            encoder.str(value);
        }
        encoder.u64(self.metrics.len() as u64);
        for metric in &self.metrics {
            encoder.str(&metric.path);
            encoder.str(&metric.name);
            encoder.str(&canonical_json(&metric.value));
        }
        encoder.digest().to_hex()
    }
}

/// Each (path, digest) once, in order, with the first size known for it.
fn artifacts(records: &[super::ArtifactRecord]) -> Vec<Artifact<'_>> {
    let mut unique: BTreeMap<(&str, &str), Option<u64>> = BTreeMap::new();
    for record in records {
        let size = unique
            .entry((record.path.as_str(), record.digest.as_str()))
            .or_default();
        *size = size.or(record.size);
    }
    unique
        .into_iter()
        .map(|((path, digest), size)| Artifact { path, digest, size })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::lineage::ArtifactRecord;

    fn artifact(path: &str, digest: &str) -> ArtifactRecord {
        ArtifactRecord {
            path: path.into(),
            digest: digest.into(),
            size: Some(3),
        }
    }

    fn metric(name: &str, value: serde_json::Value) -> Metric {
        Metric {
            path: "m.json".into(),
            name: name.into(),
            value,
        }
    }

    fn record() -> ActionRecord {
        ActionRecord {
            name: "train".into(),
            step: "train".into(),
            key: Some("k1".into()),
            status: "ran".into(),
            cmd: "fit".into(),
            inputs: vec![artifact("a.csv", "aa"), artifact("b.csv", "bb")],
            outputs: vec![artifact("model", "cc")],
            params: vec![("lr".into(), json!(0.1)), ("depth".into(), json!(3))],
            metrics: vec![metric("acc", json!(0.9)), metric("loss", json!(0.2))],
            ..ActionRecord::default()
        }
    }

    fn digest(record: &ActionRecord) -> String {
        Content::of(record).digest()
    }

    /// A database keeps digests across zenbuild versions: an encoding that changes must
    /// change `CONTENT_VERSION` too, so that digests of two encodings never meet.
    #[test]
    fn the_digest_is_pinned() {
        assert_eq!(
            digest(&record()),
            "4d48bcd7c24c2d5d5baea6d7e7ce840636a32391c5bed0937579b28576c7d753"
        );
    }

    #[test]
    fn how_a_run_went_is_not_content() {
        let other = ActionRecord {
            status: "cached".into(),
            exit_code: Some(0),
            started_ms: 99,
            duration_ms: 7,
            executor: Some("cache:local".into()),
            reasons: vec!["why".into()],
            ..record()
        };
        assert_eq!(digest(&other), digest(&record()));
    }

    #[test]
    fn the_order_a_record_lists_things_in_is_not_content() {
        let mut other = record();
        other.inputs.reverse();
        other.params.reverse();
        other.metrics.reverse();
        other.inputs.push(artifact("a.csv", "aa"));
        assert_eq!(digest(&other), digest(&record()));
    }

    #[test]
    fn every_field_of_the_content_changes_the_digest() {
        let changes: [fn(&mut ActionRecord); 12] = [
            |r| r.name = "other".into(),
            |r| r.step = "other".into(),
            |r| r.key = None,
            |r| r.key = Some("k2".into()),
            |r| r.cmd = "fit --fast".into(),
            |r| r.inputs[0].digest = "ab".into(),
            |r| r.inputs[0].size = None,
            |r| std::mem::swap(&mut r.inputs, &mut r.outputs),
            |r| r.params[0].1 = json!(0.2),
            |r| r.params.pop().map_or((), drop),
            |r| r.metrics[0].value = json!("0.9"),
            |r| r.metrics[1].path = "n.json".into(),
        ];
        let base = digest(&record());
        for (index, change) in changes.iter().enumerate() {
            let mut changed = record();
            change(&mut changed);
            assert_ne!(digest(&changed), base, "change {index}");
        }
    }

    #[test]
    fn a_name_given_twice_keeps_its_last_value_and_an_artifact_its_first_size() {
        let mut record = record();
        record.params.push(("lr".into(), json!(0.5)));
        record.inputs.insert(
            0,
            ArtifactRecord {
                size: None,
                ..artifact("a.csv", "aa")
            },
        );
        let content = Content::of(&record);
        assert_eq!(
            content.params,
            [("depth", "3".into()), ("lr", "0.5".into())]
        );
        assert_eq!(content.inputs.len(), 2);
        assert_eq!(content.inputs[0].size, Some(3));
    }
}
