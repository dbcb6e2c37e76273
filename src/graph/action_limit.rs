//! How many actions a manifest may expand to, checked before anything is expanded.
//!
//! A matrix multiplies: twelve axes of ten values are 10^12 actions, which no machine can
//! hold (10^7 already took 92 s and 20 GB to compile). The product of a step's axis lengths
//! is taken with overflow checks and compared with the limits before a single combination is
//! made, so a manifest that would never fit is refused at once, at its matrix.

use crate::manifest::Diag;
use crate::manifest::model::{MatrixAxis, Step};

/// The most actions one step's matrix may expand to.
pub const MAX_ACTIONS_PER_STEP: usize = 10_000;
/// The most actions the whole manifest may expand to: a million plans in seconds and under
/// 2 GB (see `benches/compare`'s scale table); ten times that would not.
pub const MAX_ACTIONS: usize = 1_000_000;
/// Axes labelled in the error; past these, the count says it all.
const LABELLED_AXES: usize = 4;

/// The number of combinations of `axes` (one for no matrix), or `None` past `u128`.
pub fn combinations(axes: &[MatrixAxis]) -> Option<u128> {
    axes.iter().try_fold(1u128, |product, axis| {
        product.checked_mul(axis.values.len() as u128)
    })
}

/// Counts the actions of each step against both limits, before they are made.
#[derive(Default)]
pub struct ActionBudget {
    planned: usize,
    /// Set once the manifest's limit is passed.
    exhausted: bool,
}

impl ActionBudget {
    /// Whether the manifest's limit was passed: then no step is expanded.
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// The actions of the steps admitted so far.
    pub fn planned(&self) -> usize {
        self.planned
    }

    /// Whether `step` with matrix `axes` may be expanded; if not, says why.
    pub fn admit(&mut self, step: &Step, axes: &[MatrixAxis]) -> Result<(), Option<Diag>> {
        if self.exhausted {
            return Err(None);
        }
        let count = combinations(axes);
        let fits_step = count.is_some_and(|n| n <= MAX_ACTIONS_PER_STEP as u128);
        if !fits_step {
            let count = count.map_or_else(|| "more than 2^128".to_string(), thousands);
            let mut diag = Diag::new(
                "matrix-too-large",
                format!(
                    "the matrix of step `{}` has {count} combinations, more than the {} actions a step may have",
                    step.name.value,
                    thousands(MAX_ACTIONS_PER_STEP as u128),
                ),
            );
            for (index, axis) in axes.iter().take(LABELLED_AXES).enumerate() {
                let values = axis.values.len();
                let text = match index {
                    0 => format!("{values} values"),
                    _ => format!("× {values} values"),
                };
                diag = diag.label(axis.name.span, text);
            }
            return Err(Some(diag.help(
                "split the sweep into several steps, or sweep fewer values at once",
            )));
        }
        let count = count.unwrap_or(1) as usize;
        if self.planned + count > MAX_ACTIONS {
            self.exhausted = true;
            let diag = Diag::new(
                "too-many-actions",
                format!(
                    "the manifest expands to more than {} actions",
                    thousands(MAX_ACTIONS as u128)
                ),
            )
            .label(
                step.name.span,
                format!(
                    "{} actions before this step, {} more here",
                    thousands(self.planned as u128),
                    thousands(count as u128)
                ),
            )
            .help("split the workspace into several manifests, or make the matrices smaller");
            return Err(Some(diag));
        }
        self.planned += count;
        Ok(())
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_000_000_000_000), "1,000,000,000,000");
    }
}
