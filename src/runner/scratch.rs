//! Scratch copies: private copies of the project where runs execute in parallel
//! (`apply --jobs N`), never touching the user's tree. A copy holds what the project tree
//! walker ([`crate::safety::tree`]) yields, the same files the baseline cache hashes.
//!
//! Whether copies work is checked on every run: the probe reports which file each target
//! was loaded from, and if the tests imported the original tree instead of the copy (an
//! editable install, an absolute path in the configuration), the copy's run tested nothing.
//! The copy then runs again with its source roots first on `PYTHONPATH`, which wins over an
//! editable install's path (a `.pth` entry or import hook comes after it); if the tests
//! still import the original tree (an absolute `pythonpath` in pytest's configuration goes
//! before it), the run ends with [`RunnerError::CopyInvisible`] and the search falls back to
//! serial runs in place. Only the original tree's files trigger this: a project installed
//! into site-packages is not made visible, since in place its tests do not see the tree
//! either. Patches in a copy need no journal: the copy is ours and is deleted. Every copy is
//! registered ([`super::registry`]) so a killed cachescan's copies are cleaned up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::Ordering;

use super::context::{RunContext, probe_targets};
use super::error::RunnerError;
use super::events::{RunnerEvent, Step};
use super::executor::Executor;
use super::prepare::{PreparedRun, RunSettings, Scope, log_name};
use super::registry::{Registration, SCRATCH_PREFIX};
use crate::outcome::judgement::RunJudgement;
use crate::outcome::record::RunRecord;
use crate::outcome::trial::RunCounts;
use crate::plan::{FunctionIndex, Plan};
use crate::probe::protocol::TargetState;
use crate::probe::{BytecodeCache, Part, ProbeSetup};
use crate::safety::process;
use crate::safety::tree::{self, EntryKind};

/// Copy the project tree under `source` into `destination`: what [`tree::walk`] yields,
/// symbolic links as links.
pub(crate) fn copy_tree(source: &Path, destination: &Path) -> std::io::Result<()> {
    let walk = tree::walk(source);
    if let Some((path, error)) = walk.errors.into_iter().next() {
        return Err(std::io::Error::new(error.kind(), format!("{}: {error}", path.display())));
    }
    std::fs::create_dir_all(destination)?;
    for entry in walk.entries {
        let (from, to) = (source.join(&entry.relative), destination.join(&entry.relative));
        match entry.kind {
            EntryKind::Directory => std::fs::create_dir_all(&to)?,
            EntryKind::File => {
                std::fs::copy(&from, &to)?;
            }
            EntryKind::Symlink => std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?,
        }
    }
    Ok(())
}

/// Why scratch copies cannot hold the planned files, if they cannot: a copy holds the
/// project tree only, so a planned file outside it (an absolute source root, or one that
/// climbs out with `..`) would be patched in the user's own tree, unjournaled.
pub(crate) fn files_outside_the_project(plan: &Plan) -> Option<String> {
    let outside: Vec<&str> = plan
        .files
        .iter()
        .map(|file| file.relative.as_str())
        .filter(|relative| !is_inside(relative))
        .collect();
    (!outside.is_empty()).then(|| {
        format!(
            "{} lies outside the project root, and scratch copies hold only the project",
            outside.join(", ")
        )
    })
}

/// Whether a path relative to the project root stays inside it.
fn is_inside(relative: &str) -> bool {
    Path::new(relative).components().all(|component| matches!(component, Component::Normal(_)))
}

/// Runs patch sets in one scratch copy.
pub(crate) struct CopyRunner<'a> {
    context: RunContext<'a>,
    /// Holds the copy and its probe directory; removed on drop.
    _dir: tempfile::TempDir,
    /// Declared after `_dir`, so dropped after it: the record goes once the copy is gone.
    registration: Registration,
    root: PathBuf,
    probe: ProbeSetup,
    name: String,
    pub counts: RunCounts,
}

impl std::fmt::Debug for CopyRunner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyRunner").field("root", &self.root).finish_non_exhaustive()
    }
}

impl<'a> CopyRunner<'a> {
    /// Copy number `number` (1-based) of the project.
    pub(crate) fn new(context: RunContext<'a>, number: usize) -> Result<Self, RunnerError> {
        let setup = RunnerError::setup("scratch copy: ");
        let dir = tempfile::Builder::new().prefix(SCRATCH_PREFIX).tempdir().map_err(&setup)?;
        let registration = Registration::new(context.state, dir.path()).map_err(&setup)?;
        let root = dir.path().join("project");
        copy_tree(&context.manifest.root, &root).map_err(&setup)?;
        // The main tree's bytecode prefix holds compiled pytest and standard library; the
        // copy's project files get a subtree of their own, forgotten after each run.
        let bytecode = BytecodeCache::new(context.state.bytecode_dir(), &root);
        let probe =
            ProbeSetup::new(dir.path(), &probe_targets(context.plan, Some(&root)), bytecode)
                .map_err(&setup)?;
        Ok(Self {
            context,
            _dir: dir,
            registration,
            root,
            probe,
            name: format!("copy{number}"),
            counts: RunCounts::default(),
        })
    }

    /// The screen (every function patched, the whole suite), run here while the baseline
    /// runs.
    pub(crate) fn screen(&mut self, functions: &[FunctionIndex]) -> Result<RunRecord, RunnerError> {
        self.run(functions, Scope::Suite, "screen", false)
    }

    /// One part of the baseline: nothing patched, the test files of `part`, keys traced
    /// and would-be hits checked with `--verify-hits`.
    pub(crate) fn baseline_part(&mut self, part: Part) -> Result<RunRecord, RunnerError> {
        self.run(&[], Scope::Part(part), &format!("baseline-part-{}", part.index), true)
    }

