//! Raw manifest -> validated [`Manifest`], or every problem found, each pointing at YAML.

use std::path::Path;

use miette::SourceSpan;
use serde_saphyr::{Location, Spanned};

use super::raw::{RawCacheSize, RawManifest, RawTarget};
use super::{Defaults, Manifest, Pattern, Target, TargetLocation, Thresholds};
use crate::python::cache_size::CacheSize;
use crate::python::hazard::HazardCode;
use crate::python::pattern;
use crate::ui::diagnostic::{SourceDiagnostic, SourceFile, closest};

const SUPPORTED_VERSION: i64 = 1;

pub(super) fn validate(
    source: SourceFile,
    manifest_path: &Path,
    manifest_dir: &Path,
) -> Result<Manifest, Vec<SourceDiagnostic>> {
    let options = serde_saphyr::options! { with_snippet: false };
    let raw: RawManifest = serde_saphyr::from_str_with_options(&source.text, options)
        .map_err(|error| vec![parse_error(&source, &error)])?;
    let mut checker = Checker { source, problems: Vec::new() };
    let manifest = checker.manifest(raw, manifest_path, manifest_dir);
    if checker.problems.is_empty() { Ok(manifest) } else { Err(checker.problems) }
}

/// Collects every problem instead of stopping at the first, so one run shows them all.
struct Checker {
    source: SourceFile,
    problems: Vec<SourceDiagnostic>,
}

impl Checker {
    fn problem(
        &mut self,
        code: &str,
        message: String,
        span: SourceSpan,
        label: &str,
        help: Option<String>,
    ) {
        let diagnostic = SourceDiagnostic::error(format!("cachescan::manifest::{code}"), message)
            .with_label(&self.source, span, label)
            .with_optional_help(help);
        self.problems.push(diagnostic);
    }

    fn manifest(
        &mut self,
        raw: RawManifest,
        manifest_path: &Path,
        manifest_dir: &Path,
    ) -> Manifest {
        if raw.version.value != SUPPORTED_VERSION {
            self.problem(
                "unsupported-version",
                format!("unsupported manifest version {}", raw.version.value),
                span_of(&self.source, &raw.version.referenced),
                "this version",
                Some(format!("this cachescan reads `version: {SUPPORTED_VERSION}`")),
            );
        }
        let project = raw.project;
        let root_setting = project
            .as_ref()
            .and_then(|project| project.root.as_ref())
            .map_or_else(|| ".".to_owned(), |root| root.value.clone());
        let (root, source_roots, test_command, timeout, env) = match project {
            Some(project) => {
                let root = project.root.map_or_else(
                    || manifest_dir.to_path_buf(),
                    |root| {
                        let path = manifest_dir.join(&root.value);
                        if !path.is_dir() {
                            self.problem(
                                "missing-root",
                                format!("project root `{}` is not a directory", path.display()),
                                span_of(&self.source, &root.referenced),
                                "relative to the manifest's directory",
                                None,
                            );
                        }
                        path
                    },
                );
                let source_roots = project
                    .source_roots
                    .map(|roots| roots.into_iter().map(|root| root.value).collect());
                let test_command = project.test_command.map(|command| {
                    if command.value.is_empty() {
                        self.problem(
                            "empty-test-command",
                            "`test_command` is empty".to_owned(),
                            span_of(&self.source, &command.referenced),
                            "no program to run",
                            Some(
                                "give the command as a list, e.g. [python, -m, pytest, -q]"
                                    .to_owned(),
                            ),
                        );
                    }
                    command.value
                });
                let timeout = project.timeout.map(|timeout| {
                    if !(timeout.value > 0.0 && timeout.value.is_finite()) {
                        self.problem(
                            "invalid-timeout",
                            format!(
                                "timeout must be a positive number of seconds, not {}",
                                timeout.value
                            ),
                            span_of(&self.source, &timeout.referenced),
                            "seconds",
                            None,
                        );
                    }
                    timeout.value
                });
                (root, source_roots, test_command, timeout, project.env.unwrap_or_default())
            }
            None => (manifest_dir.to_path_buf(), None, None, None, Default::default()),
        };
        let built_in = Defaults::default();
        let defaults = raw.defaults.map_or(built_in, |defaults| Defaults {
            cache_size: defaults
                .cache_size
                .map_or(built_in.cache_size, |size| self.cache_size(&size)),
            typed: defaults.typed.unwrap_or(built_in.typed),
        });
        let thresholds = self.thresholds(raw.thresholds);
        let targets_span = span_of(&self.source, &raw.targets.referenced);
        if raw.targets.value.is_empty() {
            self.problem(
                "no-targets",
                "`targets` is empty".to_owned(),
                targets_span,
                "nothing to plan",
                Some(
                    "add a target, e.g. `- module: mypkg.core` with `functions: [\"*\"]`"
                        .to_owned(),
                ),
            );
        }
        let targets = raw
            .targets
            .value
            .into_iter()
            .enumerate()
            .filter_map(|(index, target)| self.target(index, target))
            .collect();
        Manifest {
            path: manifest_path.to_path_buf(),
            root_setting,
            source: self.source.clone(),
            root: std::path::absolute(&root).unwrap_or(root),
            source_roots: source_roots.unwrap_or_else(|| vec!["src".to_owned(), ".".to_owned()]),
            test_command: test_command
                .unwrap_or_else(|| ["python", "-m", "pytest", "-q"].map(str::to_owned).to_vec()),
            timeout,
            env,
            defaults,
            thresholds,
            targets,
        }
    }

