//! The syntax tree the manifest loader reads: nodes, their entries and children, each with
//! where it is written.
//!
//! Both KDL readers build it: the fast reader ([`super::kdl_subset`]) directly, and the `kdl`
//! crate, when the fast one gives up, through [`super::kdl_tree`]. It holds only what the
//! loader uses. Strings borrow the source text unless an escape had to be decoded, and
//! locations are byte ranges into it, so that reading a 100,000-step manifest does not
//! allocate a string per name, value and value text as the crate's document does.

use std::borrow::Cow;

/// A byte range of the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextRange {
    pub offset: usize,
    pub len: usize,
}

impl TextRange {
    pub fn new(offset: usize, len: usize) -> TextRange {
        TextRange { offset, len }
    }

    pub fn end(self) -> usize {
        self.offset + self.len
    }
}

/// `name entry… { children }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node<'t> {
    pub name: Name<'t>,
    pub entries: Vec<Entry<'t>>,
    pub children: Option<Block<'t>>,
    /// From the name to the node's terminator or closing `}`, as the `kdl` crate spans it.
    pub span: TextRange,
}

/// A node's name or an entry's property key, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Name<'t> {
    pub value: Cow<'t, str>,
    pub span: TextRange,
}

/// The nodes inside `{ … }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block<'t> {
    pub nodes: Vec<Node<'t>>,
    /// From the first node to the end of the last, as the `kdl` crate spans a document (where
    /// the block ends, empty, for a block without nodes).
    pub span: TextRange,
}

/// An argument (`value`) or a property (`name=value`).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry<'t> {
    pub name: Option<Name<'t>>,
    pub value: Value<'t>,
    /// The whole entry, its key and any type annotation included.
    pub span: TextRange,
    /// The value as written (`0.10`, `#"raw"#`): numbers keep this text, and errors about a
    /// property's value point here.
    pub text: TextRange,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value<'t> {
    String(Cow<'t, str>),
    Integer(i128),
    Float(f64),
    Bool(bool),
    Null,
}

impl<'t> Node<'t> {
    /// Positional arguments: the entries without a `name=`.
    pub fn args(&self) -> impl Iterator<Item = &Entry<'t>> {
        self.entries.iter().filter(|entry| entry.name.is_none())
    }

    /// The property `name`; KDL lets one repeat, and the last one wins.
    pub fn prop(&self, name: &str) -> Option<&Entry<'t>> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.name.as_ref().is_some_and(|n| n.value == name))
    }

    /// The nodes of the children block; none without one.
    pub fn child_nodes(&self) -> &[Node<'t>] {
        self.children.as_ref().map_or(&[], |block| &block.nodes)
    }
}

impl Value<'_> {
    /// How errors name the kind of value that was found.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Null => "#null",
        }
    }
}
