//! Scratch copies: private copies of the project where isolation runs execute in parallel
//! (`apply --jobs N`), never touching the user's tree.
//!
//! A copy leaves out version control, `.cachescan`, virtual environments and caches. Whether
//! copies work is checked on every run: the probe reports which file each target was loaded
//! from, and if the tests imported the original tree instead of the copy (an editable
//! install, an absolute path in the configuration), the copy's run tested nothing; the
//! runner first runs again with the copy's source roots first on `PYTHONPATH`, which wins
//! over an editable install's path (a `.pth` entry or import hook comes after it); if the
//! tests still import the original tree (an absolute `pythonpath` in pytest's
//! configuration goes before it), it reports [`TrialError::CopyInvisible`] and the search
//! falls back to serial runs in place. Only the original tree's files trigger this: a
//! project installed into site-packages is not made visible, since in place its tests do
//! not see the tree either. Patches in a copy need no journal: the copy is ours and is
//! deleted.
//!
//! A killed cachescan cannot delete its copies or stop their test runs, so every copy is
//! registered in `.cachescan/copies/` (its directory, and the process group of the run in
//! it); `cachescan restore` and the next `apply` stop what is left and delete the copies.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use indicatif::ProgressBar;

use crate::config::manifest::Manifest;
use crate::plan::Plan;
use crate::probe::{BytecodeCache, Part, ProbeSetup, ProbeTarget};
use crate::safety::interrupt::Interrupt;
use crate::safety::process;
use crate::trial::{
    Baseline, Executor, PreparedRun, RunJudgement, RunRecord, Scope, TrialError, judge, log_name,
};
use crate::ui::shell::Shell;

/// Directories a copy leaves out.
const SKIPPED: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".cachescan",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    "node_modules",
    ".venv",
];

/// Copy `source` into `destination`, leaving out what [`SKIPPED`] names and virtual
/// environments (directories with a `pyvenv.cfg`). Symbolic links are copied as links.
pub(crate) fn copy_tree(source: &Path, destination: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(destination)?;
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        let name = entry.file_name();
        let from = entry.path();
        let to = destination.join(&name);
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if kind.is_dir() {
            let skipped = SKIPPED.contains(&name.to_string_lossy().as_ref())
                || from.join("pyvenv.cfg").exists();
            if !skipped {
                copy_tree(&from, &to)?;
            }
        } else if kind.is_file() {
            std::fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

/// Shared, read-only context of every copy runner.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CopyContext<'a> {
    pub manifest: &'a Manifest,
    pub plan: &'a Plan,
    pub shell: &'a Shell,
    pub interrupt: &'a Interrupt,
    /// `None` only for the screen that runs while the baseline is still running.
    pub baseline: Option<&'a Baseline>,
    pub timeout: Duration,
    pub runs_dir: &'a Path,
    pub state_dir: &'a Path,
    /// Set once a copy's tests imported the original tree: from then on every copy puts
    /// its source roots first on `PYTHONPATH`.
    pub source_roots_first: &'a AtomicBool,
}

/// Where the copies of a run are registered, under the state directory.
const REGISTRY: &str = "copies";
/// Scratch directories are named so; only such directories are ever deleted from a record.
const SCRATCH_PREFIX: &str = "cachescan-scratch-";

/// One live copy, as `.cachescan/copies/<name>.json` records it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CopyRecord {
    /// The scratch directory (the copy and its probe directory).
    dir: PathBuf,
    /// Process group of the test run in progress in the copy.
    group: Option<u32>,
}

/// The registry entry of one copy: written when the copy is made and around each run,
/// removed with the copy.
#[derive(Debug)]
struct Registration {
    path: PathBuf,
    dir: PathBuf,
}

impl Registration {
    fn new(state_dir: &Path, dir: &Path) -> std::io::Result<Self> {
        let registry = state_dir.join(REGISTRY);
        std::fs::create_dir_all(&registry)?;
        let name =
            dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let registration =
            Self { path: registry.join(format!("{name}.json")), dir: dir.to_path_buf() };
        registration.set_group(None)?;
        Ok(registration)
    }

