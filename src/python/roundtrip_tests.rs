//! The round trip over the installed CPython standard library: every module that CPython
//! parses must parse with our source model, take a decorator on every function, still parse
//! afterwards with the same functions, and come back byte for byte once the inserted lines are
//! removed.
//!
//! It owns nothing the binary uses; it is slow (a few thousand files, twice each), so it is
//! `#[ignore]`d and `.ci/test` runs it with `--include-ignored`. It asks Python for two
//! things only: where the standard library is, and which of its files CPython itself
//! rejects (Python 2 test data, `badsyntax_*.py`). `CACHESCAN_PYTHON` names the interpreter (default `python3`).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::python::cache_size::CacheSize;
use crate::python::patch::{self, DecoratorEdit, Patched};
use crate::python::source::PythonFile;

/// Directories of third-party code that live inside the standard library directory.
const THIRD_PARTY_DIRECTORIES: [&str; 2] = ["site-packages", "dist-packages"];

/// Reads paths (one a line) on stdin and prints those that CPython cannot parse.
const UNPARSABLE_FILES_SCRIPT: &str = r#"
import ast, sys, warnings
warnings.simplefilter("ignore")
for path in sys.stdin.read().splitlines():
    try:
        with open(path, "rb") as file:
            ast.parse(file.read(), path)
    except (SyntaxError, ValueError, UnicodeDecodeError):
        print(path)
"#;

const MINIMUM_FILES: usize = 1000;
const MINIMUM_FUNCTIONS: usize = 20_000;
const FAILURES_SHOWN: usize = 20;

/// What went wrong with one file, for the final report.
struct Failure {
    relative: String,
    problem: String,
}

/// The totals printed at the end.
#[derive(Default)]
struct Coverage {
    files: usize,
    functions: usize,
    inserted_lines: usize,
    rejected_by_python: usize,
    not_utf8: usize,
}

#[test]
#[ignore = "slow: .ci/test runs it with --include-ignored"]
fn patches_the_whole_standard_library() {
    let interpreter = std::env::var("CACHESCAN_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let root = standard_library(&interpreter);
    let candidates = python_files(&root);
    let rejected = files_python_cannot_parse(&interpreter, &candidates);
    let mut coverage = Coverage { rejected_by_python: rejected.len(), ..Coverage::default() };
    let mut failures = Vec::new();
    for path in candidates.iter().filter(|path| !rejected.contains(*path)) {
        let bytes = std::fs::read(path)
            .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        if std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)).is_err() {
            coverage.not_utf8 += 1;
            continue;
        }
        let relative = path.strip_prefix(&root).unwrap_or(path).to_string_lossy().into_owned();
        match round_trip(path, &relative, bytes) {
            Ok((functions, inserted_lines)) => {
                coverage.files += 1;
                coverage.functions += functions;
                coverage.inserted_lines += inserted_lines;
            }
            Err(problem) => failures.push(Failure { relative, problem }),
        }
    }
    print_coverage(&root, &coverage, failures.len());
    assert_no_failures(&failures);
    assert!(coverage.files > MINIMUM_FILES, "only {} files covered", coverage.files);
    assert!(
        coverage.functions > MINIMUM_FUNCTIONS,
        "only {} functions covered",
        coverage.functions
    );
}

/// Parse, patch every function, re-parse, compare; returns the functions and lines inserted.
fn round_trip(path: &Path, relative: &str, bytes: Vec<u8>) -> Result<(usize, usize), String> {
    let original = PythonFile::parse(path.to_path_buf(), relative.to_owned(), bytes.clone())
        .map_err(|error| format!("Ruff rejects a file CPython parses:\n{}", rendered(&error)))?;
    check_indentation(&original)?;
    let patched = patch::patch(&original, &edits_for_every_function(&original));
    let reparsed =
        PythonFile::parse(path.to_path_buf(), relative.to_owned(), patched.bytes.clone()).map_err(
            |error| {
                format!(
                    "the patched file does not parse (inserted lines, 1-based: {:?}):\n{}",
                    patched.inserted_lines.iter().map(|index| index + 1).collect::<Vec<_>>(),
                    rendered(&error)
                )
            },
        )?;
    check_same_functions(&original, &reparsed)?;
    check_restores_original(&patched, &bytes)?;
    Ok((original.functions.len(), patched.inserted_lines.len()))
}

/// One edit per function, cycling through the decorator's forms.
fn edits_for_every_function(file: &PythonFile) -> Vec<DecoratorEdit> {
    file.functions
        .iter()
        .enumerate()
        .map(|(index, function)| {
            let (cache_size, typed) = match index % 3 {
                0 => (CacheSize::Bounded(128), false),
                1 => (CacheSize::Bounded(128), true),
                _ => (CacheSize::Unbounded, index % 2 == 0),
            };
            DecoratorEdit {
                line_start: function.line_start,
                indent: function.indent.clone(),
                cache_size,
                typed,
            }
        })
        .collect()
}

