//! A fast parser for the part of KDL 2.0 that manifests are written in.
//!
//! The `kdl` crate's parser is exact and gives excellent errors, but it runs at about 2 MB/s,
//! which makes a 10,000-step manifest take over a second to read. Manifests use a small part
//! of KDL: plain identifiers, quoted and raw strings, decimal numbers, keywords, comments and
//! children blocks. This parser reads exactly that part, at hundreds of MB/s, into the
//! loader's [`syntax`](super::syntax) tree, the same tree (values, spans, value text) that
//! [`super::kdl_tree`] makes of the crate's document. Anything else — type
//! annotations, slashdash comments, multi-line strings, `\u{…}` escapes, non-decimal numbers,
//! line continuations, unusual whitespace, or any syntax error — makes it give up, and the
//! caller falls back to the `kdl` crate, which then parses or reports the error. Giving up is
//! always safe; accepting something the crate would read differently is not, which the
//! differential tests at the bottom and in `tests/fuzz_manifest.rs` check.

use std::borrow::Cow;

use super::nesting::MAX_DEPTH;
use super::syntax::{Block, Entry, Name, Node, TextRange, Value};

/// The document's nodes, or `None` when the text leaves the fast subset (or is not valid KDL).
pub fn parse(text: &str) -> Option<Vec<Node<'_>>> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        nodes: Vec::new(),
        entries: Vec::new(),
    };
    let document = parser.document(true).ok()?;
    (parser.pos == text.len()).then_some(document.nodes)
}

/// The text is outside the fast subset; nothing more to say, the full parser takes over.
struct GiveUp;

