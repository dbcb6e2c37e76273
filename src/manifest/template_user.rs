//! A mistake in a template's text is made once per step that uses the template: the
//! diagnostic points at the template and names, with a second label, the steps that use it.

use std::collections::HashMap;

use super::diagnostic::Diag;
use super::model::{Manifest, Step, Template};
use super::source::Span;

/// How many using steps one diagnostic names; a template used by hundreds of steps would
/// otherwise bury its own mistake under labels.
const MAX_NAMED: usize = 3;

const USES: &str = " uses template ";

/// The diagnostics already located in templates, by what makes two of them the same
/// mistake, so that the next step making it is added to the first one in constant time.
#[derive(Default)]
pub struct TemplateUsers {
    seen: HashMap<Key, usize>,
}

/// A diagnostic's code, primary location and message.
type Key = (&'static str, Span, String);

impl TemplateUsers {
    /// Labels, among `diags[from..]` (those made while expanding `step`; the ones before are
    /// left where they are), each one located in a template `step` uses, with the step's
    /// `template=`; one that repeats an earlier diagnostic is folded into it, which then
    /// names both steps.
    pub fn name_the_step(
        &mut self,
        diags: &mut Vec<Diag>,
        from: usize,
        step: &Step,
        manifest: &Manifest,
    ) {
        let Some(used) = &step.template else {
            return;
        };
        let chain = chain(&used.value, &manifest.templates);
        let label = format!("step `{}`{USES}`{}`", step.name.value, used.value);
        let mut folded = vec![false; diags.len() - from];
        // This step's own first occurrences, by their index before the folded ones go.
        let mut batch: HashMap<Key, usize> = HashMap::new();
        for index in from..diags.len() {
            let Some(&(primary, _)) = diags[index].labels.first() else {
                continue;
            };
            if !chain.iter().any(|template| within(primary, template.node)) {
                continue;
            }
            let key = (diags[index].code, primary, diags[index].message.clone());
            let target = match self.seen.get(&key) {
                Some(&earlier) => earlier,
                None => *batch.entry(key).or_insert(index),
            };
            add_label(&mut diags[target], used.span, &label);
            folded[index - from] = target != index;
        }
        // Where each of this step's diagnostics lands once the folded ones are removed.
        let mut landed = Vec::with_capacity(folded.len());
        let mut removed = 0;
        for &gone in &folded {
            landed.push(from + landed.len() - removed);
            removed += usize::from(gone);
        }
        for (key, index) in batch {
            self.seen.insert(key, landed[index - from]);
        }
        let mut folded = folded.into_iter();
        let mut position = 0;
        diags.retain(|_| {
            position += 1;
            position <= from || !folded.next().unwrap_or(false)
        });
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
