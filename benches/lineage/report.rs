//! The figures of every backend, printed as one table with the backends side by side: for
//! each case the median of its repetitions, with the fastest and slowest beside it.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// A query's budget (issue: lineage): every query answers within it on every backend.
pub const TARGET: Duration = Duration::from_millis(50);

/// What one case measured on one backend.
enum Figure {
    Times(Vec<Duration>),
    Note(String),
}

struct Row {
    name: String,
    /// A query held to [`TARGET`].
    query: bool,
    figures: Vec<Option<Figure>>,
}

pub struct Report {
    columns: Vec<String>,
    rows: Vec<Row>,
    column: usize,
}

impl Report {
    pub fn new(columns: &[String]) -> Report {
        Report {
            columns: columns.to_vec(),
            rows: Vec::new(),
            column: 0,
        }
    }

    /// Figures recorded from now on are the `index`th column's.
    pub fn column(&mut self, index: usize) {
        self.column = index;
    }

    /// Times `work` `times` times (its argument: the repetition) and records the times.
    pub fn time(&mut self, name: &str, times: usize, mut work: impl FnMut(usize)) {
        let spent = (0..times)
            .map(|repetition| {
                let started = Instant::now();
                work(repetition);
                started.elapsed()
            })
            .collect();
        self.put(name, false, Figure::Times(spent));
    }

    /// As [`Report::time`], for a query held to [`TARGET`].
    pub fn query(&mut self, name: &str, times: usize, mut work: impl FnMut()) {
        self.time(name, times, |_| work());
        if let Some(row) = self.rows.iter_mut().find(|row| row.name == name) {
            row.query = true;
        }
    }

    /// Records a duration measured once.
    pub fn once(&mut self, name: &str, spent: Duration) {
        self.put(name, false, Figure::Times(vec![spent]));
    }

    /// Records a case that has no figure on this backend, and why.
    pub fn note(&mut self, name: &str, note: &str) {
        self.put(name, false, Figure::Note(note.to_string()));
    }

    fn put(&mut self, name: &str, query: bool, figure: Figure) {
        let columns = self.columns.len();
        let index = if let Some(index) = self.rows.iter().position(|row| row.name == name) {
            index
        } else {
            self.rows.push(Row {
                name: name.to_string(),
                query,
                figures: (0..columns).map(|_| None).collect(),
            });
            self.rows.len() - 1
        };
        self.rows[index].figures[self.column] = Some(figure);
    }

    /// The table: one line per case, a column per backend, in milliseconds unless a case
    /// took seconds; queries over [`TARGET`] are marked.
    pub fn print(&self) {
        let width = self
            .rows
            .iter()
            .map(|row| row.name.len())
            .max()
            .unwrap_or(0);
        let mut header = format!("{:width$}", "");
        for column in &self.columns {
            let _ = write!(header, "  {column:>26}");
        }
        println!("{header}");
        let mut over = Vec::new();
        for row in &self.rows {
            let mut line = format!("{:width$}", row.name);
            for (column, figure) in self.columns.iter().zip(&row.figures) {
                let cell = match figure {
                    None => "-".to_string(),
                    Some(Figure::Note(note)) => note.clone(),
                    Some(Figure::Times(times)) => {
                        let (median, cell) = cell(times);
                        if row.query && median > TARGET {
                            over.push(format!("{} on {column}", row.name.trim()));
                        }
                        cell
                    }
                };
                let _ = write!(line, "  {cell:>26}");
            }
            println!("{line}");
        }
        if self.rows.iter().any(|row| row.query) {
            if over.is_empty() {
                println!("every query's median within {} ms", TARGET.as_millis());
            } else {
                println!("over {} ms: {}", TARGET.as_millis(), over.join("; "));
            }
        }
    }
}

/// The median, and the cell that shows it: `median (min–max)`, or the one time; in
/// milliseconds, or in seconds when the median is ten or more.
fn cell(times: &[Duration]) -> (Duration, String) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let seconds = median >= Duration::from_secs(10);
    let (unit, scale) = if seconds { ("s", 1.0) } else { ("ms", 1e3) };
    let value = |duration: Duration| duration.as_secs_f64() * scale;
    let text = if sorted.len() == 1 {
        format!("{:.2} {unit}", value(median))
    } else {
        format!(
            "{:.2} {unit} ({:.1}–{:.1})",
            value(median),
            value(sorted[0]),
            value(sorted[sorted.len() - 1])
        )
    };
    (median, text)
}
