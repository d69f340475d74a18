//! `cachescan schema`: print the JSON Schema of the manifest.

use crate::commands::CommandResult;
use crate::exit_code::ExitCode;

pub(crate) fn run(shell: &crate::shell::Shell) -> CommandResult {
    shell.out(&format!("{}\n", crate::schema::manifest_schema_json()));
    Ok(ExitCode::Success)
}
