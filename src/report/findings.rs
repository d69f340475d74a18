//! What the CI formats show, as one list both of them render: every finding of a plan
//! (a hazard, an unresolved target) or of an apply report (an `unsafe` or `invisible`
//! verdict) with its rule code, its level, its place in the repository and its message.
//! `github` turns the list into workflow commands, `sarif` into a SARIF log, so an
//! annotation and a code-scanning alert always say the same thing.
//!
//! Places are where GitHub looks for them: paths relative to the repository root (the
//! nearest directory above the project holding `.git`, or the project root outside version
//! control), at the function's `def` line. A hazard found further down in the body names
//! its own line in the message.

use std::path::{Path, PathBuf};

use miette::Diagnostic;

use crate::config::manifest::Manifest;
use crate::plan::{Action, Plan};
use crate::python::hazard::HazardSeverity;
use crate::report::apply::{ApplyReport, VerdictMessage, summary, verdict_message};
use crate::report::plan::hazard_entries;
use crate::ui::text::relative_display;

/// The rule of a pattern (or a `module:`/`path:` glob) of the manifest that matches nothing.
pub(crate) const UNRESOLVED_TARGET: &str = "unresolved-target";

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// It fails the command (exit code 1): an `error` hazard the target does not allow, an
    /// unresolved target, an `unsafe` or `invisible` function.
    Error,
    /// A `warning` hazard: the function is patched, but look.
    Warning,
    /// A hazard the target allows, or a remark.
    Note,
}

/// One finding at one place.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    /// A hazard code (`method-self-leak`), a verdict (`unsafe`) or [`UNRESOLVED_TARGET`].
    pub rule: String,
    pub level: Level,
    /// Relative to the repository root, `/`-separated (absolute for a file outside it).
    pub path: String,
    /// 1-based: the `def` line of the function, or the pattern's line in the manifest.
    pub line: usize,
    /// `module:qualname`, for findings on a function.
    pub function: Option<String>,
    /// One line: the rule and what it is about.
    pub title: String,
    /// The message; it may run over several lines, the last one the help.
    pub message: String,
}

/// The findings of one command, with the remarks that have no place and the one-line
/// summary the human report ends with.
#[derive(Debug, Clone)]
pub(crate) struct Findings {
    pub results: Vec<Finding>,
    /// Remarks without a place (planner notes, tests failing in the baseline).
    pub notices: Vec<(Level, String)>,
    pub summary: String,
    /// `file://` URI of the repository root (ends with `/`).
    pub root_uri: String,
}

/// Where paths start: the repository root, and the project root inside it.
#[derive(Debug, Clone)]
pub(crate) struct Repository {
    /// The repository root, absolute.
    root: PathBuf,
    /// The project root relative to it, `/`-separated; empty when they are the same.
    project: String,
}

impl Repository {
    /// The repository around `project_root`: the nearest directory at or above it holding
    /// `.git`, or the project root itself outside version control.
    pub(crate) fn around(project_root: &Path) -> Self {
        let root = crate::safety::tree::repository_root(project_root)
            .unwrap_or_else(|| project_root.to_path_buf());
        let project = relative_display(project_root, &root);
        Self { root, project }
    }

    /// A path relative to the project root (as reports write them), relative to the
    /// repository root instead.
    pub(crate) fn in_project(&self, relative: &str) -> String {
        if self.project.is_empty() || Path::new(relative).is_absolute() {
            relative.to_owned()
        } else {
            format!("{}/{relative}", self.project)
        }
    }

    /// An absolute path, relative to the repository root when inside it.
    pub(crate) fn of(&self, absolute: &Path) -> String {
        relative_display(absolute, &self.root)
    }

    /// `file:///…/` of the root, percent-encoded.
    pub(crate) fn root_uri(&self) -> String {
        let text = self.root.to_string_lossy();
        let slash = if text.ends_with('/') { "" } else { "/" };
        format!("file://{}{slash}", percent_encode_path(&text))
    }
}

/// A path as a URI reference: every byte but unreserved characters and `/` is
/// percent-encoded (RFC 3986).
pub(crate) fn percent_encode_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

