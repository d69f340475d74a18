//! The command line: global options and one subcommand per action, parsed with clap.
//! This module only describes options; `commands/` acts on them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::options::{SampleRate, Shard, Strategy, Verification};
use crate::python::cache_size::CacheSize;
use crate::ui::shell::ColorChoice;

/// cachescan: which Python functions can safely take functools.lru_cache, proven by the
/// project's own pytest suite.
#[derive(Debug, Parser)]
#[command(name = "cachescan", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The manifest to use (default: cachescan.yaml in this directory or the nearest parent).
    #[arg(long, global = true, value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    /// Print only errors and the report.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more about each step.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// When to use colour (NO_COLOR is respected with `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dry run: resolve every target to its `def`, check hazards, print the patch plan.
    /// Changes nothing; cheap enough for CI on every push.
    Plan(PlanArgs),
    /// Patch the planned functions on disk, run the test suite, read real cache statistics
    /// from inside the test process, give each function a verdict, restore every file.
    Apply(ApplyArgs),
    /// Undo an interrupted or killed run from its journal in `.cachescan/`; stop the test
    /// runs it left behind and delete its scratch copies.
    Restore,
    /// Keep the patches of `apply --keep` for good: forget their journal and backups, so the
    /// decorators are ordinary edits of yours (commit them, or not).
    Accept,
    /// Join the reports of `apply --shard K/N` runs into one report and one exit code.
    Merge(MergeArgs),
    /// Find what to cache: run the unmodified suite once, observing every function of the
    /// manifest's targets (without a manifest: every module under `src` and `.`), and rank
    /// them by the time a cache would have saved, each with its hit rate at every maxsize
    /// and the size worth giving it. Patches nothing. `--write` drafts a manifest of the
    /// top candidates for `apply`.
    Discover(DiscoverArgs),
    /// Print the JSON Schema of cachescan.yaml.
    Schema,
    /// Print the completion script of a shell on stdout.
    ///
    /// bash: source it, or put it in ~/.local/share/bash-completion/completions/cachescan;
    /// zsh: a `_cachescan` file in a directory on $fpath; fish:
    /// ~/.config/fish/completions/cachescan.fish.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
    Github,
    Sarif,
}

/// Output formats of `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
    Markdown,
    Github,
    Sarif,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Print the unified diff that `apply` would write, instead of the table.
    #[arg(long, conflicts_with = "format")]
    pub diff: bool,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// How `apply` finds the functions that break tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// Patch everything at once, split failing groups in halves until each is one function.
    Bisect,
    /// One run per function (simple and slow; for comparison).
    Individual,
}

impl From<StrategyArg> for Strategy {
    fn from(strategy: StrategyArg) -> Self {
        match strategy {
            StrategyArg::Bisect => Strategy::Bisect,
            StrategyArg::Individual => Strategy::Individual,
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

impl From<ColorArg> for ColorChoice {
    fn from(color: ColorArg) -> Self {
        match color {
            ColorArg::Auto => ColorChoice::Auto,
            ColorArg::Always => ColorChoice::Always,
            ColorArg::Never => ColorChoice::Never,
        }
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// How failing functions are isolated.
    #[arg(long, value_enum, default_value_t = StrategyArg::Bisect)]
    pub strategy: StrategyArg,
    /// Leave the `safe` functions patched at the end (journaled: `cachescan restore` undoes it).
    #[arg(long)]
    pub keep: bool,
    /// Output format on stdout (the JSON report is always written to .cachescan/report.json).
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Seconds one test run may take (default: project.timeout, else max(60, 5 x baseline)).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Run the baseline even when the cached one (.cachescan/baseline.json) still matches.
    #[arg(long)]
    pub fresh_baseline: bool,
    /// Test runs at once, each in its own scratch copy of the project: a fresh baseline runs
    /// as N parts (split by test file), the screen in the first copy free, then isolation
    /// runs go N at a time.
    /// If the tests import the original tree instead of a copy (an editable install), copies
    /// put their source roots first on PYTHONPATH; if the tests still import the original,
    /// every run happens in place, one at a time, and the report says why.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Judge only shard K of N (the same split on every machine); join reports with `merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Check every cache hit against a fresh call of the function (the default): `safe`
    /// then also means that every hit would return what a fresh call returns. The
    /// baseline finds divergences (a caller mutating the cached value, colliding keys,
    /// hidden inputs) without an extra call: it runs every call uncached and compares
    /// each one its cache would answer with what the cache would have answered.
    #[arg(long, overrides_with = "no_verify_hits")]
    pub verify_hits: bool,
    /// Do not check hits: `safe` means only that no test changed outcome (the report says
    /// the hits are unverified).
    #[arg(long)]
    pub no_verify_hits: bool,
    /// Check only this fraction of the hits, chosen the same way in every run (from
    /// --verify-seed); the report says what fraction was checked.
    #[arg(long, value_name = "RATE", conflicts_with = "no_verify_hits")]
    pub verify_sample: Option<SampleRate>,
    /// The seed of --verify-sample.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "verify_sample")]
    pub verify_seed: u64,
}

impl ApplyArgs {
    /// Whether and how hits are checked.
    pub(crate) fn verification(&self) -> Verification {
        if self.no_verify_hits {
            return Verification::Off;
        }
        let rate = self.verify_sample.map_or(1.0, |SampleRate(rate)| rate);
        Verification::On { rate, seed: self.verify_seed }
    }
}

/// Output formats of `discover` (the JSON report is always written to
/// .cachescan/discover.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiscoverFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Output format on stdout (the JSON report is always written to
    /// .cachescan/discover.json).
    #[arg(long, value_enum, default_value_t = DiscoverFormat::Human)]
    pub format: DiscoverFormat,
    /// Draft a manifest of the top candidates at PATH (default: cachescan.yaml in the
    /// project root), validated before it is written; an existing file needs --force.
    #[arg(long, value_name = "PATH", num_args = 0..=1)]
    pub write: Option<Option<PathBuf>>,
    /// Overwrite the file --write names.
    #[arg(long, requires = "write")]
    pub force: bool,
    /// How many candidates --write makes targets.
    #[arg(long, value_name = "N", default_value_t = 20, requires = "write")]
    pub top: usize,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Seconds the test run may take (default: project.timeout, else 3600).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Run the suite even when the cached baseline (.cachescan/baseline.json) of the same
    /// functions still matches.
    #[arg(long)]
    pub fresh_baseline: bool,
    /// Run the suite as N parts at once, each in its own scratch copy (split by test file).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Do not compare would-be cache hits with the calls themselves (a function whose
    /// hit would differ is then not ruled out).
    #[arg(long)]
    pub no_verify_hits: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shard reports (`.cachescan/report.json` of each `apply --shard K/N`).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<std::path::PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
}

/// Settings that override the manifest and the environment.
#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Default `maxsize` (an integer, or `unbounded`); targets with their own cache_size keep it.
    #[arg(long, value_name = "N")]
    pub cache_size: Option<CacheSize>,
}
