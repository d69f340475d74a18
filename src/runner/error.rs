//! Why a trial stopped early: one enum, rendered by miette at the command boundary.

use crate::safety::journal::{Conflict, JournalError};
use crate::safety::process::SpawnError;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum RunnerError {
    #[error("interrupted")]
    Interrupted,
    #[error("{} file(s) could not be restored", .0.len())]
    RestoreIncomplete(Vec<Conflict>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Spawn(#[from] SpawnError),
    #[error("{message}")]
    #[diagnostic(code(cachescan::baseline::unusable))]
    Baseline {
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("cannot prepare the test run: {0}")]
    #[diagnostic(code(cachescan::run::setup))]
    Setup(String),
    /// A scratch copy's run did not test the copy (handled by falling back, never shown).
    #[error("scratch copies are not visible to the tests: {0}")]
    #[diagnostic(code(cachescan::run::copy_invisible))]
    CopyInvisible(String),
    /// A run was judged before the baseline it is judged against existed: a bug.
    #[error("internal error: a test run was judged before the baseline existed")]
    #[diagnostic(code(cachescan::internal::no_baseline))]
    NoBaseline,
}

impl RunnerError {
    /// `Setup` from an I/O error, with what was being prepared.
    pub(crate) fn setup(what: &str) -> impl Fn(std::io::Error) -> RunnerError + '_ {
        move |error| RunnerError::Setup(format!("{what}{error}"))
    }
}
