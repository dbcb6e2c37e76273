//! A mistake in a template's text is made once per step that uses the template: the
//! diagnostic points at the template and names, with a second label, the steps that use it.

use super::diagnostic::Diag;
use super::model::{Manifest, Step, Template};
use super::source::Span;

/// How many using steps one diagnostic names; a template used by hundreds of steps would
/// otherwise bury its own mistake under labels.
const MAX_NAMED: usize = 3;

const USES: &str = " uses template ";

/// Labels, among `diags[from..]` (those made while expanding `step`), each one located in a
/// template `step` uses, with the step's `template=`; one that repeats an earlier diagnostic
/// is folded into it, which then names both steps.
pub fn name_the_step(diags: &mut Vec<Diag>, from: usize, step: &Step, manifest: &Manifest) {
    let Some(used) = &step.template else {
        return;
    };
    let chain = chain(&used.value, &manifest.templates);
    let label = format!("step `{}`{USES}`{}`", step.name.value, used.value);
    let mut index = from;
    while index < diags.len() {
        let Some(&(primary, _)) = diags[index].labels.first() else {
            index += 1;
            continue;
        };
        if !chain.iter().any(|template| within(primary, template.node)) {
            index += 1;
            continue;
        }
        let earlier = diags[..index].iter().position(|earlier| {
            earlier.code == diags[index].code
                && earlier.labels.first().map(|(span, _)| *span) == Some(primary)
                && earlier.message == diags[index].message
        });
        let target = earlier.unwrap_or(index);
        add_label(&mut diags[target], used.span, &label);
        if earlier.is_some() {
            diags.remove(index);
        } else {
            index += 1;
        }
    }
}

fn add_label(diag: &mut Diag, span: Span, text: &str) {
    let users = diag
        .labels
        .iter()
        .filter(|(_, text)| text.contains(USES))
        .count();
    let named = diag.labels.iter().any(|(s, _)| *s == span);
    if !named && users < MAX_NAMED {
        diag.labels.push((span, text.to_string()));
    }
}

/// `name` and every template it extends, each once.
fn chain<'a>(name: &str, templates: &'a [Template]) -> Vec<&'a Template> {
    let mut chain: Vec<&Template> = Vec::new();
    let mut next = Some(name);
    while let Some(name) = next {
        let Some(template) = templates.iter().find(|t| t.name.value == name) else {
            break;
        };
        if chain.iter().any(|t| std::ptr::eq(*t, template)) {
            break;
        }
        chain.push(template);
        next = template.extends.as_ref().map(|e| e.value.as_str());
    }
    chain
}

fn within(inner: Span, outer: Span) -> bool {
    inner.file == outer.file
        && inner.offset >= outer.offset
        && inner.offset + inner.len <= outer.offset + outer.len
}
