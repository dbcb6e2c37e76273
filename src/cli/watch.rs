//! `zenbuild watch [TARGET…]`: build, then rebuild whenever a source input, the manifest, an
//! included file or a params file changes, until `q` (and Enter) or Ctrl-C.
//!
//! A cycle compiles the manifest (an invalid one shows its errors and waits for the next
//! edit), builds the targets like `zenbuild build` (the engine reruns only what the change
//! reaches) and says what triggered it. While it builds, changes keep arriving: an action
//! whose inputs change under it is stopped and runs again in the next cycle, and the others
//! finish. Changes that leave the bytes as they were (a `touch`, a save without edits) start
//! nothing, and what steps write never counts.

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use super::build::{BuildOptions, STAT_CACHE};
use super::cycle::{Cycle, Done};
use super::targets::select_or_default;
use crate::error::Error;
use crate::exec::event::Outcome;
use crate::exec::interrupt::Interrupt;
use crate::exec::stops::ActionStops;
use crate::exec::up_to_date;
use crate::hash::{FileSystem, RealFileSystem, StatCache};
use crate::ui::time::duration;
use crate::ui::{Colors, print_error};
use crate::watch::Known;
use crate::watch::plan::{Change, WatchPlan};
use crate::watch::watcher::{Next, Watcher};
use crate::workspace::Workspace;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Pipelines, steps or actions (default: the default pipeline)
    pub targets: Vec<String>,

    /// Quiet time after a change before building, in milliseconds
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub debounce: u64,

    /// Clear the screen before each cycle
    #[arg(long)]
    pub clear: bool,

    #[command(flatten)]
    pub build: BuildOptions,
}

/// How long the loop waits for a notification before looking at Ctrl-C and `q` again.
const TICK: Duration = Duration::from_millis(50);

pub fn run(workspace: &Workspace, args: &WatchArgs, colors: Colors) -> Result<(), Error> {
    let interrupt = Interrupt::install().unwrap_or_else(|_| Interrupt::new());
    listen_for_quit(interrupt.clone());
    let mut watcher = Watcher::new()?;
    let stops = ActionStops::default();
    let mut known = Known::default();
    let mut manifests: HashSet<PathBuf> = HashSet::from([workspace.manifest.clone()]);
    let debounce = Duration::from_millis(args.debounce);
    let mut trigger = "first build".to_string();
    loop {
        let started = Instant::now();
        let started_ns = RealFileSystem.now_ns();
        if args.clear {
            clear_screen();
        }
        let compiled = crate::load_graph(workspace).and_then(|(manifest, graph)| {
            let targets = select_or_default(&graph, &args.targets)?;
            Ok((manifest, graph, targets))
        });
        let (manifest, graph, targets) = match compiled {
            Ok(compiled) => compiled,
            Err(error) => {
                print_error(&error, colors);
                let plan = WatchPlan::manifest_only(&workspace.root, manifests.clone());
                watcher.watch(&plan.dirs)?;
                say(colors, "the manifest has errors: waiting for it to change");
                match wait_for_change(&watcher, &plan, &mut known, workspace, debounce, &interrupt)?
                {
                    Some(what) => {
                        trigger = what;
                        continue;
                    }
                    None => return Ok(()),
                }
            }
        };
        known.learn_manifest(&manifest);
        let plan = WatchPlan::new(&workspace.root, &manifest, &graph, &targets);
        manifests = plan.manifests().clone();
        watcher.watch(&plan.dirs)?;
        stops.reset();
        let selection = up_to_date::selection(&args.targets, false);
        let cycle = Cycle {
            workspace,
            manifest: &manifest,
            graph: &graph,
            targets: &targets,
            selection: &selection,
            options: &args.build,
            colors,
            started_ns,
            kind: "watch",
            stops: Some(&stops),
        };
        let (done, noted, mut pending) =
            build_while_watching(&cycle, &interrupt, &watcher, (&plan, &mut known), &stops)?;
        known.learn_build(&done.outcomes, &plan, &noted);
        say(colors, &cycle_line(&trigger, &done, started.elapsed()));
        if interrupt.is_triggered() {
            return Ok(());
        }
        // Changes that arrived during the build start the next cycle at once.
        if let Some(what) = pending.take() {
            trigger = what;
            continue;
        }
        let (dirs, actions) = (watcher.len(), targets.len());
        say(
            colors,
            &format!(
                "watching {dirs} {} for changes to {actions} {} (q and Enter, or Ctrl-C, to quit)",
                if dirs == 1 {
                    "directory"
                } else {
                    "directories"
                },
                if actions == 1 { "action" } else { "actions" },
            ),
        );
        match wait_for_change(&watcher, &plan, &mut known, workspace, debounce, &interrupt)? {
            Some(what) => trigger = what,
            None => return Ok(()),
        }
    }
}

