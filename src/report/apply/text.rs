//! The text renderings of an apply report: the human table, with a diagnostic on the `def`
//! line of every unsafe or invisible function (a broken test, or a divergent cache hit),
//! and the Markdown table with its findings for a pull-request comment.

use super::{ApplyReport, DivergenceEntry, TargetVerdict};
use crate::plan::Plan;
use crate::probe::protocol::{Kind, Outcome};
use crate::python::hazard::HazardCode;
use crate::python::source::to_span;
use crate::report::table::{self, number, percent, seconds};
use crate::ui::diagnostic::SourceDiagnostic;
use crate::ui::shell::Shell;
use crate::ui::text::plural;
use crate::verdict::Verdict;

/// "12.3 ms -> 0.4 ms (30.8x)": time inside the function, unpatched and patched.
fn time_saved(target: &TargetVerdict) -> String {
    match (target.time_before_s, target.time_after_s) {
        (Some(before), Some(after)) if before > 0.0 => {
            let speedup =
                target.speedup.map_or_else(String::new, |speedup| format!(" ({speedup:.1}x)"));
            format!("{} -> {}{speedup}", seconds(before), seconds(after))
        }
        _ => "-".to_owned(),
    }
}

/// "12/12": hits found equal to a fresh call, of those checked; "diverged" with a
/// divergence; "-" when no hit was checked.
fn hits_verified(target: &TargetVerdict) -> String {
    if target.divergence.is_some() {
        return "diverged".to_owned();
    }
    match (target.hits_verified, target.hits_unverified, target.hits_divergent) {
        (Some(verified), Some(unverified), Some(divergent))
            if verified + unverified + divergent > 0 =>
        {
            format!("{verified}/{}", verified + unverified + divergent)
        }
        _ => "-".to_owned(),
    }
}

/// "9 functions: 4 safe, 1 unsafe, ...; 5 test runs".
pub(crate) fn summary(report: &ApplyReport) -> String {
    let counts: Vec<String> = Verdict::ALL
        .iter()
        .filter_map(|verdict| {
            let count = report.targets.iter().filter(|target| target.verdict == *verdict).count();
            (count > 0).then(|| format!("{count} {}", verdict.as_str()))
        })
        .collect();
    let baseline = if report.baseline.reused { "reused baseline" } else { "baseline" };
    let parts = match report.baseline.parts {
        0 | 1 => String::new(),
        parts => format!(", run in {parts} parts"),
    };
    let verification = &report.verification;
    let hits = if !verification.enabled {
        "cache hits not checked (--no-verify-hits)".to_owned()
    } else {
        format!(
            "{} of {} cache hits checked against a fresh call",
            verification.hits_checked, verification.hits_seen
        )
    };
    format!(
        "{}: {}; {}, {} tests executed ({baseline}: {} tests in {:.2} s{parts}); {hits}",
        plural(report.targets.len(), "function"),
        counts.join(", "),
        plural(report.test_runs, "test run"),
        report.tests_executed,
        report.baseline.tests,
        report.baseline.duration_s
    )
}

/// Table, diagnostics for unsafe and invisible functions, summary.
pub(crate) fn human(report: &ApplyReport, plan: Option<&Plan>, shell: &Shell) -> String {
    let rows: Vec<Vec<String>> = report
        .targets
        .iter()
        .map(|target| {
            vec![
                target.id.clone(),
                format!("{}:{}", target.path, target.line),
                target.verdict.as_str().to_owned(),
                number(target.hits),
                number(target.misses),
                percent(target.hit_rate),
                hits_verified(target),
                time_saved(target),
            ]
        })
        .collect();
    let headers = [
        "FUNCTION",
        "LOCATION",
        "VERDICT",
        "HITS",
        "MISSES",
        "HIT RATE",
        "VERIFIED",
        "TIME INSIDE",
    ];
    let mut out = table::render(&headers, &rows);
    for target in report.targets.iter().filter(|target| target.verdict.is_finding()) {
        out.push('\n');
        match plan {
            // With the plan at hand, point at the `def` in the Python source.
            Some(plan) => {
                let function = &plan.functions[target.plan_index];
                out.push_str(&shell.render(&verdict_diagnostic(target, plan, function)));
            }
            None => out.push_str(&finding_text(target)),
        }
    }
    out.push_str(&sizing_advice(report, false));
    if !report.baseline_failures.is_empty() {
        out.push_str(&format!(
            "\nwarning: {} already fail without any patch and are ignored: {}\n",
            plural(report.baseline_failures.len(), "test"),
            report.baseline_failures.join(", ")
        ));
    }
    out.push('\n');
    out.push_str(&summary(report));
    out.push('\n');
    out
}

