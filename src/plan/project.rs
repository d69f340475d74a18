//! The project pass: the hazards that only the whole project shows (a container that
//! another module changes in place, an impure helper called through other functions; see
//! [`crate::python::facts`]), added to the planned functions. Every Python file of the
//! project tree (as `files::python_files` finds them) is parsed for its facts, beside the
//! planned files; one that cannot be parsed is left out, since it names no target.

use std::collections::HashSet;
use std::path::PathBuf;

use super::Plan;
use super::files::{self, module_name_of, parse_in_parallel};
use crate::config::manifest::Manifest;
use crate::python::project::Project;
use crate::python::source::PythonFile;
use crate::ui::text::normalize;

/// Past this many Python files, the project pass is skipped: `plan` must stay cheap.
const MAX_PROJECT_FILES: usize = 20_000;

/// Add the project's hazards to every planned function (warnings only: no decision to
/// patch or skip changes).
pub(super) fn add_project_hazards(plan: &mut Plan, manifest: &Manifest) {
    if plan.functions.is_empty() {
        return;
    }
    let others = other_files(plan, manifest);
    let mut modules: Vec<(String, &PythonFile)> = Vec::new();
    for function in &plan.functions {
        modules.push((function.module.clone(), &plan.files[function.file]));
    }
    for file in &others {
        let module = module_name_of(&file.path, &manifest.root, &manifest.source_roots);
        modules.push((module, file));
    }
    let project = Project::new(modules);
    let found: Vec<_> = plan
        .functions
        .iter()
        .map(|function| {
            let definition = &plan.files[function.file].functions[function.function];
            project.hazards(&function.module, definition)
        })
        .collect();
    for (function, found) in plan.functions.iter_mut().zip(found) {
        if !found.is_empty() {
            function.hazards.extend(found);
            function.hazards.sort_by_key(|hazard| (hazard.code.severity(), hazard.range.start()));
        }
    }
}

/// The project's Python files that the plan did not parse, parsed.
fn other_files(plan: &Plan, manifest: &Manifest) -> Vec<PythonFile> {
    let planned: HashSet<PathBuf> = plan.files.iter().map(|file| normalize(&file.path)).collect();
    let paths: Vec<PathBuf> = files::python_files(&manifest.root)
        .into_iter()
        .filter(|path| !planned.contains(&normalize(path)))
        .collect();
    if paths.len() > MAX_PROJECT_FILES {
        return Vec::new();
    }
    let paths: Vec<&PathBuf> = paths.iter().collect();
    parse_in_parallel(&paths, &manifest.root).into_iter().flatten().collect()
}
