//! One test run prepared, in place or in a scratch copy: the process request with the
//! probe's environment, where the probe will answer, and the log's name; and, once the
//! process ended, its [`RunRecord`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::RunnerError;
use crate::config::manifest::Manifest;
use crate::outcome::record::RunRecord;
use crate::probe::{self, BytecodeCache, Checks, Part, ProbeSetup};
use crate::safety::interrupt::Interrupt;
use crate::safety::process::{RunEnd, RunOutcome, RunRequest};

/// Which tests of the suite one run runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'s> {
    /// The whole suite.
    Suite,
    /// Only these node ids.
    Selected(&'s BTreeSet<String>),
    /// One part of the suite, split by test file (a baseline run in parts).
    Part(Part),
}

impl<'s> From<Option<&'s BTreeSet<String>>> for Scope<'s> {
    fn from(selection: Option<&'s BTreeSet<String>>) -> Self {
        selection.map_or(Scope::Suite, Scope::Selected)
    }
}

/// How one run runs: which tests, for how long, and with what checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunSettings<'s> {
    pub scope: Scope<'s>,
    pub timeout: Duration,
    /// The baseline's `CACHESCAN_PROBE_VERIFY`; `None`: no checks.
    pub verify: Option<&'s str>,
    /// Trace the targets' keys (`CACHESCAN_PROBE_TRACE`): the baseline.
    pub trace: bool,
}

/// `copy1-002-confirm-pkg-mod-f.log`: runs in order, named by where and what they did.
pub(crate) fn log_name(prefix: &str, run: usize, label: &str) -> String {
    let slug: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!("{prefix}{run:03}-{slug}.log")
}

/// A run ready to start.
#[derive(Debug)]
pub(crate) struct PreparedRun {
    pub request: RunRequest,
    output: PathBuf,
    selection: Option<BTreeSet<String>>,
    bytecode: BytecodeCache,
}

impl PreparedRun {
    pub(crate) fn new(
        probe: &ProbeSetup,
        manifest: &Manifest,
        cwd: &Path,
        log: PathBuf,
        run: usize,
        settings: RunSettings<'_>,
    ) -> Result<Self, RunnerError> {
        let RunSettings { scope, timeout, verify, trace } = settings;
        let setup = RunnerError::setup("");
        let output = probe.output_dir(run).map_err(&setup)?;
        let (selection, part) = match scope {
            Scope::Suite => (None, None),
            Scope::Selected(nodeids) => (Some(nodeids), None),
            Scope::Part(part) => (None, Some(part)),
        };
        let selection_file = match selection {
            Some(nodeids) => Some(probe.write_selection(run, nodeids).map_err(&setup)?),
            None => None,
        };
        let mut env = manifest.env.clone();
        let selection_path = selection_file.as_deref();
        let checks = Checks { verify, trace };
        env.extend(probe.environment(&manifest.env, &output, selection_path, part, checks));
        let request = RunRequest {
            argv: manifest.test_command.clone(),
            cwd: cwd.to_path_buf(),
            env,
            env_remove: ProbeSetup::environment_removed(),
            log,
            timeout,
        };
        Ok(Self {
            request,
            output,
            selection: selection.cloned(),
            bytecode: probe.bytecode().clone(),
        })
    }

    /// The record of the finished run (files already restored); an interrupt stops here.
    pub(crate) fn finish(
        self,
        outcome: RunOutcome,
        interrupt: &Interrupt,
    ) -> Result<RunRecord, RunnerError> {
        self.bytecode.forget_project();
        if outcome.end == RunEnd::Interrupted || interrupt.is_set() {
            return Err(RunnerError::Interrupted);
        }
        let (observation, probe_error) = match probe::collect(&self.output) {
            Ok(observation) => (Some(observation), None),
            Err(error) => (None, Some(error.to_string())),
        };
        Ok(RunRecord {
            end: outcome.end,
            duration: outcome.duration,
            observation,
            probe_error,
            log: self.request.log,
            selection: self.selection,
        })
    }
}
