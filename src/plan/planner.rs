//! Building a [`Plan`]: for every target, find the file (a dotted module through the source
//! roots, or a path), parse each file once (spread over the cores), match the globs against
//! qualified names, and decide per function. Missing modules and files and syntax errors
//! are collected, all of them, as diagnostics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Action, Plan, PlannedFunction, Unresolved};
use crate::config::manifest::{Manifest, Pattern, Target, TargetLocation};
use crate::config::settings::Settings;
use crate::python::hazard::{HazardCode, HazardSeverity};
use crate::python::pattern::QualnameGlob;
use crate::python::source::{PythonFile, SourceError};
use crate::ui::diagnostic::{SourceDiagnostic, closest};
use crate::ui::text::{normalize, relative_display};

/// Build the plan. On error, every problem found (all targets are looked at).
pub(super) fn build(manifest: &Manifest, settings: &Settings) -> Result<Plan, Vec<miette::Report>> {
    let mut planner = Planner {
        manifest,
        settings,
        files: Vec::new(),
        by_path: HashMap::new(),
        problems: Vec::new(),
    };
    let paths: Vec<Option<PathBuf>> =
        manifest.targets.iter().map(|target| planner.locate(target)).collect();
    let located = planner.parse_all(&paths);
    if !planner.problems.is_empty() {
        return Err(planner.problems);
    }
    let mut plan = Plan {
        files: Vec::new(),
        functions: Vec::new(),
        unresolved: Vec::new(),
        notes: Vec::new(),
    };
    let mut claimed: HashMap<(usize, usize), usize> = HashMap::new();
    for (target, file) in
        manifest.targets.iter().zip(located.iter().map(|file| file.unwrap_or_default()))
    {
        planner.select(target, file, &mut claimed, &mut plan);
    }
    plan.files = planner.files;
    mark_repeated_definitions(&mut plan.functions, &plan.files);
    Ok(plan)
}

/// Parse every file, spread over the machine's cores (parsing is most of a large plan's
/// time); `root` names them in diagnostics. Results in the order of `paths`.
pub(super) fn parse_in_parallel(
    paths: &[&PathBuf],
    root: &Path,
) -> Vec<Result<PythonFile, SourceError>> {
    let load = |path: &&PathBuf| PythonFile::load(path, relative_display(path, root));
    let threads =
        std::thread::available_parallelism().map_or(1, usize::from).min(paths.len().max(1));
    let chunk = paths.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(chunk)
            .map(|paths| scope.spawn(move || paths.iter().map(load).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().unwrap_or_default()).collect()
    })
}

struct Planner<'a> {
    manifest: &'a Manifest,
    settings: &'a Settings,
    files: Vec<PythonFile>,
    by_path: HashMap<PathBuf, usize>,
    problems: Vec<miette::Report>,
}

impl Planner<'_> {
    /// The target's file, or `None` after recording a problem.
    fn locate(&mut self, target: &Target) -> Option<PathBuf> {
        match &target.location {
            TargetLocation::Module(module) => self.find_module(target, module),
            TargetLocation::Path(relative) => {
                let path = self.manifest.root.join(relative);
                if path.is_file() {
                    return Some(path);
                }
                self.problems.push(miette::Report::new(
                    SourceDiagnostic::error(
                        "cachescan::plan::missing-file",
                        format!("`{relative}` does not exist"),
                    )
                    .with_label(
                        &self.manifest.source,
                        target.location_span,
                        "relative to the project root",
                    )
                    .with_help(format!("the project root is {}", self.manifest.root.display())),
                ));
                None
            }
        }
    }

    /// Parse every distinct file once, spread over the machine's cores (parsing is most of
    /// a large plan's time). Returns each target's file index.
    fn parse_all(&mut self, paths: &[Option<PathBuf>]) -> Vec<Option<usize>> {
        let mut unique: Vec<&PathBuf> = Vec::new();
        for path in paths.iter().flatten() {
            if !self.by_path.contains_key(path) {
                self.by_path.insert(path.clone(), unique.len());
                unique.push(path);
            }
        }
        for result in parse_in_parallel(&unique, &self.manifest.root) {
            match result {
                Ok(file) => self.files.push(file),
                Err(error) => self.problems.push(miette::Report::new(*error)),
            }
        }
        paths.iter().map(|path| path.as_ref().map(|path| self.by_path[path])).collect()
    }

    fn find_module(&mut self, target: &Target, module: &str) -> Option<PathBuf> {
        let relative = module.replace('.', "/");
        let mut tried = Vec::new();
        for root in &self.manifest.source_roots {
            let base = self.manifest.root.join(root);
            for candidate in
                [base.join(format!("{relative}.py")), base.join(&relative).join("__init__.py")]
            {
                if candidate.is_file() {
                    return Some(candidate);
                }
                tried.push(relative_display(&candidate, &self.manifest.root));
            }
        }
        self.problems.push(miette::Report::new(
            SourceDiagnostic::error(
                "cachescan::plan::module-not-found",
                format!("module `{module}` not found in any source root"),
            )
            .with_label(&self.manifest.source, target.location_span, "not found")
            .with_help(format!(
                "looked for {}; set `project.source_roots` or name the file with `path:`",
                tried.join(", ")
            )),
        ));
        None
    }

    /// Match the target's patterns in its file and add the functions to the plan.
    fn select(
        &self,
        target: &Target,
        file_index: usize,
        claimed: &mut HashMap<(usize, usize), usize>,
        plan: &mut Plan,
    ) {
        let file = &self.files[file_index];
        let module = match &target.location {
            TargetLocation::Module(module) => module.clone(),
            TargetLocation::Path(_) => {
                module_name_of(&file.path, &self.manifest.root, &self.manifest.source_roots)
            }
        };
        let compile = |pattern: &Pattern| QualnameGlob::new(&pattern.text).ok();
        let includes: Vec<_> =
            target.functions.iter().map(|pattern| (pattern, compile(pattern))).collect();
        let excludes: Vec<_> = target.exclude.iter().filter_map(compile).collect();
        let mut matched = vec![0usize; includes.len()];
        let mut overloads = 0;
        for (function_index, function) in file.functions.iter().enumerate() {
            let hits: Vec<usize> = includes
                .iter()
                .enumerate()
                .filter(|(_, (_, glob))| {
                    glob.as_ref().is_some_and(|glob| glob.is_match(&function.qualname))
                })
                .map(|(index, _)| index)
                .collect();
            if hits.is_empty() {
                continue;
            }
            for index in &hits {
                matched[*index] += 1;
            }
            if excludes.iter().any(|glob| glob.is_match(&function.qualname)) {
                continue;
            }
            if function.is_overload {
                overloads += 1;
                continue;
            }
            if claimed.insert((file_index, function_index), target.index).is_some() {
                continue;
            }
            let allowed: Vec<HazardCode> = function
                .hazards
                .iter()
                .map(|hazard| hazard.code)
                .filter(|code| target.allow_hazards.contains(code))
                .collect();
            let blocked = function.hazards.iter().any(|hazard| {
                hazard.code.severity() == HazardSeverity::Error && !allowed.contains(&hazard.code)
            });
            plan.functions.push(PlannedFunction {
                id: format!("{module}:{}", function.qualname),
                module: module.clone(),
                qualname: function.qualname.clone(),
                file: file_index,
                function: function_index,
                target: target.index,
                line: function.line,
                cache_size: target.cache_size.unwrap_or(self.settings.cache_size),
                typed: target.typed.unwrap_or(self.settings.typed),
                action: if blocked { Action::Skip } else { Action::Patch },
                hazards: function.hazards.clone(),
                allowed,
                note: None,
            });
        }
        if overloads > 0 {
            plan.notes.push(format!(
                "{}: left out {overloads} `@overload` stub{} (the real definitions are patched)",
                file.relative,
                if overloads == 1 { "" } else { "s" }
            ));
        }
        for ((pattern, glob), count) in includes.iter().zip(matched) {
            if count == 0 && glob.is_some() {
                plan.unresolved.push(unresolved(self.manifest, target, pattern, file));
            }
        }
    }
}

