//! `cachescan apply`.

use crate::cli::ApplyArgs;
use crate::commands::{CommandResult, Failure};
use crate::exit_code::ExitCode;
use crate::shell::Shell;

pub(crate) fn run(_manifest: Option<&std::path::Path>, _args: &ApplyArgs, _shell: &Shell) -> CommandResult {
    Err(Failure::one(ExitCode::Unusable, miette::miette!("`cachescan apply` is not built yet in this version")))
}
