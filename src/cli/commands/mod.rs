//! One file per subcommand, each a thin function from parsed options to an exit code.
//! Shared here: finding and loading the manifest and resolving settings, which every
//! command that reads a manifest does the same way.

pub(crate) mod accept;
pub(crate) mod apply;
pub(crate) mod completions;
pub(crate) mod discover;
pub(crate) mod merge;
pub(crate) mod plan;
pub(crate) mod restore;
pub(crate) mod schema;

use std::path::{Path, PathBuf};

use crate::cli::exit_code::ExitCode;
use crate::config::manifest::{MANIFEST_FILE_NAME, Manifest};
use crate::config::options::RunOptions;
use crate::config::settings::{CommandLineSettings, Settings};
use crate::plan::Plan;
use crate::report::progress::Progress;
use crate::runner::{Runner, RunnerError, registry};
use crate::safety::interrupt::Interrupt;
use crate::safety::journal::{Conflict, Journal};
use crate::safety::lock::Lock;
use crate::safety::state_dir::StateDir;
use crate::ui::shell::Shell;

/// A command that failed: diagnostics to print and the exit code to leave with.
#[derive(Debug)]
pub(crate) struct Failure {
    pub exit: ExitCode,
    pub reports: Vec<miette::Report>,
}

impl Failure {
    pub(crate) fn unusable(reports: Vec<miette::Report>) -> Self {
        Self { exit: ExitCode::Unusable, reports }
    }

    pub(crate) fn one(exit: ExitCode, report: impl Into<miette::Report>) -> Self {
        Self { exit, reports: vec![report.into()] }
    }
}

pub(crate) type CommandResult = Result<ExitCode, Failure>;

/// The project's state directory, locked for this command until the lock is dropped.
pub(crate) fn lock_state(manifest: &Manifest) -> Result<(StateDir, Lock), Failure> {
    let state =
        StateDir::open(&manifest.root).map_err(|error| Failure::one(ExitCode::Unusable, error))?;
    let lock = Lock::acquire(&state).map_err(|error| Failure::one(ExitCode::Unusable, error))?;
    Ok((state, lock))
}

/// `--manifest`, or `cachescan.yaml` found by walking up from the current directory.
pub(crate) fn manifest_path(given: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    let current = std::env::current_dir().map_err(|error| {
        Failure::one(
            ExitCode::Unusable,
            miette::miette!("cannot read the current directory: {error}"),
        )
    })?;
    let found =
        crate::config::manifest::discover(&current).map(|path| relative_to(&path, &current));
    found.ok_or_else(|| {
        Failure::one(
            ExitCode::Unusable,
            miette::miette!(
                code = "cachescan::manifest::not-found",
                help = "create one (see cachescan.yaml.example), or pass --manifest PATH",
                "no {MANIFEST_FILE_NAME} in {} or any parent directory",
                current.display()
            ),
        )
    })
}

/// A discovered manifest, named relative to the current directory (`../cachescan.yaml`), as
/// a user would type it.
fn relative_to(path: &Path, current: &Path) -> PathBuf {
    let Some(directory) = path.parent() else { return path.to_path_buf() };
    let Ok(below) = current.strip_prefix(directory) else { return path.to_path_buf() };
    let mut relative: PathBuf = below.components().map(|_| "..").collect();
    relative.push(path.file_name().unwrap_or_default());
    relative
}

/// Load the manifest and resolve the effective settings.
pub(crate) fn load(
    given: Option<&Path>,
    command_line: CommandLineSettings,
) -> Result<(Manifest, Settings), Failure> {
    let path = manifest_path(given)?;
    let manifest = Manifest::load(&path).map_err(|problems| {
        Failure::unusable(problems.into_iter().map(miette::Report::new).collect())
    })?;
    let settings = Settings::resolve(&manifest, command_line)
        .map_err(|error| Failure::one(ExitCode::Unusable, error))?;
    Ok((manifest, settings))
}

/// One diagnostic per file that is not back as it was.
pub(crate) fn conflict_reports(conflicts: &[Conflict]) -> Vec<miette::Report> {
    conflicts
        .iter()
        .map(|conflict| {
            miette::miette!(
                code = "cachescan::restore::conflict",
                help = format!(
                    "the original is kept at {}; compare, copy it back if you want it, then run `cachescan restore` again",
                    conflict.backup.display()
                ),
                "{} was not restored: {}",
                conflict.relative,
                conflict.reason
            )
        })
        .collect()
}

/// Before test runs (`apply`, `discover`): the locked state directory, refused while an
/// earlier run's patches are still in the tree (a baseline of a patched tree would lie),
/// with the leftovers of killed runs (probe directories, scratch copies) cleared away.
pub(crate) fn begin_runs(manifest: &Manifest, shell: &Shell) -> Result<(StateDir, Lock), Failure> {
    let (state_dir, lock) = lock_state(manifest)?;
    if Journal::exists(&state_dir) {
        return Err(Failure::one(
            ExitCode::Unusable,
            miette::miette!(
                code = "cachescan::journal::unfinished",
                help = "run `cachescan restore` to put those files back first (or, for patches kept with `apply --keep`, `cachescan accept` to keep them)",
                "an earlier run left patched files behind (journal in {})",
                state_dir.path().display()
            ),
        ));
    }
    state_dir.remove_probe_leftovers();
    registry::remove_leftovers(&state_dir, &Progress::lines(shell));
    Ok((state_dir, lock))
}

/// Test runs of a plan: the runner (its journal, progress display and Ctrl-C flag set up),
/// handed to `work`, which makes the runs. On an error every file is put back first. The
/// journal comes back for what follows the runs (`apply --keep`).
pub(crate) fn with_runner<T>(
    manifest: &Manifest,
    plan: &Plan,
    state_dir: &StateDir,
    shell: &Shell,
    options: RunOptions,
    work: impl FnOnce(Runner<'_>) -> Result<T, RunnerError>,
) -> Result<(T, Journal), Failure> {
    let interrupt = Interrupt::install();
    let mut journal = Journal::new(state_dir);
    let progress = Progress::new(shell);
    let runner =
        Runner::new(manifest, plan, &progress, &interrupt, &mut journal, state_dir, options)
            .map_err(|error| Failure::one(ExitCode::Unusable, error))?;
    match work(runner) {
        Ok(value) => Ok((value, journal)),
        Err(error) => Err(run_failure(error, &mut journal, shell)),
    }
}

/// Turn runs that stopped early into diagnostics and an exit code; every file is put back
/// first.
fn run_failure(error: RunnerError, journal: &mut Journal, shell: &Shell) -> Failure {
    let conflicts = match &error {
        RunnerError::RestoreIncomplete(conflicts) => conflicts.clone(),
        _ => journal.restore(false).unwrap_or_default(),
    };
    if !conflicts.is_empty() {
        return Failure {
            exit: ExitCode::RestoreIncomplete,
            reports: conflict_reports(&conflicts),
        };
    }
    match error {
        RunnerError::Interrupted => {
            shell.warn("interrupted; every file is restored");
            Failure { exit: ExitCode::Interrupted, reports: Vec::new() }
        }
        RunnerError::Journal(error) => Failure::one(ExitCode::RestoreIncomplete, error),
        other => Failure::one(ExitCode::Unusable, other),
    }
}