fn unresolved(
    manifest: &Manifest,
    target: &Target,
    pattern: &Pattern,
    file: &PythonFile,
) -> Unresolved {
    let message = format!("pattern `{}` matches no function in {}", pattern.text, file.relative);
    let suggestion = closest(&pattern.text, file.qualnames()).map(str::to_owned);
    let help = match &suggestion {
        Some(suggestion) => format!("did you mean `{suggestion}`?"),
        None if file.functions.is_empty() => format!("{} defines no functions", file.relative),
        None => {
            let names: Vec<&str> = file.qualnames().take(8).collect();
            format!("functions there include: {}", names.join(", "))
        }
    };
    let diagnostic =
        SourceDiagnostic::error("cachescan::plan::unresolved-pattern", message.clone())
            .with_label(&manifest.source, pattern.span, "matches nothing")
            .with_help(help);
    Unresolved {
        target: target.index,
        pattern: pattern.text.clone(),
        message,
        line: manifest.source.line_of(pattern.span.offset()),
        suggestion,
        diagnostic,
    }
}

/// Several real definitions of one name (conditional definitions): all are patched, and
/// the report says so.
fn mark_repeated_definitions(functions: &mut [PlannedFunction], files: &[PythonFile]) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for function in functions.iter() {
        *counts.entry(function.id.clone()).or_default() += 1;
    }
    for function in functions.iter_mut() {
        let count = counts[&function.id];
        if count > 1 {
            let conditional = files[function.file].functions[function.function].is_conditional;
            let how = if conditional { " (conditionally)" } else { "" };
            function.note =
                Some(format!("defined {count} times{how}; every definition is patched"));
        }
    }
}

/// The dotted module name of a file: relative to the first source root that contains it,
/// or its file stem.
pub(super) fn module_name_of(path: &Path, root: &Path, source_roots: &[String]) -> String {
    let stem = path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
    for source_root in source_roots {
        let base = root.join(source_root);
        let base = std::path::absolute(&base).unwrap_or(base);
        let Ok(relative) = path.strip_prefix(normalize(&base)) else { continue };
        let mut parts: Vec<String> =
            relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
        if let Some(last) = parts.last_mut() {
            *last = last.trim_end_matches(".py").to_owned();
        }
        if parts.last().is_some_and(|last| last == "__init__") {
            parts.pop();
        }
        let valid = !parts.is_empty()
            && parts.iter().all(|part| {
                part.chars().next().is_some_and(|c| c == '_' || c.is_alphabetic())
                    && part.chars().all(|c| c == '_' || c.is_alphanumeric())
            });
        if valid {
            return parts.join(".");
        }
    }
    stem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_come_from_the_containing_source_root() {
        let root = Path::new("/p");
        let roots = ["src".to_owned(), ".".to_owned()];
        assert_eq!(
            module_name_of(Path::new("/p/src/shop/pricing.py"), root, &roots),
            "shop.pricing"
        );
        assert_eq!(module_name_of(Path::new("/p/src/shop/__init__.py"), root, &roots), "shop");
        assert_eq!(
            module_name_of(Path::new("/p/scripts/legacy.py"), root, &roots),
            "scripts.legacy"
        );
        assert_eq!(
            module_name_of(Path::new("/p/scripts/my-tool.py"), root, &["src".to_owned()]),
            "my-tool"
        );
    }
}