    fn set_group(&self, group: Option<u32>) -> std::io::Result<()> {
        let record = CopyRecord { dir: self.dir.clone(), group };
        let text = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        crate::safety::fsio::write_atomic(&self.path, &text).map_err(std::io::Error::other)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Stop the test runs and delete the copies that a killed cachescan left registered.
/// Call only with the project's lock held (no live run owns them then).
pub(crate) fn remove_leftovers(state_dir: &Path, shell: &Shell) {
    let Ok(entries) = std::fs::read_dir(state_dir.join(REGISTRY)) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let record = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<CopyRecord>(&bytes).ok());
        if let Some(record) = record {
            if let Some(group) = record.group {
                shell.status(
                    "Stopping",
                    format!("a test run left behind in a scratch copy (process group {group})"),
                );
                process::stop_orphaned_group(group);
            }
            let ours = record
                .dir
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(SCRATCH_PREFIX));
            if ours && record.dir.exists() {
                shell.status("Removing", format!("scratch copy {}", record.dir.display()));
                let _ = std::fs::remove_dir_all(&record.dir);
            }
        }
        let _ = std::fs::remove_file(&path);
    }
}

/// Runs patch sets in one scratch copy.
pub(crate) struct CopyRunner<'a> {
    context: CopyContext<'a>,
    /// Holds the copy and its probe directory; removed on drop.
    _dir: tempfile::TempDir,
    /// Declared after `_dir`, so dropped after it: the record goes once the copy is gone.
    registration: Registration,
    root: PathBuf,
    probe: ProbeSetup,
    progress: ProgressBar,
    name: String,
    pub runs: usize,
    pub tests_executed: usize,
}

impl std::fmt::Debug for CopyRunner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyRunner").field("root", &self.root).finish_non_exhaustive()
    }
}

impl<'a> CopyRunner<'a> {
    pub(crate) fn new(
        context: CopyContext<'a>,
        index: usize,
        progress: ProgressBar,
    ) -> Result<Self, TrialError> {
        let setup = |error: std::io::Error| TrialError::Setup(format!("scratch copy: {error}"));
        let dir = tempfile::Builder::new().prefix(SCRATCH_PREFIX).tempdir().map_err(setup)?;
        let registration = Registration::new(context.state_dir, dir.path()).map_err(setup)?;
        let root = dir.path().join("project");
        copy_tree(&context.manifest.root, &root).map_err(setup)?;
        let targets: Vec<ProbeTarget> = context
            .plan
            .patched_functions()
            .map(|function| ProbeTarget {
                id: function.id.clone(),
                module: function.module.clone(),
                qualname: function.qualname.clone(),
                path: root.join(&context.plan.files[function.file].relative),
            })
            .collect();
        // The main tree's bytecode prefix holds compiled pytest and standard library; the
        // copy's project files get a subtree of their own, forgotten after each run.
        let bytecode = BytecodeCache::new(context.state_dir.join("pycache"), &root);
        let probe = ProbeSetup::new(dir.path(), &targets, bytecode).map_err(setup)?;
        Ok(Self {
            context,
            _dir: dir,
            registration,
            root,
            probe,
            progress,
            name: format!("copy{index}"),
            runs: 0,
            tests_executed: 0,
        })
    }

    /// One run; when its tests imported the original tree, once more with the copy's
    /// source roots first on `PYTHONPATH` (and so every later run of every copy).
    fn run(
        &mut self,
        functions: &[usize],
        scope: Scope<'_>,
        label: &str,
    ) -> Result<RunRecord, TrialError> {
        let roots_first = self.context.source_roots_first.load(Ordering::SeqCst);
        match self.run_once(functions, scope, label, roots_first) {
            Err(TrialError::CopyInvisible(reason)) if !roots_first => {
                self.context.shell.verbose(
                    "Retrying",
                    format!("{label} with the copy's source roots first on PYTHONPATH: {reason}"),
                );
                self.context.source_roots_first.store(true, Ordering::SeqCst);
                self.run_once(functions, scope, label, true)
            }
            other => other,
        }
    }

