//! The terminal: cargo-style status lines on stderr ("    Planning 11 targets in 3 files"),
//! warnings, and miette rendering with or without colour. Colour follows `--color`, then
//! `NO_COLOR`/`CLICOLOR_FORCE`, then whether stderr is a terminal. Everything a user reads
//! goes through here, so `--quiet` and `--verbose` mean the same in every command.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

/// How much to say on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Where status lines and diagnostics go.
#[derive(Debug)]
pub(crate) struct Shell {
    pub verbosity: Verbosity,
    /// Colour on stderr (status lines, diagnostics of failures).
    color: bool,
    /// Colour on stdout (reports); decided separately, since either may be redirected.
    stdout_color: bool,
    stderr_is_terminal: bool,
}

const STATUS: Style = AnsiColor::Green.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();

impl Shell {
    pub(crate) fn new(verbosity: Verbosity, choice: ColorChoice) -> Self {
        let stderr_is_terminal = std::io::stderr().is_terminal();
        let decide = |is_terminal: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
                let forced = std::env::var_os("CLICOLOR_FORCE")
                    .is_some_and(|value| !value.is_empty() && value != "0");
                !no_color && (forced || is_terminal)
            }
        };
        Self {
            verbosity,
            color: decide(stderr_is_terminal),
            stdout_color: decide(std::io::stdout().is_terminal()),
            stderr_is_terminal,
        }
    }

    pub(crate) fn is_terminal(&self) -> bool {
        self.stderr_is_terminal
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color { format!("{style}{text}{style:#}") } else { text.to_owned() }
    }

    /// A right-aligned verb and a message, like cargo's "   Compiling foo".
    pub(crate) fn status(&self, verb: &str, message: impl std::fmt::Display) {
        if self.verbosity >= Verbosity::Normal {
            let _ = writeln!(
                std::io::stderr(),
                "{} {message}",
                self.paint(STATUS, &format!("{verb:>12}"))
            );
        }
    }

    /// A status line shown only with `--verbose`.
    pub(crate) fn verbose(&self, verb: &str, message: impl std::fmt::Display) {
        if self.verbosity >= Verbosity::Verbose {
            self.status(verb, message);
        }
    }

    pub(crate) fn warn(&self, message: impl std::fmt::Display) {
        if self.verbosity >= Verbosity::Normal {
            let _ = writeln!(std::io::stderr(), "{}: {message}", self.paint(WARNING, "warning"));
        }
    }

    /// Render a diagnostic for a report on stdout (colour only if stdout has it).
    pub(crate) fn render(&self, diagnostic: &dyn Diagnostic) -> String {
        render_diagnostic(diagnostic, self.stdout_color)
    }

    /// Print a diagnostic to stderr.
    pub(crate) fn diagnostic(&self, diagnostic: &dyn Diagnostic) {
        let _ = write!(std::io::stderr(), "{}", render_diagnostic(diagnostic, self.color));
    }

    /// Write a report to stdout. A closed pipe (`| head`) is not an error: the reader has
    /// what it wanted.
    pub(crate) fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
    }
}

/// miette's graphical rendering, 100 columns wide, with or without colour.
pub(crate) fn render_diagnostic(diagnostic: &dyn Diagnostic, color: bool) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, diagnostic).is_err() {
        out = format!("{diagnostic}\n");
    }
    out
}