    fn thresholds(&mut self, raw: Option<super::raw::RawThresholds>) -> Thresholds {
        let built_in = Thresholds::default();
        let Some(raw) = raw else { return built_in };
        let min_hit_rate = raw.min_hit_rate.map_or(built_in.min_hit_rate, |rate| {
            if !(0.0..=1.0).contains(&rate.value) {
                self.problem(
                    "out-of-range",
                    format!("`min_hit_rate` must lie between 0 and 1, not {}", rate.value),
                    span_of(&self.source, &rate.referenced),
                    "outside [0, 1]",
                    Some("a hit rate is hits / calls: 0.5 means half of all calls are answered from the cache".to_owned()),
                );
            }
            rate.value
        });
        let min_calls = raw.min_calls.map_or(built_in.min_calls, |calls| {
            u64::try_from(calls.value).unwrap_or_else(|_| {
                self.problem(
                    "out-of-range",
                    format!("`min_calls` must be >= 0, not {}", calls.value),
                    span_of(&self.source, &calls.referenced),
                    "negative",
                    None,
                );
                0
            })
        });
        Thresholds { min_hit_rate, min_calls }
    }

    fn cache_size(&mut self, size: &Spanned<RawCacheSize>) -> CacheSize {
        match size.value {
            RawCacheSize::Unbounded => CacheSize::Unbounded,
            RawCacheSize::Integer(value) => {
                u64::try_from(value).map(CacheSize::Bounded).unwrap_or_else(|_| {
                    self.problem(
                        "negative-cache-size",
                        format!("cache size must be >= 0, not {value}"),
                        span_of(&self.source, &size.referenced),
                        "negative",
                        Some("use an integer >= 0, or `null` for an unbounded cache".to_owned()),
                    );
                    CacheSize::Unbounded
                })
            }
        }
    }

    fn target(&mut self, index: usize, spanned: Spanned<RawTarget>) -> Option<Target> {
        let target_span = span_of(&self.source, &spanned.referenced);
        let raw = spanned.value;
        let location = match (raw.module, raw.path) {
            (Some(module), None) => {
                let span = span_of(&self.source, &module.referenced);
                if is_glob(&module.value) {
                    if let Err(message) = pattern::QualnameGlob::new(&module.value) {
                        self.problem(
                            "invalid-module",
                            message,
                            span,
                            "not a glob over dotted module names",
                            Some(pattern::SYNTAX_HELP.to_owned()),
                        );
                    }
                    Some((TargetLocation::ModuleGlob(module.value), span))
                } else {
                    if !is_dotted_name(&module.value) {
                        self.problem(
                            "invalid-module",
                            format!("`{}` is not a dotted module name", module.value),
                            span,
                            "expected names separated by dots, like `shop.pricing`",
                            Some("to name a file, use `path:` instead".to_owned()),
                        );
                    }
                    Some((TargetLocation::Module(module.value), span))
                }
            }
            (None, Some(path)) => {
                let span = span_of(&self.source, &path.referenced);
                if !is_glob(&path.value) {
                    Some((TargetLocation::Path(path.value), span))
                } else {
                    if let Err(message) = pattern::path_glob(&path.value) {
                        self.problem(
                            "invalid-path",
                            message,
                            span,
                            "not a glob over file paths",
                            Some("`*` stays within a directory, `**` crosses any number: `src/**/*.py`".to_owned()),
                        );
                    }
                    Some((TargetLocation::PathGlob(path.value), span))
                }
            }
            (Some(_), Some(path)) => {
                self.problem(
                    "module-and-path",
                    "this target names both `module` and `path`".to_owned(),
                    span_of(&self.source, &path.referenced),
                    "second location",
                    Some(
                        "a target names one module or one file; split it into two targets"
                            .to_owned(),
                    ),
                );
                None
            }
            (None, None) => {
                self.problem(
                    "missing-location",
                    "this target names neither `module` nor `path`".to_owned(),
                    target_span,
                    "this target",
                    Some("add `module: package.module` or `path: relative/file.py`".to_owned()),
                );
                None
            }
        };
        if raw.functions.value.is_empty() {
            self.problem(
                "empty-functions",
                "this target has an empty `functions` list".to_owned(),
                span_of(&self.source, &raw.functions.referenced),
                "no patterns",
                Some(
                    "list globs over qualified names, e.g. [\"*\"] for every top-level function"
                        .to_owned(),
                ),
            );
        }
        let functions = self.patterns(raw.functions.value);
        let exclude = self.patterns(raw.exclude);
        let cache_size = raw.cache_size.map(|size| self.cache_size(&size));
        let allow_hazards =
            raw.allow_hazards.into_iter().filter_map(|code| self.hazard_code(code)).collect();
        let (location, location_span) = location?;
        Some(Target {
            index,
            location,
            location_span,
            functions,
            exclude,
            cache_size,
            typed: raw.typed,
            allow_hazards,
        })
    }

