//! Shared helpers for the integration tests: scratch projects (an empty temporary directory,
//! or a copy of a fixture tree), running the real `cachescan` binary in a clean, colourless
//! environment, and insta settings that hide what changes between runs (the scratch
//! directory becomes `[ROOT]`, durations become `[DURATION]`).
//!
//! Every test works on its own scratch copy, never on the tree in the repository, so a
//! cachescan that wrongly writes can only damage a temporary directory, and the test can
//! compare that copy with the original byte for byte.

pub mod fixture;
pub mod project;

/// The exit codes, as the crate defines them (`cachescan::ExitCode`): a test that expects
/// one never repeats its number.
pub mod exit {
    use cachescan::ExitCode;

    pub const SUCCESS: i32 = ExitCode::Success as i32;
    pub const FINDINGS: i32 = ExitCode::Findings as i32;
    pub const UNUSABLE: i32 = ExitCode::Unusable as i32;
    pub const RESTORE_INCOMPLETE: i32 = ExitCode::RestoreIncomplete as i32;
    pub const INTERRUPTED: i32 = ExitCode::Interrupted as i32;
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variables that change cachescan's output and must not leak in from the
/// developer's shell or CI (every `CACHESCAN_*` variable is removed as well).
const OUTSIDE_VARIABLES: &[&str] =
    &["CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "TERM", "RUST_BACKTRACE", "RUST_LIB_BACKTRACE"];

/// Width given to anything that asks the terminal (miette renders at 100 columns).
pub const COLUMNS: &str = "100";

/// A path inside this repository (`examples/shop`, `tests/fixtures/line_endings`).
pub fn repository_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A temporary project directory, removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    directory: tempfile::TempDir,
}

impl Scratch {
    /// An empty scratch directory.
    pub fn empty() -> Scratch {
        let directory = tempfile::Builder::new()
            .prefix("cachescan-test-")
            .tempdir()
            .expect("create a temporary directory");
        Scratch { directory }
    }

    /// A scratch copy of a tree of this repository, e.g. `examples/shop`.
    pub fn copy_of(relative: &str) -> Scratch {
        let scratch = Scratch::empty();
        copy_tree(&repository_path(relative), scratch.root());
        scratch
    }

    /// A scratch copy of the fixture case `tests/fixtures/<case>`, its layers included
    /// (see [`fixture`]).
    pub fn fixture(case: &str) -> Scratch {
        let scratch = Scratch::empty();
        fixture::write(case, scratch.root());
        scratch
    }

    pub fn root(&self) -> &Path {
        self.directory.path()
    }

    /// A path inside the scratch directory.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    /// Write a file (creating its directories), e.g. the manifest or a Python module.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|error| panic!("create {}: {error}", parent.display()));
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    }

    /// insta settings for this scratch directory: its path (as given and canonical) is shown
    /// as `[ROOT]`, durations as `[DURATION]`.
    pub fn snapshot_settings(&self) -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        let given = self.root().to_string_lossy().into_owned();
        let canonical = std::fs::canonicalize(self.root())
            .map_or_else(|_| given.clone(), |path| path.to_string_lossy().into_owned());
        let mut roots = vec![given, canonical];
        roots.sort_by_key(|root| std::cmp::Reverse(root.len()));
        roots.dedup();
        for root in roots {
            settings.add_filter(&regex_escape(&root), "[ROOT]");
        }
        settings.add_filter(r"\b\d+\.\d+m?s\b", "[DURATION]");
        settings
    }
}

/// Copy `from` into `to` recursively: regular files byte for byte, symlinks as symlinks.
/// Python and pytest caches are left out, so a copy never depends on who ran what before.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("create {}: {error}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|error| panic!("list {}: {error}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|error| panic!("list {}: {error}", from.display()));
        let name = entry.file_name();
        if is_cache_directory(&name) {
            continue;
        }
        let source = entry.path();
        let target = to.join(&name);
        let file_type = entry
            .file_type()
            .unwrap_or_else(|error| panic!("inspect {}: {error}", source.display()));
        if file_type.is_dir() {
            copy_tree(&source, &target);
        } else if file_type.is_symlink() {
            let link = std::fs::read_link(&source)
                .unwrap_or_else(|error| panic!("read link {}: {error}", source.display()));
            std::os::unix::fs::symlink(&link, &target)
                .unwrap_or_else(|error| panic!("link {}: {error}", target.display()));
        } else {
            std::fs::copy(&source, &target)
                .unwrap_or_else(|error| panic!("copy {}: {error}", source.display()));
        }
    }
}

/// Directories that Python, pytest or cachescan itself create while running, never part of
/// a fixture.
const CACHE_DIRECTORIES: &[&str] = &["__pycache__", ".pytest_cache", ".cachescan"];