/// "Cache sizes ..." and one line per function another size would serve better (a list
/// item in Markdown); nothing when every size is right.
fn sizing_advice(report: &ApplyReport, markdown: bool) -> String {
    let advised: Vec<(&str, &str)> = report
        .targets
        .iter()
        .filter_map(|target| Some((target.id.as_str(), target.sizing_advice.as_deref()?)))
        .collect();
    if advised.is_empty() {
        return String::new();
    }
    let width = advised.iter().map(|(id, _)| id.chars().count()).max().unwrap_or(0);
    let mut out = String::from("\nCache sizes, as the baseline's calls predict them:\n");
    for (id, advice) in advised {
        if markdown {
            out.push_str(&format!("- `{id}`: {advice}\n"));
        } else {
            out.push_str(&format!("  {id:width$}  {advice}\n"));
        }
    }
    out
}

/// Broken tests listed per function in human and Markdown output; JSON has them all.
const SHOWN_BROKEN_TESTS: usize = 10;

/// "... and 360 more" after the listed broken tests, or nothing.
fn more_broken_tests(target: &TargetVerdict) -> Option<String> {
    let more = target.broken_tests.len().saturating_sub(SHOWN_BROKEN_TESTS);
    (more > 0).then(|| format!("... and {more} more (all of them are in the JSON report)"))
}

/// A finding as plain text, for merged reports (no sources at hand).
fn finding_text(target: &TargetVerdict) -> String {
    let mut text = format!(
        "{} {} ({}:{}): {}\n",
        target.verdict.as_str(),
        target.id,
        target.path,
        target.line,
        target.detail
    );
    if let Some(divergence) = &target.divergence {
        text.push_str(&format!("  {}\n", divergence_lines(divergence).join("\n  ")));
    }
    for test in target.broken_tests.iter().take(SHOWN_BROKEN_TESTS) {
        text.push_str(&format!("  {}: {}\n", test.nodeid, test.message.as_deref().unwrap_or("")));
    }
    if let Some(more) = more_broken_tests(target) {
        text.push_str(&format!("  {more}\n"));
    }
    text
}

/// A diagnostic on the `def` line of an unsafe or invisible function.
fn verdict_diagnostic(
    target: &TargetVerdict,
    plan: &Plan,
    function: &crate::plan::PlannedFunction,
) -> SourceDiagnostic {
    let file = &plan.files[function.file];
    let definition = &file.functions[function.function];
    let VerdictMessage { message, label, help } = verdict_message(target);
    SourceDiagnostic::error(format!("cachescan::verdict::{}", target.verdict.as_str()), message)
        .with_label(&file.source, to_span(definition.head), label)
        .with_help(help)
}

/// What is said about an unsafe or invisible function, wherever it is shown: the human
/// diagnostic on its `def`, a GitHub annotation, a SARIF result.
#[derive(Debug)]
pub(crate) struct VerdictMessage {
    /// The message; its first line says what is wrong, the next ones the evidence.
    pub message: String,
    /// The label under the `def`.
    pub label: &'static str,
    pub help: String,
}

/// The message of an unsafe or invisible verdict, from the report alone (so merged
/// reports say the same).
pub(crate) fn verdict_message(target: &TargetVerdict) -> VerdictMessage {
    let (message, label, help) = match (target.verdict, &target.divergence) {
        (Verdict::Unsafe, Some(divergence)) => {
            let mut message = format!(
                "caching `{}` would serve values a fresh call does not return ({})",
                target.id,
                divergence.kind.as_str()
            );
            for line in divergence_lines(divergence) {
                message.push_str(&format!("\n  {line}"));
            }
            (message, "unsafe to cache", divergence_help(divergence.kind).to_owned())
        }
        (Verdict::Unsafe, None) => {
            let mut message =
                format!("caching `{}` changes what the tests see: {}", target.id, target.detail);
            for test in target.broken_tests.iter().take(SHOWN_BROKEN_TESTS) {
                let outcome = test.outcome.map_or("missing", Outcome::as_str);
                message.push_str(&format!(
                    "\n  {} ({} -> {outcome})",
                    test.nodeid,
                    test.baseline.map_or("new", Outcome::as_str)
                ));
                if let Some(first_line) = &test.message {
                    message.push_str(&format!(": {first_line}"));
                }
            }
            if let Some(more) = more_broken_tests(target) {
                message.push_str(&format!("\n  {more}"));
            }
            (message, "unsafe to cache", unsafe_help(target))
        }
        _ => (
            format!("`{}` is invisible to the tests: {}", target.id, target.detail),
            "the test process never ran this definition",
            if target.loaded_files.is_empty() {
                "no test imports this module; add tests that do, or drop it from the manifest"
                    .to_owned()
            } else {
                format!(
                    "the tests import {} instead; make the tests import the source tree (e.g. pytest `pythonpath`), or target that file",
                    target.loaded_files.join(", ")
                )
            },
        ),
    };
    VerdictMessage { message, label, help }
}