type Step<T> = Result<T, GiveUp>;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Children blocks open around `pos`; past [`MAX_DEPTH`] the reader gives up rather
    /// than recursing further, and the caller refuses the text.
    depth: usize,
    /// The nodes of the blocks open around `pos` and the entries of the nodes open around it,
    /// innermost last: each block's nodes and each node's entries are moved into a vector of
    /// their exact size when it ends. Grown one push at a time, a node's own vector would
    /// hold room for four entries and a block's for four nodes, more than doubling the tree.
    nodes: Vec<Node<'a>>,
    entries: Vec<Entry<'a>>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    /// Nodes up to the end of the text (`top`) or up to the closing `}` of a block.
    fn document(&mut self, top: bool) -> Step<Block<'a>> {
        let first = self.nodes.len();
        let mut span: Option<(usize, usize)> = None;
        loop {
            self.line_space()?;
            match self.peek() {
                None if top => break,
                Some(b'}') if !top => break,
                None | Some(b'}') => return Err(GiveUp),
                Some(_) => {
                    let node = self.node()?;
                    let start = span.map_or(node.span.offset, |(start, _)| start);
                    span = Some((start, node.span.end()));
                    self.nodes.push(node);
                }
            }
        }
        let span = match span {
            Some((start, end)) => TextRange::new(start, end - start),
            None => TextRange::new(self.pos, 0),
        };
        Ok(Block {
            nodes: self.nodes.drain(first..).collect(),
            span,
        })
    }

    /// Whitespace, newlines and comments between nodes.
    fn line_space(&mut self) -> Step<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') if self.peek_at(1) == Some(b'/') => self.line_comment()?,
                Some(b'/') if self.peek_at(1) == Some(b'*') => self.block_comment()?,
                Some(byte) if !(0x20..0x80).contains(&byte) => return Err(GiveUp),
                _ => return Ok(()),
            }
        }
    }

    /// Spaces and `/* */` comments inside a node; says whether there were any.
    fn node_space(&mut self) -> Step<bool> {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'/') if self.peek_at(1) == Some(b'*') => self.block_comment()?,
                Some(b'\\') => return Err(GiveUp),
                Some(byte) if byte >= 0x80 => return Err(GiveUp),
                _ => return Ok(self.pos > start),
            }
        }
    }

    /// `// …` up to, not including, the end of the line.
    fn line_comment(&mut self) -> Step<()> {
        self.pos += 2;
        while let Some(byte) = self.peek() {
            match byte {
                b'\n' | b'\r' => return Ok(()),
                _ => self.advance_char()?,
            }
        }
        Ok(())
    }

    /// `/* … */`, which nests in KDL.
    fn block_comment(&mut self) -> Step<()> {
        self.pos += 2;
        let mut depth = 1;
        while depth > 0 {
            match (self.peek(), self.peek_at(1)) {
                (None, _) => return Err(GiveUp),
                (Some(b'*'), Some(b'/')) => {
                    depth -= 1;
                    self.pos += 2;
                }
                (Some(b'/'), Some(b'*')) => {
                    depth += 1;
                    self.pos += 2;
                }
                (Some(b'\n' | b'\r' | b'\t'), _) => self.pos += 1,
                _ => self.advance_char()?,
            }
        }
        Ok(())
    }

    /// Steps over one character that may appear in a string or comment.
    fn advance_char(&mut self) -> Step<()> {
        let rest = &self.text[self.pos..];
        let c = rest.chars().next().ok_or(GiveUp)?;
        if !is_plain_char(c) {
            return Err(GiveUp);
        }
        self.pos += c.len_utf8();
        Ok(())
    }

    fn node(&mut self) -> Step<Node<'a>> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'(')) || self.text[self.pos..].starts_with("/-") {
            return Err(GiveUp);
        }
        let name = self.name()?;
        let first_entry = self.entries.len();
        let mut children = None;
        let mut end;
        loop {
            let spaced = self.node_space()?;
            // Like the kdl crate, a node's span takes in the space before its terminator.
            end = self.pos;
            match self.peek() {
                None | Some(b'}') => break,
                Some(b'\n' | b'\r' | b';') => {
                    self.pos += 1;
                    break;
                }
                Some(b'/') if self.peek_at(1) == Some(b'/') => {
                    self.line_comment()?;
                    break;
                }
                Some(b'{') => {
                    if self.depth == MAX_DEPTH {
                        return Err(GiveUp);
                    }
                    self.pos += 1;
                    self.depth += 1;
                    let block = self.document(false)?;
                    self.depth -= 1;
                    if self.peek() != Some(b'}') {
                        return Err(GiveUp);
                    }
                    self.pos += 1;
                    children = Some(block);
                    end = self.node_end()?;
                    break;
                }
                Some(_) if spaced => {
                    let entry = self.entry()?;
                    self.entries.push(entry);
                }
                Some(_) => return Err(GiveUp),
            }
        }
        Ok(Node {
            name,
            // The children's entries were pushed after these and taken when they ended.
            entries: self.entries.drain(first_entry..).collect(),
            children,
            span: TextRange::new(start, end - start),
        })
    }

    /// After a children block only space, a comment and a terminator may follow; returns
    /// where the node's span ends.
    fn node_end(&mut self) -> Step<usize> {
        self.node_space()?;
        let end = self.pos;
        match self.peek() {
            None | Some(b'}') => {}
            Some(b'\n' | b'\r' | b';') => self.pos += 1,
            Some(b'/') if self.peek_at(1) == Some(b'/') => self.line_comment()?,
            Some(_) => return Err(GiveUp),
        }
        Ok(end)
    }

    /// A node name or property key: a bare identifier or a string.
    fn name(&mut self) -> Step<Name<'a>> {
        let start = self.pos;
        let value = match self.peek() {
            Some(b'"') => self.quoted_string()?,
            Some(b'#') => self.raw_string()?,
            _ => Cow::Borrowed(self.identifier()?),
        };
        Ok(Name {
            value,
            span: TextRange::new(start, self.pos - start),
        })
    }

    /// An argument or a `key=value` property.
    fn entry(&mut self) -> Step<Entry<'a>> {
        let start = self.pos;
        let is_word = matches!(self.peek(), Some(b'"'))
            || (self.peek() == Some(b'#') && matches!(self.peek_at(1), Some(b'"' | b'#')))
            || self.peek().is_some_and(is_identifier_start);
        if is_word {
            let key = self.name()?;
            if self.peek() == Some(b'=') {
                self.pos += 1;
                let value_start = self.pos;
                let value = self.value()?;
                return self.finish_entry(Some(key), value, start, value_start);
            }
            // Not a property: the word itself is a string argument.
            return self.finish_entry(None, Value::String(key.value), start, start);
        }
        let value = self.value()?;
        self.finish_entry(None, value, start, start)
    }

    fn finish_entry(
        &self,
        name: Option<Name<'a>>,
        value: Value<'a>,
        start: usize,
        value_start: usize,
    ) -> Step<Entry<'a>> {
        self.value_end()?;
        Ok(Entry {
            name,
            value,
            span: TextRange::new(start, self.pos - start),
            text: TextRange::new(value_start, self.pos - value_start),
        })
    }

    /// A value must be followed by space, a terminator, a block end or a comment.
    fn value_end(&self) -> Step<()> {
        match self.peek() {
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b';' | b'}') => Ok(()),
            Some(b'/') if matches!(self.peek_at(1), Some(b'/' | b'*')) => Ok(()),
            _ => Err(GiveUp),
        }
    }

    fn value(&mut self) -> Step<Value<'a>> {
        match self.peek() {
            Some(b'"') => Ok(Value::String(self.quoted_string()?)),
            Some(b'#') => match self.peek_at(1) {
                Some(b'"' | b'#') => Ok(Value::String(self.raw_string()?)),
                _ => self.keyword(),
            },
            Some(b'0'..=b'9' | b'-' | b'+') => self.number(),
            Some(byte) if is_identifier_start(byte) => {
                Ok(Value::String(Cow::Borrowed(self.identifier()?)))
            }
            _ => Err(GiveUp),
        }
    }

    fn keyword(&mut self) -> Step<Value<'a>> {
        let rest = &self.text[self.pos..];
        for (word, value) in [
            ("#true", Value::Bool(true)),
            ("#false", Value::Bool(false)),
            ("#null", Value::Null),
        ] {
            if rest.starts_with(word) {
                self.pos += word.len();
                return Ok(value);
            }
        }
        Err(GiveUp)
    }

    /// Decimal integers and floats; hex, octal, binary and `#inf`/`#nan` are left to the
    /// full parser.
    fn number(&mut self) -> Step<Value<'a>> {
        let start = self.pos;
        let mut end = start;
        if matches!(self.bytes.get(end), Some(b'-' | b'+')) {
            end += 1;
        }
        let digits = |bytes: &[u8], mut at: usize| -> Step<usize> {
            if !bytes.get(at).is_some_and(u8::is_ascii_digit) {
                return Err(GiveUp);
            }
            while bytes
                .get(at)
                .is_some_and(|b| b.is_ascii_digit() || *b == b'_')
            {
                at += 1;
            }
            Ok(at)
        };
        // Each run of digits, without its sign, as the `kdl` crate takes them apart.
        let mut parts = vec![(end, digits(self.bytes, end)?)];
        end = parts[0].1;
        let mut float = false;
        if self.bytes.get(end) == Some(&b'.') {
            float = true;
            let fraction = digits(self.bytes, end + 1)?;
            parts.push((end + 1, fraction));
            end = fraction;
        }
        if matches!(self.bytes.get(end), Some(b'e' | b'E')) {
            float = true;
            end += 1;
            if matches!(self.bytes.get(end), Some(b'-' | b'+')) {
                end += 1;
            }
            let exponent = digits(self.bytes, end)?;
            parts.push((end, exponent));
            end = exponent;
        }
        let text: String = self.text[start..end]
            .chars()
            .filter(|&c| c != '_')
            .collect();
        self.pos = end;
        if float {
            // The `kdl` crate reads each part of a float (the integer part, the digits after
            // the point, the exponent) as an i128 and refuses one that does not fit; left to
            // it, the manifest gets the same answer whichever reader reads it.
            let fits = parts.iter().all(|&(from, to)| {
                let part: String = self.text[from..to].chars().filter(|&c| c != '_').collect();
                part.parse::<i128>().is_ok()
            });
            if !fits {
                return Err(GiveUp);
            }
            let value: f64 = text.parse().map_err(|_| GiveUp)?;
            if !value.is_finite() {
                return Err(GiveUp);
            }
            Ok(Value::Float(value))
        } else {
            text.parse::<i128>().map(Value::Integer).map_err(|_| GiveUp)
        }
    }

    fn identifier(&mut self) -> Step<&'a str> {
        let start = self.pos;
        if !self.peek().is_some_and(is_identifier_start) {
            return Err(GiveUp);
        }
        while self.peek().is_some_and(is_identifier_char) {
            self.pos += 1;
        }
        let text: &'a str = self.text;
        let word = &text[start..self.pos];
        // Bare keywords are errors in KDL 2.0 (they must be written `#true`); a non-ASCII
        // character may continue the identifier in ways left to the full parser.
        if matches!(word, "true" | "false" | "null" | "inf" | "nan")
            || self.peek().is_some_and(|b| b >= 0x80)
        {
            return Err(GiveUp);
        }
        Ok(word)
    }

    /// `"…"` on one line, with the common escapes; borrowed from the text unless one was
    /// decoded.
    fn quoted_string(&mut self) -> Step<Cow<'a, str>> {
        if self.text[self.pos..].starts_with("\"\"\"") {
            return Err(GiveUp);
        }
        self.pos += 1;
        let text: &'a str = self.text;
        let start = self.pos;
        // The string with its escapes decoded, from the first escape on; until then the text
        // itself is the value.
        let mut decoded: Option<String> = None;
        loop {
            let run_start = self.pos;
            while let Some(byte) = self.peek() {
                if matches!(byte, b'"' | b'\\' | b'\n' | b'\r')
                    || byte >= 0x80
                    || (byte < 0x20 && byte != b'\t')
                    || byte == 0x7f
                {
                    break;
                }
                self.pos += 1;
            }
            if let Some(decoded) = &mut decoded {
                decoded.push_str(&text[run_start..self.pos]);
            }
            match self.peek() {
                Some(b'"') => {
                    let value = decoded.map_or(Cow::Borrowed(&text[start..self.pos]), Cow::Owned);
                    self.pos += 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    let escaped = match self.peek_at(1) {
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(b'\\') => '\\',
                        Some(b'"') => '"',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b's') => ' ',
                        _ => return Err(GiveUp),
                    };
                    decoded
                        .get_or_insert_with(|| text[start..self.pos].to_string())
                        .push(escaped);
                    self.pos += 2;
                }
                Some(byte) if byte >= 0x80 => {
                    let before = self.pos;
                    self.advance_char()?;
                    if let Some(decoded) = &mut decoded {
                        decoded.push_str(&text[before..self.pos]);
                    }
                }
                _ => return Err(GiveUp),
            }
        }
    }

    /// `#"…"#` (any number of `#`) on one line, without escapes.
    fn raw_string(&mut self) -> Step<Cow<'a, str>> {
        let hashes = self.bytes[self.pos..]
            .iter()
            .take_while(|&&b| b == b'#')
            .count();
        self.pos += hashes;
        if self.peek() != Some(b'"') || self.text[self.pos..].starts_with("\"\"\"") {
            return Err(GiveUp);
        }
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None | Some(b'\n' | b'\r') => return Err(GiveUp),
                Some(b'"')
                    if self.bytes[self.pos + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&b| b == b'#')
                        .count()
                        == hashes =>
                {
                    let text: &'a str = self.text;
                    let value = &text[start..self.pos];
                    self.pos += 1 + hashes;
                    return Ok(Cow::Borrowed(value));
                }
                Some(b'\t') => self.pos += 1,
                Some(_) => self.advance_char()?,
            }
        }
    }
}

