//! The KDL parser's messages for the two mistakes a new user makes most, in plain words: a
//! KDL 1 boolean (`default=true`) and a path left unquoted (`inputs src/a.py`). The parser
//! says "Expected identifier string" for both.

/// The longest word (in bytes before the error, in characters after it) reworded.
const MAX_WORD: usize = 1024;

/// What a syntax error says instead of the parser's words.
#[derive(Debug, PartialEq, Eq)]
pub struct Words {
    pub message: String,
    pub label: String,
    pub help: String,
    /// The byte range of the word the error is about, which the label underlines.
    pub start: usize,
    pub end: usize,
}

/// Plain words for the syntax error at `offset..offset + len` of `text`, when the word there
/// is one of the known mistakes.
pub fn reword(text: &str, offset: usize, len: usize) -> Option<Words> {
    let (start, end) = word_around(text, offset, len)?;
    let word = &text[start..end];
    if let Some(keyword) = ["true", "false", "null"].into_iter().find(|k| *k == word) {
        let what = if keyword == "null" {
            "null"
        } else {
            "booleans"
        };
        return Some(Words {
            message: format!("KDL 2 writes {what} as #{keyword}"),
            label: format!("write #{keyword}"),
            help: "zenbuild reads KDL 2, where `true`, `false` and `null` are spelled \
                   `#true`, `#false` and `#null`; KDL 1 wrote them bare"
                .into(),
            start,
            end,
        });
    }
    if looks_like_a_path(word) {
        return Some(Words {
            message: format!("paths are strings in KDL: quote it: \"{word}\""),
            label: "not quoted".into(),
            help: "KDL reads a bare word as a string only when it holds none of \
                   / \\ ( ) [ ] { } ; = # \" and paths hold `/`"
                .into(),
            start,
            end,
        });
    }
    None
}

/// The whitespace-delimited word holding the span, or `None` when the span is not on one
/// (or the word is quoted: a string is not this kind of mistake).
fn word_around(text: &str, offset: usize, len: usize) -> Option<(usize, usize)> {
    let end_of_span = offset.checked_add(len)?;
    if end_of_span > text.len() || !text.is_char_boundary(offset) {
        return None;
    }
    let separator = |c: char| c.is_whitespace() || matches!(c, ';' | '{' | '}' | '=');
    // A word is looked for this far around the error only, so that thousands of errors in
    // one long run of text cost no more than the text.
    let mut reach = offset.saturating_sub(MAX_WORD);
    while !text.is_char_boundary(reach) {
        reach -= 1;
    }
    let start = match text[reach..offset].rfind(separator) {
        Some(at) => reach + at + text[reach + at..].chars().next().map_or(1, char::len_utf8),
        None if reach == 0 => 0,
        None => return None,
    };
    let after = text[offset..].char_indices().take(MAX_WORD);
    let end = match after.clone().find(|(_, c)| separator(*c)) {
        Some((at, _)) => offset + at,
        None if after.count() < MAX_WORD => text.len(),
        None => return None,
    };
    let word = &text[start..end];
    let quoted = word.contains(['"', '#']);
    (!word.is_empty() && end >= end_of_span && !quoted).then_some((start, end))
}

fn looks_like_a_path(word: &str) -> bool {
    let separator = word.contains('/') || word.contains('\\');
    let plausible = word
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '/' | '\\' | '.' | '-' | '_' | '*' | '~'));
    separator && plausible
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_at(text: &str, word: &str) -> Option<Words> {
        let offset = text.find(word)?;
        reword(text, offset, word.len())
    }

    #[test]
    fn kdl_1_booleans() {
        let text = "pipeline \"main\" default=true {\n";
        let words = words_at(text, "true").unwrap();
        assert_eq!(words.message, "KDL 2 writes booleans as #true");
        assert_eq!(&text[words.start..words.end], "true");
        let words = words_at("cache false\n", "false").unwrap();
        assert_eq!(words.label, "write #false");
    }

    #[test]
    fn unquoted_paths() {
        let text = "  inputs src/a.py data/b.csv\n";
        let words = words_at(text, "src/a.py").unwrap();
        assert_eq!(
            words.message,
            "paths are strings in KDL: quote it: \"src/a.py\""
        );
        // The parser may point at part of the word; the label takes all of it.
        let words = reword(text, text.find("/b").unwrap(), 1).unwrap();
        assert_eq!(&text[words.start..words.end], "data/b.csv");
    }

    #[test]
    fn other_mistakes_keep_the_parser_words() {
        assert_eq!(words_at("a \"src/a.py\n", "src/a.py"), None);
        assert_eq!(words_at("a b(c\n", "b(c"), None);
        assert_eq!(reword("a", 5, 1), None);
        assert_eq!(reword("é", 1, 0), None);
        let long = format!("inputs {}/a\n", "d".repeat(MAX_WORD * 2));
        assert_eq!(reword(&long, 10, 1), None);
        let end = format!("inputs a/{}", "d".repeat(MAX_WORD * 2));
        assert_eq!(reword(&end, 8, 1), None);
    }
}
