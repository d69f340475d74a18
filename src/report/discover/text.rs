//! The text renderings of a discover report: the candidates ranked by the time their cache
//! would save, then the functions that are not candidates with the reason (those the tests
//! never reached only counted, unless every one is asked for), then a summary. Markdown
//! has the same parts for a pull-request comment or a job summary.

use std::collections::BTreeMap;

use super::{DiscoverReport, FunctionEntry};
use crate::python::cache_size::CacheSize;
use crate::python::hazard::HazardSeverity;
use crate::report::table::{self, number, percent, seconds};
use crate::ui::text::plural;

/// A function the tests never reached (not imported, never called): counted, not listed,
/// unless an error hazard keeps it out (that is worth reading).
fn unreached(function: &FunctionEntry) -> bool {
    let blocked = function
        .hazards
        .iter()
        .any(|hazard| hazard.severity == HazardSeverity::Error && !hazard.allowed);
    !function.candidate && function.calls.is_none_or(|calls| calls == 0) && !blocked
}

/// "512 (78.0%)", "unbounded (100.0%)", or "-".
fn recommended(function: &FunctionEntry) -> String {
    match (function.recommended_hit_rate, function.recommended_cache_size) {
        (Some(rate), size) => {
            format!("{} ({})", size.unwrap_or(CacheSize::Unbounded), percent(Some(rate)))
        }
        (None, _) => "-".to_owned(),
    }
}

/// The warning hazard codes (candidates have no blocking one).
fn hazard_codes(function: &FunctionEntry) -> String {
    let codes: Vec<&str> = function.hazards.iter().map(|hazard| hazard.code.as_str()).collect();
    if codes.is_empty() { "-".to_owned() } else { codes.join(", ") }
}

fn candidate_row(rank: usize, function: &FunctionEntry) -> Vec<String> {
    vec![
        rank.to_string(),
        function.id.clone(),
        format!("{}:{}", function.path, function.line),
        number(function.calls),
        number(function.distinct_keys),
        percent(function.predicted_hit_rate),
        function.predicted_saved_s.map_or_else(|| "-".to_owned(), seconds),
        recommended(function),
        hazard_codes(function),
    ]
}

const CANDIDATE_HEADERS: [&str; 9] =
    ["#", "FUNCTION", "LOCATION", "CALLS", "KEYS", "HIT RATE", "SAVES", "BEST SIZE", "HAZARDS"];

/// "7 never called by the tests, 3 in modules the tests never imported".
fn unreached_counts(functions: &[&FunctionEntry]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for function in functions {
        *counts.entry(function.reason.as_deref().unwrap_or("")).or_default() += 1;
    }
    let parts: Vec<String> =
        counts.into_iter().map(|(reason, count)| format!("{reason} ({count})")).collect();
    parts.join("; ")
}

/// "12 functions, 3 candidates; baseline: 20 tests in 1.23 s, 9 functions observed; ...".
fn summary(report: &DiscoverReport) -> String {
    let run = &report.run;
    let baseline = if run.baseline.reused { "reused baseline" } else { "baseline" };
    let checks = if run.hits_checked {
        "would-be cache hits checked against fresh calls"
    } else {
        "would-be cache hits not checked (--no-verify-hits)"
    };
    format!(
        "{}, {}; {baseline}: {} in {:.2} s, {} observed; {checks}",
        plural(report.functions.len(), "function"),
        plural(report.candidates().count(), "candidate"),
        plural(run.baseline.tests, "test"),
        run.baseline.duration_s,
        plural(run.observed_functions, "function"),
    )
}

/// The ranked candidates, the others with their reasons, the summary. `all`: list the
/// functions the tests never reached too, instead of counting them.
pub(crate) fn human(report: &DiscoverReport, all: bool) -> String {
    let mut out = String::new();
    let candidates: Vec<Vec<String>> = report
        .candidates()
        .enumerate()
        .map(|(rank, function)| candidate_row(rank + 1, function))
        .collect();
    if candidates.is_empty() {
        out.push_str("No candidates: no function the tests called would gain from a cache.\n");
    } else {
        out.push_str("Candidates, by the time their cache would have saved during the tests:\n");
        out.push_str(&table::render(&CANDIDATE_HEADERS, &candidates));
    }
    let others: Vec<&FunctionEntry> =
        report.functions.iter().filter(|function| !function.candidate).collect();
    let (hidden, listed): (Vec<&FunctionEntry>, Vec<&FunctionEntry>) =
        others.iter().partition(|function| !all && unreached(function));
    if !listed.is_empty() {
        let rows: Vec<Vec<String>> = listed
            .iter()
            .map(|function| {
                vec![
                    function.id.clone(),
                    format!("{}:{}", function.path, function.line),
                    number(function.calls),
                    function.reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.push_str(&format!("\nNot candidates ({}):\n", listed.len()));
        out.push_str(&table::render(&["FUNCTION", "LOCATION", "CALLS", "WHY NOT"], &rows));
    }
    if !hidden.is_empty() {
        out.push_str(&format!(
            "\nNot reached by the tests ({}; --verbose lists them): {}\n",
            hidden.len(),
            unreached_counts(&hidden)
        ));
    }
    out.push('\n');
    out.push_str(&summary(report));
    out.push('\n');
    out
}

/// The same parts as Markdown.
pub(crate) fn markdown(report: &DiscoverReport) -> String {
    let mut out = String::from("### cachescan discover\n\n");
    if report.candidates().next().is_none() {
        out.push_str("No candidates: no function the tests called would gain from a cache.\n");
    } else {
        out.push_str(
            "| # | Function | Location | Calls | Keys | Hit rate | Saves | Best size | Hazards |\n|---:|---|---|---:|---:|---:|---:|---|---|\n",
        );
        for (rank, function) in report.candidates().enumerate() {
            let row = candidate_row(rank + 1, function);
            out.push_str(&format!(
                "| {} | `{}` | `{}` | {} |\n",
                row[0],
                row[1],
                row[2],
                row[3..].join(" | ")
            ));
        }
    }
    let listed: Vec<&FunctionEntry> = report
        .functions
        .iter()
        .filter(|function| !function.candidate && !unreached(function))
        .collect();
    if !listed.is_empty() {
        out.push_str("\n**Not candidates**\n\n");
        for function in listed {
            out.push_str(&format!(
                "- `{}`: {}\n",
                function.id,
                function.reason.as_deref().unwrap_or("").replace('|', "\\|")
            ));
        }
    }
    out.push_str(&format!("\n{}\n", summary(report)));
    out
}
