//! Printing an [`Error`] with miette: `file:line:column`, the source snippet and a hint.

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

use super::Colors;
use crate::error::Error;

pub fn print_error(error: &Error, colors: Colors) {
    let theme = if colors.enabled {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let render = |diagnostic: &dyn Diagnostic| {
        let mut out = String::new();
        match handler.render_report(&mut out, diagnostic) {
            Ok(()) => eprint!("{out}"),
            Err(_) => eprintln!("error: {diagnostic}"),
        }
    };
    match error {
        Error::Manifest(manifest) => {
            for diagnostic in &manifest.diagnostics {
                render(diagnostic);
                eprintln!();
            }
            match manifest.more {
                0 => {}
                1 => eprintln!("… and 1 more error, not shown\n"),
                n => eprintln!("… and {n} more errors, not shown\n"),
            }
            eprintln!("{} {manifest}", colors.red("error:"));
        }
        Error::Workspace(workspace) => render(workspace),
        Error::UnknownTarget { message, help } => {
            eprintln!("{} {message}", colors.red("error:"));
            if let Some(help) = help {
                eprintln!("  help: {help}");
            }
        }
        other => eprintln!("{} {other}", colors.red("error:")),
    }
}
