//! `cachescan merge REPORT...`: join the reports of `apply --shard K/N` runs into one report,
//! one table and one exit code. Reports of different manifests or source trees, or a set
//! with a shard missing or repeated, are refused. For `--format github` and `sarif`, whose
//! paths start at the repository root, the project root is read from the manifest (found as
//! every command finds it); without one, the current directory is taken as the project root.

use std::collections::BTreeSet;
use std::path::Path;

use crate::cli::args::{MergeArgs, ReportFormat};
use crate::cli::commands::{CommandResult, Failure};
use crate::cli::exit_code::ExitCode;
use crate::config::manifest::Manifest;
use crate::report::apply::{ApplyReport, human, markdown};
use crate::report::findings::{Findings, Repository};
use crate::ui::shell::Shell;

pub(crate) fn run(manifest: Option<&Path>, args: &MergeArgs, shell: &Shell) -> CommandResult {
    let mut reports = Vec::new();
    for path in &args.reports {
        let unusable = |message: String| {
            Failure::one(
                ExitCode::Unusable,
                miette::miette!(
                    code = "cachescan::merge::unreadable",
                    "{}: {message}",
                    path.display()
                ),
            )
        };
        let text = crate::safety::fsio::read_to_string(path)
            .map_err(|error| unusable(error.to_string()))?;
        let report: ApplyReport = serde_json::from_str(&text)
            .map_err(|error| unusable(format!("not a cachescan apply report: {error}")))?;
        if report.version != 1 {
            return Err(unusable(format!("report version {} is not 1", report.version)));
        }
        reports.push(report);
    }
    let merged = merge(reports).map_err(|message| {
        Failure::one(
            ExitCode::Unusable,
            miette::miette!(
                code = "cachescan::merge::mismatch",
                help = "merge the reports of one `apply --shard K/N` matrix over the same commit",
                "{message}"
            ),
        )
    })?;
    shell.status("Merged", format!("{} reports", args.reports.len()));
    match args.format {
        ReportFormat::Human => shell.out(&human(&merged, None, shell)),
        ReportFormat::Json => {
            shell.out(&format!("{}\n", serde_json::to_string_pretty(&merged).unwrap_or_default()))
        }
        ReportFormat::Markdown => shell.out(&markdown(&merged)),
        ReportFormat::Github | ReportFormat::Sarif => {
            let repository = repository(manifest)?;
            let findings = Findings::of_apply(&merged, &repository);
            shell.out(&super::apply::ci_format(args.format, &findings));
        }
    }
    let findings = merged.targets.iter().any(|target| target.verdict.is_finding());
    Ok(if findings { ExitCode::Findings } else { ExitCode::Success })
}

/// The repository around the project of the manifest, or around the current directory
/// when no manifest is given or found.
fn repository(given: Option<&Path>) -> Result<Repository, Failure> {
    let path = match super::manifest_path(given) {
        Ok(path) => path,
        Err(failure) if given.is_some() => return Err(failure),
        Err(_) => {
            let current = std::env::current_dir().map_err(|error| {
                Failure::one(
                    ExitCode::Unusable,
                    miette::miette!("cannot read the current directory: {error}"),
                )
            })?;
            return Ok(Repository::around(&current));
        }
    };
    let manifest = Manifest::load(&path).map_err(|problems| {
        Failure::unusable(problems.into_iter().map(miette::Report::new).collect())
    })?;
    Ok(Repository::around(&manifest.root))
}

/// One report from several shards of the same run.
pub(crate) fn merge(reports: Vec<ApplyReport>) -> Result<ApplyReport, String> {
    let mut reports = reports.into_iter();
    let mut merged = reports.next().ok_or("no reports")?;
    let count = merged.shard.map(|shard| shard.count);
    let mut shards: BTreeSet<usize> = merged.shard.map(|shard| shard.index).into_iter().collect();
    for report in reports {
        if report.manifest_sha256 != merged.manifest_sha256 {
            return Err("the reports come from different manifests".to_owned());
        }
        if report.source_sha256 != merged.source_sha256 {
            return Err("the reports come from different source trees".to_owned());
        }
        if report.shard.map(|shard| shard.count) != count {
            return Err("the reports split the work differently (or one is not a shard)".to_owned());
        }
        if let Some(shard) = report.shard
            && !shards.insert(shard.index)
        {
            return Err(format!("shard {shard} appears twice"));
        }
        merged.test_runs += report.test_runs;
        merged.tests_executed += report.tests_executed;
        merged.restored &= report.restored;
        merged.targets.extend(report.targets);
        merged.baseline_failures.extend(report.baseline_failures);
        merged.kept.extend(report.kept);
        merged.verification.add(&report.verification);
    }
    if let Some(count) = count {
        let missing: Vec<String> = (1..=count)
            .filter(|index| !shards.contains(index))
            .map(|index| format!("{index}/{count}"))
            .collect();
        if !missing.is_empty() {
            return Err(format!("shard {} missing", missing.join(", ")));
        }
    }
    merged.targets.sort_by_key(|target| target.plan_index);
    merged.baseline_failures.sort();
    merged.baseline_failures.dedup();
    merged.shard = None;
    Ok(merged)
}
