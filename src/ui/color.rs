//! `--color auto|always|never`, honouring `NO_COLOR` (<https://no-color.org>).

use std::io::IsTerminal;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// Whether to colour one output stream.
#[derive(Clone, Copy, Debug)]
pub struct Colors {
    pub enabled: bool,
}

impl Colors {
    /// Colours for what goes to standard error.
    pub fn for_stderr(choice: ColorChoice) -> Colors {
        Colors::resolve(choice, std::io::stderr().is_terminal())
    }

    /// Colours for what goes to standard output (`list`, `check`), which is often piped.
    pub fn for_stdout(choice: ColorChoice) -> Colors {
        Colors::resolve(choice, std::io::stdout().is_terminal())
    }

    fn resolve(choice: ColorChoice, terminal: bool) -> Colors {
        let enabled = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                let dumb = std::env::var("TERM").is_ok_and(|term| term == "dumb");
                !no_color && !dumb && terminal
            }
        };
        Colors { enabled }
    }

    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn red(&self, text: &str) -> String {
        self.paint("1;31", text)
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
}
