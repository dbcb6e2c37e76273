//! Which pipeline's own metadata store a run goes to (`metadata` inside `pipeline`). A run
//! belongs to one store, which numbers it and links what it made to what it read: a build of
//! a pipeline, or of steps that only its pipelines hold, goes to the store those pipelines
//! name; anything else (steps of no pipeline, pipelines that disagree) to the manifest's.

use std::collections::BTreeSet;

use super::{ActionId, Graph};

impl Graph {
    /// The `metadata url=` of the pipelines a run of `pipelines` (named whole) and `actions`
    /// (named one by one: a step's, an action, a path's writer) belongs to, when they all name
    /// the same one; `None` for the manifest's store.
    pub fn own_store(&self, pipelines: &[&str], actions: &[ActionId]) -> Option<&str> {
        let mut stores: BTreeSet<Option<&str>> = pipelines
            .iter()
            .map(|name| self.pipeline(name).and_then(|p| p.metadata.as_deref()))
            .collect();
        for &action in actions {
            let step = &self.action(action).step;
            let mut holders = self
                .pipelines
                .iter()
                .filter(|pipeline| pipeline.steps.contains(step))
                .peekable();
            if holders.peek().is_none() {
                stores.insert(None);
            }
            stores.extend(holders.map(|pipeline| pipeline.metadata.as_deref()));
        }
        let mut stores = stores.into_iter();
        match (stores.next(), stores.next()) {
            (Some(store), None) => store,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::compile_text;

    const MANIFEST: &str = r#"
step "prepare" { cmd "echo a > a.txt"; outputs "a.txt" }
step "loose" { cmd "echo l > l.txt"; outputs "l.txt" }
pipeline "main" { use "prepare" }
pipeline "exp" {
    metadata url="postgres://ml@db/exp"
    step "sweep" { cmd "echo s > s.txt"; outputs "s.txt" }
    step "fit" { matrix { lr 1 2; }; cmd "echo {{lr}} > f{{lr}}.txt"; outputs "f{{lr}}.txt" }
}
pipeline "also_exp" {
    metadata url="postgres://ml@db/exp"
    use "sweep"
}
pipeline "other" {
    metadata url="postgres://ml@db/other"
    use "prepare" "sweep"
}
"#;

    fn store<'g>(
        graph: &'g crate::graph::Graph,
        pipelines: &[&str],
        steps: &[&str],
    ) -> Option<&'g str> {
        let actions: Vec<_> = steps
            .iter()
            .flat_map(|name| graph.step(name).expect("a step").actions.clone())
            .collect();
        graph.own_store(pipelines, &actions)
    }

    #[test]
    fn a_run_goes_to_the_one_store_its_pipelines_name() {
        let graph = compile_text(MANIFEST);
        let exp = Some("postgres://ml@db/exp");
        assert_eq!(store(&graph, &["exp"], &[]), exp);
        assert_eq!(store(&graph, &["exp", "also_exp"], &[]), exp);
        // A step's instances, a step that two pipelines of one store hold.
        assert_eq!(store(&graph, &[], &["fit"]), exp);
        assert_eq!(store(&graph, &["exp"], &["fit"]), exp);
        // The manifest's store: a pipeline without its own, a step of no pipeline, a step
        // held by pipelines of different stores, pipelines that disagree.
        assert_eq!(store(&graph, &["main"], &[]), None);
        assert_eq!(store(&graph, &[], &["loose"]), None);
        assert_eq!(store(&graph, &["exp"], &["loose"]), None);
        assert_eq!(store(&graph, &[], &["sweep"]), None);
        assert_eq!(store(&graph, &["exp", "other"], &[]), None);
        assert_eq!(
            store(&graph, &["other"], &[]),
            Some("postgres://ml@db/other")
        );
    }
}
