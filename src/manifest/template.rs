//! Templates: resolving `extends` chains and merging a parent's settings into a child's.
//!
//! Merge rules (documented in grammar/GRAMMAR.md):
//! - single values (`cmd`, `description`, `workdir`, `timeout`, `retries`, `cache`, `executor`, and each
//!   `resources` property): the child's value wins;
//! - lists (`inputs`, `outputs`, `metrics`, `params`, `needs`): the child's items are appended
//!   to the parent's, unless the child writes `replace=#true`;
//! - `env`: merged by variable name, the child's value wins;
//! - `matrix`: merged by variable name, the child's values replace the parent's for that name.

use std::collections::HashMap;

use super::diagnostic::Diag;
use super::model::{Manifest, PathList, StepBody};
use super::source::Span;

impl StepBody {
    /// This body with every setting it leaves open taken from `parent`.
    #[must_use]
    pub fn inherit(&self, parent: &StepBody) -> StepBody {
        let mut env = parent.env.clone();
        for var in &self.env {
            match env.iter_mut().find(|v| v.name.value == var.name.value) {
                Some(existing) => *existing = var.clone(),
                None => env.push(var.clone()),
            }
        }
        let mut matrix = parent.matrix.clone();
        for axis in &self.matrix {
            match matrix.iter_mut().find(|a| a.name.value == axis.name.value) {
                Some(existing) => *existing = axis.clone(),
                None => matrix.push(axis.clone()),
            }
        }
        StepBody {
            cmd: self.cmd.clone().or_else(|| parent.cmd.clone()),
            description: self
                .description
                .clone()
                .or_else(|| parent.description.clone()),
            inputs: self.inputs.inherit(&parent.inputs),
            outputs: self.outputs.inherit(&parent.outputs),
            metrics: self.metrics.inherit(&parent.metrics),
            params: self.params.inherit(&parent.params),
            needs: self.needs.inherit(&parent.needs),
            env,
            resources: super::model::Resources {
                cpus: self
                    .resources
                    .cpus
                    .clone()
                    .or_else(|| parent.resources.cpus.clone()),
                memory: self
                    .resources
                    .memory
                    .clone()
                    .or_else(|| parent.resources.memory.clone()),
                gpus: self
                    .resources
                    .gpus
                    .clone()
                    .or_else(|| parent.resources.gpus.clone()),
            },
            workdir: self.workdir.clone().or_else(|| parent.workdir.clone()),
            timeout: self.timeout.clone().or_else(|| parent.timeout.clone()),
            retries: self.retries.clone().or_else(|| parent.retries.clone()),
            cache: self.cache.clone().or_else(|| parent.cache.clone()),
            executor: self.executor.clone().or_else(|| parent.executor.clone()),
            matrix,
        }
    }
}

impl PathList {
    fn inherit(&self, parent: &PathList) -> PathList {
        if self.replace {
            return PathList {
                replace: false,
                items: self.items.clone(),
            };
        }
        let mut items = parent.items.clone();
        items.extend(self.items.iter().cloned());
        PathList {
            replace: false,
            items,
        }
    }
}

/// Every template's body with its whole `extends` chain merged in, by template name.
/// Templates in a cycle or extending an unknown template are reported and left out.
pub fn resolve_templates(manifest: &Manifest, diags: &mut Vec<Diag>) -> HashMap<String, StepBody> {
    let by_name: HashMap<&str, usize> = manifest
        .templates
        .iter()
        .enumerate()
        .map(|(index, template)| (template.name.value.as_str(), index))
        .collect();
    let mut resolved: HashMap<String, StepBody> = HashMap::new();
    let mut failed: Vec<bool> = vec![false; manifest.templates.len()];
    for start in 0..manifest.templates.len() {
        // Walk up the chain to the first resolved (or root) template, then merge back down.
        let mut chain: Vec<usize> = vec![start];
        loop {
            let current = &manifest.templates[*chain.last().unwrap_or(&start)];
            if resolved.contains_key(&current.name.value)
                || failed[by_name[current.name.value.as_str()]]
            {
                break;
            }
            let Some(parent) = &current.extends else {
                break;
            };
            let Some(&parent_index) = by_name.get(parent.value.as_str()) else {
                diags.push(
                    Diag::new(
                        "unknown-template",
                        format!("template `{}` is not defined", parent.value),
                    )
                    .label(parent.span, "no template of this name")
                    .suggest(&parent.value, by_name.keys().copied()),
                );
                for &index in &chain {
                    failed[index] = true;
                }
                break;
            };
            if let Some(position) = chain.iter().position(|&index| index == parent_index) {
                if !failed[parent_index] {
                    diags.push(cycle_error(manifest, &chain[position..]));
                }
                for &index in &chain {
                    failed[index] = true;
                }
                break;
            }
            chain.push(parent_index);
        }
        if chain.iter().any(|&index| failed[index]) {
            continue;
        }
        for &index in chain.iter().rev() {
            let template = &manifest.templates[index];
            if resolved.contains_key(&template.name.value) {
                continue;
            }
            let body = match &template.extends {
                Some(parent) => template.body.inherit(&resolved[&parent.value]),
                None => template.body.clone(),
            };
            resolved.insert(template.name.value.clone(), body);
        }
    }
    resolved
}

fn cycle_error(manifest: &Manifest, cycle: &[usize]) -> Diag {
    let names: Vec<&str> = cycle
        .iter()
        .map(|&index| manifest.templates[index].name.value.as_str())
        .collect();
    let mut path = names.join(" → ");
    path.push_str(" → ");
    path.push_str(names[0]);
    let mut diag = Diag::new(
        "template-cycle",
        format!("templates extend each other in a cycle: {path}"),
    );
    for &index in cycle {
        let template = &manifest.templates[index];
        let span: Span = template
            .extends
            .as_ref()
            .map_or(template.name.span, |extends| extends.span);
        diag = diag.label(span, format!("`{}` extends this", template.name.value));
    }
    diag.help("a template cannot inherit from itself, directly or through others")
}
