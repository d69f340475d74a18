//! `cachescan plan`: the dry run. Prints the patch plan (or its diff); writes nothing.

use crate::cli::args::{PlanArgs, PlanFormat};
use crate::cli::commands::{CommandResult, Failure, load};
use crate::cli::exit_code::ExitCode;
use crate::config::settings::CommandLineSettings;
use crate::plan::Plan;
use crate::report::findings::{Findings, Repository};
use crate::report::plan::{PlanReport, human};
use crate::report::{github, sarif};
use crate::ui::shell::Shell;

pub(crate) fn run(
    manifest_path: Option<&std::path::Path>,
    args: &PlanArgs,
    shell: &Shell,
) -> CommandResult {
    let command_line = CommandLineSettings { cache_size: args.settings.cache_size, timeout: None };
    let (manifest, settings) = load(manifest_path, command_line)?;
    let plan = Plan::build(&manifest, &settings).map_err(Failure::unusable)?;
    shell.status("Planning", plan.status_line());
    if args.diff {
        let all = plan.patchable();
        for patch in plan.patch_files(&all) {
            let (file, patched) = (patch.file, &patch.patched);
            shell.out(&crate::python::patch::unified_diff(
                &file.relative,
                &file.bytes,
                &patched.bytes,
            ));
        }
    } else {
        match args.format {
            PlanFormat::Human => shell.out(&human(&plan, shell)),
            PlanFormat::Json => {
                let report = PlanReport::new(&plan, &manifest);
                shell.out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                ));
            }
            PlanFormat::Github | PlanFormat::Sarif => {
                let repository = Repository::around(&manifest.root);
                let findings = Findings::of_plan(&plan, &manifest, &repository);
                shell.out(&match args.format {
                    PlanFormat::Github => github::render(&findings),
                    _ => sarif::render(&findings),
                });
            }
        }
    }
    Ok(if plan.has_findings() { ExitCode::Findings } else { ExitCode::Success })
}
