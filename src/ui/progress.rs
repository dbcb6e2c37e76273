//! The terminal view of a build: a consumer of [`Event`]s. On a terminal, a live bar with the
//! actions running now and a line above it per finished action; in logs and CI, plain lines.
//! Everything goes to standard error, so standard output stays free for data (`--format json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Colors;
use super::eta::{History, Left, remaining};
use super::step_output::block;
use super::time::duration;
use crate::exec::event::{Event, Outcome};
use crate::graph::{ActionId, Graph};
use crate::hash::Digest;

/// Slurm's reasons for a pending job that are a busy cluster's ordinary business, which a
/// log without a bar does not repeat for every job.
const ORDINARY_WAITS: &[&str] = &["None", "Priority", "Resources", ""];

/// How many running actions the bar names before it says "+k more".
const RUNNING_NAMED: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A live bar redrawn in place.
    Tty,
    /// One line per event, nothing redrawn: what a log file or a CI console can keep.
    Plain,
}

impl Mode {
    /// The bar needs a terminal that can move its cursor; CI consoles often claim to be
    /// terminals but keep every redraw, so `CI` forces plain lines.
    pub fn detect() -> Mode {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|term| term == "dumb");
        Mode::choose(std::io::stderr().is_terminal() && !dumb, ci)
    }

    pub fn choose(terminal: bool, ci: bool) -> Mode {
        if terminal && !ci {
            Mode::Tty
        } else {
            Mode::Plain
        }
    }
}

/// What a build came to, counted by [`Outcome::status`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub ran: usize,
    pub cached: usize,
    /// Cached actions whose outputs were put back from the local cache.
    pub restored: usize,
    /// Cached actions whose result came from a remote, by the remote's name.
    pub from_remote: BTreeMap<String, usize>,
    pub failed: usize,
    /// Skipped after a failure, or never started because the build stopped.
    pub skipped: usize,
    pub interrupted: usize,
    pub elapsed: Duration,
}

impl Summary {
    pub fn total(&self) -> usize {
        self.ran + self.cached + self.failed + self.skipped + self.interrupted
    }

    fn count(&mut self, outcome: &Outcome) {
        if let Outcome::Cached(done) = outcome {
            match done
                .source
                .as_deref()
                .and_then(|s| s.strip_prefix("remote:"))
            {
                Some(remote) => *self.from_remote.entry(remote.to_string()).or_default() += 1,
                None if done.restored => self.restored += 1,
                None => {}
            }
        }
        let counter = match outcome {
            Outcome::Ran(_) => &mut self.ran,
            Outcome::Cached(_) => &mut self.cached,
            Outcome::Failed(_) => &mut self.failed,
            Outcome::Skipped { .. } | Outcome::Stopped => &mut self.skipped,
            Outcome::Interrupted => &mut self.interrupted,
        };
        *counter += 1;
    }
}

/// How lines are written: the pure half of the view, tested without a terminal.
#[derive(Clone, Copy, Debug)]
pub struct Look {
    pub mode: Mode,
    pub colors: Colors,
    /// Also cached actions (with what they printed when they ran) and why each action ran.
    pub verbose: bool,
    /// Not what steps that succeeded printed.
    pub quiet: bool,
}

