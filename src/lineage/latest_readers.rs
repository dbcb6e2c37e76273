//! The latest reader of each name of an artifact, as both stores answer `consumers`. Of the
//! rows in `run_actions` of the contents that read it, take those where a content ran, the
//! latest first, then those where it was restored, the latest first; of the first `keep` of
//! them, the latest row of each name.
//!
//! A file that every run reads has a row per run for its reader, and `lineage --down` asks
//! for the readers of every file of a chain: reading the first `keep` rows of each content
//! (what this did before) cost a seek per run on SQLite and a thousand rows sent per file by
//! a server, 2–3 ms a file at 1,000 runs. Only each name's first row counts, so the rows where
//! contents were restored are read a page at a time, merged across contents, latest first,
//! until each name has its first or `keep` rows have been passed: the same answer, after one
//! page in the usual case of one content a name. The rows of each content come latest run
//! first, which is latest row first: a run's rows are written after those of every earlier run.

use std::collections::BTreeMap;

use super::LineageError;

/// The rows of the first page of restored rows asked for; each next page is twice as long.
const FIRST_PAGE: usize = 16;

/// Where a store's rows in `run_actions` of one content come from.
pub(crate) trait ContentRows {
    /// The latest `limit` rows of `content` in which it ran, the latest first.
    fn ran(&mut self, content: i64, limit: usize) -> Result<Vec<i64>, LineageError>;

    /// The rows of `content` in which it was restored, the latest run first, `limit` of them
    /// past the first `offset`.
    fn restored(
        &mut self,
        content: i64,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<i64>, LineageError>;
}

/// The latest `limit` rows of `content`, as (ran, row), those in which it ran first.
pub(crate) fn latest_rows(
    rows: &mut dyn ContentRows,
    content: i64,
    limit: usize,
) -> Result<Vec<(bool, i64)>, LineageError> {
    let mut latest: Vec<(bool, i64)> = rows
        .ran(content, limit)?
        .into_iter()
        .map(|row| (true, row))
        .collect();
    let more = limit.saturating_sub(latest.len());
    if more > 0 {
        latest.extend(
            rows.restored(content, 0, more)?
                .into_iter()
                .map(|row| (false, row)),
        );
    }
    Ok(latest)
}

/// One content's restored rows, read a page at a time.
struct Restored<'n> {
    content: i64,
    name: &'n str,
    page: Vec<i64>,
    /// How far into `page` the merge has taken.
    taken: usize,
    /// Rows read so far, over every page.
    read: usize,
    /// How many rows the next page asks for.
    next_page: usize,
    /// The last page was short: there are no more.
    done: bool,
}

impl Restored<'_> {
    /// The next row, reading a page if need be; `None` once there are no more.
    fn head(
        &mut self,
        rows: &mut dyn ContentRows,
        room: usize,
    ) -> Result<Option<i64>, LineageError> {
        if self.taken == self.page.len() && !self.done {
            let want = self.next_page.min(room).max(1);
            self.next_page = self.next_page.saturating_mul(2);
            self.page = rows.restored(self.content, self.read, want)?;
            self.taken = 0;
            self.read += self.page.len();
            self.done = self.page.len() < want;
        }
        Ok(self.page.get(self.taken).copied())
    }
}

/// The row of the latest reader of each name, by name, of the contents `readers` (each with
/// its name), looking at the first `keep` rows (see the module's comment).
pub(crate) fn latest_per_name(
    rows: &mut dyn ContentRows,
    readers: &[(i64, String)],
    keep: usize,
) -> Result<Vec<i64>, LineageError> {
    let mut ran: Vec<(i64, &str)> = Vec::new();
    for (content, name) in readers {
        ran.extend(
            rows.ran(*content, keep)?
                .into_iter()
                .map(|row| (row, name.as_str())),
        );
    }
    ran.sort_unstable_by_key(|&(row, _)| std::cmp::Reverse(row));
    ran.truncate(keep);
    let mut latest: BTreeMap<&str, i64> = BTreeMap::new();
    for &(row, name) in &ran {
        let known = latest.entry(name).or_insert(row);
        *known = (*known).max(row);
    }
    let mut room = keep - ran.len();
    let mut restored: Vec<Restored> = readers
        .iter()
        .map(|(content, name)| Restored {
            content: *content,
            name,
            page: Vec::new(),
            taken: 0,
            read: 0,
            next_page: FIRST_PAGE,
            done: false,
        })
        .collect();
    // The names still without a restored row: each one's first is its latest.
    let mut waiting: Vec<&str> = readers.iter().map(|(_, name)| name.as_str()).collect();
    waiting.sort_unstable();
    waiting.dedup();
    while room > 0 && !waiting.is_empty() {
        let mut next: Option<(i64, usize)> = None;
        for (index, content) in restored.iter_mut().enumerate() {
            if let Some(row) = content.head(rows, room)?
                && next.is_none_or(|(best, _)| row > best)
            {
                next = Some((row, index));
            }
        }
        let Some((row, index)) = next else {
            break;
        };
        let content = &mut restored[index];
        content.taken += 1;
        room -= 1;
        if let Some(at) = waiting.iter().position(|name| *name == content.name) {
            waiting.swap_remove(at);
            let known = latest.entry(content.name).or_insert(row);
            *known = (*known).max(row);
        }
        // A name none of whose contents has rows left waits no more.
        waiting.retain(|name| {
            restored
                .iter()
                .any(|c| c.name == *name && (c.taken < c.page.len() || !c.done))
        });
    }
    Ok(latest.into_values().collect())
}

#[cfg(test)]
#[path = "latest_readers_tests.rs"]
mod tests;
