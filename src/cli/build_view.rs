//! How a build looks on the terminal: the engine's events rendered by [`Progress`] and kept
//! for the `--report` JSON. Notes after the build's summary line go to stderr on their own.

use std::path::Path;

use crate::error::Error;
use crate::exec::{BuildRequest, Event, Sink};
use crate::graph::Graph;
use crate::lineage::durations;
use crate::ui::Colors;
use crate::ui::build_report::BuildReport;
use crate::ui::eta::History;
use crate::ui::progress::{Mode, Progress, say_note};
use crate::workspace::Workspace;

/// One build's view: the progress until the scheduler is done, then plain notes.
pub struct BuildView<'g> {
    graph: &'g Graph,
    colors: Colors,
    /// `None` once the summary line is out.
    progress: Option<Progress>,
    /// What `--report` writes; `None` unless asked for (see [`BuildView::with_report`]).
    report: Option<BuildReport>,
}

impl<'g> BuildView<'g> {
    /// The view of the build `request` asks for: `-v` and `-q` are what it reads back.
    pub fn new(
        workspace: &Workspace,
        graph: &'g Graph,
        request: &BuildRequest,
        colors: Colors,
    ) -> BuildView<'g> {
        let (verbose, quiet) = (request.show_output.cached, !request.show_output.ran);
        let mut progress = Progress::new(graph, colors, (verbose, quiet), Mode::detect());
        // Read only for a live bar: a log or CI console shows no estimate.
        if progress.is_live() {
            let ran = durations::ran_durations(&workspace.state_dir().lineage_db());
            let slots = request.cpu_slots.min(512) as usize;
            progress.estimate_with(History::new(ran), &request.targets, slots);
        }
        BuildView {
            graph,
            colors,
            progress: Some(progress),
            report: None,
        }
    }

    /// Keeps what the report says of every action, for [`BuildView::write_report`]: a copy
    /// of each outcome, which only a build asked for a report makes.
    #[must_use]
    pub fn with_report(self) -> Self {
        BuildView {
            report: Some(BuildReport::new()),
            ..self
        }
    }

    /// Writes the JSON report of every action to `path`: one without actions unless the view
    /// was made [`BuildView::with_report`].
    pub fn write_report(&self, path: &Path) -> Result<(), Error> {
        self.report
            .as_ref()
            .unwrap_or(&BuildReport::new())
            .write(path)
            .map_err(|e| Error::io(format!("cannot write the report {}", path.display()), e))
    }
}

impl Sink for BuildView<'_> {
    fn event(&mut self, event: &Event) {
        if let Some(report) = &mut self.report {
            report.handle(event, self.graph);
        }
        match (&mut self.progress, event) {
            (Some(progress), _) => progress.handle(event),
            (None, Event::Note { message }) => say_note(self.colors, message),
            (None, _) => {}
        }
    }

    fn finished(&mut self) {
        if let Some(progress) = self.progress.take() {
            progress.finish();
        }
    }
}
