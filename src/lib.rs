//! cachescan: which Python functions can safely take `functools.lru_cache`, proven by the
//! project's own pytest suite.
//!
//! The crate is a stack of layers, each a folder, each importing only the layers below it
//! (`tests/it/architecture.rs` checks this), bottom first:
//!
//! - `ui`: status lines, diagnostics, text helpers;
//! - `safety`: file I/O, the journal, the lock, `.cachescan/`, child processes, Ctrl-C,
//!   the project-tree walker;
//! - `python`: the source model, patterns, hazards, `maxsize`, the patcher;
//! - `config`: the manifest, layered settings, run options, the schema;
//! - `plan`: manifest + settings -> the functions to patch;
//! - `probe`: the pytest plugin, its protocol, what it observed;
//! - `outcome`: result data (run records, the baseline, judgements, a trial's result);
//! - `verdict`: pure analysis, from what the runs recorded to verdicts;
//! - `runner`: the runs themselves (baseline, culprit search, copies, shards);
//! - `report`: rendering (tables, JSON, Markdown, progress);
//! - `cli`: the command line, exit codes, one function per subcommand.
//!
//! Data flows one way: configuration -> plan -> runner (events) -> analysis -> report.
//! See DESIGN.md.

mod cli;
mod config;
mod outcome;
mod plan;
mod probe;
mod python;
mod report;
mod runner;
mod safety;
mod ui;
mod verdict;

use clap::FromArgMatches;

/// Entry points for `benches/`, not an interface: they may change with any release.
#[doc(hidden)]
pub mod bench {
    /// The stack-distance pass over a probe trace file, as `apply` and `discover` run it:
    /// (calls, distinct keys, bytes its tables held at the end).
    pub fn trace_profile(path: &std::path::Path) -> Result<(u64, u64, usize), String> {
        let distances = crate::probe::trace::read_distances(path)?;
        let profile = distances.profile(0);
        Ok((profile.calls, profile.keys, distances.memory_bytes()))
    }
}

/// The command line as clap parses it; public so tests can check the command lines that
/// examples and documentation run (`Cli::try_parse_from`).
pub use crate::cli::args::Cli;
use crate::cli::args::Command;
pub use crate::cli::exit_code::ExitCode;
use crate::ui::shell::{Shell, Verbosity};

/// Parse the command line, run the command, print failures; returns the exit code.
pub fn run() -> ExitCode {
    let matches = cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let shell = Shell::new(verbosity, cli.color.into());
    let manifest = cli.manifest.as_deref();
    let result = match &cli.command {
        Command::Plan(args) => cli::commands::plan::run(manifest, args, &shell),
        Command::Apply(args) => cli::commands::apply::run(manifest, args, &shell),
        Command::Restore => cli::commands::restore::run(manifest, &shell),
        Command::Accept => cli::commands::accept::run(manifest, &shell),
        Command::Schema => cli::commands::schema::run(&shell),
        Command::Merge(args) => cli::commands::merge::run(manifest, args, &shell),
        Command::Discover(args) => cli::commands::discover::run(manifest, args, &shell),
        Command::Completions { shell: target } => cli::commands::completions::run(*target, &shell),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            for report in &failure.reports {
                shell.diagnostic(report.as_ref());
            }
            failure.exit
        }
    }
}

pub use config::schema::manifest_schema_json;