    fn patterns(&mut self, raw: Vec<Spanned<String>>) -> Vec<Pattern> {
        raw.into_iter()
            .map(|pattern| {
                let span = span_of(&self.source, &pattern.referenced);
                if let Err(message) = pattern::QualnameGlob::new(&pattern.value) {
                    self.problem(
                        "invalid-pattern",
                        message,
                        span,
                        "this pattern",
                        Some(pattern::SYNTAX_HELP.to_owned()),
                    );
                }
                Pattern { text: pattern.value, span }
            })
            .collect()
    }

    fn hazard_code(&mut self, code: Spanned<String>) -> Option<HazardCode> {
        let parsed = code.value.parse::<HazardCode>().ok();
        if parsed.is_none() {
            let known = HazardCode::ALL.iter().map(|code| code.as_str());
            let help = match closest(&code.value, known) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!(
                    "known hazard codes: {}",
                    HazardCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                ),
            };
            self.problem(
                "unknown-hazard",
                format!("unknown hazard code `{}`", code.value),
                span_of(&self.source, &code.referenced),
                "not a hazard code",
                Some(help),
            );
        }
        parsed
    }
}

/// Whether a `module:` or `path:` value is a glob.
fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

fn is_dotted_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|first| first == '_' || first.is_alphabetic())
                && chars.all(|c| c == '_' || c.is_alphanumeric())
        })
}

/// A serde-saphyr error as a diagnostic; unknown keys get a "did you mean".
fn parse_error(source: &SourceFile, error: &serde_saphyr::Error) -> SourceDiagnostic {
    let span =
        error.location().map_or(SourceSpan::from((0, 0)), |location| span_of(source, &location));
    match error {
        serde_saphyr::Error::SerdeUnknownField { field, expected, .. } => {
            let help = match closest(field, expected.iter().copied()) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!("valid keys here: {}", expected.join(", ")),
            };
            SourceDiagnostic::error(
                "cachescan::manifest::unknown-key",
                format!("unknown key `{field}`"),
            )
            .with_label(source, span, "unknown key")
            .with_help(help)
        }
        serde_saphyr::Error::SerdeMissingField { field, .. } => SourceDiagnostic::error(
            "cachescan::manifest::missing-key",
            format!("missing key `{field}`"),
        )
        .with_label(source, span, format!("`{field}` is required here")),
        other => {
            let message = first_line_without_location(&other.to_string());
            // Library advice about parser options means nothing to a manifest's author.
            let message =
                message.split(", set DuplicateKeyPolicy").next().unwrap_or_default().to_owned();
            SourceDiagnostic::error("cachescan::manifest::invalid", message)
                .with_label(source, span, "here")
                .with_help("every key and its type: cachescan.yaml.example, or `cachescan schema`")
        }
    }
}

/// serde-saphyr appends " at line L column C" to its messages; the label shows that already.
fn first_line_without_location(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    match first.rfind(" at line ") {
        Some(position) => first[..position].to_owned(),
        None => first.to_owned(),
    }
}

/// A YAML location as a miette byte span.
fn span_of(source: &SourceFile, location: &Location) -> SourceSpan {
    let span = location.span();
    if let (Some(offset), Some(length)) = (span.byte_offset(), span.byte_len()) {
        return (offset as usize, length as usize).into();
    }
    // Fall back to line and column (both 1-based) when no byte offset is known.
    let line_start: usize = source
        .text
        .split_inclusive('\n')
        .take((location.line() as usize).saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + (location.column() as usize).saturating_sub(1), 0).into()
}