fn is_identifier_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

fn is_identifier_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'_' | b'-'
                | b'.'
                | b':'
                | b'+'
                | b'*'
                | b'!'
                | b'?'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'<'
                | b'>'
                | b'@'
                | b'^'
                | b'|'
                | b'~'
                | b','
        )
}

/// Characters that stand for themselves in strings and comments: no control characters,
/// no newlines other than the ASCII ones handled by the caller, nothing KDL forbids (a Rust
/// `char` is never a surrogate).
fn is_plain_char(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        ))
}

#[cfg(test)]
mod tests {
    use kdl::KdlDocument;

    use super::*;
    use crate::manifest::kdl_tree;

    /// The fast parser must either give up or make the tree the `kdl` crate's document makes.
    pub fn agrees(text: &str) -> bool {
        match parse(text) {
            None => true,
            Some(fast) => match KdlDocument::parse(text) {
                Ok(full) => fast == kdl_tree::nodes(&full),
                Err(_) => false,
            },
        }
    }

    const SAMPLES: &[&str] = &[
        "node  \"a b\" key=\"v\" 0.10 #true bare {\n    child 1; c2 r=#\"x\"y\"#\n}\n  other\n",
        "project \"p\"\n",
        "a\n",
        "a 1 -2 +3 1_000 1.5e3 2E-2 0.0 #false #null\n",
        "a {}\n",
        "a { }\nb\n",
        "a {\n}\n",
        "a { b; c; }\n",
        "a{b}\n",
        "a /* c */ 1 // trailing\nb /* nested /* x */ */ 2\n",
        "// only a comment\n",
        "",
        "\n\n",
        "a \"esc \\\" \\\\ \\n \\t\"\n",
        "a \"unicode — ok\"\n",
        "a ##\"has \"# inside\"##\n",
        "\"quoted name\" x=1\n",
        "a \"k\"=1\n",
        "a k=v\n",
        "step \"fit\" template=\"trainer\" {\n    matrix {\n        lr 0.1 0.01\n    }\n    cmd \"python3 x.py {{lr}}\"\n}\n",
        "a 1;b 2;\n",
        "a\r\nb\r\n",
        "a {\n  b {\n    c 1\n  }\n}\n",
        "a 1 {\n}\n",
        "a {} // c\n",
        "a x=1 x=2\n",
    ];

