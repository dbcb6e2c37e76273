use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::*;

/// Rows in memory, each content's latest first, counting the rows handed out.
#[derive(Debug, Default)]
struct Rows {
    ran: HashMap<i64, Vec<i64>>,
    restored: HashMap<i64, Vec<i64>>,
    handed: usize,
}

impl ContentRows for Rows {
    fn ran(&mut self, content: i64, limit: usize) -> Result<Vec<i64>, LineageError> {
        let rows: Vec<i64> = self
            .ran
            .get(&content)
            .into_iter()
            .flatten()
            .take(limit)
            .copied()
            .collect();
        self.handed += rows.len();
        Ok(rows)
    }

    fn restored(
        &mut self,
        content: i64,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<i64>, LineageError> {
        let rows: Vec<i64> = self
            .restored
            .get(&content)
            .into_iter()
            .flatten()
            .skip(offset)
            .take(limit)
            .copied()
            .collect();
        self.handed += rows.len();
        Ok(rows)
    }
}

/// What `consumers` answered before rows were read a page at a time: every content's first
/// `keep` rows read, sorted, cut to `keep`, the latest of each name.
fn read_whole(rows: &mut Rows, readers: &[(i64, String)], keep: usize) -> Vec<i64> {
    let mut recent = Vec::new();
    for (content, name) in readers {
        for row in latest_rows(rows, *content, keep).unwrap() {
            recent.push((row, name.clone()));
        }
    }
    recent.sort_unstable_by(|(a, _), (b, _)| b.cmp(a));
    recent.truncate(keep);
    let mut latest: BTreeMap<String, i64> = BTreeMap::new();
    for ((_, id), name) in recent {
        let known = latest.entry(name).or_insert(id);
        *known = (*known).max(id);
    }
    latest.into_values().collect()
}

/// Contents (with names from a few) whose rows, ran or restored, are drawn from one sequence
/// of row ids, each content's latest first.
fn history() -> impl Strategy<Value = (Rows, Vec<(i64, String)>)> {
    let contents = prop::collection::vec(0..3_usize, 1..5);
    let rows = prop::collection::vec((0..5_usize, any::<bool>()), 0..120);
    (contents, rows).prop_map(|(names, rows)| {
        let readers: Vec<(i64, String)> = names
            .iter()
            .enumerate()
            .map(|(content, name)| (content as i64, format!("n{name}")))
            .collect();
        let mut store = Rows::default();
        for (id, (content, ran)) in rows.into_iter().enumerate() {
            let content = (content % readers.len()) as i64;
            let list = if ran {
                &mut store.ran
            } else {
                &mut store.restored
            };
            list.entry(content).or_default().insert(0, id as i64);
        }
        (store, readers)
    })
}

proptest! {
    #[test]
    fn pages_answer_as_reading_every_row_did(
        (mut rows, readers) in history(),
        keep in 1..40_usize,
    ) {
        let expected = read_whole(&mut rows, &readers, keep);
        prop_assert_eq!(latest_per_name(&mut rows, &readers, keep).unwrap(), expected);
    }
}

#[test]
fn a_reader_restored_in_every_run_is_found_after_one_page() {
    let mut rows = Rows::default();
    rows.ran.insert(7, vec![3]);
    rows.restored.insert(7, (4..1_004).rev().collect());
    let readers = [(7, "fit".to_string())];
    assert_eq!(
        latest_per_name(&mut rows, &readers, 1_000).unwrap(),
        [1_003]
    );
    assert!(rows.handed <= 1 + FIRST_PAGE, "{} rows read", rows.handed);
}

#[test]
fn a_name_restored_long_ago_is_found_past_the_others() {
    let mut rows = Rows::default();
    rows.restored.insert(1, (10..110).rev().collect());
    rows.restored.insert(2, vec![5]);
    let readers = [(1, "a".to_string()), (2, "b".to_string())];
    assert_eq!(
        latest_per_name(&mut rows, &readers, 1_000).unwrap(),
        [109, 5]
    );
    // With room for fewer rows than come before it, it is not one of the latest.
    assert_eq!(latest_per_name(&mut rows, &readers, 100).unwrap(), [109]);
    assert_eq!(latest_per_name(&mut rows, &readers, 101).unwrap(), [109, 5]);
}
