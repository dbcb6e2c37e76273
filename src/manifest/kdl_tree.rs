//! The `kdl` crate's document as the loader's [`syntax`](super::syntax) tree, for manifests
//! the fast reader leaves to the crate. The crate stays the reference: the differential tests
//! hold the fast reader's tree equal to this one for every text it accepts.

use kdl::{KdlDocument, KdlEntry, KdlIdentifier, KdlNode, KdlValue};

use super::syntax::{Block, Entry, Name, Node, TextRange, Value};

/// The document's nodes. Its strings are copies: the crate's parser is hundreds of times
/// slower than the copying, and only manifests outside the fast subset come this way.
pub fn nodes(document: &KdlDocument) -> Vec<Node<'static>> {
    document.nodes().iter().map(node).collect()
}

fn node(node: &KdlNode) -> Node<'static> {
    Node {
        name: name(node.name()),
        entries: node.entries().iter().map(entry).collect(),
        children: node.children().map(|children| Block {
            nodes: nodes(children),
            span: range(children.span()),
        }),
        span: range(node.span()),
    }
}

fn name(identifier: &KdlIdentifier) -> Name<'static> {
    Name {
        value: identifier.value().to_string().into(),
        span: range(identifier.span()),
    }
}

fn entry(entry: &KdlEntry) -> Entry<'static> {
    let span = range(entry.span());
    // The crate ends an entry's span where its value's text ends, and keeps that text as
    // `value_repr`; what is before it is the key and `=`, or a type annotation.
    let text = match entry.format() {
        Some(format) if format.value_repr.len() <= span.len => {
            let len = format.value_repr.len();
            TextRange::new(span.end() - len, len)
        }
        _ => span,
    };
    Entry {
        name: entry.name().map(name),
        value: match entry.value() {
            KdlValue::String(text) => Value::String(text.clone().into()),
            KdlValue::Integer(n) => Value::Integer(*n),
            KdlValue::Float(f) => Value::Float(*f),
            KdlValue::Bool(b) => Value::Bool(*b),
            KdlValue::Null => Value::Null,
        },
        span,
        text,
    }
}

fn range(span: miette::SourceSpan) -> TextRange {
    TextRange::new(span.offset(), span.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Vec<Node<'static>> {
        nodes(&KdlDocument::parse(text).expect("valid KDL"))
    }

    /// A value's text is where the loader finds a number as written, and where errors about a
    /// property's value point: after the `=` and after any type annotation.
    #[test]
    fn value_text_is_the_value_as_written() {
        let text = "a (ty)1.50 k=0.10 j=(u8)7 \"s\\u{41}\"\n";
        let nodes = tree(text);
        let written: Vec<&str> = nodes[0]
            .entries
            .iter()
            .map(|entry| &text[entry.text.offset..entry.text.end()])
            .collect();
        assert_eq!(written, ["1.50", "0.10", "7", "\"s\\u{41}\""]);
        let spans: Vec<&str> = nodes[0]
            .entries
            .iter()
            .map(|entry| &text[entry.span.offset..entry.span.end()])
            .collect();
        assert_eq!(spans, ["(ty)1.50", "k=0.10", "j=(u8)7", "\"s\\u{41}\""]);
        assert_eq!(nodes[0].entries[3].value, Value::String("sA".into()));
    }
}
