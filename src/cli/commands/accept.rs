//! `cachescan accept`: keep the patches of `apply --keep` for good. The journal and the
//! backups of the kept files are removed, so the decorators become ordinary edits in the
//! user's tree and a later `apply` no longer asks for `restore`. A journal left by a run
//! that did not finish is refused: that one is for `restore`.

use crate::cli::commands::{CommandResult, Failure, load, lock_state};
use crate::cli::exit_code::ExitCode;
use crate::safety::journal::Journal;

use crate::config::settings::CommandLineSettings;
use crate::ui::shell::Shell;
use crate::ui::text::plural;

pub(crate) fn run(manifest_path: Option<&std::path::Path>, shell: &Shell) -> CommandResult {
    let (manifest, _) = load(manifest_path, CommandLineSettings::default())?;
    let (state_dir, _lock) = lock_state(&manifest)?;
    let Some(journal) =
        Journal::load(&state_dir).map_err(|error| Failure::one(ExitCode::Unusable, error))?
    else {
        shell.status("Accepted", "nothing: no patches were kept");
        return Ok(ExitCode::Success);
    };
    if !journal.only_kept() {
        return Err(Failure::one(
            ExitCode::Unusable,
            miette::miette!(
                code = "cachescan::accept::unfinished",
                help = "run `cachescan restore` to put those files back",
                "the journal in {} is from a run that did not finish, not from `apply --keep`",
                state_dir.path().display()
            ),
        ));
    }
    let files = journal.accept().map_err(|error| Failure::one(ExitCode::Unusable, error))?;
    for (relative, unchanged) in &files {
        if !unchanged {
            shell.warn(format!("{relative} changed since cachescan patched it; left as it is"));
        }
    }
    shell.status(
        "Accepted",
        format!(
            "{}: the cache decorators stay, and cachescan keeps no backup of them",
            plural(files.len(), "file")
        ),
    );
    Ok(ExitCode::Success)
}
