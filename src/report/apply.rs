//! Rendering an `apply` result: the JSON report (`version: 1`, also written to
//! `.cachescan/report.json`), the human table with diagnostics on the `def` lines of unsafe
//! and invisible functions, and Markdown for a pull-request comment.

use serde::{Deserialize, Serialize};

use crate::config::options::Shard;
use crate::outcome::baseline::Baseline;
use crate::outcome::judgement::BrokenTest;
use crate::outcome::trial::JobsInfo;
use crate::plan::Plan;
use crate::probe::protocol::{Outcome, TargetState};
use crate::python::hazard::HazardCode;
use crate::python::source::to_span;
use crate::report::plan::{HazardEntry, hazard_entries};
use crate::report::table;
use crate::ui::diagnostic::SourceDiagnostic;
use crate::ui::shell::Shell;
use crate::ui::text::plural;
use crate::verdict::{FunctionVerdict, Verdict, hit_rate};

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ApplyReport {
    pub version: u32,
    pub baseline: BaselineSummary,
    pub test_runs: usize,
    pub restored: bool,
    pub targets: Vec<TargetVerdict>,
    /// Tests that already fail without any patch (ignored in comparisons).
    pub baseline_failures: Vec<String>,
    /// Files left patched by `--keep`.
    pub kept: Vec<String>,
    /// Tests executed over all test runs (isolation runs run only the tests that matter).
    pub tests_executed: usize,
    /// Hash of the manifest's text: `merge` joins only reports of the same manifest.
    pub manifest_sha256: String,
    /// Hash of the project tree: `merge` joins only reports of the same sources.
    pub source_sha256: String,
    /// `apply --shard K/N`: which part this report covers; null for a whole run.
    pub shard: Option<Shard>,
    /// `--jobs`: copies asked for, copies used, and why not when they could not be.
    pub jobs: JobsInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BaselineSummary {
    pub tests: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub duration_s: f64,
    /// Taken from `.cachescan/baseline.json` rather than run again.
    pub reused: bool,
    /// Test processes that ran the baseline at once, each the test files of its part
    /// (`--jobs`); 1 for a run in one piece.
    #[serde(default = "crate::outcome::baseline::one_part")]
    pub parts: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TargetVerdict {
    pub id: String,
    pub path: String,
    pub line: usize,
    pub verdict: Verdict,
    pub hits: Option<u64>,
    pub misses: Option<u64>,
    pub hit_rate: Option<f64>,
    pub broken_tests: Vec<BrokenTest>,
    pub hazards: Vec<HazardEntry>,
    pub detail: String,
    /// Files the test process loaded instead of ours (for `invisible`).
    pub loaded_files: Vec<String>,
    /// Seconds the judging run's tests spent inside the function unpatched (baseline).
    pub time_before_s: Option<f64>,
    /// The same tests, patched: time inside the function body (cache misses).
    pub time_after_s: Option<f64>,
    /// time_before_s / time_after_s.
    pub speedup: Option<f64>,
    /// Position in the plan, so merged shard reports keep the plan's order.
    pub plan_index: usize,
}

impl BaselineSummary {
    pub(crate) fn new(baseline: &Baseline) -> Self {
        let observation = &baseline.observation;
        let duration_s = baseline.duration.as_secs_f64();
        let count = |outcomes: &[Outcome]| {
            observation.tests.values().filter(|test| outcomes.contains(&test.outcome)).count()
        };
        Self {
            tests: observation.tests.len(),
            passed: count(&[Outcome::Passed, Outcome::Xpassed]),
            failed: count(&[Outcome::Failed, Outcome::Error]),
            skipped: count(&[Outcome::Skipped, Outcome::Xfailed]),
            duration_s: (duration_s * 100.0).round() / 100.0,
            reused: baseline.reused,
            parts: baseline.parts,
        }
    }
}

impl TargetVerdict {
    pub(crate) fn new(plan: &Plan, verdict: &FunctionVerdict) -> Self {
        let function = plan.function(verdict.function);
        let stats = verdict.stats.as_ref().filter(|stats| stats.state == TargetState::Stats);
        Self {
            id: function.id.clone(),
            path: plan.file_of(function).relative.clone(),
            line: function.line,
            verdict: verdict.verdict,
            hits: stats.map(|stats| stats.hits),
            misses: stats.map(|stats| stats.misses),
            hit_rate: stats.and_then(|stats| hit_rate(stats.hits, stats.misses)),
            broken_tests: verdict.broken.clone(),
            hazards: hazard_entries(plan, function),
            detail: verdict.detail.clone(),
            loaded_files: verdict
                .stats
                .as_ref()
                .filter(|stats| stats.state == TargetState::OtherFile)
                .map(|stats| stats.loaded_files.iter().cloned().collect())
                .unwrap_or_default(),
            time_before_s: verdict.timing.map(|timing| round(timing.before_s, 6)),
            time_after_s: verdict.timing.map(|timing| round(timing.after_s, 6)),
            speedup: verdict
                .timing
                .and_then(|timing| timing.speedup())
                .map(|speedup| round(speedup, 2)),
            plan_index: verdict.function.0,
        }
    }
}

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

fn seconds(value: f64) -> String {
    if value >= 1.0 {
        format!("{value:.2} s")
    } else if value >= 0.001 {
        format!("{:.1} ms", value * 1e3)
    } else {
        format!("{:.0} µs", value * 1e6)
    }
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

fn number(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{:.1}%", value * 100.0))
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
    format!(
        "{}: {}; {}, {} tests executed ({baseline}: {} tests in {:.2} s{parts})",
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
                rate(target.hit_rate),
                time_saved(target),
            ]
        })
        .collect();
    let headers = ["FUNCTION", "LOCATION", "VERDICT", "HITS", "MISSES", "HIT RATE", "TIME INSIDE"];
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
    let (message, label, help) = match target.verdict {
        Verdict::Unsafe => {
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
            (message, "unsafe to cache", unsafe_help(target, function))
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
    SourceDiagnostic::error(format!("cachescan::verdict::{}", target.verdict.as_str()), message)
        .with_label(&file.source, to_span(definition.head), label)
        .with_help(help)
}

fn unsafe_help(target: &TargetVerdict, function: &crate::plan::PlannedFunction) -> String {
    let has = |code: HazardCode| function.hazards.iter().any(|hazard| hazard.code == code);
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
        "### cachescan\n\n| Function | Location | Verdict | Hits | Misses | Hit rate | Time inside (before -> after) |\n|---|---|---|---:|---:|---:|---:|\n",
    );
    for target in &report.targets {
        out.push_str(&format!(
            "| `{}` | `{}:{}` | {} | {} | {} | {} | {} |\n",
            target.id,
            target.path,
            target.line,
            target.verdict.as_str(),
            number(target.hits),
            number(target.misses),
            rate(target.hit_rate),
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
    out.push_str(&format!("\n{}\n", summary(report)));
    out
}
