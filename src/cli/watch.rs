//! `zenbuild watch [TARGET…]`: build, then rebuild whenever a source input, the manifest, an
//! included file or a params file changes, until `q` (and Enter) or Ctrl-C.
//!
//! A cycle compiles the manifest (an invalid one shows its errors and waits for the next
//! edit), builds the targets like `zenbuild build` (the engine reruns only what the change
//! reaches) and says what triggered it. The loop, debouncing and stopping actions whose
//! inputs change under them, is [`crate::watch::run_loop`]; this file gives it the
//! arguments and renders what it says.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use clap::Args;

use super::build::BuildOptions;
use super::build_view::BuildView;
use super::targets::select_or_default;
use crate::error::Error;
use crate::exec::event::Outcome;
use crate::exec::interrupt::Interrupt;
use crate::exec::{BuildRequest, RunKind, RunReport, Sink, up_to_date};
use crate::ui::time::duration;
use crate::ui::{Colors, print_error};
use crate::watch::run_loop::{self, Compiled, Host, Shown, Trigger};
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

pub fn run(workspace: &Workspace, args: &WatchArgs, colors: Colors) -> Result<(), Error> {
    let interrupt = Interrupt::install().unwrap_or_else(|_| Interrupt::new());
    listen_for_quit(interrupt.clone());
    let mut host = Terminal {
        workspace,
        args,
        colors,
    };
    run_loop::run(
        workspace,
        Duration::from_millis(args.debounce),
        &interrupt,
        &mut host,
    )
}

/// Watch mode on the terminal: the cycles `args` ask for, shown on stderr.
struct Terminal<'a> {
    workspace: &'a Workspace,
    args: &'a WatchArgs,
    colors: Colors,
}

impl Host for Terminal<'_> {
    fn compile(&mut self) -> Result<Compiled, Error> {
        let (manifest, graph) = crate::load_graph(self.workspace)?;
        let targets = select_or_default(&graph, &self.args.targets)?;
        Ok(Compiled {
            manifest,
            graph,
            targets,
        })
    }

    fn request(&mut self, compiled: &Compiled, started_ns: i64) -> Result<BuildRequest, Error> {
        if self.args.build.force.any() {
            // Forced on every cycle, a step would rerun at each save of an unrelated file.
            return Err(Error::BadArgument(
                "--force and --force-all force one build: use `zenbuild build --force …`, then watch".into(),
            ));
        }
        let selection = up_to_date::selection(&self.args.targets, false);
        let request = self.args.build.request(
            &compiled.graph,
            compiled.targets.clone(),
            selection,
            started_ns,
        )?;
        Ok(BuildRequest {
            kind: RunKind::Watch,
            metadata: super::targets::own_store(&compiled.graph, &self.args.targets)?,
            ..request
        })
    }

    fn sink<'g>(
        &mut self,
        compiled: &'g Compiled,
        request: &BuildRequest,
    ) -> Box<dyn Sink + Send + 'g> {
        Box::new(BuildView::new(
            self.workspace,
            &compiled.graph,
            request,
            self.colors,
        ))
    }

    fn show(&mut self, shown: Shown<'_>) {
        let colors = self.colors;
        match shown {
            Shown::CycleStarting if self.args.clear => clear_screen(),
            Shown::CycleStarting => {}
            Shown::ManifestErrors(error) => print_error(error, colors),
            Shown::WaitingForManifest => {
                say(colors, "the manifest has errors: waiting for it to change");
            }
            Shown::CycleDone {
                trigger,
                report,
                took,
            } => say(colors, &cycle_line(trigger, report, took)),
            Shown::Watching { dirs, actions } => say(
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
            ),
        }
    }
}

/// `changed: src/train.py → 3 actions ran; 2.1s`
fn cycle_line(trigger: &Trigger, done: &RunReport, took: Duration) -> String {
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
    let mut line = match trigger {
        Trigger::FirstBuild => format!("first build: {ran} {actions} ran"),
        Trigger::Changed(what) => format!("changed: {what} → {ran} {actions} ran"),
    };
    if done.failed > 0 {
        let _ = write!(line, ", {} failed", done.failed);
    }
    if stopped > 0 {
        let _ = write!(line, ", {stopped} stopped to rerun");
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