    #[test]
    fn agrees_with_the_kdl_crate() {
        for sample in SAMPLES {
            let fast = parse(sample);
            let full = KdlDocument::parse(sample).map(|d| kdl_tree::nodes(&d));
            if let (Some(fast), Ok(full)) = (&fast, &full) {
                assert_eq!(fast, full, "parsers disagree on {sample:?}");
            }
            assert!(fast.is_some(), "the fast parser gave up on {sample:?}");
        }
    }

    /// Reading a large manifest allocates no string for what it can borrow.
    #[test]
    fn borrows_strings_without_escapes() {
        let nodes =
            parse("step \"s0\" key=v #\"raw\"# \"caf\u{e9}\" \"a\\tb\"\n").expect("in the subset");
        let values: Vec<(bool, &str)> = nodes[0]
            .entries
            .iter()
            .map(|entry| match &entry.value {
                Value::String(s) => (matches!(s, Cow::Borrowed(_)), &**s),
                other => panic!("not a string: {other:?}"),
            })
            .collect();
        assert_eq!(
            values,
            [
                (true, "s0"),
                (true, "v"),
                (true, "raw"),
                (true, "caf\u{e9}"),
                (false, "a\tb")
            ]
        );
        assert!(matches!(nodes[0].name.value, Cow::Borrowed("step")));
    }