    fn run_once(
        &mut self,
        functions: &[usize],
        scope: Scope<'_>,
        label: &str,
        roots_first: bool,
    ) -> Result<RunRecord, TrialError> {
        if self.context.interrupt.is_set() {
            return Err(TrialError::Interrupted);
        }
        self.runs += 1;
        let setup = |error: std::io::Error| TrialError::Setup(format!("scratch copy: {error}"));
        let log =
            self.context.runs_dir.join(log_name(&format!("{}-", self.name), self.runs, label));
        let mut prepared = PreparedRun::new(
            &self.probe,
            self.context.manifest,
            &self.root,
            log,
            self.runs,
            scope,
            self.context.timeout,
        )?;
        if roots_first {
            self.put_source_roots_first(&mut prepared.request.env);
        }
        let patched = self.context.plan.patch_files(functions);
        for (file, bytes) in &patched {
            let relative = &self.context.plan.files[*file].relative;
            std::fs::write(self.root.join(relative), &bytes.bytes).map_err(setup)?;
        }
        let registration = &self.registration;
        let mut registered = Ok(());
        let outcome = process::run(&prepared.request, self.context.interrupt, |group| {
            registered = registration.set_group(Some(group));
        });
        registered.and_then(|()| registration.set_group(None)).map_err(setup)?;
        for file in patched.keys() {
            let file = &self.context.plan.files[*file];
            std::fs::write(self.root.join(&file.relative), &file.bytes).map_err(setup)?;
        }
        let record = prepared.finish(outcome?, self.context.interrupt)?;
        self.tests_executed += record.tests_run();
        record.show(self.context.shell, &format!("{label} ({})", self.name), functions.len());
        self.check_visibility(&record)?;
        Ok(record)
    }

    /// `PYTHONPATH` with the copy's source roots (those that exist) in front.
    fn put_source_roots_first(&self, env: &mut std::collections::BTreeMap<String, String>) {
        let roots: Vec<String> = self
            .context
            .manifest
            .source_roots
            .iter()
            .map(|root| self.root.join(root))
            .filter(|root| root.is_dir())
            .map(|root| root.display().to_string())
            .collect();
        if roots.is_empty() {
            return;
        }
        let path = match env.get("PYTHONPATH").filter(|path| !path.is_empty()) {
            Some(existing) => format!("{}:{existing}", roots.join(":")),
            None => roots.join(":"),
        };
        env.insert("PYTHONPATH".to_owned(), path);
    }

    /// The screen (every function patched, the whole suite), run here while the baseline
    /// runs.
    pub(crate) fn screen(&mut self, functions: &[usize]) -> Result<RunRecord, TrialError> {
        self.run(functions, Scope::Suite, "screen")
    }

    /// One part of the baseline: nothing patched, the test files of `part`.
    pub(crate) fn baseline_part(&mut self, part: Part) -> Result<RunRecord, TrialError> {
        self.run(&[], Scope::Part(part), &format!("baseline-part-{}", part.index))
    }

    /// The run tested the copy only if the tests loaded the copy's files: a target loaded
    /// from the original tree means they did not (patched or not, its calls went unseen).
    fn check_visibility(&self, record: &RunRecord) -> Result<(), TrialError> {
        let Some(observation) = &record.observation else { return Ok(()) };
        let original = std::fs::canonicalize(&self.context.manifest.root)
            .unwrap_or_else(|_| self.context.manifest.root.clone());
        for stats in observation.targets.values() {
            if let Some(file) =
                stats.loaded_files.iter().find(|file| Path::new(file).starts_with(&original))
                && stats.state == "other-file"
            {
                return Err(TrialError::CopyInvisible(format!(
                    "the tests in a scratch copy imported {file} from the original tree (an editable install, or an absolute path in the configuration?)"
                )));
            }
        }
        Ok(())
    }
}

/// The shared queue of [`in_copies`].
struct Queue<T, R> {
    /// Items not started yet, with their position in the results.
    items: VecDeque<(usize, T)>,
    /// The position the next queued item gets.
    next: usize,
    /// Items being worked on: while any is, more items may come.
    busy: usize,
    results: Vec<(usize, R)>,
    /// The first error of any copy; every copy stops at its next item.
    failure: Option<TrialError>,
}

