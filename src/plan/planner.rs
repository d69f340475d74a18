//! Building a [`Plan`]: for every target, find its files (a dotted module through the
//! source roots, a path, or a glob over either), parse each file once (spread over the
//! cores), match the globs against qualified names, and decide per function. Missing
//! modules and files and syntax errors in named files are collected, all of them, as
//! diagnostics; a glob that matches nothing is an unresolved pattern, and a file a glob
//! found that does not parse is left out with a note.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::files::{self, parse_in_parallel};
use super::{Action, Plan, PlannedFunction, Unresolved};
use crate::config::manifest::{Manifest, Pattern, Target, TargetLocation};
use crate::config::settings::Settings;
use crate::python::hazard::{HazardCode, HazardSeverity};
use crate::python::pattern::{self, QualnameGlob};
use crate::python::source::PythonFile;
use crate::ui::diagnostic::{SourceDiagnostic, closest};
use crate::ui::text::relative_display;

/// Build the plan. On error, every problem found (all targets are looked at).
pub(super) fn build(manifest: &Manifest, settings: &Settings) -> Result<Plan, Vec<miette::Report>> {
    let mut planner = Planner {
        manifest,
        settings,
        files: Vec::new(),
        by_path: HashMap::new(),
        problems: Vec::new(),
        project_files: None,
        unresolved: Vec::new(),
        notes: Vec::new(),
    };
    let located: Vec<Located> =
        manifest.targets.iter().map(|target| planner.locate(target)).collect();
    let files = planner.parse_all(&located);
    if !planner.problems.is_empty() {
        return Err(planner.problems);
    }
    let mut plan = Plan {
        files: Vec::new(),
        functions: Vec::new(),
        unresolved: std::mem::take(&mut planner.unresolved),
        notes: std::mem::take(&mut planner.notes),
    };
    let mut claimed: HashMap<(usize, usize), usize> = HashMap::new();
    for (target, files) in manifest.targets.iter().zip(&files) {
        let mut matched = vec![0usize; target.functions.len()];
        for &file in files {
            planner.select(target, file, &mut claimed, &mut plan, &mut matched);
        }
        if !files.is_empty() {
            planner.unresolved_patterns(target, files, &matched, &mut plan);
        }
    }
    plan.files = planner.files;
    mark_repeated_definitions(&mut plan.functions, &plan.files);
    Ok(plan)
}

/// The files of one target: the one it names, or those its glob found.
#[derive(Debug, Default)]
struct Located {
    paths: Vec<PathBuf>,
    /// Found by a glob: a file that does not parse is left out, not an error.
    by_glob: bool,
}

struct Planner<'a> {
    manifest: &'a Manifest,
    settings: &'a Settings,
    files: Vec<PythonFile>,
    by_path: HashMap<PathBuf, usize>,
    problems: Vec<miette::Report>,
    /// The project's Python files that are not tests, walked once, for globs.
    project_files: Option<Vec<PathBuf>>,
    /// Globs that matched no file.
    unresolved: Vec<Unresolved>,
    notes: Vec<String>,
}

