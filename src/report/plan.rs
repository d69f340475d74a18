//! Rendering a [`Plan`]: the human table with hazard diagnostics, and the JSON document
//! (`version: 1`) that CI scripts and `apply` reports build on.

use serde::Serialize;

use crate::config::manifest::Manifest;
use crate::plan::{Action, Plan, PlannedFunction};
use crate::python::cache_size::CacheSize;
use crate::python::hazard::{HazardCode, HazardSeverity};
use crate::ui::shell::Shell;
use crate::ui::text::plural;

/// The JSON plan document.
#[derive(Debug, Serialize)]
pub(crate) struct PlanReport {
    pub version: u32,
    pub manifest: String,
    pub root: String,
    pub targets: Vec<TargetEntry>,
    pub unresolved: Vec<UnresolvedEntry>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TargetEntry {
    pub id: String,
    pub module: String,
    pub qualname: String,
    pub path: String,
    pub line: usize,
    pub cache_size: CacheSize,
    pub typed: bool,
    pub action: Action,
    pub hazards: Vec<HazardEntry>,
    /// Index of the manifest target that selected the function.
    pub target: usize,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub(crate) struct HazardEntry {
    pub code: HazardCode,
    pub severity: HazardSeverity,
    pub message: String,
    pub help: String,
    pub line: usize,
    pub allowed: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct UnresolvedEntry {
    pub target: usize,
    pub pattern: String,
    pub message: String,
    /// Line of the pattern in the manifest.
    pub line: usize,
    /// The closest existing qualified name ("did you mean"), or null.
    pub suggestion: Option<String>,
}

impl PlanReport {
    pub(crate) fn new(plan: &Plan, manifest: &Manifest) -> Self {
        Self {
            version: 1,
            manifest: manifest.relative_path(),
            root: manifest.root_setting.clone(),
            targets: plan
                .functions
                .iter()
                .map(|function| TargetEntry {
                    id: function.id.clone(),
                    module: function.module.clone(),
                    qualname: function.qualname.clone(),
                    path: plan.files[function.file].relative.clone(),
                    line: function.line,
                    cache_size: function.cache_size,
                    typed: function.typed,
                    action: function.action,
                    hazards: hazard_entries(plan, function),
                    target: function.target,
                    note: function.note.clone(),
                })
                .collect(),
            unresolved: plan
                .unresolved
                .iter()
                .map(|unresolved| UnresolvedEntry {
                    target: unresolved.target,
                    pattern: unresolved.pattern.clone(),
                    message: unresolved.message.clone(),
                    line: unresolved.line,
                    suggestion: unresolved.suggestion.clone(),
                })
                .collect(),
            notes: plan.notes.clone(),
        }
    }
}

pub(crate) fn hazard_entries(plan: &Plan, function: &PlannedFunction) -> Vec<HazardEntry> {
    let source = &plan.files[function.file].source;
    function
        .hazards
        .iter()
        .map(|hazard| HazardEntry {
            code: hazard.code,
            severity: hazard.code.severity(),
            message: hazard.message.clone(),
            help: hazard.help.clone(),
            line: source.line_of(hazard.range.start().to_usize()),
            allowed: function.allowed.contains(&hazard.code),
        })
        .collect()
}

/// The table, then the diagnostics, then the notes and a one-line summary.
pub(crate) fn human(plan: &Plan, shell: &Shell) -> String {
    let rows: Vec<Vec<String>> = plan
        .functions
        .iter()
        .map(|function| {
            vec![
                function.id.clone(),
                format!("{}:{}", plan.files[function.file].relative, function.line),
                match function.action {
                    Action::Patch => "patch".to_owned(),
                    Action::Skip => "skip".to_owned(),
                },
                cache_label(function.cache_size, function.typed),
                hazard_list(function),
            ]
        })
        .collect();
    let mut out =
        super::table::render(&["FUNCTION", "LOCATION", "ACTION", "CACHE", "HAZARDS"], &rows);
    for function in &plan.functions {
        for diagnostic in plan.hazard_diagnostics(function) {
            out.push('\n');
            out.push_str(&shell.render(&diagnostic));
        }
    }
    for unresolved in &plan.unresolved {
        out.push('\n');
        out.push_str(&shell.render(&unresolved.diagnostic));
    }
    if !plan.notes.is_empty() {
        out.push('\n');
    }
    for note in &plan.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push('\n');
    out.push_str(&summary(plan));
    out.push('\n');
    out
}

pub(crate) fn cache_label(cache_size: CacheSize, typed: bool) -> String {
    if typed { format!("{cache_size} typed") } else { cache_size.to_string() }
}

fn hazard_list(function: &PlannedFunction) -> String {
    function
        .hazards
        .iter()
        .map(|hazard| {
            if function.allowed.contains(&hazard.code) {
                format!("{} (allowed)", hazard.code)
            } else {
                hazard.code.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// "11 functions in 3 files: 8 to patch, 3 skipped; 1 unresolved pattern".
pub(crate) fn summary(plan: &Plan) -> String {
    let patched = plan.patched_functions().count();
    let skipped = plan.functions.len() - patched;
    let files = plan.files.len();
    let mut text = format!(
        "{} in {}: {patched} to patch, {skipped} skipped",
        plural(plan.functions.len(), "function"),
        plural(files, "file")
    );
    if !plan.unresolved.is_empty() {
        text.push_str(&format!("; {}", plural(plan.unresolved.len(), "unresolved pattern")));
    }
    text
}