    /// One run; when its tests imported the original tree, once more with the copy's
    /// source roots first on `PYTHONPATH` (and so every later run of every copy).
    fn run(
        &mut self,
        functions: &[FunctionIndex],
        scope: Scope<'_>,
        label: &str,
        baseline: bool,
    ) -> Result<RunRecord, RunnerError> {
        let roots_first = self.context.source_roots_first.load(Ordering::SeqCst);
        match self.run_once(functions, scope, label, roots_first, baseline) {
            Err(RunnerError::CopyInvisible(reason)) if !roots_first => {
                self.context
                    .reporter
                    .report(RunnerEvent::RetryingWithSourceRootsFirst { label, reason: &reason });
                self.context.source_roots_first.store(true, Ordering::SeqCst);
                self.run_once(functions, scope, label, true, baseline)
            }
            other => other,
        }
    }

    fn run_once(
        &mut self,
        functions: &[FunctionIndex],
        scope: Scope<'_>,
        label: &str,
        roots_first: bool,
        baseline: bool,
    ) -> Result<RunRecord, RunnerError> {
        if self.context.interrupt.is_set() {
            return Err(RunnerError::Interrupted);
        }
        self.counts.runs += 1;
        let setup = RunnerError::setup("scratch copy: ");
        let log_file = log_name(&format!("{}-", self.name), self.counts.runs, label);
        let mut prepared = PreparedRun::new(
            &self.probe,
            self.context.manifest,
            &self.root,
            self.context.state.runs_dir().join(log_file),
            self.counts.runs,
            RunSettings {
                scope,
                timeout: self.context.timeout,
                verify: self.context.verify.filter(|_| baseline),
                trace: baseline,
            },
        )?;
        if roots_first {
            self.put_source_roots_first(&mut prepared.request.env);
        }
        let patches = self.context.plan.patch_files(functions);
        for patch in &patches {
            std::fs::write(self.path_of(&patch.file.relative)?, &patch.patched.bytes)
                .map_err(&setup)?;
        }
        let registration = &self.registration;
        let mut registered = Ok(());
        let outcome = process::run(&prepared.request, self.context.interrupt, |group| {
            registered = registration.set_group(Some(group));
        });
        registered.and_then(|()| registration.set_group(None)).map_err(&setup)?;
        for patch in &patches {
            std::fs::write(self.path_of(&patch.file.relative)?, &patch.file.bytes)
                .map_err(&setup)?;
        }
        let record = prepared.finish(outcome?, self.context.interrupt)?;
        self.counts.tests_executed += record.tests_run();
        self.context.reporter.report(RunnerEvent::RunFinished {
            label,
            copy: Some(&self.name),
            patched: functions.len(),
            record: &record,
        });
        self.check_visibility(&record)?;
        Ok(record)
    }

    /// A planned file in this copy; never a path outside it.
    fn path_of(&self, relative: &str) -> Result<PathBuf, RunnerError> {
        if !is_inside(relative) {
            return Err(RunnerError::Setup(format!(
                "scratch copy: {relative} lies outside the project, refusing to write it"
            )));
        }
        Ok(self.root.join(relative))
    }

    /// `PYTHONPATH` with the copy's source roots (those that exist) in front.
    fn put_source_roots_first(&self, env: &mut BTreeMap<String, String>) {
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

    /// The run tested the copy only if the tests loaded the copy's files: a target loaded
    /// from the original tree means they did not (patched or not, its calls went unseen).
    fn check_visibility(&self, record: &RunRecord) -> Result<(), RunnerError> {
        let Some(observation) = &record.observation else { return Ok(()) };
        let original = std::fs::canonicalize(&self.context.manifest.root)
            .unwrap_or_else(|_| self.context.manifest.root.clone());
        for stats in observation.targets.values() {
            if let Some(file) =
                stats.loaded_files.iter().find(|file| Path::new(file).starts_with(&original))
                && stats.state == TargetState::OtherFile
            {
                return Err(RunnerError::CopyInvisible(format!(
                    "the tests in a scratch copy imported {file} from the original tree (an editable install, or an absolute path in the configuration?)"
                )));
            }
        }
        Ok(())
    }
}

impl Executor for CopyRunner<'_> {
    fn run_patched(
        &mut self,
        functions: &[FunctionIndex],
        selection: Option<&BTreeSet<String>>,
        label: &str,
    ) -> Result<RunRecord, RunnerError> {
        self.run(functions, selection.into(), label, false)
    }

    fn judge_run(&self, record: &RunRecord) -> Result<RunJudgement, RunnerError> {
        self.context.judge(record)
    }

    fn announce(&self, step: Step<'_>) {
        self.context.reporter.report(RunnerEvent::Step { step, copy: Some(&self.name) });
    }
}

#[cfg(test)]
mod tests {
    use super::{copy_tree, is_inside};

    #[test]
    fn only_paths_that_stay_inside_the_project_are_inside() {
        assert!(is_inside("src/pkg/mod.py"));
        assert!(!is_inside("/abs/lib/shared.py"));
        assert!(!is_inside("../lib/shared.py"));
        assert!(!is_inside("src/../../x.py"));
    }

    #[test]
    fn copies_leave_out_version_control_state_and_environments() {
        let source = tempfile::tempdir().expect("tempdir");
        let root = source.path();
        for (path, text) in [
            ("src/m.py", "x = 1\n"),
            (".config/data.json", "{}"),
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
        assert!(destination.path().join(".config/data.json").exists(), "data is copied");
        for left_out in [".git", ".cachescan", "env"] {
            assert!(!destination.path().join(left_out).exists(), "{left_out} left out");
        }
    }
}
