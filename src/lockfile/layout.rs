//! Where each entry of a lockfile lies in its text, found without building any entry: what
//! lets a build that changed a few actions rewrite only their entries (`splice`).
//!
//! It reads exactly the layout `Lockfile::to_text` writes: `serde_json`'s pretty printing of the
//! structs in `mod.rs`, with its indentation, separators, field order, escapes and number
//! forms, every map sorted and every key once. Any other text — reformatted, hand-edited into
//! another valid form, merge-conflicted, of another version, damaged — makes it give up, and
//! the build takes the whole-file path, which reads with serde and writes every entry. Giving
//! up is always safe; accepting a text that serde would write back otherwise is not, which the
//! tests below, the property test in `splice` and the `lockfile` fuzz target check. It does
//! not check that an entry's key digest is that of its fields: `zenbuild status` trusts the
//! key too.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use serde_json::Value;

use super::LOCK_VERSION;

/// The lockfile as it lies in its text.
pub struct Layout<'a> {
    pub text: &'a str,
    /// Sorted by name, as the text has them.
    pub entries: Vec<Entry<'a>>,
    /// The (path, digest) pairs of every entry's `outputs` and `inside`, escaped: one vector
    /// for all, since one per entry would be thousands of allocations.
    pairs: Vec<(&'a str, &'a str)>,
    /// The metrics of every entry, escaped.
    metrics: Vec<&'a str>,
}

/// One action's entry. Strings are as written: escaped, without their quotes.
pub struct Entry<'a> {
    pub name: &'a str,
    /// From the indentation before the name to the closing brace.
    pub text: &'a str,
    /// The entry's object alone, for serde.
    pub value: &'a str,
    pub step: &'a str,
    pub key: &'a str,
    outputs: Range<usize>,
    inside: Range<usize>,
    metrics: Range<usize>,
}

/// The first bytes of every lockfile of this version, up to its actions.
pub fn header() -> String {
    format!("{{\n  \"version\": {LOCK_VERSION},\n  \"actions\": {{")
}

impl<'a> Layout<'a> {
    /// The layout of `text`, or `None` when it is not exactly what `to_text` writes.
    pub fn scan(text: &'a str) -> Option<Layout<'a>> {
        let mut scan = Scan {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
            pairs: Vec::new(),
            metrics: Vec::new(),
        };
        let entries = scan.lockfile().ok()?;
        Some(Layout {
            text,
            entries,
            pairs: scan.pairs,
            metrics: scan.metrics,
        })
    }

    pub fn outputs(&self, entry: &Entry) -> &[(&'a str, &'a str)] {
        self.pairs.get(entry.outputs.clone()).unwrap_or_default()
    }

    pub fn inside(&self, entry: &Entry) -> &[(&'a str, &'a str)] {
        self.pairs.get(entry.inside.clone()).unwrap_or_default()
    }

    pub fn metrics(&self, entry: &Entry) -> &[&'a str] {
        self.metrics.get(entry.metrics.clone()).unwrap_or_default()
    }
}

/// A string as written in the text, unescaped; borrowed unless it holds an escape.
pub fn unescape(written: &str) -> Cow<'_, str> {
    if !written.contains('\\') {
        return Cow::Borrowed(written);
    }
    serde_json::from_str(&format!("\"{written}\"")).map_or(Cow::Borrowed(written), Cow::Owned)
}

/// The text is not what `to_text` writes; nothing more to say, the whole-file path takes over.
struct GiveUp;

type Step<T> = Result<T, GiveUp>;

/// Nesting of a param's value past which the scan gives up rather than recursing further;
/// `serde_json` itself refuses 128 levels, counted from the top of the file.
const MAX_DEPTH: usize = 100;

