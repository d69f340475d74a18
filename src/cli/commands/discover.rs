//! `cachescan discover`: run the unmodified suite once with every planned function observed
//! and its argument keys traced, rank the functions by the time a cache would have saved,
//! and (`--write`) draft a manifest of the top candidates. Patches nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::args::{DiscoverArgs, DiscoverFormat};
use crate::cli::commands::{CommandResult, Failure, begin_runs, manifest_path, with_runner};
use crate::cli::exit_code::ExitCode;
use crate::config::manifest::{MANIFEST_FILE_NAME, Manifest};
use crate::config::options::{RunOptions, Strategy, Verification};
use crate::config::settings::{CommandLineSettings, Settings};
use crate::plan::Plan;
use crate::report::discover::{DiscoverReport, draft_manifest, human, markdown};
use crate::ui::shell::{Shell, Verbosity};
use crate::ui::text::plural;
use crate::verdict::discover::rank;

/// The manifest `discover` uses when none is found: every function of every module under
/// the default source roots (`src`, `.`), test files left out.
const BUILT_IN_MANIFEST: &str = "\
# cachescan discover's built-in manifest: no cachescan.yaml was found.
version: 1
targets:
  - module: \"**\"
    functions: [\"**\"]
";

pub(crate) fn run(
    manifest_path: Option<&Path>,
    args: &DiscoverArgs,
    shell: &Shell,
) -> CommandResult {
    let command_line =
        CommandLineSettings { cache_size: args.settings.cache_size, timeout: args.timeout };
    let (manifest, built_in) = load_or_built_in(manifest_path)?;
    if built_in {
        shell.status(
            "Discovering",
            format!(
                "every module under {} (no {MANIFEST_FILE_NAME} here or above)",
                manifest.source_roots.join(", ")
            ),
        );
    }
    let settings = Settings::resolve(&manifest, command_line)
        .map_err(|error| Failure::one(ExitCode::Unusable, error))?;
    let (state_dir, _lock) = begin_runs(&manifest, shell)?;
    let plan = Plan::build(&manifest, &settings).map_err(Failure::unusable)?;
    shell.status("Planning", plan.status_line());
    for unresolved in &plan.unresolved {
        shell.diagnostic(&unresolved.diagnostic);
    }
    if plan.patched_functions().next().is_none() {
        return Err(Failure::one(
            ExitCode::Unusable,
            miette::miette!(
                code = "cachescan::discover::nothing-to-observe",
                help = "name modules with functions in the manifest's targets (`module: mypkg.**`)",
                "no function to observe: the targets select {}",
                if plan.functions.is_empty() {
                    "no function".to_owned()
                } else {
                    format!("only functions that cannot be cached ({})", plan.functions.len())
                }
            ),
        ));
    }
    let checked = !args.no_verify_hits;
    let options = RunOptions {
        strategy: Strategy::Bisect,
        timeout: settings.timeout.map(Duration::from_secs_f64),
        fresh_baseline: args.fresh_baseline,
        jobs: usize::from(args.jobs),
        shard: None,
        verify: if checked { Verification::On { rate: 1.0, seed: 0 } } else { Verification::Off },
    };
    let ((baseline, _), _) =
        with_runner(&manifest, &plan, &state_dir, shell, options, |runner| runner.baseline_only())?;
    let found = rank(&plan, &baseline, &settings.thresholds(), checked);
    let report = DiscoverReport::new(&plan, &baseline, &found, &manifest.root, checked);
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    if let Err(error) = crate::safety::fsio::write_atomic(
        &state_dir.discover_file(),
        format!("{json}\n").as_bytes(),
    ) {
        shell.warn(error);
    }
    match args.format {
        DiscoverFormat::Human => shell.out(&human(&report, shell.verbosity >= Verbosity::Verbose)),
        DiscoverFormat::Json => shell.out(&format!("{json}\n")),
        DiscoverFormat::Markdown => shell.out(&markdown(&report)),
    }
    if let Some(path) = &args.write {
        write_draft(&report, &plan, &manifest, path.as_deref(), args, shell)?;
    }
    Ok(ExitCode::Success)
}

/// The manifest given or found, else the built-in one rooted in the current directory
/// (then `true`).
fn load_or_built_in(given: Option<&Path>) -> Result<(Manifest, bool), Failure> {
    let path = match manifest_path(given) {
        Ok(path) => path,
        Err(_) if given.is_none() => return Ok((built_in()?, true)),
        Err(failure) => return Err(failure),
    };
    let manifest = Manifest::load(&path).map_err(|problems| {
        Failure::unusable(problems.into_iter().map(miette::Report::new).collect())
    })?;
    Ok((manifest, false))
}

fn built_in() -> Result<Manifest, Failure> {
    let current = std::env::current_dir().map_err(|error| {
        Failure::one(
            ExitCode::Unusable,
            miette::miette!("cannot read the current directory: {error}"),
        )
    })?;
    Manifest::from_text(
        format!("(built-in: no {MANIFEST_FILE_NAME} found)"),
        &current.join(MANIFEST_FILE_NAME),
        BUILT_IN_MANIFEST.to_owned(),
    )
    .map_err(|problems| Failure::unusable(problems.into_iter().map(miette::Report::new).collect()))
}

/// `--write`: draft the manifest, check that it validates and plans, then write it (an
/// existing file only with `--force`).
fn write_draft(
    report: &DiscoverReport,
    plan: &Plan,
    manifest: &Manifest,
    path: Option<&Path>,
    args: &DiscoverArgs,
    shell: &Shell,
) -> Result<(), Failure> {
    let path: PathBuf = match path {
        None => manifest.root.join(MANIFEST_FILE_NAME),
        Some(path) => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    };
    let shown = crate::ui::text::relative_display(&path, &manifest.root);
    if report.candidates().next().is_none() {
        shell.warn(format!("no candidates, so no manifest was drafted ({shown} not written)"));
        return Ok(());
    }
    if path.exists() && !args.force {
        return Err(Failure::one(
            ExitCode::Unusable,
            miette::miette!(
                code = "cachescan::discover::exists",
                help = "pass --force to overwrite it, or name another file: --write PATH",
                "{shown} already exists; the draft was not written",
            ),
        ));
    }
    let text = draft_manifest(report, plan, manifest, &path, args.top);
    let invalid = |reports: Vec<miette::Report>| {
        let mut reports = reports;
        reports.push(miette::miette!(
            "cachescan drafted a manifest it cannot read back (a bug; please report it); nothing was written. The draft:\n{text}"
        ));
        Failure::unusable(reports)
    };
    let draft = Manifest::from_text(shown.clone(), &path, text.clone())
        .map_err(|problems| invalid(problems.into_iter().map(miette::Report::new).collect()))?;
    let settings = Settings::resolve(&draft, CommandLineSettings::default())
        .map_err(|error| invalid(vec![error.into()]))?;
    let planned = Plan::build(&draft, &settings).map_err(invalid)?;
    if let Some(unresolved) = planned.unresolved.first() {
        return Err(invalid(vec![miette::miette!("{}", unresolved.message)]));
    }
    crate::safety::fsio::write_atomic(&path, text.as_bytes())
        .map_err(|error| Failure::one(ExitCode::Unusable, error))?;
    shell.status(
        "Wrote",
        format!(
            "{shown}: {}; `cachescan apply{}` judges them",
            plural(planned.functions.len(), "target function"),
            if shown == MANIFEST_FILE_NAME {
                String::new()
            } else {
                format!(" --manifest {shown}")
            }
        ),
    );
    Ok(())
}
