//! Reading values out of KDL nodes with a diagnostic for every way they can be wrong.

use kdl::{KdlEntry, KdlNode, KdlValue};

use super::diagnostic::Diag;
use super::source::{FileId, Span, Spanned};

/// The file being read and where its problems go.
pub struct Cx<'a> {
    pub file: FileId,
    pub diags: &'a mut Vec<Diag>,
}

impl Cx<'_> {
    pub fn error(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    pub fn span(&self, span: miette::SourceSpan) -> Span {
        Span::new(self.file, span)
    }

    /// The node's name, where errors about the node as a whole point.
    pub fn name_span(&self, node: &KdlNode) -> Span {
        self.span(node.name().span())
    }

    /// Where an entry's value is written (for a property, the part after `=`).
    pub fn value_span(&self, entry: &KdlEntry) -> Span {
        let span = self.span(entry.span());
        match entry.format() {
            Some(format) if entry.name().is_some() && format.value_repr.len() <= span.len => {
                let repr = format.value_repr.len();
                span.slice(span.len - repr, repr)
            }
            _ => span,
        }
    }

    /// Reports every property not in `allowed`.
    pub fn check_props(&mut self, node: &KdlNode, allowed: &[&str]) {
        for entry in node.entries() {
            let Some(name) = entry.name() else { continue };
            if allowed.contains(&name.value()) {
                continue;
            }
            let what = node.name().value();
            let diag = Diag::new(
                "unknown-property",
                format!("`{what}` has no property `{}`", name.value()),
            )
            .label(self.span(entry.span()), "unknown property");
            let diag = if allowed.is_empty() {
                diag.help(format!("`{what}` takes no properties"))
            } else {
                diag.suggest(name.value(), allowed.iter().copied())
                    .or_help(format!("`{what}` takes: {}", allowed.join(", ")))
            };
            self.error(diag);
        }
    }

    /// Reports positional arguments on a node that takes none.
    pub fn no_args(&mut self, node: &KdlNode) {
        if let Some(entry) = args(node).next() {
            let what = node.name().value();
            self.error(
                Diag::new(
                    "unexpected-argument",
                    format!("`{what}` takes no arguments"),
                )
                .label(self.span(entry.span()), "not expected here"),
            );
        }
    }

    pub fn no_children(&mut self, node: &KdlNode) {
        if let Some(children) = node.children() {
            let what = node.name().value();
            self.error(
                Diag::new("unexpected-children", format!("`{what}` takes no block"))
                    .label(self.span(children.span()), "remove this block"),
            );
        }
    }

    /// The node's only positional argument, or an error naming what was expected.
    pub fn single_arg<'n>(&mut self, node: &'n KdlNode, expected: &str) -> Option<&'n KdlEntry> {
        let mut args = args(node);
        let what = node.name().value();
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
                .label(self.span(extra.span()), "extra argument"),
            );
        }
        Some(first)
    }

    pub fn single_string(&mut self, node: &KdlNode, expected: &str) -> Option<Spanned<String>> {
        let entry = self.single_arg(node, expected)?;
        self.string(entry, expected)
    }

    /// All positional arguments as strings; at least one is required.
    pub fn strings(&mut self, node: &KdlNode, expected: &str) -> Vec<Spanned<String>> {
        let values: Vec<_> = args(node)
            .filter_map(|entry| self.string(entry, expected))
            .collect();
        if args(node).next().is_none() {
            let what = node.name().value();
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

    pub fn string(&mut self, entry: &KdlEntry, expected: &str) -> Option<Spanned<String>> {
        match entry.value() {
            KdlValue::String(s) => Some(Spanned::new(s.clone(), self.value_span(entry))),
            other => {
                self.error(type_error(self.value_span(entry), expected, other));
                None
            }
        }
    }

    pub fn bool(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<bool>> {
        match entry.value() {
            KdlValue::Bool(b) => Some(Spanned::new(*b, self.value_span(entry))),
            other => {
                let diag = type_error(self.value_span(entry), what, other);
                self.error(diag.help("KDL booleans are written `#true` and `#false`"));
                None
            }
        }
    }

    /// A whole number in `0..=max`.
    pub fn count(&mut self, entry: &KdlEntry, what: &str, max: u32) -> Option<Spanned<u32>> {
        let span = self.value_span(entry);
        match entry.value() {
            KdlValue::Integer(n) if (0..=i128::from(max)).contains(n) => {
                Some(Spanned::new(*n as u32, span))
            }
            KdlValue::Integer(n) => {
                self.error(
                    Diag::new(
                        "out-of-range",
                        format!("{what} must be between 0 and {max}"),
                    )
                    .label(span, format!("{n} is out of range")),
                );
                None
            }
            other => {
                self.error(type_error(span, what, other));
                None
            }
        }
    }

    pub fn prop<'n>(&self, node: &'n KdlNode, name: &str) -> Option<&'n KdlEntry> {
        // KDL lets a property repeat; the last one wins, as in the KDL spec.
        node.entries()
            .iter()
            .rev()
            .find(|entry| entry.name().is_some_and(|n| n.value() == name))
    }
}

/// Positional arguments: the entries without a `name=`.
pub fn args(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
    node.entries().iter().filter(|entry| entry.name().is_none())
}

pub fn type_error(span: Span, expected: &str, found: &KdlValue) -> Diag {
    Diag::new(
        "wrong-type",
        format!("expected {expected}, found {}", describe(found)),
    )
    .label(span, format!("expected {expected}"))
}

pub fn describe(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
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
