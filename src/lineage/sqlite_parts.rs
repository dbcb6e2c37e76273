//! What actions read, wrote, were given and measured (their edges, params and metrics), read
//! for one action or for every action of a run at once: `show` of a run of 10,000 actions
//! makes three queries here, not 40,000.

use std::collections::HashMap;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};

pub use super::parts::Parts;
use super::{ArtifactRecord, LineageError, Metric, RunId};

/// Whose parts to read: one action's (by its id in `actions`), or those of a run's actions.
#[derive(Clone, Copy)]
pub enum Of {
    Action(i64),
    Run(RunId),
}

impl Of {
    /// A condition on a column holding an action's id, with `?1` this one's.
    fn filter(self) -> &'static str {
        match self {
            Of::Action(_) => "= ?1",
            Of::Run(_) => "IN (SELECT action_id FROM run_actions WHERE run_id = ?1)",
        }
    }

    fn id(self) -> i64 {
        match self {
            Of::Action(id) | Of::Run(id) => id,
        }
    }
}

/// The parts of the actions `of` names, by action id; an action with none is missing.
pub fn read(conn: &Connection, of: Of) -> Result<HashMap<i64, Parts>, LineageError> {
    let mut parts: HashMap<i64, Parts> = HashMap::new();
    let filter = of.filter();
    let mut edges = conn.prepare_cached(&format!(
        "SELECT e.action_id, e.role, t.path, t.digest, t.size
         FROM edges e JOIN artifacts t ON t.id = e.artifact_id
         WHERE e.action_id {filter} ORDER BY t.path"
    ))?;
    let mut rows = edges.query([of.id()])?;
    while let Some(row) = rows.next()? {
        let action = parts.entry(row.get(0)?).or_default();
        let artifact = ArtifactRecord {
            path: row.get(2)?,
            digest: row.get(3)?,
            size: row.get::<_, Option<i64>>(4)?.map(|size| size as u64),
        };
        let role: String = row.get(1)?;
        match role.as_str() {
            "in" => action.inputs.push(artifact),
            _ => action.outputs.push(artifact),
        }
    }
    let mut params = conn.prepare_cached(&format!(
        "SELECT action_id, name, value FROM params WHERE action_id {filter} ORDER BY name"
    ))?;
    let mut rows = params.query([of.id()])?;
    while let Some(row) = rows.next()? {
        let text: String = row.get(2)?;
        let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        let action = parts.entry(row.get(0)?).or_default();
        action.params.push((row.get(1)?, value));
    }
    let mut metrics = conn.prepare_cached(&format!(
        "SELECT action_id, path, name, value FROM metrics WHERE action_id {filter}
         ORDER BY path, name"
    ))?;
    let mut rows = metrics.query([of.id()])?;
    while let Some(row) = rows.next()? {
        let metric = Metric {
            path: row.get(1)?,
            name: row.get(2)?,
            value: metric_value(row)?,
        };
        parts.entry(row.get(0)?).or_default().metrics.push(metric);
    }
    Ok(parts)
}

/// A number as stored; text is the JSON of what was not a number.
fn metric_value(row: &Row) -> rusqlite::Result<serde_json::Value> {
    Ok(match row.get_ref(3)? {
        ValueRef::Integer(n) => serde_json::json!(n),
        ValueRef::Real(x) => serde_json::json!(x),
        ValueRef::Text(text) => {
            let text = String::from_utf8_lossy(text);
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
        }
        _ => serde_json::Value::Null,
    })
}
