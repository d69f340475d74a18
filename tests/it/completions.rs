//! `cachescan completions SHELL`: the scripts are generated from the same command definition
//! the parser uses. The bash script is loaded into a real bash and asked to complete partial
//! command lines, as a user pressing Tab would; zsh and fish are not on the test machines, so
//! their scripts are checked for what those shells read (the subcommands and options).

use std::path::Path;

use crate::common::exit::{SUCCESS, UNUSABLE};
use crate::common::{Scratch, repository_path, run};

const SUBCOMMANDS: &[&str] =
    &["plan", "apply", "restore", "accept", "merge", "schema", "completions"];

fn script(shell: &str) -> String {
    let completions = run(&repository_path("."), &["completions", shell]);
    completions.assert_code(SUCCESS);
    completions.stdout_text()
}

/// What bash offers for the command line `words` (the last word is the one being completed),
/// with the script of `cachescan completions bash` loaded.
fn bash_offers(script_path: &Path, words: &[&str]) -> Vec<String> {
    let program = r#"
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_cachescan cachescan "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let output = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", program, "bash"])
        .arg(script_path)
        .args(words)
        .output()
        .expect("run bash");
    assert!(output.status.success(), "bash failed: {}", String::from_utf8_lossy(&output.stderr));
    let mut offers: Vec<String> =
        String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
    offers.sort();
    offers.dedup();
    offers
}

#[test]
fn bash_completes_subcommands_options_and_their_values() {
    let scratch = Scratch::empty();
    scratch.write("cachescan.bash", script("bash"));
    let script_path = scratch.path("cachescan.bash");
    assert_eq!(bash_offers(&script_path, &["cachescan", "pl"]), ["plan"]);
    assert_eq!(bash_offers(&script_path, &["cachescan", "re"]), ["restore"]);
    assert_eq!(
        bash_offers(&script_path, &["cachescan", "plan", "--format", ""]),
        ["github", "human", "json", "sarif"]
    );
    assert_eq!(bash_offers(&script_path, &["cachescan", "di"]), ["discover"]);
    assert_eq!(
        bash_offers(&script_path, &["cachescan", "discover", "--format", ""]),
        ["human", "json", "markdown"]
    );
    assert_eq!(
        bash_offers(&script_path, &["cachescan", "apply", "--verify-s"]),
        ["--verify-sample", "--verify-seed"]
    );
    // An empty word offers the options as well (`--help`, ...); the values are the shells.
    let shells: Vec<String> = bash_offers(&script_path, &["cachescan", "completions", ""])
        .into_iter()
        .filter(|offer| !offer.starts_with('-'))
        .collect();
    assert_eq!(shells, ["bash", "elvish", "fish", "powershell", "zsh"]);
    let everything = bash_offers(&script_path, &["cachescan", ""]);
    for subcommand in SUBCOMMANDS {
        assert!(
            everything.iter().any(|offer| offer == subcommand),
            "{subcommand} in {everything:?}"
        );
    }
}

#[test]
fn zsh_and_fish_scripts_name_every_subcommand_and_the_options() {
    let zsh = script("zsh");
    assert!(zsh.starts_with("#compdef cachescan"), "zsh autoloads by the #compdef line");
    let fish = script("fish");
    for subcommand in SUBCOMMANDS {
        assert!(zsh.contains(&format!("'{subcommand}:")), "zsh describes `{subcommand}`");
        assert!(fish.contains(&format!("-a \"{subcommand}\"")), "fish offers `{subcommand}`");
    }
    assert!(zsh.contains("--cache-size=["), "zsh knows `--cache-size`");
    assert!(fish.contains("-l cache-size"), "fish knows `--cache-size`");
    assert!(fish.contains("-l format") && fish.contains("human\\t''"), "fish offers formats");
}

#[test]
fn an_unknown_shell_is_refused_with_the_known_ones() {
    let refused = run(&repository_path("."), &["completions", "tcsh"]);
    refused.assert_code(UNUSABLE);
    assert!(refused.stderr.contains("invalid value 'tcsh'"), "{}", refused.stderr);
    assert!(refused.stderr.contains("[possible values: bash, elvish, fish, powershell, zsh]"));
}
