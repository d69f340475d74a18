//! Child processes: one test run at a time, each in its own process group, stdin closed,
//! stdout and stderr to a log file. A run ends by itself, by timeout, or by interrupt; on
//! timeout or interrupt the whole group gets SIGTERM, a grace period, then SIGKILL, so no
//! grandchild survives. After any run the group is killed once more, for grandchildren that
//! outlived their parent. Launching goes through duct.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::safety::interrupt::Interrupt;

/// How long a group has between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct RunRequest {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// Set in the child's environment (on top of ours).
    pub env: BTreeMap<String, String>,
    /// Removed from the child's environment.
    pub env_remove: Vec<String>,
    pub log: PathBuf,
    pub timeout: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// Exited by itself with this code (`None`: killed by a signal).
    Exited(Option<i32>),
    TimedOut,
    Interrupted,
}

#[derive(Debug, Clone)]
pub(crate) struct RunOutcome {
    pub end: RunEnd,
    pub duration: Duration,
}

/// The process could not be started.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum SpawnError {
    #[error("test command `{program}` was not found")]
    #[diagnostic(
        code(cachescan::run::not_found),
        help(
            "check `project.test_command` in the manifest, or the PATH; to install pytest: python -m pip install pytest"
        )
    )]
    NotFound { program: String },
    #[error("cannot start `{program}`: {source}")]
    #[diagnostic(code(cachescan::run::spawn))]
    Other { program: String, source: std::io::Error },
}

/// Called with the process group id as soon as the child runs (the journal records it, so
/// `cachescan restore` can stop an orphaned run after `kill -9`).
pub(crate) fn run(
    request: &RunRequest,
    interrupt: &Interrupt,
    mut on_start: impl FnMut(u32),
) -> Result<RunOutcome, SpawnError> {
    let program = request.argv.first().cloned().unwrap_or_default();
    let mut expression = duct::cmd(&program, &request.argv[1..])
        .dir(&request.cwd)
        .stdin_null()
        // Inner redirection first: stderr joins stdout, then stdout goes to the log.
        .stderr_to_stdout()
        .stdout_path(&request.log)
        .unchecked()
        .before_spawn(|command| {
            command.process_group(0);
            Ok(())
        });
    for (name, value) in &request.env {
        expression = expression.env(name, value);
    }
    for name in &request.env_remove {
        expression = expression.env_remove(name);
    }
    let started = Instant::now();
    let handle = expression.start().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => SpawnError::NotFound { program: program.clone() },
        _ => SpawnError::Other { program: program.clone(), source },
    })?;
    let group = handle.pids().first().copied().unwrap_or_default();
    on_start(group);
    let deadline = started + request.timeout;
    let end = loop {
        match handle.try_wait() {
            Ok(Some(output)) => break RunEnd::Exited(output.status.code()),
            Ok(None) => {}
            Err(_) => break RunEnd::Exited(None),
        }
        if interrupt.is_set() {
            terminate_group(group, &handle);
            break RunEnd::Interrupted;
        }
        if Instant::now() >= deadline {
            terminate_group(group, &handle);
            break RunEnd::TimedOut;
        }
        std::thread::sleep(POLL);
    };
    // Grandchildren that outlived the test process still belong to its group.
    kill_group(group, Signal::KILL);
    Ok(RunOutcome { end, duration: started.elapsed() })
}

/// SIGTERM to the group, a grace period, then SIGKILL; reaps the child.
fn terminate_group(group: u32, handle: &duct::Handle) {
    let exited = || matches!(handle.try_wait(), Ok(Some(_)) | Err(_));
    if !term_then_kill(group, exited) {
        let _ = handle.kill();
        let _ = handle.wait();
    }
}

/// SIGTERM to the group, up to [`GRACE`] for it to end (and for `also_done`), then SIGKILL.
/// Returns whether it ended within the grace period.
fn term_then_kill(group: u32, also_done: impl Fn() -> bool) -> bool {
    kill_group(group, Signal::TERM);
    let grace_end = Instant::now() + GRACE;
    while Instant::now() < grace_end {
        if also_done() && !group_alive(group) {
            return true;
        }
        std::thread::sleep(POLL);
    }
    kill_group(group, Signal::KILL);
    false
}

pub(crate) fn kill_group(group: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(group).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// Whether any process of the group is still there.
pub(crate) fn group_alive(group: u32) -> bool {
    i32::try_from(group)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|pid| rustix::process::test_kill_process_group(pid).is_ok())
}

/// Whether a process exists (for stale locks).
pub(crate) fn process_alive(pid: u32) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok())
}

/// Stop a group left behind by a killed cachescan: SIGTERM, a grace period, SIGKILL.
pub(crate) fn stop_orphaned_group(group: u32) {
    if group_alive(group) {
        term_then_kill(group, || true);
    }
}

/// The last `lines` lines of a log, for diagnostics.
pub(crate) fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read(log)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
