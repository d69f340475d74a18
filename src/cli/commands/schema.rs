//! `cachescan schema`: print the JSON Schema of the manifest.

use crate::cli::commands::CommandResult;
use crate::cli::exit_code::ExitCode;

pub(crate) fn run(shell: &crate::ui::shell::Shell) -> CommandResult {
    shell.out(&format!("{}\n", crate::config::schema::manifest_schema_json()));
    Ok(ExitCode::Success)
}
