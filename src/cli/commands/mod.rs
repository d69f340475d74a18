//! One file per subcommand, each a thin function from parsed options to an exit code.
//! Shared here: finding and loading the manifest and resolving settings, which every
//! command that reads a manifest does the same way.

pub(crate) mod accept;
pub(crate) mod apply;
pub(crate) mod completions;
pub(crate) mod merge;
pub(crate) mod plan;
pub(crate) mod restore;
pub(crate) mod schema;

use std::path::{Path, PathBuf};

use crate::cli::exit_code::ExitCode;
use crate::config::manifest::{MANIFEST_FILE_NAME, Manifest};
use crate::config::settings::{CommandLineSettings, Settings};
use crate::safety::journal::Conflict;
use crate::safety::lock::Lock;
use crate::safety::state_dir::StateDir;

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
