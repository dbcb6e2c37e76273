//! How deep a YAML file's flow collections (`[…]`, `{…}`) nest, found by one linear scan
//! before the YAML parser sees the text.
//!
//! libyaml, under `serde_yaml_ng`, tokenizes the whole document before anything can stop
//! it, and its cost grows with the square of the flow depth: 100,000 nested `[` took 18 s
//! to be refused. Flow nesting is part of the nesting [`super::params_value`] bounds, so a
//! file this scan refuses would be refused after parsing anyway, only much later.
//!
//! The scan knows just enough YAML to not count brackets that are text: comments, quoted
//! scalars, block scalars (`|`, `>`), and brackets inside plain scalars, which only open a
//! collection where a node can start.

use super::params_value::MAX_PARAMS_DEPTH;

/// The byte offset of the bracket that opens flow level `MAX_PARAMS_DEPTH + 1`, if any.
pub fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut flow = 0usize;
    // Whether a node may start here: at a line's start, after an indicator (`- `, `: `,
    // `? `, `[`, `{`, `,`), possibly after spaces.
    let mut node_start = true;
    let mut line_indent = 0;
    let mut at_line_start = true;
    while let Some(&byte) = bytes.get(pos) {
        if at_line_start {
            line_indent = bytes[pos..].iter().take_while(|&&b| b == b' ').count();
            pos += line_indent;
            at_line_start = false;
            node_start = true;
            continue;
        }
        match byte {
            b'\n' => {
                pos += 1;
                at_line_start = true;
            }
            b' ' | b'\t' | b'\r' => pos += 1,
            b'#' if node_start || matches!(bytes.get(pos.wrapping_sub(1)), Some(b' ' | b'\t')) => {
                pos = line_end(bytes, pos);
            }
            b'"' if node_start => pos = skip_double_quoted(bytes, pos),
            b'\'' if node_start => pos = skip_single_quoted(bytes, pos),
            b'[' | b'{' if node_start || flow > 0 => {
                flow += 1;
                if flow > MAX_PARAMS_DEPTH {
                    return Some(pos);
                }
                pos += 1;
                node_start = true;
            }
            b']' | b'}' if flow > 0 => {
                flow -= 1;
                pos += 1;
                node_start = false;
            }
            b',' if flow > 0 => {
                pos += 1;
                node_start = true;
            }
            b'-' | b'?' | b':'
                if matches!(
                    bytes.get(pos + 1),
                    None | Some(b' ' | b'\t' | b'\r' | b'\n')
                ) =>
            {
                pos += 1;
                node_start = true;
            }
            b'|' | b'>' if node_start && flow == 0 => {
                pos = skip_block_scalar(bytes, pos, line_indent);
                at_line_start = true;
            }
            _ => {
                pos += 1;
                node_start = false;
            }
        }
    }
    None
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |at| from + at)
}

fn skip_double_quoted(bytes: &[u8], start: usize) -> usize {
    let mut pos = start + 1;
    while let Some(&byte) = bytes.get(pos) {
        match byte {
            b'\\' => pos += 2,
            b'"' => return pos + 1,
            _ => pos += 1,
        }
    }
    bytes.len()
}

fn skip_single_quoted(bytes: &[u8], start: usize) -> usize {
    let mut pos = start + 1;
    while let Some(&byte) = bytes.get(pos) {
        match (byte, bytes.get(pos + 1)) {
            (b'\'', Some(b'\'')) => pos += 2,
            (b'\'', _) => return pos + 1,
            _ => pos += 1,
        }
    }
    bytes.len()
}

/// Past a block scalar's content: the lines after its header that are blank or indented
/// more than the line that holds the header. Returns the start of the first line after it.
fn skip_block_scalar(bytes: &[u8], header: usize, indent: usize) -> usize {
    let mut pos = (line_end(bytes, header) + 1).min(bytes.len());
    while pos < bytes.len() {
        let spaces = bytes[pos..].iter().take_while(|&&b| b == b' ').count();
        let blank = matches!(bytes.get(pos + spaces), None | Some(b'\n' | b'\r'));
        if !blank && spaces <= indent {
            break;
        }
        pos = (line_end(bytes, pos) + 1).min(bytes.len());
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("a: {}{}\n", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn finds_the_bracket_one_level_too_deep() {
        assert_eq!(too_deep(&nested(MAX_PARAMS_DEPTH)), None);
        assert_eq!(
            too_deep(&nested(MAX_PARAMS_DEPTH + 1)),
            Some(3 + MAX_PARAMS_DEPTH)
        );
        assert_eq!(too_deep(&nested(100_000)), Some(3 + MAX_PARAMS_DEPTH));
        let mixed = format!("- {}\n", "{a: [".repeat(40));
        assert!(too_deep(&mixed).is_some());
    }

    #[test]
    fn brackets_that_are_text_do_not_count() {
        let many = "[".repeat(200);
        for text in [
            format!("a: \"{many}\"\n"),
            format!("a: '{many} it''s'\n"),
            format!("a: x{many}\n"),
            format!("a: 1 # {many}\n"),
            format!("# {many}\n"),
            format!("a: |\n  {many}\n  {many}\nb: 1\n"),
            format!("a: >-\n\n   {many}\n"),
            format!("- it's {many}\n"),
        ] {
            assert_eq!(too_deep(&text), None, "{text:?}");
        }
        let after_block = format!("a: |\n  x\nb: {}\n", "[".repeat(MAX_PARAMS_DEPTH + 1));
        assert!(too_deep(&after_block).is_some());
    }

    fn depth(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    const PIECES: &[&str] = &[
        "[", "]", "{", "}", ",", "\"", "'", "''", "\\", "#", " #", "\n", "\n  ", " ", "- ", ": ",
        "? ", "|", ">-", "x", "&a ", "!t ", "é",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 1000, ..Default::default() })]

        /// A file the YAML parser reads within the nesting limit is never refused by the scan.
        #[test]
        fn never_refuses_a_file_that_parses_within_the_limit(
            base in 0usize..2,
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), 0usize..PIECES.len()), 1..8),
        ) {
            let mut text = match base {
                0 => "train:\n  lr: [0.1, {a: 'x[', b: \"]\"}]\n  note: |\n    [[[ text\n  seed: 1 # [\n".to_string(),
                _ => format!("a: {}{}\n", "[".repeat(MAX_PARAMS_DEPTH - 2), "]".repeat(MAX_PARAMS_DEPTH - 2)),
            };
            for (at, piece) in edits {
                let mut at = at % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, PIECES[piece]);
            }
            // Straight from the YAML parser: the params reader itself runs this scan first.
            let parsed = serde_yaml_ng::from_str::<serde_json::Value>(&text);
            if parsed.is_ok_and(|value| depth(&value) <= MAX_PARAMS_DEPTH) {
                proptest::prop_assert_eq!(too_deep(&text), None, "refused {:?}", text);
            }
        }
    }
}
