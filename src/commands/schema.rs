//! `cachescan schema`: print the JSON Schema of the manifest.

use crate::commands::CommandResult;
use crate::exit_code::ExitCode;

pub(crate) fn run() -> CommandResult {
    println!("{}", crate::schema::manifest_schema_json());
    Ok(ExitCode::Success)
}
