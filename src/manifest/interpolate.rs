//! `{{name}}` substitution in commands, paths and environment values.

use super::diagnostic::Diag;
use super::model::MatrixValue;
use super::params::{Params, display_value};
use super::source::{Sources, Span, Spanned};
use std::borrow::Cow;
use std::fmt::Write as _;

/// What `{{…}}` can refer to while one action is being resolved.
pub struct Vars<'a> {
    pub matrix: &'a [(String, MatrixValue)],
    pub params: &'a Params,
    pub step: &'a str,
    pub project: &'a str,
}

impl Vars<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        if let Some(key) = name.strip_prefix("params.") {
            return self.params.get(key).map(display_value);
        }
        match name {
            "step" => Some(self.step.to_string()),
            "project" => Some(self.project.to_string()),
            _ => self
                .matrix
                .iter()
                .find(|(axis, _)| axis == name)
                .map(|(_, value)| value.to_string()),
        }
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.matrix.iter().map(|(name, _)| name.clone()).collect();
        names.push("step".into());
        names.push("project".into());
        names.extend(
            self.params
                .keys()
                .into_iter()
                .map(|key| format!("params.{key}")),
        );
        names
    }
}

/// Substitutes every `{{name}}` in `text`. Whitespace inside the braces is ignored. A text
/// without any is lent as it is: most paths of most steps.
pub fn interpolate<'t>(
    text: &'t Spanned<String>,
    vars: &Vars,
    sources: &Sources,
) -> Result<Cow<'t, str>, Diag> {
    let value = &text.value;
    if !value.contains("{{") {
        return Ok(Cow::Borrowed(value));
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value.as_str();
    let mut consumed = 0;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after_open = &rest[open + 2..];
        let Some(close) = after_open.find("}}") else {
            let span = inner_span(text, sources, consumed + open, 2);
            return Err(Diag::new("unclosed-interpolation", "`{{` is never closed")
                .label(span, "opened here")
                .help("close it with `}}`"));
        };
        let name = after_open[..close].trim();
        let whole = close + 4;
        let span = inner_span(text, sources, consumed + open, whole);
        match vars.lookup(name) {
            Some(replacement) => out.push_str(&replacement),
            None => return Err(undefined(name, span, vars)),
        }
        consumed += open + whole;
        rest = &rest[open + whole..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

fn undefined(name: &str, span: Span, vars: &Vars) -> Diag {
    let names = vars.names();
    let diag = if let Some(key) = name.strip_prefix("params.") {
        Diag::new(
            "undefined-param",
            format!("param `{key}` is not defined in the params files"),
        )
        .label(span, "no such param")
    } else {
        Diag::new(
            "undefined-variable",
            format!("`{{{{{name}}}}}` is not defined"),
        )
        .label(span, "nothing defines this")
    };
    let diag = diag.suggest(name, names.iter().map(String::as_str));
    if diag.help.is_some() {
        return diag;
    }
    let matrix: Vec<&str> = vars.matrix.iter().map(|(name, _)| name.as_str()).collect();
    let mut defined = String::from("defined here: ");
    if !matrix.is_empty() {
        let _ = write!(defined, "matrix variables {}, ", matrix.join(", "));
    }
    defined.push_str("`step`, `project` and `params.<key>` for keys in the params files");
    diag.help(defined)
}

/// The span of `value[start..start+len]` in the source, when the string was written without
/// escapes (so source and value line up); otherwise the whole string.
fn inner_span(text: &Spanned<String>, sources: &Sources, start: usize, len: usize) -> Span {
    let source = sources.text(text.span);
    match source.find(text.value.as_str()) {
        Some(at) => text.span.slice(at + start, len),
        None => text.span,
    }
}
