//! The process exit codes: part of cachescan's interface, since CI scripts branch on them.
//! Documented in the README and in `cachescan --help`; never renumber one.

/// How a cachescan run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Nothing to report.
    Success = 0,
    /// Findings: an unresolved pattern, an `error` hazard that is not allowed, or (apply) an
    /// `unsafe` or `invisible` function.
    Findings = 1,
    /// The input or environment is unusable: invalid manifest, missing file, Python syntax
    /// error, missing test runner, unusable baseline, a run already in progress.
    Unusable = 2,
    /// A restore could not be completed: some file is not back as it was (the backup is kept).
    RestoreIncomplete = 3,
    /// Interrupted by Ctrl-C or SIGTERM (after restoring every file).
    Interrupted = 130,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

/// The table shown by `--help`.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    nothing to report (discover: its run completed)
  1    findings: an unresolved pattern or an error hazard not allowed (plan);
       an unsafe or invisible function (apply, merge)
  2    unusable input or environment: invalid manifest, missing file, syntax
       error, no test runner, collection error, lock held, unfinished journal
  3    a restore could not be completed (the backup is kept)
  130  interrupted (every file restored first)";
