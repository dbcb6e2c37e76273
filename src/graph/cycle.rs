//! Dependency cycles, named step by step.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;

use super::action::{Action, ActionId};
use crate::manifest::Diag;

/// One diagnostic per cycle among `actions`, listing every step on it in data-flow order.
pub fn find_cycles(actions: &[Action]) -> Vec<Diag> {
    // Most manifests have none, which one walk shows; the components below cost an
    // allocation per action (a twentieth of checking 100,000 steps).
    if !has_cycle(actions.len(), |index| &actions[index].deps) {
        return Vec::new();
    }
    let mut graph: DiGraph<ActionId, ()> = DiGraph::with_capacity(actions.len(), 0);
    let nodes: Vec<_> = (0..actions.len())
        .map(|i| graph.add_node(ActionId(i)))
        .collect();
    for (index, action) in actions.iter().enumerate() {
        for dep in &action.deps {
            graph.add_edge(nodes[dep.0], nodes[index], ());
        }
    }
    let mut reported: HashSet<Vec<String>> = HashSet::new();
    let mut diags = Vec::new();
    for component in tarjan_scc(&graph) {
        let first = graph[component[0]];
        let is_cycle = component.len() > 1 || actions[first.0].deps.contains(&first);
        if !is_cycle {
            continue;
        }
        let members: HashSet<ActionId> = component.iter().map(|&n| graph[n]).collect();
        let start = *members.iter().min().unwrap_or(&first);
        let path = cycle_through(actions, &members, start);
        let mut steps: Vec<&Action> = Vec::new();
        for id in &path {
            let action = &actions[id.0];
            if steps.last().is_none_or(|last| last.step != action.step) {
                steps.push(action);
            }
        }
        if steps.len() > 1 && steps.first().map(|a| &a.step) == steps.last().map(|a| &a.step) {
            steps.pop();
        }
        let names: Vec<String> = steps.iter().map(|a| a.step.clone()).collect();
        let mut key = names.clone();
        key.sort();
        if !reported.insert(key) {
            continue;
        }
        diags.push(cycle_diag(&names, &steps));
    }
    diags
}

/// Whether following dependencies (`deps(index)` of each of `count` nodes) ever comes back
/// to a node still being followed: a depth-first walk with its own stack, so that a long
/// chain cannot overflow the thread's.
fn has_cycle<'a>(count: usize, deps: impl Fn(usize) -> &'a [ActionId]) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut marks = vec![Mark::New; count];
    // Each open node and how many of its dependencies were followed.
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for start in 0..count {
        if marks[start] != Mark::New {
            continue;
        }
        marks[start] = Mark::Open;
        stack.push((start, 0));
        while let Some(&(node, followed)) = stack.last() {
            let Some(dep) = deps(node).get(followed) else {
                marks[node] = Mark::Done;
                stack.pop();
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            match marks[dep.0] {
                Mark::Open => return true,
                Mark::Done => {}
                Mark::New => {
                    marks[dep.0] = Mark::Open;
                    stack.push((dep.0, 0));
                }
            }
        }
    }
    false
}

fn cycle_diag(names: &[String], steps: &[&Action]) -> Diag {
    if names.len() == 1 {
        let step = steps[0];
        return Diag::new(
            "dependency-cycle",
            format!("step `{}` depends on itself", step.step),
        )
        .label(step.span, "this step needs its own outputs")
        .help("a step cannot need itself; remove it from its own `needs`");
    }
    let mut chain = names.join(" → ");
    let _ = write!(chain, " → {}", names[0]);
    let mut diag = Diag::new("dependency-cycle", format!("dependency cycle: {chain}"));
    let mut labelled = HashSet::new();
    for step in steps {
        if labelled.insert(&step.step) {
            diag = diag.label(step.span, format!("`{}` is on the cycle", step.step));
        }
    }
    diag.help("each step's inputs come from the outputs or `needs` of the one before it; break the cycle by removing one of those dependencies")
}

/// The actions of one cycle through `start`, inside `members`, starting at `start` and in
/// data-flow order: each one feeds the next, and the last feeds `start`.
fn cycle_through(
    actions: &[Action],
    members: &HashSet<ActionId>,
    start: ActionId,
) -> Vec<ActionId> {
    // Breadth-first along "depends on" edges; `led_from[x] = y` means y depends on x.
    let mut led_from: HashMap<ActionId, ActionId> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    let mut seen = HashSet::from([start]);
    while let Some(current) = queue.pop_front() {
        for &dep in &actions[current.0].deps {
            if !members.contains(&dep) {
                continue;
            }
            if dep == start {
                // current depends on start, and each step back along led_from depends on the
                // one before it: [current, …, start] is already the order data flows in.
                let mut path = vec![current];
                let mut at = current;
                while at != start {
                    at = led_from[&at];
                    path.push(at);
                }
                path.rotate_right(1);
                return path;
            }
            if seen.insert(dep) {
                led_from.insert(dep, current);
                queue.push_back(dep);
            }
        }
    }
    vec![start]
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The quick walk agrees with petgraph on whether there is a cycle.
        #[test]
        fn has_cycle_agrees_with_petgraph(
            edges in proptest::collection::vec((0usize..12, 0usize..12), 0..30),
        ) {
            let mut deps: Vec<Vec<ActionId>> = vec![Vec::new(); 12];
            let mut graph: DiGraph<(), ()> = DiGraph::new();
            let nodes: Vec<_> = (0..12).map(|_| graph.add_node(())).collect();
            for &(from, to) in &edges {
                deps[from].push(ActionId(to));
                graph.add_edge(nodes[to], nodes[from], ());
            }
            proptest::prop_assert_eq!(
                has_cycle(deps.len(), |index| &deps[index]),
                petgraph::algo::is_cyclic_directed(&graph)
            );
        }
    }
}