/// A `def` must be the first thing on its line, or the decorator would copy code as indent.
fn check_indentation(file: &PythonFile) -> Result<(), String> {
    match file.functions.iter().find(|function| !function.indent.chars().all(char::is_whitespace)) {
        Some(function) => Err(format!(
            "line {}: `{}` has non-whitespace before its keyword: {:?}",
            function.line, function.qualname, function.indent
        )),
        None => Ok(()),
    }
}

fn check_same_functions(original: &PythonFile, reparsed: &PythonFile) -> Result<(), String> {
    let before: Vec<&str> = original.qualnames().collect();
    let after: Vec<&str> = reparsed.qualnames().collect();
    if before == after {
        return Ok(());
    }
    Err(format!(
        "functions changed: {} before, {} after; before {before:?}, after {after:?}",
        before.len(),
        after.len()
    ))
}

fn check_restores_original(patched: &Patched, original: &[u8]) -> Result<(), String> {
    let restored = without_lines(&patched.bytes, &patched.inserted_lines);
    if restored == original {
        return Ok(());
    }
    let first_difference = restored.iter().zip(original).position(|(left, right)| left != right);
    let offset = first_difference.unwrap_or_else(|| restored.len().min(original.len()));
    let line = original[..offset].iter().filter(|byte| **byte == b'\n').count() + 1;
    Err(format!(
        "removing inserted lines {:?} does not give back the original: first difference at original line {line}",
        patched.inserted_lines
    ))
}

/// `bytes` split after each `\n` (endings kept), without the lines at `indices` (0-based).
fn without_lines(bytes: &[u8], indices: &[usize]) -> Vec<u8> {
    let indices: HashSet<usize> = indices.iter().copied().collect();
    bytes
        .split_inclusive(|byte| *byte == b'\n')
        .enumerate()
        .filter(|(index, _)| !indices.contains(index))
        .flat_map(|(_, line)| line.iter().copied())
        .collect()
}

/// A parse error with the lines around it, for the report.
fn rendered(error: &crate::python::source::SourceError) -> String {
    format!("{:?}", miette::Report::new(error.as_ref().clone()))
}

fn standard_library(interpreter: &str) -> PathBuf {
    let output = Command::new(interpreter)
        .args(["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| {
            panic!("running {interpreter} (set CACHESCAN_PYTHON to another one): {error}")
        });
    assert!(
        output.status.success(),
        "{interpreter} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let root = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        root.is_dir(),
        "{interpreter} names a standard library that is not a directory: {}",
        root.display()
    );
    root
}

/// Every `*.py` under `root` outside third-party directories, sorted; symlinks not followed.
fn python_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut directories = vec![root.to_path_buf()];
    while let Some(directory) = directories.pop() {
        let entries = std::fs::read_dir(&directory)
            .unwrap_or_else(|error| panic!("listing {}: {error}", directory.display()));
        for entry in entries {
            let entry =
                entry.unwrap_or_else(|error| panic!("listing {}: {error}", directory.display()));
            let path = entry.path();
            let file_type =
                entry.file_type().unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let name = entry.file_name();
            if file_type.is_dir() && !THIRD_PARTY_DIRECTORIES.iter().any(|skipped| name == *skipped)
            {
                directories.push(path);
            } else if file_type.is_file()
                && path.extension().is_some_and(|extension| extension == "py")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Ask one Python process which of `files` CPython's own parser rejects.
fn files_python_cannot_parse(interpreter: &str, files: &[PathBuf]) -> HashSet<PathBuf> {
    let mut child = Command::new(interpreter)
        .args(["-I", "-B", "-c", UNPARSABLE_FILES_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("running {interpreter}: {error}"));
    let mut list = String::new();
    for file in files {
        list.push_str(&file.to_string_lossy());
        list.push('\n');
    }
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(list.as_bytes()).expect("writing the file list to python");
    drop(stdin);
    let output = child.wait_with_output().expect("waiting for python");
    assert!(output.status.success(), "{interpreter} could not check the files");
    String::from_utf8_lossy(&output.stdout).lines().map(PathBuf::from).collect()
}

fn print_coverage(root: &Path, coverage: &Coverage, failures: usize) {
    println!("standard library: {}", root.display());
    println!(
        "round trip: {} files, {} functions, {} inserted lines; {failures} files failed",
        coverage.files, coverage.functions, coverage.inserted_lines
    );
    println!(
        "skipped: {} files CPython cannot parse, {} files not UTF-8",
        coverage.rejected_by_python, coverage.not_utf8
    );
}

fn assert_no_failures(failures: &[Failure]) {
    if failures.is_empty() {
        return;
    }
    for failure in failures.iter().take(FAILURES_SHOWN) {
        println!("FAILED {}: {}", failure.relative, failure.problem);
    }
    panic!(
        "{} files failed the round trip (first {} printed above)",
        failures.len(),
        FAILURES_SHOWN.min(failures.len())
    );
}