impl Look {
    /// The lines for one finished action; none when it is not worth saying. `counter` is
    /// (finished so far, total), shown in plain mode where no bar shows it; `cause` names
    /// why a skipped action was skipped ("fit@lr=0.1 failed").
    pub fn finished(
        &self,
        counter: (usize, usize),
        name: &str,
        outcome: &Outcome,
        cause: Option<&str>,
    ) -> Vec<String> {
        let c = &self.colors;
        let mut details = Vec::new();
        // Already indented, and never coloured: it is the step's own text.
        let mut output = Vec::new();
        let (glyph, text) = match outcome {
            Outcome::Ran(done) => {
                if self.verbose {
                    details.extend(done.reasons.iter().map(|reason| c.dim(reason)));
                }
                if !self.quiet
                    && let Some(printed) = &done.printed
                {
                    output = block(printed, 0);
                }
                let took = c.dim(&format!("({})", duration(done.duration)));
                (c.green("✓"), format!("{} {name} {took}", c.green("ran")))
            }
            Outcome::Cached(done) if self.verbose => {
                // A hit in a teammate's cache explains a fast build; a local one is the norm.
                let from = match done.source.as_deref() {
                    Some(source) if source != "local" => format!(" (from {source})"),
                    _ => String::new(),
                };
                if let Some(printed) = &done.printed {
                    output = block(printed, 0);
                }
                (c.dim("✓"), c.dim(&format!("cached {name}{from}")))
            }
            Outcome::Failed(failure) => {
                output = block(&failure.printed, failure.earlier_lines);
                // Below the text, of which it holds all.
                if let Some(log) = &failure.log {
                    output.push(format!("    log: {}", log.display()));
                }
                let message = if failure.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", failure.message)
                };
                (c.red("✗"), format!("{} {name}{message}", c.red("FAILED")))
            }
            Outcome::Skipped { .. } => {
                let because = cause.map_or(String::new(), |cause| format!(" (because {cause})"));
                (c.dim("-"), format!("skipped {name}{because}"))
            }
            Outcome::Interrupted => (c.red("!"), format!("{} {name}", c.red("interrupted"))),
            // A build that stops leaves many actions unstarted; the summary counts them
            // rather than burying the failure under a line each.
            Outcome::Cached(_) | Outcome::Stopped => return Vec::new(),
        };
        let lead = match self.mode {
            Mode::Tty => glyph,
            Mode::Plain => counter_text(counter),
        };
        let mut lines = vec![format!("{lead} {text}")];
        lines.extend(details.into_iter().map(|line| format!("    {line}")));
        lines.extend(output);
        lines
    }

    pub fn note(&self, message: &str) -> String {
        format!("{} {message}", self.colors.bold("note:"))
    }

    /// `zenbuild: 9 actions: 3 ran, 6 cached (4 restored, 2 from remote team), 0 failed in
    /// 1.4s`; what the cached ones came to, skipped and interrupted only when there are some.
    pub fn summary(&self, summary: &Summary) -> String {
        let c = &self.colors;
        let total = summary.total();
        let actions = if total == 1 { "action" } else { "actions" };
        let failed = format!("{} failed", summary.failed);
        let mut parts = vec![
            format!("{} ran", summary.ran),
            format!("{} cached{}", summary.cached, cached_detail(summary)),
            if summary.failed > 0 {
                c.red(&failed)
            } else {
                failed
            },
        ];
        if summary.skipped > 0 {
            parts.push(format!("{} skipped", summary.skipped));
        }
        if summary.interrupted > 0 {
            parts.push(c.red(&format!("{} interrupted", summary.interrupted)));
        }
        format!(
            "{} {total} {actions}: {} in {}",
            c.bold("zenbuild:"),
            parts.join(", "),
            duration(summary.elapsed)
        )
    }
}