/// Runs the cycle in a thread while this one keeps reading notifications: an action whose
/// source changes under it is stopped. Returns the cycle's end, the sources that changed
/// meanwhile, and how to say what changed.
fn build_while_watching(
    cycle: &Cycle,
    interrupt: &Interrupt,
    watcher: &Watcher,
    (plan, known): (&WatchPlan, &mut Known),
    stops: &ActionStops,
) -> Result<(Done, HashSet<String>, Option<String>), Error> {
    let root = &cycle.workspace.root;
    let mut changed: Vec<String> = Vec::new();
    let mut noted = HashSet::new();
    let done = std::thread::scope(|scope| {
        let build = scope.spawn(|| cycle.run(None, Some(interrupt.clone())));
        let mut cache: Option<StatCache> = None;
        while !build.is_finished() {
            let Ok(Next::Paths(paths)) = watcher.next(TICK) else {
                continue;
            };
            for change in paths.iter().filter_map(|path| plan.classify(path)) {
                let cache = cache.get_or_insert_with(|| StatCache::load(&root.join(STAT_CACHE)));
                if !known.check(&change, plan, root, cache) {
                    continue;
                }
                if let Change::Source(source) = &change {
                    noted.insert(source.clone());
                    for id in plan.affected(cycle.graph, std::slice::from_ref(source)) {
                        stops.cancel(&cycle.graph.action(id).name);
                    }
                }
                let what = describe(&change, root);
                if !changed.contains(&what) {
                    changed.push(what);
                }
            }
        }
        build.join()
    });
    let done = match done {
        Ok(done) => done?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let pending = (!changed.is_empty()).then(|| changed.join(", "));
    Ok((done, noted, pending))
}

/// Waits until a change that alters bytes arrives and settles; `None` when asked to quit.
fn wait_for_change(
    watcher: &Watcher,
    plan: &WatchPlan,
    known: &mut Known,
    workspace: &Workspace,
    debounce: Duration,
    interrupt: &Interrupt,
) -> Result<Option<String>, Error> {
    let root = &workspace.root;
    loop {
        let mut changes: Vec<Change> = Vec::new();
        // Collect until the paths have been quiet for the debounce (at most ten of them, so
        // that a steady stream of writes still gets built).
        let mut deadline: Option<Instant> = None;
        let mut cap: Option<Instant> = None;
        loop {
            if interrupt.is_triggered() {
                return Ok(None);
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline)
                || cap.is_some_and(|cap| Instant::now() >= cap)
            {
                break;
            }
            let wait = deadline.map_or(TICK, |d| d.saturating_duration_since(Instant::now()));
            match watcher.next(wait.min(TICK)) {
                Ok(Next::Paths(paths)) => {
                    let relevant: Vec<Change> = paths
                        .iter()
                        .filter_map(|path| plan.classify(path))
                        .collect();
                    if !relevant.is_empty() {
                        let now = Instant::now();
                        deadline = Some(now + debounce);
                        cap.get_or_insert(now + debounce * 10);
                        for change in relevant {
                            if !changes.contains(&change) {
                                changes.push(change);
                            }
                        }
                    }
                }
                Ok(Next::Timeout) => {}
                // A lost notification could hide a change: build to find out.
                Err(e) => return Ok(Some(e.to_string())),
            }
        }
        let cache = StatCache::load(&root.join(STAT_CACHE));
        let real: Vec<String> = changes
            .iter()
            .filter(|change| known.check(change, plan, root, &cache))
            .map(|change| describe(change, root))
            .collect();
        if !real.is_empty() {
            return Ok(Some(real.join(", ")));
        }
    }
}

fn describe(change: &Change, root: &std::path::Path) -> String {
    match change {
        Change::Source(path) | Change::NewMatch(path) => path.clone(),
        Change::Manifest(path) => path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string(),
    }
}

/// `changed: src/train.py → 3 actions ran; 2.1s`
fn cycle_line(trigger: &str, done: &Done, took: Duration) -> String {
    let ran = done
        .outcomes
        .iter()
        .filter(|(_, outcome)| matches!(outcome, Outcome::Ran(_)))
        .count();
    let stopped = done
        .outcomes
        .iter()
        .filter(|(_, outcome)| matches!(outcome, Outcome::Interrupted))
        .count();
    let actions = if ran == 1 { "action" } else { "actions" };
    let mut line = if trigger == "first build" {
        format!("first build: {ran} {actions} ran")
    } else {
        format!("changed: {trigger} → {ran} {actions} ran")
    };
    if done.failed > 0 {
        line.push_str(&format!(", {} failed", done.failed));
    }
    if stopped > 0 {
        line.push_str(&format!(", {stopped} stopped to rerun"));
    }
    format!("{line}; {}", duration(took))
}

fn say(colors: Colors, message: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "{} {message}",
        colors.bold("zenbuild watch:")
    );
}

fn clear_screen() {
    if std::io::stderr().is_terminal() {
        let _ = write!(std::io::stderr(), "\x1b[2J\x1b[H");
    }
}

/// `q` and Enter on standard input quits, like Ctrl-C. Standard input that ends (a closed
/// pipe, `/dev/null`) quits nothing.
fn listen_for_quit(interrupt: Interrupt) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if line.trim() == "q" {
                interrupt.trigger();
                return;
            }
        }
    });
}