/// Do `work` for every item in `copies` scratch copies at once, each item in the first
/// copy that is free. Work may queue more items (a halving queues the halves of a group
/// that broke tests). Results come in the order the items were queued, plus the runs and
/// tests the copies made. The first error stops every copy at its next item.
pub(crate) fn in_copies<T: Send, R: Send>(
    context: CopyContext<'_>,
    progress: &ProgressBar,
    items: Vec<T>,
    copies: usize,
    work: &(impl Fn(&mut CopyRunner<'_>, T) -> Result<(R, Vec<T>), TrialError> + Sync),
) -> (Result<Vec<R>, TrialError>, usize, usize) {
    let next = items.len();
    let queue = Mutex::new(Queue {
        items: items.into_iter().enumerate().collect(),
        next,
        busy: 0,
        results: Vec::new(),
        failure: None,
    });
    let changed = Condvar::new();
    let lock = || queue.lock().unwrap_or_else(PoisonError::into_inner);
    let counts = std::thread::scope(|scope| {
        let workers: Vec<_> = (1..=copies)
            .map(|index| {
                let (lock, changed, progress) = (&lock, &changed, progress.clone());
                scope.spawn(move || {
                    let mut copy = match CopyRunner::new(context, index, progress) {
                        Ok(copy) => copy,
                        Err(error) => {
                            lock().failure.get_or_insert(error);
                            changed.notify_all();
                            return (0, 0);
                        }
                    };
                    while let Some((position, item)) = next_item(lock(), changed) {
                        let outcome = work(&mut copy, item);
                        let mut queue = lock();
                        queue.busy -= 1;
                        match outcome {
                            Ok((result, more)) => {
                                queue.results.push((position, result));
                                for item in more {
                                    let position = queue.next;
                                    queue.next += 1;
                                    queue.items.push_back((position, item));
                                }
                            }
                            Err(error) => {
                                queue.failure.get_or_insert(error);
                            }
                        }
                        changed.notify_all();
                    }
                    (copy.runs, copy.tests_executed)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_default())
            .fold((0, 0), |total, counts| (total.0 + counts.0, total.1 + counts.1))
    });
    let queue = queue.into_inner().unwrap_or_else(PoisonError::into_inner);
    if let Some(error) = queue.failure {
        return (Err(error), counts.0, counts.1);
    }
    let mut results = queue.results;
    results.sort_by_key(|(position, _)| *position);
    (Ok(results.into_iter().map(|(_, result)| result).collect()), counts.0, counts.1)
}

/// The next item for a copy, waiting while other copies may still queue more; `None` when
/// the work is done or failed.
fn next_item<T, R>(
    mut queue: std::sync::MutexGuard<'_, Queue<T, R>>,
    changed: &Condvar,
) -> Option<(usize, T)> {
    loop {
        if queue.failure.is_some() {
            return None;
        }
        if let Some(item) = queue.items.pop_front() {
            queue.busy += 1;
            return Some(item);
        }
        if queue.busy == 0 {
            return None;
        }
        queue = changed.wait(queue).unwrap_or_else(PoisonError::into_inner);
    }
}

impl Executor for CopyRunner<'_> {
    fn run_patched(
        &mut self,
        functions: &[usize],
        selection: Option<&BTreeSet<String>>,
        label: &str,
    ) -> Result<RunRecord, TrialError> {
        self.run(functions, selection.into(), label)
    }

    fn judge_run(&self, record: &RunRecord) -> Result<RunJudgement, TrialError> {
        let baseline = self.context.baseline.ok_or_else(|| {
            TrialError::Setup("a scratch copy judged a run before the baseline".to_owned())
        })?;
        Ok(judge(baseline, self.context.timeout, record))
    }

    fn plan(&self) -> &Plan {
        self.context.plan
    }

    fn announce(&self, verb: &str, message: String) {
        if self.progress.is_hidden() {
            self.context.shell.status(verb, format!("{message} ({})", self.name));
        } else {
            self.progress.set_message(format!("{} {message}", verb.to_lowercase()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::copy_tree;

    #[test]
    fn copies_leave_out_version_control_state_and_environments() {
        let source = tempfile::tempdir().expect("tempdir");
        let root = source.path();
        for (path, text) in [
            ("src/m.py", "x = 1\n"),
            (".git/HEAD", "ref"),
            (".cachescan/journal.json", "{}"),
            ("env/pyvenv.cfg", "home = /usr"),
            ("env/lib.py", ""),
        ] {
            std::fs::create_dir_all(root.join(path).parent().expect("parent")).expect("mkdir");
            std::fs::write(root.join(path), text).expect("write");
        }
        let destination = tempfile::tempdir().expect("tempdir");
        copy_tree(root, destination.path()).expect("copy");
        assert_eq!(
            std::fs::read_to_string(destination.path().join("src/m.py")).expect("copied"),
            "x = 1\n"
        );
        for left_out in [".git", ".cachescan", "env"] {
            assert!(!destination.path().join(left_out).exists(), "{left_out} left out");
        }
    }
}