impl Findings {
    /// A plan's findings: each hazard of each function, in plan order, then each
    /// unresolved target; the planner's notes as remarks.
    pub(crate) fn of_plan(plan: &Plan, manifest: &Manifest, repository: &Repository) -> Self {
        let mut results = Vec::new();
        for function in &plan.functions {
            let path = repository.in_project(&plan.file_of(function).relative);
            for hazard in hazard_entries(plan, function) {
                let level = match hazard.severity {
                    _ if hazard.allowed => Level::Note,
                    HazardSeverity::Error => Level::Error,
                    HazardSeverity::Warning => Level::Warning,
                };
                let mut message = hazard.message.clone();
                if hazard.allowed {
                    message.push_str(" (allowed by the manifest)");
                }
                if level == Level::Error && function.action == Action::Skip {
                    message.push_str("; not patched");
                }
                if hazard.line != function.line {
                    message.push_str(&format!("\n  at line {}", hazard.line));
                }
                message.push_str(&format!("\nhelp: {}", hazard.help));
                results.push(Finding {
                    rule: hazard.code.as_str().to_owned(),
                    level,
                    path: path.clone(),
                    line: function.line,
                    function: Some(function.id.clone()),
                    title: format!("{}: {}", hazard.code, function.id),
                    message,
                });
            }
        }
        let manifest_path = repository.of(&manifest.path);
        for unresolved in &plan.unresolved {
            let mut message = unresolved.message.clone();
            if let Some(help) = unresolved.diagnostic.help() {
                message.push_str(&format!("\nhelp: {help}"));
            }
            results.push(Finding {
                rule: UNRESOLVED_TARGET.to_owned(),
                level: Level::Error,
                path: manifest_path.clone(),
                line: unresolved.line,
                function: None,
                title: format!("{UNRESOLVED_TARGET}: {}", unresolved.pattern),
                message,
            });
        }
        Self {
            results,
            notices: plan.notes.iter().map(|note| (Level::Note, note.clone())).collect(),
            summary: crate::report::plan::summary(plan),
            root_uri: repository.root_uri(),
        }
    }

    /// An apply report's findings (a merged one's too): each `unsafe` or `invisible`
    /// function, in plan order; tests that fail without any patch as a remark.
    pub(crate) fn of_apply(report: &ApplyReport, repository: &Repository) -> Self {
        let results = report
            .targets
            .iter()
            .filter(|target| target.verdict.is_finding())
            .map(|target| {
                let VerdictMessage { message, help, .. } = verdict_message(target);
                Finding {
                    rule: target.verdict.as_str().to_owned(),
                    level: Level::Error,
                    path: repository.in_project(&target.path),
                    line: target.line,
                    function: Some(target.id.clone()),
                    title: format!("{}: {}", target.verdict.as_str(), target.id),
                    message: format!("{message}\nhelp: {help}"),
                }
            })
            .collect();
        let mut notices = Vec::new();
        if !report.baseline_failures.is_empty() {
            notices.push((
                Level::Warning,
                format!(
                    "{} already failing without any patch, ignored: {}",
                    crate::ui::text::plural(report.baseline_failures.len(), "test"),
                    report.baseline_failures.join(", ")
                ),
            ));
        }
        Self { results, notices, summary: summary(report), root_uri: repository.root_uri() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_is_found_above_the_project_or_is_the_project() {
        let directory = tempfile::tempdir().expect("tempdir");
        let project = directory.path().join("py/app");
        std::fs::create_dir_all(directory.path().join(".git")).expect("mkdir .git");
        std::fs::create_dir_all(&project).expect("mkdir project");
        let repository = Repository::around(&project);
        assert_eq!(repository.in_project("src/a.py"), "py/app/src/a.py");
        let bare = tempfile::tempdir().expect("tempdir");
        assert_eq!(Repository::around(bare.path()).in_project("src/a.py"), "src/a.py");
    }

    #[test]
    fn paths_of_a_project_below_the_repository_root_start_at_the_root() {
        let repository =
            Repository { root: PathBuf::from("/work/repo"), project: "py/app".to_owned() };
        assert_eq!(repository.in_project("src/a.py"), "py/app/src/a.py");
        assert_eq!(repository.in_project("/elsewhere/b.py"), "/elsewhere/b.py");
        assert_eq!(
            repository.of(Path::new("/work/repo/py/app/cachescan.yaml")),
            "py/app/cachescan.yaml"
        );
        assert_eq!(repository.of(Path::new("/other/c.py")), "/other/c.py");
        let same = Repository { root: PathBuf::from("/work/repo"), project: String::new() };
        assert_eq!(same.in_project("src/a.py"), "src/a.py");
    }

    #[test]
    fn root_uri_is_a_percent_encoded_directory_uri() {
        let repository =
            Repository { root: PathBuf::from("/work/my repo%"), project: String::new() };
        assert_eq!(repository.root_uri(), "file:///work/my%20repo%25/");
    }
}
