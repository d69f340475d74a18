//! `cachescan apply`: patch on disk, run the real test suite, read real cache statistics,
//! decide, restore byte for byte.

use std::time::Duration;

use crate::cli::args::{ApplyArgs, ReportFormat};
use crate::cli::commands::{CommandResult, Failure, begin_runs, load, with_runner};
use crate::cli::exit_code::ExitCode;
use crate::config::options::RunOptions;
use crate::config::settings::CommandLineSettings;
use crate::plan::{FunctionIndex, Plan};
use crate::report::apply::{
    ApplyReport, BaselineSummary, TargetVerdict, VerificationSummary, human, markdown,
};
use crate::report::findings::{Findings, Repository};
use crate::safety::journal::Journal;
use crate::ui::shell::Shell;
use crate::ui::text::plural;
use crate::verdict::{self, Verdict};

pub(crate) fn run(
    manifest_path: Option<&std::path::Path>,
    args: &ApplyArgs,
    shell: &Shell,
) -> CommandResult {
    let command_line =
        CommandLineSettings { cache_size: args.settings.cache_size, timeout: args.timeout };
    let (manifest, settings) = load(manifest_path, command_line)?;
    let (state_dir, _lock) = begin_runs(&manifest, shell)?;
    let plan = Plan::build(&manifest, &settings).map_err(Failure::unusable)?;
    let patchable = plan.patchable();
    shell.status("Planning", plan.status_line());
    for unresolved in &plan.unresolved {
        shell.diagnostic(&unresolved.diagnostic);
    }
    let options = RunOptions {
        strategy: args.strategy.into(),
        timeout: settings.timeout.map(Duration::from_secs_f64),
        fresh_baseline: args.fresh_baseline,
        jobs: usize::from(args.jobs),
        shard: args.shard,
        verify: args.verification(),
    };
    let (trial, mut journal) =
        with_runner(&manifest, &plan, &state_dir, shell, options, |runner| {
            runner.trial(patchable)
        })?;
    let verdicts = verdict::decide(&plan, &trial, &settings.thresholds());
    let mut kept = Vec::new();
    if args.keep {
        kept = keep_safe(&plan, &verdicts, &mut journal)
            .map_err(|error| Failure::one(ExitCode::RestoreIncomplete, error))?;
    }
    let report = ApplyReport {
        version: 1,
        baseline: BaselineSummary::new(&trial.baseline),
        test_runs: trial.counts.runs,
        restored: true,
        targets: verdicts.iter().map(|verdict| TargetVerdict::new(&plan, verdict)).collect(),
        baseline_failures: trial.baseline.failures.iter().cloned().collect(),
        kept: kept.clone(),
        tests_executed: trial.counts.tests_executed,
        manifest_sha256: crate::safety::journal::sha256_hex(manifest.source.text.as_bytes()),
        source_sha256: trial.source_sha256.clone(),
        shard: args.shard,
        jobs: trial.jobs.clone(),
        verification: VerificationSummary::new(args.verification(), &verdicts),
    };
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    if let Err(error) =
        crate::safety::fsio::write_atomic(&state_dir.report_file(), format!("{json}\n").as_bytes())
    {
        shell.warn(error);
    }
    match args.format {
        ReportFormat::Human => shell.out(&human(&report, Some(&plan), shell)),
        ReportFormat::Json => shell.out(&format!("{json}\n")),
        ReportFormat::Markdown => shell.out(&markdown(&report)),
        ReportFormat::Github | ReportFormat::Sarif => {
            let repository = Repository::around(&manifest.root);
            shell.out(&ci_format(args.format, &Findings::of_apply(&report, &repository)));
        }
    }
    if !kept.is_empty() {
        shell.status(
            "Kept",
            format!(
                "{} patched; `cachescan accept` keeps it for good, `cachescan restore` undoes it",
                plural(kept.len(), "file")
            ),
        );
    }
    let findings = report.targets.iter().any(|target| target.verdict.is_finding());
    Ok(if findings { ExitCode::Findings } else { ExitCode::Success })
}

/// `--format github` or `sarif` of an apply report (`merge` prints them the same way).
pub(crate) fn ci_format(format: ReportFormat, findings: &Findings) -> String {
    match format {
        ReportFormat::Sarif => crate::report::sarif::render(findings),
        _ => crate::report::github::render(findings),
    }
}

/// Leave the safe functions patched, journaled as kept; print their diff on stderr.
fn keep_safe(
    plan: &Plan,
    verdicts: &[verdict::FunctionVerdict],
    journal: &mut Journal,
) -> Result<Vec<String>, crate::safety::journal::JournalError> {
    let safe: Vec<FunctionIndex> = verdicts
        .iter()
        .filter(|verdict| verdict.verdict == Verdict::Safe)
        .map(|verdict| verdict.function)
        .collect();
    let mut kept = Vec::new();
    for patch in plan.patch_files(&safe) {
        let (file, patched) = (patch.file, &patch.patched);
        journal.write(&file.path, &file.relative, &file.bytes, &patched.bytes, true)?;
        eprint!(
            "{}",
            crate::python::patch::unified_diff(&file.relative, &file.bytes, &patched.bytes)
        );
        kept.push(file.relative.clone());
    }
    Ok(kept)
}
