//! A scratch copy of one fixture project that remembers what the fixture held, so a test
//! can run cachescan in it (with the tests' Python on `PATH`) and then check that the tree
//! is byte for byte what it was. Shared by the tests that run `apply`; each test file adds
//! its own methods in an `impl Project` of its own. Also: reading targets from a report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Run, Scratch, assert_same_tree, tree_contents};

/// `PATH` for cachescan and its test runs: `CACHESCAN_TEST_PYTHON_BIN` first, when set.
pub fn search_path() -> String {
    let inherited = std::env::var("PATH").unwrap_or_default();
    match std::env::var("CACHESCAN_TEST_PYTHON_BIN") {
        Ok(python_bin) if !python_bin.is_empty() => format!("{python_bin}:{inherited}"),
        _ => inherited,
    }
}

/// A scratch copy of one fixture, with what the fixture held.
#[derive(Debug)]
pub struct Project {
    pub scratch: Scratch,
    /// Every directory and file of the fixture (caches left out), as `tree_contents` gives them.
    pub original: BTreeMap<String, Option<Vec<u8>>>,
}

impl Project {
    /// A scratch copy of the fixture case `tests/fixtures/<fixture>`, its layers included.
    pub fn copy(fixture: &str) -> Project {
        let scratch = Scratch::fixture(fixture);
        let original = tree_contents(scratch.root());
        Project { scratch, original }
    }

    pub fn root(&self) -> &Path {
        self.scratch.root()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.scratch.path(relative)
    }

    /// Replace a file of the scratch copy, and expect it so from now on.
    pub fn rewrite(&mut self, relative: &str, contents: &str) {
        self.scratch.write(relative, contents);
        self.original.insert(relative.to_owned(), Some(contents.as_bytes().to_vec()));
    }

    /// Run `cachescan <args>` here, with the Python of the tests on `PATH`.
    pub fn cachescan(&self, args: &[&str]) -> Run {
        self.cachescan_with_env(args, &[])
    }

    pub fn cachescan_with_env(&self, args: &[&str], environment: &[(&str, &str)]) -> Run {
        let path = search_path();
        let mut environment = environment.to_vec();
        environment.push(("PATH", &path));
        super::run_with_env(self.root(), args, &environment)
    }

    /// insta settings for a human or Markdown report of a run here: the scratch path and
    /// every duration hidden.
    pub fn human_report_settings(&self) -> insta::Settings {
        let mut settings = self.scratch.snapshot_settings();
        settings.add_filter(r"in \d+(\.\d+)? s\b", "in [DURATION]");
        settings.add_filter(
            r"\d+(\.\d+)? (µs|ms|s) -> \d+(\.\d+)? (µs|ms|s)( \(\d+\.\dx\))?",
            "[TIME INSIDE]",
        );
        settings
    }

    /// Panic unless the tree is byte for byte the fixture, with nothing new outside
    /// `.cachescan/`.
    #[track_caller]
    pub fn assert_unchanged(&self) {
        let actual: BTreeMap<String, Option<Vec<u8>>> = tree_contents(self.root())
            .into_iter()
            .filter(|(path, _)| !path.starts_with(".cachescan/"))
            .collect();
        assert_same_tree(&self.original, &actual);
    }
}

/// The report's targets by id.
pub fn targets(report: &Value) -> BTreeMap<String, Value> {
    report["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("`targets` is not an array: {report:#}"))
        .iter()
        .map(|target| (target["id"].as_str().expect("a target id").to_owned(), target.clone()))
        .collect()
}

/// One target of the report.
#[track_caller]
pub fn target(report: &Value, id: &str) -> Value {
    targets(report).remove(id).unwrap_or_else(|| panic!("no target {id} in {report:#}"))
}

/// Every target's verdict, by id.
pub fn verdicts(report: &Value) -> BTreeMap<String, String> {
    targets(report)
        .into_iter()
        .map(|(id, target)| (id, target["verdict"].as_str().expect("a verdict").to_owned()))
        .collect()
}