/// ` (4 restored, 2 from remote team)`, or nothing when every cached action's outputs were
/// already in place.
fn cached_detail(summary: &Summary) -> String {
    let mut parts = Vec::new();
    if summary.restored > 0 {
        parts.push(format!("{} restored", summary.restored));
    }
    for (remote, count) in &summary.from_remote {
        parts.push(format!("{count} from remote {remote}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// `[ 3/19]`: the position padded so that a log's lines stay aligned.
fn counter_text((position, total): (usize, usize)) -> String {
    let width = total.to_string().len();
    format!("[{position:>width$}/{total}]")
}

/// The one line of a build that the up-to-date record showed had nothing to do, on stderr
/// like every other line of a build.
pub fn say_up_to_date(colors: Colors, actions: u64, elapsed: Duration) {
    let _ = writeln!(
        std::io::stderr(),
        "{}",
        up_to_date_line(colors, actions, elapsed)
    );
}

/// A note after the build's last line, on stderr.
pub fn say_note(colors: Colors, message: &str) {
    let _ = writeln!(std::io::stderr(), "{} {message}", colors.bold("note:"));
}

/// `zenbuild: 9 actions up to date (nothing changed since the last build) in 0.0s`
pub fn up_to_date_line(colors: Colors, actions: u64, elapsed: Duration) -> String {
    let noun = if actions == 1 { "action" } else { "actions" };
    format!(
        "{} {actions} {noun} up to date (nothing changed since the last build) in {}",
        colors.bold("zenbuild:"),
        duration(elapsed)
    )
}

/// The bar's message: the estimate of what is left, when there is one, then the first few
/// running actions by name with how long each has run, then how many more.
pub fn running_message(eta: Option<Duration>, running: &[(&str, Duration)]) -> String {
    let shown = running.len().min(RUNNING_NAMED);
    let mut message = running[..shown]
        .iter()
        .map(|(name, took)| format!("{name} {}", duration(*took)))
        .collect::<Vec<_>>()
        .join(", ");
    if running.len() > shown {
        let _ = write!(message, " +{} more", running.len() - shown);
    }
    match eta {
        Some(eta) if message.is_empty() => format!("ETA {}", duration(eta)),
        Some(eta) => format!("ETA {} · {message}", duration(eta)),
        None => message,
    }
}

/// What the bar's estimate is made of.
struct Estimate {
    history: History,
    /// Up to `-j` actions run at once.
    slots: usize,
    targets: Vec<ActionId>,
}

/// An action whose command runs now.
struct Running {
    id: ActionId,
    since: Instant,
    key: Option<Digest>,
    /// Why its executor keeps it waiting in a queue (a cluster's), while it does.
    queued: Option<String>,
}

/// The view of one build. Feed it every event with [`Progress::handle`], then
/// [`Progress::finish`].
pub struct Progress {
    look: Look,
    /// Action names by [`ActionId`], copied so the view does not borrow the graph.
    names: Vec<String>,
    /// Each finished action's outcome word, to say why a later action was skipped.
    statuses: Vec<Option<&'static str>>,
    /// In the order they started, so the bar's names do not jump around.
    running: Vec<Running>,
    /// Whether each action (by [`ActionId`]) has finished, for the estimate.
    done: Vec<bool>,
    estimate: Option<Estimate>,
    finished: usize,
    total: usize,
    summary: Summary,
    started: Instant,
    /// `Some` in [`Mode::Tty`].
    bar: Option<ProgressBar>,
    /// Bytes sent to and brought back from the executors' remotes, once any moved.
    transferred: Option<(u64, u64)>,
    out: Box<dyn Write + Send>,
}

impl Progress {
    /// `quiet` hides what steps that succeeded printed; `verbose` adds cached steps.
    pub fn new(
        graph: &Graph,
        colors: Colors,
        (verbose, quiet): (bool, bool),
        mode: Mode,
    ) -> Progress {
        let look = Look {
            mode,
            colors,
            verbose,
            quiet,
        };
        Progress::writing_to(
            graph,
            look,
            Box::new(std::io::stderr()),
            ProgressDrawTarget::stderr(),
        )
    }

    fn writing_to(
        graph: &Graph,
        look: Look,
        out: Box<dyn Write + Send>,
        target: ProgressDrawTarget,
    ) -> Progress {
        let bar = (look.mode == Mode::Tty).then(|| {
            let style = ProgressStyle::with_template(
                "{spinner} [{pos}/{len}] {bar:24} {elapsed:>4} {wide_msg}",
            )
            .expect("the template is valid")
            .progress_chars("=> ");
            ProgressBar::with_draw_target(Some(0), target).with_style(style)
        });
        Progress {
            look,
            names: graph.actions.iter().map(|a| a.name.clone()).collect(),
            statuses: vec![None; graph.actions.len()],
            running: Vec::new(),
            done: vec![false; graph.actions.len()],
            estimate: None,
            finished: 0,
            total: 0,
            summary: Summary::default(),
            started: Instant::now(),
            bar,
            transferred: None,
            out,
        }
    }

    /// Whether the view shows a live bar, which is what an estimate is for.
    pub fn is_live(&self) -> bool {
        self.bar.is_some()
    }

    /// Shows on the bar how long `targets` have left, by `history`, running up to `slots`
    /// at once.
    pub fn estimate_with(&mut self, history: History, targets: &[ActionId], slots: usize) {
        if history.is_empty() {
            return;
        }
        self.estimate = Some(Estimate {
            history,
            slots,
            targets: targets.to_vec(),
        });
    }

    pub fn handle(&mut self, event: &Event) {
        match event {
            Event::Started { total } => {
                self.total = *total;
                if let Some(bar) = &self.bar {
                    bar.set_length(*total as u64);
                    // Redraws while nothing happens, so the elapsed time keeps moving.
                    bar.enable_steady_tick(Duration::from_millis(100));
                }
            }
            Event::Running { id, key } => {
                self.running.push(Running {
                    id: *id,
                    since: Instant::now(),
                    key: *key,
                    queued: None,
                });
                self.update_bar();
            }
            Event::Transferred { sent, received } => {
                self.transferred = Some((*sent, *received));
                self.update_bar();
            }
            Event::Queued { id, reason } => {
                if let Some(running) = self.running.iter_mut().find(|r| r.id == *id) {
                    running.queued.clone_from(reason);
                }
                // Without a bar, a line for what keeps a job waiting that is not the
                // cluster's ordinary business (its turn, free resources).
                if self.bar.is_none()
                    && let Some(reason) = reason
                    && !ORDINARY_WAITS.contains(&reason.as_str())
                {
                    let line = self.look.note(&format!(
                        "{} waits in its executor's queue: {reason}",
                        self.names[id.0]
                    ));
                    self.say(&[line]);
                }
                self.update_bar();
            }
            Event::Finished { id, outcome } => {
                self.running.retain(|running| running.id != *id);
                self.done[id.0] = true;
                self.finished += 1;
                self.total = self.total.max(self.finished);
                self.statuses[id.0] = Some(outcome.status());
                self.summary.count(outcome);
                let cause = match outcome {
                    Outcome::Skipped { because } => Some(self.cause(*because)),
                    _ => None,
                };
                let lines = self.look.finished(
                    (self.finished, self.total),
                    &self.names[id.0],
                    outcome,
                    cause.as_deref(),
                );
                self.say(&lines);
                self.update_bar();
            }
            Event::Note { message } => {
                let line = self.look.note(message);
                self.say(&[line]);
            }
            // The running steps' times move on.
            Event::Waiting => self.update_bar(),
        }
    }

    /// Clears the bar and prints the summary line.
    pub fn finish(mut self) -> Summary {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let summary = Summary {
            elapsed: self.started.elapsed(),
            ..std::mem::take(&mut self.summary)
        };
        let line = self.look.summary(&summary);
        self.say(&[line]);
        summary
    }

    fn cause(&self, because: ActionId) -> String {
        let what = match self.statuses[because.0] {
            Some("interrupted") => "was interrupted",
            _ => "failed",
        };
        format!("{} {what}", self.names[because.0])
    }

    fn update_bar(&self) {
        if let Some(bar) = &self.bar {
            let now = Instant::now();
            let names: Vec<String> = self
                .running
                .iter()
                .map(|r| match &r.queued {
                    Some(reason) => format!("{} queued ({reason})", self.names[r.id.0]),
                    None => self.names[r.id.0].clone(),
                })
                .collect();
            let running: Vec<(&str, Duration)> = self
                .running
                .iter()
                .zip(&names)
                .map(|(r, name)| (name.as_str(), now.duration_since(r.since)))
                .collect();
            bar.set_length(self.total as u64);
            bar.set_position(self.finished as u64);
            let mut message = running_message(self.eta(now), &running);
            if let Some((sent, received)) = self.transferred {
                message = format!(
                    "↑{} ↓{} · {message}",
                    crate::ui::size::bytes(sent),
                    crate::ui::size::bytes(received)
                );
            }
            bar.set_message(message);
        }
    }

    /// What is left of the build, by the durations of the same actions' past runs.
    fn eta(&self, now: Instant) -> Option<Duration> {
        let estimate = self.estimate.as_ref()?;
        let left: Vec<Left> = estimate
            .targets
            .iter()
            .filter(|id| !self.done[id.0])
            .map(|id| {
                let running = self.running.iter().find(|r| r.id == *id);
                Left {
                    expected: estimate
                        .history
                        .expected(&self.names[id.0], running.and_then(|r| r.key.as_ref())),
                    running_for: running.map(|r| now.duration_since(r.since)),
                }
            })
            .collect();
        remaining(&left, estimate.slots)
    }

    /// Writes lines above the bar. A closed standard error must not end the build, so
    /// write errors are ignored.
    fn say(&mut self, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        let mut text = lines.join("\n");
        text.push('\n');
        let out = &mut self.out;
        let mut write = || {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        };
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

impl Drop for Progress {
    /// A build that ends early (an error, a panic) must not leave a stale bar on screen.
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::exec::event::{Done, Failure, Printed};

    use crate::ui::test_pipeline::{graph, id};

    fn plain(verbose: bool) -> Look {
        Look {
            mode: Mode::Plain,
            colors: Colors { enabled: false },
            verbose,
            quiet: false,
        }
    }

    fn ran(millis: u64) -> Outcome {
        Outcome::Ran(Box::new(Done {
            duration: Duration::from_millis(millis),
            reasons: vec!["data/raw.csv changed (3f2a9c1e → 9c1e3f2a)".into()],
            ..Done::default()
        }))
    }

    fn failed() -> Outcome {
        Outcome::Failed(Failure {
            message: "exited with code 1".into(),
            printed: Printed::Kept {
                text: "Traceback (most recent call last):\nValueError: lr\n".into(),
                cut: false,
            },
            log: Some(PathBuf::from(".zenbuild/logs/fit.log")),
            ..Failure::default()
        })
    }

    /// A writer the test can read back after the view has written to it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// Plays a build in which one fit fails: prepare runs, a fit fails, report is skipped.
    fn play(look: Look) -> (String, Summary) {
        let graph = graph();
        let captured = Captured::default();
        let mut progress = Progress::writing_to(
            &graph,
            look,
            Box::new(captured.clone()),
            ProgressDrawTarget::hidden(),
        );
        let fit_a = id(&graph, "fit@lr=0.1,depth=3");
        let fit_b = id(&graph, "fit@lr=0.3,depth=3");
        let events = [
            Event::Started { total: 4 },
            Event::Running {
                id: id(&graph, "prepare"),
                key: None,
            },
            Event::Finished {
                id: id(&graph, "prepare"),
                outcome: ran(400),
            },
            Event::Finished {
                id: fit_b,
                outcome: Outcome::Cached(Box::default()),
            },
            Event::Running {
                id: fit_a,
                key: None,
            },
            Event::Note {
                message: "remote cache unreachable".into(),
            },
            Event::Finished {
                id: fit_a,
                outcome: failed(),
            },
            Event::Finished {
                id: id(&graph, "report"),
                outcome: Outcome::Skipped { because: fit_a },
            },
        ];
        for event in &events {
            progress.handle(event);
        }
        let summary = progress.finish();
        (captured.text(), summary)
    }

    #[test]
    fn plain_mode_prints_a_line_per_finished_action() {
        let (text, summary) = play(plain(false));
        let summary_line = text.lines().last().unwrap();
        assert!(
            summary_line
                .starts_with("zenbuild: 4 actions: 1 ran, 1 cached, 1 failed, 1 skipped in "),
            "{summary_line}"
        );
        let body: Vec<&str> = text.lines().collect();
        assert_eq!(
            body[..body.len() - 1],
            [
                "[1/4] ran prepare (0.4s)",
                "note: remote cache unreachable",
                "[3/4] FAILED fit@lr=0.1,depth=3: exited with code 1",
                "    Traceback (most recent call last):",
                "    ValueError: lr",
                "    log: .zenbuild/logs/fit.log",
                "[4/4] skipped report (because fit@lr=0.1,depth=3 failed)",
            ]
        );
        assert_eq!(
            (summary.ran, summary.cached, summary.failed, summary.skipped),
            (1, 1, 1, 1)
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn verbose_adds_cached_actions_and_reasons() {
        let (text, _) = play(plain(true));
        assert!(text.contains("[1/4] ran prepare (0.4s)\n    data/raw.csv changed"));
        assert!(text.contains("[2/4] cached fit@lr=0.3,depth=3\n"));
    }

    #[test]
    fn tty_mode_marks_lines_instead_of_counting() {
        let look = Look {
            mode: Mode::Tty,
            ..plain(false)
        };
        let (text, _) = play(look);
        assert!(text.starts_with("✓ ran prepare (0.4s)\n"), "{text}");
        assert!(text.contains("✗ FAILED fit@lr=0.1,depth=3: exited with code 1\n"));
        assert!(text.contains("- skipped report (because fit@lr=0.1,depth=3 failed)\n"));
        assert!(!text.contains("cached fit"));
    }

    #[test]
    fn colours_only_when_enabled() {
        let coloured = Look {
            colors: Colors { enabled: true },
            ..plain(false)
        };
        let lines = coloured.finished((5, 9), "fit", &failed(), None);
        assert!(lines[0].contains("\x1b[1;31mFAILED\x1b[0m"));
        let lines = plain(false).finished((5, 9), "fit", &failed(), None);
        assert_eq!(lines[0], "[5/9] FAILED fit: exited with code 1");
    }

    #[test]
    fn cached_lines_name_a_remote_source() {
        let hit = Outcome::Cached(Box::new(Done {
            source: Some("team".into()),
            ..Done::default()
        }));
        assert_eq!(
            plain(true).finished((4, 9), "fit", &hit, None),
            ["[4/9] cached fit (from team)"]
        );
        assert!(plain(false).finished((4, 9), "fit", &hit, None).is_empty());
    }

    #[test]
    fn interrupted_and_stopped() {
        let look = plain(false);
        assert_eq!(
            look.finished((2, 10), "fit", &Outcome::Interrupted, None),
            ["[ 2/10] interrupted fit"]
        );
        assert!(
            look.finished((3, 10), "fit", &Outcome::Stopped, None)
                .is_empty()
        );
    }

    #[test]
    fn an_interrupted_cause_is_named_as_such() {
        let graph = graph();
        let captured = Captured::default();
        let mut progress = Progress::writing_to(
            &graph,
            plain(false),
            Box::new(captured.clone()),
            ProgressDrawTarget::hidden(),
        );
        let prepare = id(&graph, "prepare");
        progress.handle(&Event::Started { total: 2 });
        progress.handle(&Event::Finished {
            id: prepare,
            outcome: Outcome::Interrupted,
        });
        progress.handle(&Event::Finished {
            id: id(&graph, "report"),
            outcome: Outcome::Skipped { because: prepare },
        });
        assert!(
            captured
                .text()
                .ends_with("[2/2] skipped report (because prepare was interrupted)\n")
        );
    }

    fn ran_printing(text: &str) -> Outcome {
        Outcome::Ran(Box::new(Done {
            printed: Some(Printed::Kept {
                text: text.into(),
                cut: false,
            }),
            ..Done::default()
        }))
    }

    #[test]
    fn a_step_that_ran_shows_what_it_printed_under_its_line_unless_quiet() {
        let look = plain(false);
        assert_eq!(
            look.finished(
                (1, 2),
                "fit",
                &ran_printing("epoch 1\nFutureWarning: x\n"),
                None
            ),
            [
                "[1/2] ran fit (0.0s)",
                "    epoch 1",
                "    FutureWarning: x"
            ]
        );
        assert_eq!(
            look.finished((1, 2), "fit", &ran_printing(""), None),
            ["[1/2] ran fit (0.0s)"]
        );
        let quiet = Look {
            quiet: true,
            ..look
        };
        assert_eq!(
            quiet.finished((1, 2), "fit", &ran_printing("epoch 1\n"), None),
            ["[1/2] ran fit (0.0s)"]
        );
        // A failure shows its tail even then.
        assert!(
            quiet
                .finished((1, 2), "fit", &failed(), None)
                .contains(&"    ValueError: lr".to_string())
        );
    }

    #[test]
    fn a_cached_step_replays_its_output_when_verbose() {
        let cached = |printed| {
            Outcome::Cached(Box::new(Done {
                printed: Some(printed),
                ..Done::default()
            }))
        };
        let look = plain(true);
        let text = Printed::Kept {
            text: "epoch 1\n".into(),
            cut: false,
        };
        assert_eq!(
            look.finished((1, 1), "fit", &cached(text), None),
            ["[1/1] cached fit", "    epoch 1"]
        );
        assert_eq!(
            look.finished((1, 1), "fit", &cached(Printed::NotInCache), None),
            ["[1/1] cached fit", "    (its output is not in the cache)"]
        );
    }

    #[test]
    fn summary_line() {
        let summary = Summary {
            ran: 3,
            cached: 6,
            elapsed: Duration::from_millis(1400),
            ..Summary::default()
        };
        assert_eq!(
            plain(false).summary(&summary),
            "zenbuild: 9 actions: 3 ran, 6 cached, 0 failed in 1.4s"
        );
        let cached = Summary {
            cached: 17,
            restored: 12,
            from_remote: BTreeMap::from([("team".to_string(), 5)]),
            ..Summary::default()
        };
        assert_eq!(
            plain(false).summary(&cached),
            "zenbuild: 17 actions: 0 ran, 17 cached (12 restored, 5 from remote team), 0 failed in 0.0s"
        );
        let one = Summary {
            interrupted: 1,
            ..Summary::default()
        };
        assert_eq!(
            plain(false).summary(&one),
            "zenbuild: 1 action: 0 ran, 0 cached, 0 failed, 1 interrupted in 0.0s"
        );
    }

    #[test]
    fn up_to_date() {
        let colors = Colors { enabled: false };
        assert_eq!(
            up_to_date_line(colors, 1, Duration::from_millis(4)),
            "zenbuild: 1 action up to date (nothing changed since the last build) in 0.0s"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(duration(Duration::from_secs(65)), "1m05s");
        assert_eq!(
            duration(Duration::from_hours(3) + Duration::from_mins(2)),
            "3h02m"
        );
    }

    #[test]
    fn running_names_a_few_with_their_times_then_counts() {
        let t = Duration::from_millis(1500);
        assert_eq!(
            running_message(None, &[("a", t), ("b", t)]),
            "a 1.5s, b 1.5s"
        );
        assert_eq!(
            running_message(None, &[("a", t), ("b", t), ("c", t), ("d", t), ("e", t)]),
            "a 1.5s, b 1.5s, c 1.5s +2 more"
        );
        assert_eq!(running_message(None, &[]), "");
        let eta = Some(Duration::from_secs(65));
        assert_eq!(running_message(eta, &[("a", t)]), "ETA 1m05s · a 1.5s");
        assert_eq!(running_message(eta, &[]), "ETA 1m05s");
    }

    #[test]
    fn the_estimate_counts_what_has_not_finished() {
        let graph = graph();
        let mut progress = Progress::writing_to(
            &graph,
            plain(false),
            Box::new(Captured::default()),
            ProgressDrawTarget::hidden(),
        );
        let targets: Vec<ActionId> = (0..graph.actions.len()).map(ActionId).collect();
        let key = Digest::of(b"fit key");
        let history = History::new([
            ("prepare".to_string(), None, Duration::from_secs(10)),
            (
                "fit@lr=0.1,depth=3".to_string(),
                Some(key),
                Duration::from_secs(20),
            ),
            (
                "fit@lr=0.3,depth=3".to_string(),
                None,
                Duration::from_secs(20),
            ),
            ("report".to_string(), None, Duration::from_secs(10)),
        ]);
        progress.estimate_with(history, &targets, 1);
        let now = Instant::now();
        assert_eq!(progress.eta(now), Some(Duration::from_mins(1)));
        progress.handle(&Event::Finished {
            id: id(&graph, "prepare"),
            outcome: ran(1),
        });
        assert_eq!(progress.eta(now), Some(Duration::from_secs(50)));
        progress.handle(&Event::Finished {
            id: id(&graph, "fit@lr=0.3,depth=3"),
            outcome: Outcome::Cached(Box::default()),
        });
        assert_eq!(progress.eta(now), Some(Duration::from_secs(30)));
    }

    #[test]
    fn mode_is_plain_off_a_terminal_and_in_ci() {
        assert_eq!(Mode::choose(true, false), Mode::Tty);
        assert_eq!(Mode::choose(true, true), Mode::Plain);
        assert_eq!(Mode::choose(false, false), Mode::Plain);
    }
}
