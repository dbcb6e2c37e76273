//! The source text a diagnostic shows, as miette reads it.
//!
//! Usually that is the whole file, with columns counted in characters. A label on a very
//! long line is another matter: miette pads to the label's column with a format width, which
//! panics past column 65,535 (a 100,000-digit number in a params file, a YAML error at
//! column 80,000, a long comment before a bad node), and even below that it prints the whole
//! line. For those, the diagnostic shows an excerpt instead: a window of each labelled line
//! around its label, still headed with the real `file:line:column`.

use std::sync::Arc;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

use super::source::Span;

/// Lines longer than this (in bytes) are shown as a window around each label on them.
const LONG_LINE: usize = 1_000;
/// Bytes of context on each side of a label in a window.
const WINDOW: usize = 40;
/// A label longer than this (in bytes) is shown by its start.
const MAX_LABEL: usize = 80;

#[derive(Debug)]
pub enum Snippet {
    Whole(Arc<String>),
    Excerpt(Excerpt),
}

/// Windows of a file's lines, one per line of `text`, and where each came from.
#[derive(Debug)]
pub struct Excerpt {
    text: String,
    pieces: Vec<Piece>,
}

#[derive(Debug)]
struct Piece {
    /// Where the window starts in the excerpt and in the file.
    at: usize,
    from: usize,
    len: usize,
    /// The file's 0-based line and character column where the window starts.
    line: usize,
    column: usize,
    /// The excerpt's line for this window, with `…` where the file's line goes on.
    shown: (usize, usize),
}

/// The source to show for labels at `spans` of `text`, and the spans as that source sees them.
pub fn snippet(text: &Arc<String>, spans: &[Span]) -> (Snippet, Vec<SourceSpan>) {
    let long = spans.iter().any(|span| {
        let (start, end) = line_around(text, span.offset);
        end - start > LONG_LINE
    });
    if !long {
        let spans = spans.iter().map(|span| span.source_span()).collect();
        return (Snippet::Whole(Arc::clone(text)), spans);
    }
    let (excerpt, spans) = Excerpt::new(text, spans);
    (Snippet::Excerpt(excerpt), spans)
}