/// What an entry holds, in the order `Locked` declares (and so serialises) its fields.
const FIELDS: [(&str, Kind); 11] = [
    ("step", Kind::Text),
    ("key", Kind::Text),
    ("cmd", Kind::Text),
    ("workdir", Kind::Text),
    ("platform", Kind::Text),
    ("inputs", Kind::Map { optional: true }),
    ("outputs", Kind::Map { optional: false }),
    ("params", Kind::Params),
    ("env", Kind::Map { optional: true }),
    ("metrics", Kind::List),
    ("inside", Kind::Map { optional: true }),
];

/// Optional fields are those serde skips when empty: when written, they hold something.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    /// Path or name → string, sorted.
    Map {
        optional: bool,
    },
    /// Name → any JSON value, sorted, optional.
    Params,
    /// Strings, optional.
    List,
}

impl Kind {
    fn optional(self) -> bool {
        match self {
            Kind::Text => false,
            Kind::Map { optional } => optional,
            Kind::Params | Kind::List => true,
        }
    }
}

struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    pairs: Vec<(&'a str, &'a str)>,
    metrics: Vec<&'a str>,
}

impl<'a> Scan<'a> {
    fn lockfile(&mut self) -> Step<Vec<Entry<'a>>> {
        self.expect(header().as_bytes())?;
        let mut entries: Vec<Entry<'a>> = Vec::new();
        self.items(2, b'}', |scan| {
            let entry = scan.entry()?;
            if let Some(last) = entries.last() {
                sorted(last.name, entry.name)?;
            }
            entries.push(entry);
            Ok(())
        })?;
        self.expect(b"\n}\n")?;
        if self.pos != self.bytes.len() {
            return Err(GiveUp);
        }
        Ok(entries)
    }

    /// One `"name": {…}`, the cursor on its name, just past its indentation.
    fn entry(&mut self) -> Step<Entry<'a>> {
        let start = self.pos.checked_sub(4).ok_or(GiveUp)?;
        let name = self.string()?;
        self.expect(b": {")?;
        let value_start = self.pos.checked_sub(1).ok_or(GiveUp)?;
        let mut step = None;
        let mut key = None;
        let (mut outputs, mut inside, mut metrics) = (0..0, 0..0, 0..0);
        let mut next = 0;
        self.items(4, b'}', |scan| {
            let field = scan.string()?;
            let skipped = FIELDS.get(next..).ok_or(GiveUp)?;
            let at = skipped
                .iter()
                .position(|(name, _)| *name == field)
                .ok_or(GiveUp)?;
            if skipped.iter().take(at).any(|(_, kind)| !kind.optional()) {
                return Err(GiveUp);
            }
            next += at + 1;
            scan.expect(b": ")?;
            match skipped.get(at).map(|&(_, kind)| kind).ok_or(GiveUp)? {
                Kind::Text => {
                    let text = scan.string()?;
                    match field {
                        "step" => step = Some(text),
                        "key" => key = Some(text),
                        _ => {}
                    }
                }
                Kind::Map { optional } => {
                    let start = scan.pairs.len();
                    let count = scan.map()?;
                    match field {
                        "outputs" => outputs = start..scan.pairs.len(),
                        "inside" => inside = start..scan.pairs.len(),
                        // Nothing compares the others: drop them again.
                        _ => scan.pairs.truncate(start),
                    }
                    if optional && count == 0 {
                        return Err(GiveUp);
                    }
                }
                Kind::Params => scan.params()?,
                Kind::List => {
                    let start = scan.metrics.len();
                    scan.expect(b"[")?;
                    let count = scan.items(6, b']', |scan| {
                        let metric = scan.string()?;
                        scan.metrics.push(metric);
                        Ok(())
                    })?;
                    if count == 0 {
                        return Err(GiveUp);
                    }
                    metrics = start..scan.metrics.len();
                }
            }
            Ok(())
        })?;
        let rest = FIELDS.get(next..).ok_or(GiveUp)?;
        if rest.iter().any(|(_, kind)| !kind.optional()) {
            return Err(GiveUp);
        }
        Ok(Entry {
            name,
            text: self.text.get(start..self.pos).ok_or(GiveUp)?,
            value: self.text.get(value_start..self.pos).ok_or(GiveUp)?,
            step: step.ok_or(GiveUp)?,
            key: key.ok_or(GiveUp)?,
            outputs,
            inside,
            metrics,
        })
    }

    /// A sorted map of strings to strings, an entry's field, its pairs kept in `pairs`.
    fn map(&mut self) -> Step<usize> {
        self.expect(b"{")?;
        let start = self.pairs.len();
        let count = self.items(6, b'}', |scan| {
            let path = scan.string()?;
            scan.expect(b": ")?;
            let digest = scan.string()?;
            scan.pairs.push((path, digest));
            Ok(())
        })?;
        for pair in self.pairs.get(start..).unwrap_or_default().windows(2) {
            if let [(before, _), (after, _)] = pair {
                sorted(before, after)?;
            }
        }
        Ok(count)
    }

    /// The params: a sorted map of names to JSON values.
    fn params(&mut self) -> Step<()> {
        self.expect(b"{")?;
        let mut last: Option<&str> = None;
        let count = self.items(6, b'}', |scan| {
            let name = scan.string()?;
            if let Some(last) = last {
                sorted(last, name)?;
            }
            last = Some(name);
            scan.expect(b": ")?;
            scan.value(8)
        })?;
        if count == 0 {
            return Err(GiveUp);
        }
        Ok(())
    }

    /// Any JSON value, opened on a line indented by `indent`. Objects keep their keys in
    /// the order written (`serde_json`'s `preserve_order`), so they need only be distinct.
    fn value(&mut self, indent: usize) -> Step<()> {
        match self.bytes.get(self.pos) {
            Some(b'"') => self.string().map(drop),
            Some(b'n') => self.expect(b"null"),
            Some(b't') => self.expect(b"true"),
            Some(b'f') => self.expect(b"false"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'[') => self.nested(|scan| {
                scan.pos += 1;
                scan.items(indent, b']', |scan| scan.value(indent + 2))
            }),
            Some(b'{') => self.nested(|scan| {
                scan.pos += 1;
                let mut keys = HashSet::new();
                scan.items(indent, b'}', |scan| {
                    if !keys.insert(scan.string()?) {
                        return Err(GiveUp);
                    }
                    scan.expect(b": ")?;
                    scan.value(indent + 2)
                })
            }),
            _ => Err(GiveUp),
        }
    }

    fn nested(&mut self, inner: impl FnOnce(&mut Self) -> Step<usize>) -> Step<()> {
        if self.depth >= MAX_DEPTH {
            return Err(GiveUp);
        }
        self.depth += 1;
        let read = inner(self);
        self.depth -= 1;
        read.map(drop)
    }

    /// A number, written as `serde_json` writes the value it reads as: `1.0e2` reads as 100.0,
    /// which is written `100.0`, and so is not what `to_text` wrote.
    fn number(&mut self) -> Step<()> {
        let start = self.pos;
        let rest = self.bytes.get(start..).ok_or(GiveUp)?;
        let len = rest
            .iter()
            .position(|&b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
            .unwrap_or(rest.len());
        let token = self.text.get(start..start + len).ok_or(GiveUp)?;
        let read: Value = serde_json::from_str(token).map_err(|_| GiveUp)?;
        if !read.is_number() || serde_json::to_string(&read).ok().as_deref() != Some(token) {
            return Err(GiveUp);
        }
        self.pos += len;
        Ok(())
    }

    /// The items of an object or array whose opening bracket is behind the cursor, on a line
    /// indented by `indent`, as `serde_json`'s pretty printer lays them out: each on a line of
    /// its own two spaces deeper, the closing bracket back at `indent`, nothing between the
    /// brackets of an empty one. `item` reads one; returns how many there were.
    fn items(
        &mut self,
        indent: usize,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Step<()>,
    ) -> Step<usize> {
        if self.eat(&[close]) {
            return Ok(0);
        }
        let mut count = 0;
        loop {
            self.expect(b"\n")?;
            self.spaces(indent + 2)?;
            item(self)?;
            count += 1;
            if !self.eat(b",") {
                break;
            }
        }
        self.expect(b"\n")?;
        self.spaces(indent)?;
        self.expect(&[close])?;
        Ok(count)
    }

    /// A string as `serde_json` escapes it: `"` and `\` and the control characters only, by
    /// their short escapes where JSON has one, otherwise as `\u00xx`. Returns what is between
    /// the quotes.
    fn string(&mut self) -> Step<&'a str> {
        self.expect(b"\"")?;
        let start = self.pos;
        loop {
            let rest = self.bytes.get(self.pos..).ok_or(GiveUp)?;
            self.pos += plain_run(rest).ok_or(GiveUp)?;
            match self.bytes.get(self.pos) {
                Some(b'"') => break,
                Some(b'\\') => self.escape()?,
                _ => return Err(GiveUp),
            }
        }
        let written = self.text.get(start..self.pos).ok_or(GiveUp)?;
        self.pos += 1;
        Ok(written)
    }

    fn escape(&mut self) -> Step<()> {
        match self.bytes.get(self.pos + 1) {
            Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let code = self.bytes.get(self.pos + 2..self.pos + 6).ok_or(GiveUp)?;
                let [b'0', b'0', high @ (b'0' | b'1'), low] = *code else {
                    return Err(GiveUp);
                };
                let low = match low {
                    b'0'..=b'9' => low - b'0',
                    b'a'..=b'f' => low - b'a' + 10,
                    _ => return Err(GiveUp),
                };
                let byte = (high - b'0') * 16 + low;
                // These have short escapes, which serde_json writes instead.
                if matches!(byte, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                    return Err(GiveUp);
                }
                self.pos += 6;
                Ok(())
            }
            _ => Err(GiveUp),
        }
    }

    fn spaces(&mut self, count: usize) -> Step<()> {
        let run = self.bytes.get(self.pos..self.pos + count).ok_or(GiveUp)?;
        if run.iter().any(|&b| b != b' ') {
            return Err(GiveUp);
        }
        self.pos += count;
        Ok(())
    }

    fn eat(&mut self, expected: &[u8]) -> bool {
        let found = self
            .bytes
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(expected));
        if found {
            self.pos += expected.len();
        }
        found
    }

    fn expect(&mut self, expected: &[u8]) -> Step<()> {
        if self.eat(expected) {
            Ok(())
        } else {
            Err(GiveUp)
        }
    }
}

/// Where the first byte that ends a string's unescaped run lies in `bytes`: a quote, a
/// backslash or a control character. Sixteen bytes are looked at together, which the compiler
/// makes a few vector instructions: a lockfile is mostly paths and hex digests, and a byte at a
/// time was most of the time a build spent reading one of 10,000 entries.
#[allow(
    clippy::needless_bitwise_bool,
    reason = "the bitwise form has no branch, which is what lets the chunk be vectorised"
)]
fn plain_run(bytes: &[u8]) -> Option<usize> {
    const LANES: usize = 16;
    let ends = |b: u8| (b == b'"') | (b == b'\\') | (b < 0x20);
    let mut offset = 0;
    for chunk in bytes.chunks_exact(LANES) {
        if chunk.iter().fold(false, |found, &b| found | ends(b)) {
            break;
        }
        offset += LANES;
    }
    let at = bytes.get(offset..)?.iter().position(|&b| ends(b))?;
    Some(offset + at)
}

/// Gives up unless `before` sorts strictly before `after`, as a `BTreeMap` has its keys.
fn sorted(before: &str, after: &str) -> Step<()> {
    if unescape(before) < unescape(after) {
        Ok(())
    } else {
        Err(GiveUp)
    }
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
