//! `cachescan restore`: undo an interrupted, killed or `--keep` run from its journal, and
//! stop and delete what its scratch copies left behind.

use crate::cli::commands::{CommandResult, Failure, conflict_reports, load, lock_state};
use crate::cli::exit_code::ExitCode;
use crate::report::progress::Progress;
use crate::runner::events::{Reporter, RunnerEvent};
use crate::runner::registry;
use crate::safety::journal::Journal;

use crate::config::settings::CommandLineSettings;
use crate::ui::shell::Shell;
use crate::ui::text::plural;

pub(crate) fn run(manifest_path: Option<&std::path::Path>, shell: &Shell) -> CommandResult {
    let (manifest, _) = load(manifest_path, CommandLineSettings::default())?;
    let (state_dir, _lock) = lock_state(&manifest)?;
    let progress = Progress::lines(shell);
    registry::remove_leftovers(&state_dir, &progress);
    let Some(mut journal) = Journal::load(&state_dir)
        .map_err(|error| Failure::one(ExitCode::RestoreIncomplete, error))?
    else {
        shell.status("Restored", "nothing: no unfinished run");
        return Ok(ExitCode::Success);
    };
    if let Some(group) = journal.test_group() {
        progress.report(RunnerEvent::StoppingOrphan { group, in_copy: false });
        crate::safety::process::stop_orphaned_group(group);
    }
    state_dir.remove_probe_leftovers();
    let files = journal.entries().len();
    let conflicts =
        journal.restore(true).map_err(|error| Failure::one(ExitCode::RestoreIncomplete, error))?;
    if !conflicts.is_empty() {
        return Err(Failure {
            exit: ExitCode::RestoreIncomplete,
            reports: conflict_reports(&conflicts),
        });
    }
    shell.status("Restored", format!("{}, byte for byte", plural(files, "file")));
    Ok(ExitCode::Success)
}