fn is_cache_directory(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|name| CACHE_DIRECTORIES.contains(&name))
}

/// Every directory and file under `root` (relative paths, `/`-separated), with the bytes of
/// each file (`None` for a directory), to compare two trees byte for byte.
pub fn tree_contents(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut contents = BTreeMap::new();
    collect_tree(root, root, &mut contents);
    contents
}

/// [`tree_contents`] without the cache directories: what [`copy_tree`] copies, to compare
/// a tree in the repository (where someone may have run pytest) with a scratch copy.
pub fn source_tree_contents(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut contents = tree_contents(root);
    contents
        .retain(|relative, _| !relative.split('/').any(|part| CACHE_DIRECTORIES.contains(&part)));
    contents
}

fn collect_tree(root: &Path, directory: &Path, contents: &mut BTreeMap<String, Option<Vec<u8>>>) {
    let entries = std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("list {}: {error}", directory.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let relative =
            path.strip_prefix(root).expect("inside the root").to_string_lossy().into_owned();
        let metadata = std::fs::symlink_metadata(&path)
            .unwrap_or_else(|error| panic!("inspect {}: {error}", path.display()));
        if metadata.is_dir() {
            contents.insert(format!("{relative}/"), None);
            collect_tree(root, &path, contents);
        } else if metadata.file_type().is_symlink() {
            let link = std::fs::read_link(&path).expect("read link");
            contents.insert(relative, Some(link.to_string_lossy().into_owned().into_bytes()));
        } else {
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
            contents.insert(relative, Some(bytes));
        }
    }
}

/// Panic with the list of paths that differ between two trees.
pub fn assert_same_tree(
    expected: &BTreeMap<String, Option<Vec<u8>>>,
    actual: &BTreeMap<String, Option<Vec<u8>>>,
) {
    let mut differences = Vec::new();
    for (path, bytes) in expected {
        match actual.get(path) {
            None => differences.push(format!("removed: {path}")),
            Some(other) if other != bytes => differences.push(format!("changed: {path}")),
            Some(_) => {}
        }
    }
    for path in actual.keys().filter(|path| !expected.contains_key(*path)) {
        differences.push(format!("added: {path}"));
    }
    assert!(differences.is_empty(), "the tree changed:\n  {}", differences.join("\n  "));
}

/// `cachescan` with a clean environment: no colour (`NO_COLOR=1`, `--color never`), no
/// `CACHESCAN_*` settings, a fixed `COLUMNS`, run in `directory`. Arguments still to add.
pub fn cachescan(directory: &Path) -> assert_cmd::Command {
    let mut command =
        assert_cmd::Command::cargo_bin("cachescan").expect("the cachescan binary is built");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CACHESCAN_") {
            command.env_remove(&name);
        }
    }
    for name in OUTSIDE_VARIABLES {
        command.env_remove(name);
    }
    command
        .env("NO_COLOR", "1")
        .env("COLUMNS", COLUMNS)
        .current_dir(directory)
        .timeout(Duration::from_secs(120))
        .args(["--color", "never"]);
    command
}

/// What one cachescan run left behind.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// stdout as text (cachescan only prints UTF-8).
    pub fn stdout_text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    /// stdout parsed as one JSON document.
    pub fn stdout_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|error| {
            panic!("stdout is not JSON ({error}):\n{}", String::from_utf8_lossy(&self.stdout))
        })
    }

    /// Panic, showing both streams, unless the exit code is `expected`.
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        );
        self
    }
}

/// Run `cachescan <args>` in `directory` with the clean environment plus `environment`.
pub fn run_with_env(directory: &Path, args: &[&str], environment: &[(&str, &str)]) -> Run {
    let mut command = cachescan(directory);
    command.args(args);
    for (name, value) in environment {
        command.env(name, value);
    }
    let output = command.output().expect("run cachescan");
    Run {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Run `cachescan <args>` in `directory` with the clean environment.
pub fn run(directory: &Path, args: &[&str]) -> Run {
    run_with_env(directory, args, &[])
}

/// `text` as a regex that matches it literally (only the characters regex treats specially
/// are escaped).
fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// insta settings for a JSON report: durations, hashes and measured times hidden.
pub fn json_report_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r#""duration_s": \d+(\.\d+)?"#, r#""duration_s": "[duration_s]""#);
    // Hashes change with every edit of the fixture; their own tests are in scale.rs.
    settings
        .add_filter(r#""(manifest_sha256|source_sha256)": "[0-9a-f]{64}""#, r#""$1": "[sha256]""#);
    // Time inside a function is measured, so it varies from run to run.
    settings.add_filter(
        r#""(time_before_s|time_after_s|speedup)": \d+(\.\d+)?(e-?\d+)?"#,
        r#""$1": "[measured]""#,
    );
    settings
}
