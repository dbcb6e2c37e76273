//! How deep a manifest nests, measured before any parser recurses into it.
//!
//! Both KDL readers recurse: the fast reader once per children block, the `kdl` crate once
//! per block and, inside a `/* … */` comment, once per `*`, `/` and run of other text. A
//! manifest of 6,000 nested blocks or a comment of 10,000 stars overflows the stack and
//! kills zenbuild with no message. The fast reader stops at [`MAX_DEPTH`] by itself; this
//! scan runs before the text is handed to the `kdl` crate and refuses what would make it
//! recurse without bound, with the place to fix.

/// How deep children blocks (and `/* */` comments inside comments) may nest. Real manifests
/// use three or four levels.
pub const MAX_DEPTH: usize = 128;

/// The `kdl` crate recurses once per `*`, `/` or run of other text in a block comment: past
/// this many, a comment is refused rather than risking the stack.
pub const MAX_COMMENT_PIECES: usize = 20_000;

/// What would make a parser recurse too deep, and where (byte offset and length).
#[derive(Debug, PartialEq, Eq)]
pub enum Hazard {
    /// The `{` that opens block number `MAX_DEPTH + 1`.
    TooDeep { offset: usize },
    /// A `}` with no block to close.
    UnmatchedClose { offset: usize },
    /// The `{` of the block the text never closes. The `kdl` crate's recovery from unclosed
    /// blocks can report errors by the million (twice as many for each more line of `/-a{~`),
    /// so this one is said first, once. Braces alone blame the outermost open block, but the
    /// `}` that is missing is usually an inner one's: a `}` indented less than the line that
    /// opened the block it closes belongs to a block further out, so the first block closed
    /// that way is the one named, when there is one.
    Unclosed { offset: usize },
    /// The `/*` that opens a comment nested too deep or made of too many pieces.
    CommentTooComplex { offset: usize },
}

/// Scans `text` as KDL's lexer would see it (strings, raw strings, comments, braces) and
/// returns the first hazard, if any. It is a single linear pass without recursion.
pub fn check(text: &str) -> Result<(), Hazard> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    // The open blocks: where each `{` is and how far its line is indented.
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut outermost_open = 0;
    let mut misclosed = None;
    let mut lines = Lines::new(bytes);
    while let Some(&byte) = bytes.get(pos) {
        match byte {
            b'{' => {
                if open.is_empty() {
                    outermost_open = pos;
                }
                if open.len() == MAX_DEPTH {
                    return Err(Hazard::TooDeep { offset: pos });
                }
                open.push((pos, lines.at(bytes, pos).0));
                pos += 1;
            }
            b'}' => {
                let Some((opened, opened_indent)) = open.pop() else {
                    return Err(Hazard::UnmatchedClose { offset: pos });
                };
                // Only a `}` that starts its line says something by its indentation.
                let (closing_indent, starts_line) = lines.at(bytes, pos);
                if starts_line && closing_indent < opened_indent {
                    misclosed.get_or_insert(opened);
                }
                pos += 1;
            }
            b'"' => pos = skip_string(bytes, pos),
            b'#' if raw_string_hashes(bytes, pos).is_some() => pos = skip_raw_string(bytes, pos),
            b'/' if bytes.get(pos + 1) == Some(&b'/') => {
                pos = bytes[pos..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |at| pos + at);
            }
            b'/' if bytes.get(pos + 1) == Some(&b'*') => pos = skip_block_comment(bytes, pos)?,
            _ => pos += 1,
        }
    }
    if !open.is_empty() {
        return Err(Hazard::Unclosed {
            offset: misclosed.unwrap_or(outermost_open),
        });
    }
    Ok(())
}

/// Where the line of a position starts and how far it is indented, for positions that only
/// grow: each byte is looked at a bounded number of times, so one long line of braces costs
/// no more than many short ones.
struct Lines {
    scanned: usize,
    start: usize,
    indent: usize,
}

impl Lines {
    fn new(bytes: &[u8]) -> Lines {
        Lines {
            scanned: 0,
            start: 0,
            indent: blanks(bytes),
        }
    }

    /// The indentation (spaces and tabs) of the line holding `pos`, and whether only those
    /// come before `pos` on it.
    fn at(&mut self, bytes: &[u8], pos: usize) -> (usize, bool) {
        if let Some(at) = bytes[self.scanned..pos].iter().rposition(|&b| b == b'\n') {
            self.start = self.scanned + at + 1;
            self.indent = blanks(&bytes[self.start..]);
        }
        self.scanned = pos;
        (self.indent, pos - self.start <= self.indent)
    }
}

fn blanks(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count()
}

/// Past a `"…"` or `"""…"""` string starting at `start`. A single-line string also ends at
/// a newline: it is an error either way, which the parser reports.
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let multi_line = bytes[start..].starts_with(b"\"\"\"");
    let mut pos = start + if multi_line { 3 } else { 1 };
    while let Some(&byte) = bytes.get(pos) {
        match byte {
            b'\\' => pos += 2,
            b'"' if !multi_line => return pos + 1,
            b'"' if bytes[pos..].starts_with(b"\"\"\"") => return pos + 3,
            b'\n' if !multi_line => return pos,
            _ => pos += 1,
        }
    }
    bytes.len()
}

/// The number of `#` of a raw string (`#"…"#`, `##"""…"""##`) starting at `start`.
fn raw_string_hashes(bytes: &[u8], start: usize) -> Option<usize> {
    let hashes = bytes[start..].iter().take_while(|&&b| b == b'#').count();
    (bytes.get(start + hashes) == Some(&b'"')).then_some(hashes)
}