    #[test]
    fn gives_up_outside_the_subset() {
        for sample in [
            "(ty)a\n",
            "a (ty)1\n",
            "/-a\n",
            "a /-1\n",
            "a \"\"\"\nmulti\n\"\"\"\n",
            "a \"\\u{41}\"\n",
            "a 0x1F\n",
            "a #inf\n",
            "a \\\n  1\n",
            "a k = 1\n",
            "a\u{a0}1\n",
        ] {
            assert!(parse(sample).is_none(), "should give up on {sample:?}");
        }
    }

    #[test]
    fn gives_up_on_invalid_kdl() {
        for sample in [
            "a true\n",
            "a \"unterminated\n",
            "a {\n",
            "a }\n",
            "a 1x\n",
            "a \"x\"\"y\"\n",
            "1a\n",
            "a 1.\n",
            "a #tru\n",
        ] {
            assert!(parse(sample).is_none(), "should give up on {sample:?}");
            assert!(agrees(sample));
        }
    }

    const PIECES: &[&str] = &[
        "{", "}", "\"", "#", "##", "=", ";", "\n", "\r\n", " ", "\t", "/", "*", "//", "/*", "*/",
        "-", "+", "(", ")", "\\", "\\n", "\\u{41}", ".", "_", "0", "1.5", "1e3", "0x1", "x", "é",
        "—", "\u{a0}", "\u{2028}", "#true", "#null", "#inf", "true", "/-", "\"\"\"", "#\"", "\"#",
        "step", "k=", "1_0",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        /// Whatever the fast parser accepts, the kdl crate reads the same way.
        #[test]
        fn never_disagrees_on_mutated_text(
            base in 0usize..SAMPLES.len() + 2,
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), 0usize..PIECES.len(), proptest::prelude::any::<bool>()), 1..5),
        ) {
            let mut text = match base {
                b if b < SAMPLES.len() => SAMPLES[b].to_string(),
                b if b == SAMPLES.len() => include_str!("../../examples/sweep/zenbuild.kdl").to_string(),
                _ => include_str!("../../examples/quickstart/zenbuild.kdl").to_string(),
            };
            for (at, piece, delete) in edits {
                let mut at = at % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                if delete {
                    let mut end = (at + 3).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(at..end, "");
                } else {
                    text.insert_str(at, PIECES[piece]);
                }
            }
            proptest::prop_assert!(agrees(&text), "parsers disagree on {:?}", text);
        }
    }

    #[test]
    fn gives_up_past_the_depth_limit() {
        let nested = |depth: usize| format!("{}{}", "x {\n".repeat(depth), "}\n".repeat(depth));
        assert!(parse(&nested(MAX_DEPTH)).is_some());
        assert!(parse(&nested(MAX_DEPTH + 1)).is_none());
        assert!(parse(&nested(100_000)).is_none());
    }

    #[test]
    fn reads_the_examples_without_falling_back() {
        for text in [
            include_str!("../../examples/sweep/zenbuild.kdl"),
            include_str!("../../examples/sweep/templates.kdl"),
            include_str!("../../examples/quickstart/zenbuild.kdl"),
        ] {
            assert!(
                parse(text).is_some(),
                "the fast parser gave up on an example"
            );
            assert!(agrees(text));
        }
    }
}