/// The lines that show a divergence: where, the call, the two values.
fn divergence_lines(divergence: &DivergenceEntry) -> Vec<String> {
    vec![
        format!(
            "in {}: called with ({})",
            divergence.test.as_deref().unwrap_or("no test"),
            divergence.args
        ),
        format!("cached: {}", divergence.cached),
        format!("fresh:  {}", divergence.fresh),
    ]
}

fn divergence_help(kind: Kind) -> &'static str {
    match kind {
        Kind::Mutated => {
            "a caller changes the returned object in place, and the cache hands the changed object to every later caller; return an immutable value (a tuple, a frozenset) or a copy"
        }
        Kind::KeyCollision => {
            "arguments that compare equal but differ (in type or value) share one cache entry; use typed=True, or normalise the arguments before the call"
        }
        Kind::FreshDiffers => {
            "the result depends on more than the arguments (the clock, the locale, the environment, global state, a mock); leave it uncached, or pass that input as an argument"
        }
    }
}

fn unsafe_help(target: &TargetVerdict) -> String {
    let has = |code: HazardCode| target.hazards.iter().any(|hazard| hazard.code == code);
    let failed_with = |text: &str| {
        target.detail.contains(text)
            || target
                .broken_tests
                .iter()
                .any(|test| test.message.as_deref().is_some_and(|message| message.contains(text)))
    };
    if failed_with("unhashable type") {
        "a call passes an unhashable argument (list, dict, set), and lru_cache raises TypeError; take tuples or frozensets".to_owned()
    } else if failed_with("RecursionError") || failed_with("maximum recursion depth") {
        "with the cache, hashing an argument calls the function again (e.g. `__hash__` reads this property): leave it uncached".to_owned()
    } else if failed_with("collection error") {
        "with the cache, importing the module fails: the function runs at import time with arguments the cache cannot take".to_owned()
    } else if target.detail.contains("timed out") {
        "with the cache a test hung; the function's repeated calls must have an effect (waiting, polling)".to_owned()
    } else if has(HazardCode::ReturnsMutable) {
        "the caller mutates the returned object, which the cache shares; return a tuple (or a copy) instead".to_owned()
    } else if has(HazardCode::ImpureCall) || has(HazardCode::GlobalState) {
        "its result depends on more than its arguments (time, randomness, I/O, globals); leave it uncached".to_owned()
    } else {
        "the tests depend on every call running; leave it uncached, or cache a pure helper it calls"
            .to_owned()
    }
}

/// The report as a Markdown table for a pull-request comment.
pub(crate) fn markdown(report: &ApplyReport) -> String {
    let mut out = String::from(
        "### cachescan\n\n| Function | Location | Verdict | Hits | Misses | Hit rate | Verified | Time inside (before -> after) |\n|---|---|---|---:|---:|---:|---:|---:|\n",
    );
    for target in &report.targets {
        out.push_str(&format!(
            "| `{}` | `{}:{}` | {} | {} | {} | {} | {} | {} |\n",
            target.id,
            target.path,
            target.line,
            target.verdict.as_str(),
            number(target.hits),
            number(target.misses),
            percent(target.hit_rate),
            hits_verified(target),
            time_saved(target)
        ));
    }
    let findings: Vec<&TargetVerdict> =
        report.targets.iter().filter(|target| target.verdict.is_finding()).collect();
    if !findings.is_empty() {
        out.push_str("\n**Findings**\n\n");
        for target in findings {
            out.push_str(&format!(
                "- `{}` ({}): {}\n",
                target.id,
                target.verdict.as_str(),
                target.detail.replace('|', "\\|")
            ));
            if let Some(test) = target.divergence.as_ref().and_then(|d| d.test.as_ref()) {
                out.push_str(&format!("  - in `{test}`\n"));
            }
            for test in target.broken_tests.iter().take(SHOWN_BROKEN_TESTS) {
                out.push_str(&format!(
                    "  - `{}`: {}\n",
                    test.nodeid,
                    test.message.as_deref().unwrap_or("")
                ));
            }
            if let Some(more) = more_broken_tests(target) {
                out.push_str(&format!("  - {more}\n"));
            }
        }
    }
    out.push_str(&sizing_advice(report, true));
    out.push_str(&format!("\n{}\n", summary(report)));
    out
}