impl Excerpt {
    fn new(text: &str, spans: &[Span]) -> (Excerpt, Vec<SourceSpan>) {
        let mut windows: Vec<(usize, usize)> = spans
            .iter()
            .map(|span| window(text, span.offset, span.len))
            .collect();
        windows.sort_unstable();
        // Windows that touch on one line become one, so that a line appears once.
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (start, end) in windows {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let mut excerpt = Excerpt {
            text: String::new(),
            pieces: Vec::new(),
        };
        let (mut line, mut counted) = (0, 0);
        for (start, end) in merged {
            line += text[counted..start].matches('\n').count();
            counted = start;
            let (line_start, line_end) = line_around(text, start);
            let shown_start = excerpt.text.len();
            if start > line_start {
                excerpt.text.push_str("… ");
            }
            let at = excerpt.text.len();
            excerpt.text.push_str(&text[start..end]);
            if end < line_end {
                excerpt.text.push_str(" …");
            }
            excerpt.pieces.push(Piece {
                at,
                from: start,
                len: end - start,
                line,
                column: text[line_start..start].chars().count(),
                shown: (shown_start, excerpt.text.len()),
            });
            excerpt.text.push('\n');
        }
        let spans = spans
            .iter()
            .map(|span| excerpt.map(text, span.offset, span.len))
            .collect();
        (excerpt, spans)
    }

    /// Where a span of the file falls in the excerpt, cut to the window that holds its start.
    fn map(&self, text: &str, offset: usize, len: usize) -> SourceSpan {
        let offset = floor_boundary(text, offset.min(text.len()));
        let piece = self
            .pieces
            .iter()
            .rev()
            .find(|piece| piece.from <= offset)
            .unwrap_or(&self.pieces[0]);
        let start = offset.clamp(piece.from, piece.from + piece.len);
        let end = ceil_boundary(
            text,
            (offset + len.min(MAX_LABEL)).min(piece.from + piece.len),
        );
        (piece.at + start - piece.from, end.saturating_sub(start)).into()
    }

    fn piece_at(&self, offset: usize) -> &Piece {
        self.pieces
            .iter()
            .rev()
            .find(|piece| piece.at <= offset)
            .unwrap_or(&self.pieces[0])
    }
}

/// The part of the line holding `offset` that is shown for a label there: the whole line
/// when it is short, else a window around the label's start.
fn window(text: &str, offset: usize, len: usize) -> (usize, usize) {
    let offset = floor_boundary(text, offset.min(text.len()));
    let (line_start, line_end) = line_around(text, offset);
    if line_end - line_start <= LONG_LINE {
        return (line_start, line_end);
    }
    let start = floor_boundary(text, offset.saturating_sub(WINDOW).max(line_start));
    let end = ceil_boundary(text, (offset + len.min(MAX_LABEL) + WINDOW).min(line_end));
    (start, end)
}

/// The byte range of the line holding `offset`, without its newline.
fn line_around(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_boundary(text, offset.min(text.len()));
    let start = text[..offset].rfind('\n').map_or(0, |at| at + 1);
    let end = text[offset..]
        .find('\n')
        .map_or(text.len(), |at| offset + at);
    (start, end)
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

impl SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        match self {
            Snippet::Whole(text) => {
                // miette counts columns in bytes, which moves `file:line:column` right after
                // non-ASCII text; editors count characters.
                let contents =
                    text.as_str()
                        .read_span(span, context_lines_before, context_lines_after)?;
                let line_start = span.offset().saturating_sub(contents.column());
                let column = text
                    .get(line_start..span.offset())
                    .map_or(contents.column(), |before| before.chars().count());
                Ok(Box::new(MietteSpanContents::new(
                    contents.data(),
                    *contents.span(),
                    contents.line(),
                    column,
                    contents.line_count(),
                )))
            }
            Snippet::Excerpt(excerpt) => {
                // Whole windows, and no context: neighbouring windows are not neighbouring
                // lines of the file.
                let first = excerpt.piece_at(span.offset());
                let last = excerpt.piece_at(span.offset() + span.len().saturating_sub(1));
                let (start, end) = (first.shown.0, last.shown.1);
                let data = excerpt
                    .text
                    .get(start..end)
                    .ok_or(MietteError::OutOfBounds)?;
                let within = excerpt
                    .text
                    .get(first.at..span.offset().max(first.at))
                    .map_or(0, |before| before.chars().count());
                Ok(Box::new(MietteSpanContents::new(
                    data.as_bytes(),
                    (start, end - start).into(),
                    first.line,
                    first.column + within,
                    data.matches('\n').count() + 1,
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::source::FileId;

    fn span(offset: usize, len: usize) -> Span {
        Span {
            file: FileId::ROOT,
            offset,
            len,
        }
    }

    #[test]
    fn short_lines_show_the_whole_file() {
        let text = Arc::new("a\nb c\n".to_string());
        let (snippet, spans) = snippet(&text, &[span(4, 1)]);
        assert!(matches!(snippet, Snippet::Whole(_)));
        assert_eq!(spans, vec![SourceSpan::from((4, 1))]);
    }

    #[test]
    fn a_label_far_along_a_long_line_is_shown_in_a_window_at_its_real_place() {
        let text = Arc::new(format!("first\n{}é bad\nlast\n", "x".repeat(100_000)));
        let bad = text.find("bad").unwrap();
        let (snippet, spans) = snippet(&text, &[span(bad, 100_000), span(0, 5)]);
        let Snippet::Excerpt(excerpt) = &snippet else {
            panic!("expected an excerpt");
        };
        assert!(excerpt.text.len() < 300, "{}", excerpt.text);
        assert!(excerpt.text.contains("… "), "{}", excerpt.text);
        let shown = snippet.read_span(&spans[0], 1, 1).unwrap();
        assert_eq!(shown.line(), 1);
        assert_eq!(shown.column(), 100_002);
        assert!(spans[0].len() <= MAX_LABEL);
        assert_eq!(
            &excerpt.text[spans[0].offset()..spans[0].offset() + 3],
            "bad"
        );
        assert_eq!(
            &excerpt.text[spans[1].offset()..spans[1].offset() + 5],
            "first"
        );
        assert_eq!(snippet.read_span(&spans[1], 1, 1).unwrap().line(), 0);
    }
}