fn skip_raw_string(bytes: &[u8], start: usize) -> usize {
    let hashes = raw_string_hashes(bytes, start).unwrap_or(0);
    let open = start + hashes;
    let quotes = if bytes[open..].starts_with(b"\"\"\"") {
        3
    } else {
        1
    };
    let mut pos = open + quotes;
    while pos < bytes.len() {
        let closes = bytes[pos..].starts_with(&b"\"\"\""[..quotes])
            && bytes[pos + quotes..]
                .iter()
                .take(hashes)
                .all(|&b| b == b'#')
            && pos + quotes + hashes <= bytes.len();
        if closes {
            return pos + quotes + hashes;
        }
        pos += 1;
    }
    bytes.len()
}

/// Past a `/* … */` comment (they nest), counting the pieces the `kdl` crate recurses on.
fn skip_block_comment(bytes: &[u8], start: usize) -> Result<usize, Hazard> {
    let refuse = Err(Hazard::CommentTooComplex { offset: start });
    let mut pos = start + 2;
    let mut depth = 1usize;
    let mut pieces = 0usize;
    while depth > 0 {
        let Some(&byte) = bytes.get(pos) else {
            return Ok(pos);
        };
        pieces += 1;
        if pieces > MAX_COMMENT_PIECES {
            return refuse;
        }
        match (byte, bytes.get(pos + 1)) {
            (b'*', Some(b'/')) => {
                depth -= 1;
                pos += 2;
            }
            (b'/', Some(b'*')) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return refuse;
                }
                pos += 2;
            }
            (b'*' | b'/', _) => pos += 1,
            _ => {
                pos += bytes[pos..]
                    .iter()
                    .position(|&b| b == b'*' || b == b'/')
                    .unwrap_or(bytes.len() - pos);
            }
        }
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_manifests_pass() {
        for text in [
            include_str!("../../examples/sweep/zenbuild.kdl"),
            include_str!("../../examples/quickstart/zenbuild.kdl"),
            "a \"{{x}} }\" #\"}\"# ##\"\"\"\n}\"\"\"## // }\n/* } /* { */ */ b { c { } }\n",
            "a \"\\\" }\"\n",
        ] {
            assert_eq!(check(text), Ok(()), "{text:?}");
        }
    }

    #[test]
    fn blocks_nested_too_deep_are_found_at_the_first_brace_too_many() {
        let text = "x {\n".repeat(MAX_DEPTH + 5);
        assert_eq!(
            check(&text),
            Err(Hazard::TooDeep {
                offset: MAX_DEPTH * 4 + 2
            })
        );
        let ok = format!("{}{}", "x {\n".repeat(MAX_DEPTH), "}\n".repeat(MAX_DEPTH));
        assert_eq!(check(&ok), Ok(()));
    }

    #[test]
    fn the_unclosed_block_is_the_one_whose_brace_an_outer_line_took() {
        let text = "p {\n  a {\n    x\n  b {\n    y\n  }\n}\n";
        assert_eq!(check(text), Err(Hazard::Unclosed { offset: 8 }));
        let indented = "  p {\n    a {\n  }\n";
        assert_eq!(check(indented), Err(Hazard::Unclosed { offset: 12 }));
        // Without a telling indentation, the outermost open block.
        assert_eq!(
            check("p {\n  a { x }\n"),
            Err(Hazard::Unclosed { offset: 2 })
        );
    }

    #[test]
    fn a_stray_closing_brace_is_found() {
        assert_eq!(
            check("a {}\n}}}"),
            Err(Hazard::UnmatchedClose { offset: 5 })
        );
    }

    #[test]
    fn comments_that_would_recurse_without_bound_are_refused() {
        let stars = format!("a\n/*{}*/\n", "* ".repeat(MAX_COMMENT_PIECES));
        assert_eq!(check(&stars), Err(Hazard::CommentTooComplex { offset: 2 }));
        let nested = format!(
            "{}{}",
            "/*".repeat(MAX_DEPTH + 1),
            "*/".repeat(MAX_DEPTH + 1)
        );
        assert!(check(&nested).is_err());
        let long_text = format!("/* {} */", "word ".repeat(100_000));
        assert_eq!(check(&long_text), Ok(()));
    }

    const PIECES: &[&str] = &[
        "{", "}", "\"", "\\", "\\\"", "#", "##", "#\"", "\"#", "\"\"\"", "\n", " ", "/", "*", "//",
        "/*", "*/", "/-", "x", "é", ";", "=", "(t)",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 1000, ..Default::default() })]

        /// Whatever the `kdl` crate reads is shallow here, so the scan must let it through:
        /// it refuses only what the crate would refuse too or could not survive.
        #[test]
        fn never_refuses_a_shallow_document_the_kdl_crate_reads(
            base in 0usize..3,
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), 0usize..PIECES.len()), 1..6),
        ) {
            let mut text = match base {
                0 => include_str!("../../examples/sweep/zenbuild.kdl").to_string(),
                1 => include_str!("../../examples/quickstart/zenbuild.kdl").to_string(),
                _ => "a \"{ \\\" }\" #\"}\"# {\n  b /* { */ 1 // }\n}\n".to_string(),
            };
            for (at, piece) in edits {
                let mut at = at % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, PIECES[piece]);
            }
            if kdl::KdlDocument::parse(&text).is_ok() {
                proptest::prop_assert_eq!(check(&text), Ok(()), "refused {:?}", text);
            }
        }
    }
}
