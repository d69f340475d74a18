//! The top layer: the command line (`args`, clap definitions only), the documented exit
//! codes (`exit_code`) and one thin function per subcommand (`commands`) from parsed options
//! to an exit code. The core below never sees a clap type.

pub(crate) mod args;
pub(crate) mod commands;
pub mod exit_code;

use clap::CommandFactory;

use crate::cli::args::Cli;

/// The whole command line as clap sees it, with the long help that the derive cannot say
/// (exit codes, the hazard table): what `cachescan` parses, and what `completions` (and the
/// man page) describe.
pub(crate) fn command() -> clap::Command {
    let mut command = Cli::command().after_long_help(exit_code::EXIT_CODES_HELP);
    for name in ["apply", "restore", "accept", "merge"] {
        command =
            command.mut_subcommand(name, |sub| sub.after_long_help(exit_code::EXIT_CODES_HELP));
    }
    command.mut_subcommand("plan", |plan| {
        plan.after_long_help(format!("{}\n\n{}", hazard_help(), exit_code::EXIT_CODES_HELP))
    })
}

/// The hazard table for `plan --help`.
fn hazard_help() -> String {
    let mut text = String::from("Hazards (code, severity, what it catches):\n");
    for code in crate::python::hazard::HazardCode::ALL {
        let severity = match code.severity() {
            crate::python::hazard::HazardSeverity::Error => "error",
            crate::python::hazard::HazardSeverity::Warning => "warning",
        };
        text.push_str(&format!("  {:<22} {:<8} {}\n", code.as_str(), severity, code.summary()));
    }
    text.push_str(
        "An error hazard skips the function unless the target lists it in allow_hazards.",
    );
    text
}