impl Planner<'_> {
    /// The target's files; none after recording a problem (or an unresolved glob).
    fn locate(&mut self, target: &Target) -> Located {
        let named =
            |path: Option<PathBuf>| Located { paths: path.into_iter().collect(), by_glob: false };
        match &target.location {
            TargetLocation::Module(module) => named(self.find_module(target, module)),
            TargetLocation::Path(relative) => named(self.find_path(target, relative)),
            TargetLocation::ModuleGlob(glob) => {
                let Ok(matcher) = QualnameGlob::new(glob) else { return Located::default() };
                // `pkg.**` is the package itself too, not only what lies below it.
                let package = glob.strip_suffix(".**").map(str::to_owned);
                let root = self.manifest.root.clone();
                let roots = self.manifest.source_roots.clone();
                let paths = self.glob(target, |path, _| {
                    files::module_in_source_roots(path, &root, &roots).is_some_and(|module| {
                        matcher.is_match(&module) || package.as_deref() == Some(module.as_str())
                    })
                });
                Located { paths, by_glob: true }
            }
            TargetLocation::PathGlob(glob) => {
                let Ok(matcher) = pattern::path_glob(glob) else { return Located::default() };
                let paths = self.glob(target, |_, relative| matcher.is_match(relative));
                Located { paths, by_glob: true }
            }
        }
    }

    /// The project's files (tests left out) that `matches` (absolute path, path relative
    /// to the root with `/`) accepts; an unresolved pattern when there are none.
    fn glob(&mut self, target: &Target, matches: impl Fn(&Path, &str) -> bool) -> Vec<PathBuf> {
        let root = &self.manifest.root;
        let candidates = self.project_files.get_or_insert_with(|| {
            files::python_files(root)
                .into_iter()
                .filter(|path| !path.strip_prefix(root).is_ok_and(files::is_test_file))
                .collect()
        });
        let found: Vec<PathBuf> = candidates
            .iter()
            .filter(|path| matches(path, &relative_display(path, root)))
            .cloned()
            .collect();
        if found.is_empty() {
            self.unresolved.push(unresolved_location(self.manifest, target));
        }
        found
    }

    fn find_path(&mut self, target: &Target, relative: &str) -> Option<PathBuf> {
        let path = self.manifest.root.join(relative);
        if path.is_file() {
            return Some(path);
        }
        self.problems.push(miette::Report::new(
            SourceDiagnostic::error(
                "cachescan::plan::missing-file",
                format!("`{relative}` does not exist"),
            )
            .with_label(&self.manifest.source, target.location_span, "relative to the project root")
            .with_help(format!("the project root is {}", self.manifest.root.display())),
        ));
        None
    }

    /// Parse every distinct file once, spread over the machine's cores (parsing is most of
    /// a large plan's time). Returns each target's file indices.
    fn parse_all(&mut self, located: &[Located]) -> Vec<Vec<usize>> {
        let mut unique: Vec<&PathBuf> = Vec::new();
        let mut named: HashSet<&PathBuf> = HashSet::new();
        let mut seen: HashSet<&PathBuf> = HashSet::new();
        for target in located {
            for path in &target.paths {
                if !target.by_glob {
                    named.insert(path);
                }
                if seen.insert(path) {
                    unique.push(path);
                }
            }
        }
        for (path, result) in unique.iter().zip(parse_in_parallel(&unique, &self.manifest.root)) {
            match result {
                Ok(file) => {
                    self.by_path.insert((*path).clone(), self.files.len());
                    self.files.push(file);
                }
                Err(error) if named.contains(path) => {
                    self.problems.push(miette::Report::new(*error));
                }
                Err(error) => self.notes.push(format!("left out a file a glob found: {error}")),
            }
        }
        located
            .iter()
            .map(|target| {
                target.paths.iter().filter_map(|path| self.by_path.get(path).copied()).collect()
            })
            .collect()
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

    /// Match the target's patterns in one of its files and add the functions to the plan;
    /// `matched` counts, per pattern, the functions it matched over the target's files.
    fn select(
        &self,
        target: &Target,
        file_index: usize,
        claimed: &mut HashMap<(usize, usize), usize>,
        plan: &mut Plan,
        matched: &mut [usize],
    ) {
        let file = &self.files[file_index];
        let module = match &target.location {
            TargetLocation::Module(module) => module.clone(),
            _ => {
                files::module_name_of(&file.path, &self.manifest.root, &self.manifest.source_roots)
            }
        };
        let compile = |pattern: &Pattern| QualnameGlob::new(&pattern.text).ok();
        let includes: Vec<_> =
            target.functions.iter().map(|pattern| (pattern, compile(pattern))).collect();
        let excludes: Vec<_> = target.exclude.iter().filter_map(compile).collect();
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
    }

    /// The target's patterns that matched no function in any of its files.
    fn unresolved_patterns(
        &self,
        target: &Target,
        files: &[usize],
        matched: &[usize],
        plan: &mut Plan,
    ) {
        let files: Vec<&PythonFile> = files.iter().map(|&index| &self.files[index]).collect();
        for (pattern, &count) in target.functions.iter().zip(matched) {
            if count == 0 && QualnameGlob::new(&pattern.text).is_ok() {
                plan.unresolved.push(unresolved(self.manifest, target, pattern, &files));
            }
        }
    }
}

/// A pattern that matched nothing in `files` (one, or those a glob found).
fn unresolved(
    manifest: &Manifest,
    target: &Target,
    pattern: &Pattern,
    files: &[&PythonFile],
) -> Unresolved {
    let place = match files {
        [file] => file.relative.clone(),
        _ => format!("the {} files of `{}`", files.len(), target.location.text()),
    };
    let message = format!("pattern `{}` matches no function in {place}", pattern.text);
    let qualnames = || files.iter().flat_map(|file| file.qualnames());
    let suggestion = closest(&pattern.text, qualnames()).map(str::to_owned);
    let help = match &suggestion {
        Some(suggestion) => format!("did you mean `{suggestion}`?"),
        None if qualnames().next().is_none() => format!("{place} defines no functions"),
        None => {
            let names: Vec<&str> = qualnames().take(8).collect();
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

/// A glob in `module:` or `path:` that matched no file.
fn unresolved_location(manifest: &Manifest, target: &Target) -> Unresolved {
    let (what, help) = match &target.location {
        TargetLocation::ModuleGlob(_) => (
            "module",
            format!(
                "module globs match dotted names under the source roots ({}); test files are never matched",
                manifest.source_roots.join(", ")
            ),
        ),
        _ => (
            "file",
            "path globs match `.py` files relative to the project root; test files are never matched"
                .to_owned(),
        ),
    };
    let text = target.location.text();
    let message = format!("`{text}` matches no {what}");
    let diagnostic =
        SourceDiagnostic::error("cachescan::plan::unresolved-pattern", message.clone())
            .with_label(&manifest.source, target.location_span, "matches nothing")
            .with_help(help);
    Unresolved {
        target: target.index,
        pattern: text.to_owned(),
        message,
        line: manifest.source.line_of(target.location_span.offset()),
        suggestion: None,
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
