//! Manifest errors: collected while loading and compiling, rendered by miette with the
//! file name, line, column and the source lines they point at.

use std::fmt;

use miette::{Diagnostic, LabeledSpan, NamedSource, Severity};

use super::snippet::{Snippet, snippet};
use super::source::{Sources, Span};

/// One problem found in the manifest. The first label is the primary location.
#[derive(Clone, Debug)]
pub struct Diag {
    pub code: &'static str,
    pub message: String,
    pub labels: Vec<(Span, String)>,
    pub help: Option<String>,
}

impl Diag {
    pub fn new(code: &'static str, message: impl Into<String>) -> Diag {
        Diag {
            code,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    #[must_use]
    pub fn label(mut self, span: Span, text: impl Into<String>) -> Diag {
        self.labels.push((span, text.into()));
        self
    }

    #[must_use]
    pub fn help(mut self, text: impl Into<String>) -> Diag {
        self.help = Some(text.into());
        self
    }

    /// Adds "did you mean `x`?" when one of `candidates` is close to `name`.
    #[must_use]
    pub fn suggest<'a>(self, name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Diag {
        match did_you_mean(name, candidates) {
            Some(close) => self.help(format!("did you mean `{close}`?")),
            None => self,
        }
    }

    /// Turns spans into file names, lines and snippets, ready for miette to print.
    pub fn render(&self, sources: &Sources) -> RenderedDiag {
        let Some((primary, _)) = self.labels.first() else {
            return RenderedDiag {
                code: self.code,
                message: self.message.clone(),
                help: self.help.clone(),
                source: None,
                labels: Vec::new(),
                related: Vec::new(),
                note: false,
            };
        };
        let file = primary.file;
        // The source shown and the labels as it sees them: the whole file, or windows of
        // lines too long for miette to point into (see [`super::snippet`]).
        let show = |file, spans: &[Span]| {
            let source = sources.get(file);
            let (snippet, spans) = snippet(&source.text, spans);
            (
                NamedSource::new(&source.name, snippet).with_language("kdl"),
                spans,
            )
        };
        let here: Vec<&(Span, String)> = self
            .labels
            .iter()
            .filter(|(span, _)| span.file == file)
            .collect();
        let (source, spans) = show(
            file,
            &here.iter().map(|(span, _)| *span).collect::<Vec<_>>(),
        );
        // miette takes the location it prints from the label marked primary, or else from the
        // label earliest in the file; marking ours keeps `file:line:column` on the mistake when
        // a secondary label ("first set here") comes before it.
        let labels = here
            .iter()
            .zip(spans)
            .enumerate()
            .map(|(index, ((_, text), span))| match index {
                0 => LabeledSpan::new_primary_with_span(label_text(text), span),
                _ => LabeledSpan::new_with_span(label_text(text), span),
            })
            .collect();
        // miette shows one source file per diagnostic; labels in other files (an include)
        // become related notes so that every location still gets its snippet. A note has no
        // code and is not an error: one mistake reads as one error.
        let related = self
            .labels
            .iter()
            .filter(|(span, _)| span.file != file)
            .map(|(span, text)| {
                let (source, spans) = show(span.file, &[*span]);
                RenderedDiag {
                    code: self.code,
                    message: text.clone(),
                    help: None,
                    source: Some(source),
                    labels: spans
                        .into_iter()
                        .map(|span| LabeledSpan::new_with_span(label_text(text), span))
                        .collect(),
                    related: Vec::new(),
                    note: true,
                }
            })
            .collect();
        RenderedDiag {
            code: self.code,
            message: self.message.clone(),
            help: self.help.clone(),
            source: Some(source),
            labels,
            related,
            note: false,
        }
    }

    /// Whether this problem leaves a params file unread. Its keys are then unknown, so a step
    /// naming one of them (`undefined-param`) is not a mistake of its own and goes unreported.
    fn leaves_params_unread(&self) -> bool {
        UNREADABLE_PARAMS.contains(&self.code)
    }
}

/// The codes of the problems that leave a params file unread.
const UNREADABLE_PARAMS: &[&str] = &[
    "params-format",
    "params-syntax",
    "params-missing",
    "params-encoding",
];

fn label_text(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// The closest candidate to `name` by edit distance, if any is close enough to be a typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let length = name.chars().count();
    let limit = (length / 3).max(1);
    candidates
        .into_iter()
        // The distance is at least the difference in length: no need to compute it then.
        .filter(|candidate| candidate.chars().count().abs_diff(length) <= limit)
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// A [`Diag`] with its source attached, printable on its own.
#[derive(Debug)]
pub struct RenderedDiag {
    code: &'static str,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<Snippet>>,
    labels: Vec<LabeledSpan>,
    related: Vec<RenderedDiag>,
    /// A secondary location in another file, shown under the error it belongs to.
    note: bool,
}

impl fmt::Display for RenderedDiag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RenderedDiag {}

impl Diagnostic for RenderedDiag {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        if self.note {
            return None;
        }
        Some(Box::new(format!("zenbuild::{}", self.code)))
    }

    fn severity(&self) -> Option<Severity> {
        self.note.then_some(Severity::Advice)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source
            .as_ref()
            .map(|source| source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
    }
}

/// How many diagnostics are rendered in full; past this, a count stands for the rest. A
/// manifest with 80,000 mistakes helps nobody with 80,000 snippets, and rendering each one
/// reads the file up to its location, which makes printing them all quadratic.
pub const MAX_SHOWN_DIAGNOSTICS: usize = 50;

/// Every problem found in a manifest; loading and compiling go on after the first so that
/// one run reports them all: the first [`MAX_SHOWN_DIAGNOSTICS`] in full, the rest counted.
#[derive(Debug)]
pub struct ManifestError {
    pub diagnostics: Vec<RenderedDiag>,
    /// Problems found beyond those in `diagnostics`.
    pub more: usize,
}

impl ManifestError {
    pub fn new(diags: &[Diag], sources: &Sources) -> ManifestError {
        let unread_params = diags.iter().any(Diag::leaves_params_unread);
        let diags: Vec<&Diag> = diags
            .iter()
            .filter(|diag| !(unread_params && diag.code == "undefined-param"))
            .collect();
        let shown = diags.len().min(MAX_SHOWN_DIAGNOSTICS);
        ManifestError {
            diagnostics: diags[..shown]
                .iter()
                .map(|diag| diag.render(sources))
                .collect(),
            more: diags.len() - shown,
        }
    }

    /// Every problem found, shown or not.
    pub fn count(&self) -> usize {
        self.diagnostics.len() + self.more
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.count() {
            1 => write!(f, "the manifest has an error"),
            n => write!(f, "the manifest has {n} errors"),
        }
    }
}

impl std::error::Error for ManifestError {}
