//! The text of every manifest file that was read, so that any location can be shown later.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::syntax::TextRange;

/// Which loaded file a [`Span`] points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(u32);

impl FileId {
    /// `zenbuild.kdl` itself: the first file loaded.
    pub const ROOT: FileId = FileId(0);
}

/// A byte range in one manifest file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub offset: usize,
    pub len: usize,
}

impl Span {
    pub fn new(file: FileId, span: miette::SourceSpan) -> Span {
        Span {
            file,
            offset: span.offset(),
            len: span.len(),
        }
    }

    /// Where a piece of the syntax tree of `file` is written.
    pub fn at(file: FileId, range: TextRange) -> Span {
        Span {
            file,
            offset: range.offset,
            len: range.len,
        }
    }

    /// A sub-range, `start..start+len` bytes into this span.
    #[must_use]
    pub fn slice(self, start: usize, len: usize) -> Span {
        Span {
            file: self.file,
            offset: self.offset + start,
            len,
        }
    }

    pub fn source_span(self) -> miette::SourceSpan {
        (self.offset, self.len).into()
    }
}

/// A value together with where in the manifest it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

#[derive(Debug)]
pub struct SourceFile {
    /// Absolute path on disk.
    pub path: PathBuf,
    /// What errors call the file: its path relative to the workspace root.
    pub name: String,
    pub text: Arc<String>,
}

/// Owns every file the manifest loader read; spans borrow nothing, they index into this.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    #[allow(
        clippy::missing_panics_doc,
        reason = "panics only past 2^32 manifest files"
    )]
    pub fn add(&mut self, path: &Path, name: String, text: String) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).expect("fewer than 2^32 manifest files"));
        self.files.push(SourceFile {
            path: path.to_path_buf(),
            name,
            text: Arc::new(text),
        });
        id
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Every file read, the manifest first.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files
            .iter()
            .position(|file| file.path == path)
            .map(|index| FileId(index as u32))
    }

    /// The text a span covers.
    pub fn text(&self, span: Span) -> &str {
        let text = &self.get(span.file).text;
        text.get(span.offset..span.offset + span.len).unwrap_or("")
    }

    /// 1-based line and column of a span's start, counting columns in characters.
    pub fn line_col(&self, span: Span) -> (usize, usize) {
        let text = &self.get(span.file).text;
        let before = &text[..span.offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }
}
