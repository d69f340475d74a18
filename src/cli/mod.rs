//! The top layer: the command line (`args`, clap definitions only), the documented exit
//! codes (`exit_code`) and one thin function per subcommand (`commands`) from parsed options
//! to an exit code. The core below never sees a clap type.

pub(crate) mod args;
pub(crate) mod commands;
pub mod exit_code;

use clap::CommandFactory;

use crate::cli::args::Cli;

/// The whole command line as clap sees it, with the long help that the derive cannot say
/// (exit codes, the hazard table): what `cachescan` parses, and what `completions` (and the
/// man page) describe.
pub(crate) fn command() -> clap::Command {
    let mut command = Cli::command().after_long_help(exit_code::EXIT_CODES_HELP);
    for name in ["apply", "restore", "accept", "merge"] {
        command =
            command.mut_subcommand(name, |sub| sub.after_long_help(exit_code::EXIT_CODES_HELP));
    }
    command.mut_subcommand("plan", |plan| {
        plan.after_long_help(format!("{}\n\n{}", hazard_help(), exit_code::EXIT_CODES_HELP))
    })
}

/// The hazard table for `plan --help`.
fn hazard_help() -> String {
    let mut text = String::from("Hazards (code, severity, what it catches):\n");
    for code in crate::python::hazard::HazardCode::ALL {
        let severity = match code.severity() {
            crate::python::hazard::HazardSeverity::Error => "error",
            crate::python::hazard::HazardSeverity::Warning => "warning",
        };
        text.push_str(&format!("  {:<22} {:<8} {}\n", code.as_str(), severity, code.summary()));
    }
    text.push_str(
        "An error hazard skips the function unless the target lists it in allow_hazards.",
    );
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    /// The man pages in `man/` (`cachescan.1`, one `cachescan-<command>.1` per subcommand)
    /// must be what clap_mangen makes of [`super::command`], so they never drift from the
    /// options. `CACHESCAN_UPDATE_MAN=1 cargo test --lib man_pages` rewrites them.
    #[test]
    fn committed_man_pages_match_the_command_line() {
        let generated = tempfile::tempdir().expect("a temporary directory");
        clap_mangen::generate_to(super::command(), generated.path()).expect("render man pages");
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
        if std::env::var_os("CACHESCAN_UPDATE_MAN").is_some() {
            let _ = std::fs::remove_dir_all(&committed);
            std::fs::create_dir_all(&committed).expect("create man/");
            for (name, text) in pages(generated.path()) {
                std::fs::write(committed.join(name), text).expect("write a man page");
            }
        }
        let expected = pages(generated.path());
        assert!(expected.contains_key("cachescan.1") && expected.contains_key("cachescan-plan.1"));
        assert!(
            pages(&committed) == expected,
            "man/ differs from the command line; regenerate it with \
             `CACHESCAN_UPDATE_MAN=1 cargo test --lib man_pages` and commit it"
        );
    }

    fn pages(directory: &Path) -> BTreeMap<String, String> {
        let Ok(entries) = std::fs::read_dir(directory) else { return BTreeMap::new() };
        entries
            .map(|entry| entry.expect("a directory entry").path())
            .map(|path| {
                let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&path).expect("a man page is text"))
            })
            .collect()
    }
}
