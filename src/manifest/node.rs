//! Reading values out of KDL nodes with a diagnostic for every way they can be wrong.

use super::diagnostic::Diag;
use super::source::{FileId, Span, Spanned};
use super::syntax::{Entry, Node, TextRange, Value};

/// The file being read and where its problems go.
pub struct Cx<'a> {
    pub file: FileId,
    /// The file's text, which the syntax tree's ranges point into.
    pub source: &'a str,
    pub diags: &'a mut Vec<Diag>,
}

impl Cx<'_> {
    pub fn error(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    /// The text at `range` (empty if it is not in the file, which no parser makes).
    pub fn text(&self, range: TextRange) -> &str {
        self.source.get(range.offset..range.end()).unwrap_or("")
    }

    pub fn span(&self, range: TextRange) -> Span {
        Span::at(self.file, range)
    }

    /// The node's name, where errors about the node as a whole point.
    pub fn name_span(&self, node: &Node) -> Span {
        self.span(node.name.span)
    }

    /// Where an entry's value is written (for a property, the part after `=`).
    pub fn value_span(&self, entry: &Entry) -> Span {
        if entry.name.is_some() {
            self.span(entry.text)
        } else {
            self.span(entry.span)
        }
    }

    /// Reports every property not in `allowed`.
    pub fn check_props(&mut self, node: &Node, allowed: &[&str]) {
        for entry in &node.entries {
            let Some(name) = &entry.name else { continue };
            if allowed.contains(&&*name.value) {
                continue;
            }
            let what = &node.name.value;
            let diag = Diag::new(
                "unknown-property",
                format!("`{what}` has no property `{}`", name.value),
            )
            .label(self.span(entry.span), "unknown property");
            let diag = if allowed.is_empty() {
                diag.help(format!("`{what}` takes no properties"))
            } else {
                diag.suggest(&name.value, allowed.iter().copied())
                    .or_help(format!("`{what}` takes: {}", allowed.join(", ")))
            };
            self.error(diag);
        }
    }

    /// Reports positional arguments on a node that takes none.
    pub fn no_args(&mut self, node: &Node) {
        if let Some(entry) = node.args().next() {
            let what = &node.name.value;
            self.error(
                Diag::new(
                    "unexpected-argument",
                    format!("`{what}` takes no arguments"),
                )
                .label(self.span(entry.span), "not expected here"),
            );
        }
    }

    pub fn no_children(&mut self, node: &Node) {
        if let Some(children) = &node.children {
            let what = &node.name.value;
            self.error(
                Diag::new("unexpected-children", format!("`{what}` takes no block"))
                    .label(self.span(children.span), "remove this block"),
            );
        }
    }

    /// The node's only positional argument, or an error naming what was expected.
    pub fn single_arg<'n, 't>(
        &mut self,
        node: &'n Node<'t>,
        expected: &str,
    ) -> Option<&'n Entry<'t>> {
        let mut args = node.args();
        let what = &node.name.value;
        let Some(first) = args.next() else {
            self.error(
                Diag::new("missing-argument", format!("`{what}` needs {expected}"))
                    .label(self.name_span(node), format!("add {expected} here")),
            );
            return None;
        };
        if let Some(extra) = args.next() {
            self.error(
                Diag::new(
                    "too-many-arguments",
                    format!("`{what}` takes exactly one argument"),
                )
                .label(self.span(extra.span), "extra argument"),
            );
        }
        Some(first)
    }

    pub fn single_string(&mut self, node: &Node, expected: &str) -> Option<Spanned<String>> {
        let entry = self.single_arg(node, expected)?;
        self.string(entry, expected)
    }

    /// All positional arguments as strings; at least one is required.
    pub fn strings(&mut self, node: &Node, expected: &str) -> Vec<Spanned<String>> {
        let count = node.args().count();
        // Sized exactly: a manifest holds a list or two per step, mostly of one path.
        let mut values = Vec::with_capacity(count);
        values.extend(node.args().filter_map(|entry| self.string(entry, expected)));
        if count == 0 {
            let what = &node.name.value;
            self.error(
                // `expected` comes with its article ("a path"), so it goes in the label.
                Diag::new(
                    "missing-argument",
                    format!("`{what}` needs at least one argument"),
                )
                .label(self.name_span(node), format!("add {expected} here")),
            );
        }
        values
    }

    pub fn string(&mut self, entry: &Entry, expected: &str) -> Option<Spanned<String>> {
        match &entry.value {
            Value::String(s) => Some(Spanned::new(s.to_string(), self.value_span(entry))),
            other => {
                self.error(type_error(self.value_span(entry), expected, other));
                None
            }
        }
    }

    pub fn bool(&mut self, entry: &Entry, what: &str) -> Option<Spanned<bool>> {
        match entry.value {
            Value::Bool(b) => Some(Spanned::new(b, self.value_span(entry))),
            ref other => {
                let diag = type_error(self.value_span(entry), what, other);
                self.error(diag.help("KDL booleans are written `#true` and `#false`"));
                None
            }
        }
    }

    /// A whole number in `0..=max`.
    pub fn count(&mut self, entry: &Entry, what: &str, max: u32) -> Option<Spanned<u32>> {
        let span = self.value_span(entry);
        match entry.value {
            Value::Integer(n) if (0..=i128::from(max)).contains(&n) => {
                Some(Spanned::new(n as u32, span))
            }
            Value::Integer(n) => {
                self.error(
                    Diag::new(
                        "out-of-range",
                        format!("{what} must be between 0 and {max}"),
                    )
                    .label(span, format!("{n} is out of range")),
                );
                None
            }
            ref other => {
                self.error(type_error(span, what, other));
                None
            }
        }
    }
}

pub fn type_error(span: Span, expected: &str, found: &Value) -> Diag {
    Diag::new(
        "wrong-type",
        format!("expected {expected}, found {}", found.describe()),
    )
    .label(span, format!("expected {expected}"))
}

/// Adds a help line only where a suggestion did not already add one.
trait OrHelp {
    fn or_help(self, text: String) -> Self;
}

impl OrHelp for Diag {
    fn or_help(self, text: String) -> Diag {
        if self.help.is_some() {
            self
        } else {
            self.help(text)
        }
    }
}
