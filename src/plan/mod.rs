//! The plan: manifest + effective settings -> the exact functions to patch.
//!
//! [`Plan`] is the result: the parsed files, every selected function with its decision
//! (`patch`, or `skip` when it has an `error` hazard the target does not allow), the
//! patterns that matched nothing (with a "did you mean") and notes. `planner` builds it:
//! it finds each target's file, parses it once ([`crate::python::source`]) and matches the
//! globs; problems that make the plan meaningless (missing module, missing file, syntax
//! error) come back as diagnostics instead. `project` then parses the rest of the project
//! tree for the hazards only the whole project shows. `plan` prints a [`Plan`]; `apply`
//! consumes the same value.

mod files;
mod planner;
mod project;

use std::collections::BTreeMap;

use miette::Severity;

use crate::config::manifest::Manifest;
use crate::config::settings::Settings;
use crate::python::cache_size::CacheSize;
use crate::python::hazard::{Hazard, HazardCode, HazardSeverity};
use crate::python::patch::{DecoratorEdit, Patched};
use crate::python::source::{PythonFile, to_span};
use crate::ui::diagnostic::SourceDiagnostic;
use crate::ui::text::plural;

/// What to do with one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Patch,
    Skip,
}

/// A planned function, by its position in [`Plan::functions`]: how the runner, the search
/// and the verdicts name a function without copying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct FunctionIndex(pub usize);

impl std::fmt::Display for FunctionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One file of the plan with the bytes a patch set would give it.
#[derive(Debug)]
pub(crate) struct FilePatch<'p> {
    pub file: &'p PythonFile,
    pub patched: Patched,
}

/// One function the manifest selects.
#[derive(Debug, Clone)]
pub(crate) struct PlannedFunction {
    /// `module:qualname`.
    pub id: String,
    pub module: String,
    pub qualname: String,
    /// Index into [`Plan::files`].
    pub file: usize,
    /// Index into that file's functions.
    pub function: usize,
    /// Index of the manifest target that selected it.
    pub target: usize,
    pub line: usize,
    pub cache_size: CacheSize,
    pub typed: bool,
    pub action: Action,
    pub hazards: Vec<Hazard>,
    /// Hazards the target allows (listed in `allow_hazards`): shown as advice, never blocking.
    pub allowed: Vec<HazardCode>,
    /// A remark the report shows (several definitions, ...).
    pub note: Option<String>,
}

impl PlannedFunction {
    /// "async-function, generator": the `error` hazards its target does not allow, which
    /// make the plan skip it.
    pub(crate) fn blocking_hazards(&self) -> String {
        let codes: Vec<&str> = self
            .hazards
            .iter()
            .filter(|hazard| {
                hazard.code.severity() == HazardSeverity::Error
                    && !self.allowed.contains(&hazard.code)
            })
            .map(|hazard| hazard.code.as_str())
            .collect();
        codes.join(", ")
    }
}

/// A pattern that matched no function.
#[derive(Debug, Clone)]
pub(crate) struct Unresolved {
    pub target: usize,
    pub pattern: String,
    pub message: String,
    /// Line of the pattern in the manifest.
    pub line: usize,
    /// The closest qualified name, when one is close.
    pub suggestion: Option<String>,
    pub diagnostic: SourceDiagnostic,
}

/// The patch plan.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub files: Vec<PythonFile>,
    pub functions: Vec<PlannedFunction>,
    pub unresolved: Vec<Unresolved>,
    /// Things the planner did deliberately that a user should know (overload stubs left out).
    pub notes: Vec<String>,
}

impl Plan {
    /// Build the plan. On error, every problem found (all targets are looked at).
    pub(crate) fn build(
        manifest: &Manifest,
        settings: &Settings,
    ) -> Result<Plan, Vec<miette::Report>> {
        let mut plan = planner::build(manifest, settings)?;
        project::add_project_hazards(&mut plan, manifest);
        Ok(plan)
    }

    /// Indices of the functions whose action is `patch`.
    pub(crate) fn patchable(&self) -> Vec<FunctionIndex> {
        (0..self.functions.len())
            .filter(|&index| self.functions[index].action == Action::Patch)
            .map(FunctionIndex)
            .collect()
    }

    pub(crate) fn function(&self, index: FunctionIndex) -> &PlannedFunction {
        &self.functions[index.0]
    }

    /// The file a planned function is defined in.
    pub(crate) fn file_of(&self, function: &PlannedFunction) -> &PythonFile {
        &self.files[function.file]
    }

    /// Every planned function's id (`module:qualname`), by [`FunctionIndex`].
    pub(crate) fn ids(&self) -> Vec<String> {
        self.functions.iter().map(|function| function.id.clone()).collect()
    }

    /// "13 functions in 3 files, 9 to patch", for the status line.
    pub(crate) fn status_line(&self) -> String {
        format!(
            "{} in {}, {} to patch",
            plural(self.functions.len(), "function"),
            plural(self.files.len(), "file"),
            self.patched_functions().count()
        )
    }

    pub(crate) fn patched_functions(&self) -> impl Iterator<Item = &PlannedFunction> {
        self.functions.iter().filter(|function| function.action == Action::Patch)
    }

    /// Whether the plan has findings (exit code 1): an unresolved pattern, or a function
    /// skipped for an error hazard.
    pub(crate) fn has_findings(&self) -> bool {
        !self.unresolved.is_empty()
            || self.functions.iter().any(|function| function.action == Action::Skip)
    }

    /// Patched bytes for every file that `functions` touch, in the plan's file order; with
    /// `verify`, as a checked run patches them (the verifier above each cache).
    pub(crate) fn patch_files(&self, functions: &[FunctionIndex]) -> Vec<FilePatch<'_>> {
        let mut edits: BTreeMap<usize, Vec<DecoratorEdit>> = BTreeMap::new();
        for &index in functions {
            let planned = self.function(index);
            let definition = &self.files[planned.file].functions[planned.function];
            edits.entry(planned.file).or_default().push(DecoratorEdit {
                line_start: definition.line_start,
                indent: definition.indent.clone(),
                cache_size: planned.cache_size,
                typed: planned.typed,
            });
        }
        edits
            .into_iter()
            .map(|(file, edits)| {
                let file = &self.files[file];
                FilePatch { file, patched: crate::python::patch::patch(file, &edits) }
            })
            .collect()
    }

    /// The hazard diagnostics of one function, rendered against its Python file.
    pub(crate) fn hazard_diagnostics(&self, planned: &PlannedFunction) -> Vec<SourceDiagnostic> {
        let file = &self.files[planned.file];
        planned
            .hazards
            .iter()
            .map(|hazard| {
                let (severity, suffix) = match hazard.code.severity() {
                    _ if planned.allowed.contains(&hazard.code) => {
                        (Severity::Advice, " (allowed by the manifest)")
                    }
                    HazardSeverity::Error => (Severity::Error, ""),
                    HazardSeverity::Warning => (Severity::Warning, ""),
                };
                SourceDiagnostic::error(
                    format!("hazard::{}", hazard.code),
                    format!("{}{suffix}", hazard.message),
                )
                .with_severity(severity)
                .with_label(&file.source, to_span(hazard.range), hazard.code.as_str())
                .with_help(hazard.help.clone())
            })
            .collect()
    }
}
