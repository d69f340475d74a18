//! The GitHub Actions workflow in `examples/ci/` is meant to be pasted as it is, so it is
//! checked here: it parses as YAML, it runs what the README promises (plan annotations on
//! push; sharded apply, merged into Markdown, SARIF and annotations on demand and nightly),
//! and every `cachescan ...` command line in its `run:` scripts is one the real command line
//! accepts: split into words as a shell would, `${{ matrix.* }}` replaced by each value of
//! the job's matrix, and parsed by clap's `Cli` (`try_parse_from`). A misspelled flag, a
//! format that does not exist or a bad `--shard` fails this test.

use std::collections::BTreeSet;

use clap::Parser;
use serde_json::Value;

use crate::common::repository_path;

const WORKFLOW: &str = "examples/ci/cachescan.yml";

/// One `cachescan` command found in a workflow: its words and where it came from.
#[derive(Debug)]
struct CommandLine {
    job: String,
    words: Vec<String>,
}

fn load(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|error| panic!("the workflow is not YAML: {error}"))
}

/// Every `cachescan` command of every `run:` script, once per value of the job's matrix.
fn cachescan_commands(workflow: &Value) -> Vec<CommandLine> {
    let jobs = workflow["jobs"].as_object().expect("`jobs` is a mapping");
    let mut commands = Vec::new();
    for (job_name, job) in jobs {
        let steps =
            job["steps"].as_array().unwrap_or_else(|| panic!("job {job_name} has no steps"));
        for script in steps.iter().filter_map(|step| step["run"].as_str()) {
            for line in script.replace("\\\n", " ").lines() {
                for expanded in expand(line, job, job_name) {
                    let words = shlex::split(&expanded)
                        .unwrap_or_else(|| panic!("job {job_name}: cannot split `{expanded}`"));
                    for words in simple_commands(words) {
                        if words.first().is_some_and(|word| word == "cachescan") {
                            commands.push(CommandLine { job: job_name.clone(), words });
                        }
                    }
                }
            }
        }
    }
    commands
}

/// `line` with each `${{ matrix.NAME }}` replaced, once per value of the matrix (the
/// matrix of these examples has one dimension). Any other expression is refused, so a new
/// one has to be given a value here.
fn expand(line: &str, job: &Value, job_name: &str) -> Vec<String> {
    let Some(start) = line.find("${{") else { return vec![line.to_owned()] };
    let end = start + line[start..].find("}}").expect("an expression ends with }}") + 2;
    let expression = line[start + 3..end - 2].trim();
    let Some(name) = expression.strip_prefix("matrix.") else {
        panic!("job {job_name}: no value for `${{{{ {expression} }}}}` in `{line}`");
    };
    let values = job["strategy"]["matrix"][name]
        .as_array()
        .unwrap_or_else(|| panic!("job {job_name} has no matrix.{name}"));
    values
        .iter()
        .flat_map(|value| {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            expand(&format!("{}{text}{}", &line[..start], &line[end..]), job, job_name)
        })
        .collect()
}

/// The simple commands of a pipeline or list (`a | b`, `a || b`, `a && b`, `a; b`), each
/// without its redirections and leading variable assignments.
fn simple_commands(words: Vec<String>) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "|" | "||" | "&&" | ";" | "&" => commands.push(Vec::new()),
            ">" | ">>" | "<" | "2>" | "2>>" | "&>" => {
                words.next();
            }
            redirect if redirect.starts_with('>') || redirect.starts_with("2>") => {}
            _ => {
                let current = commands.last_mut().expect("one command at least");
                let assignment = current.is_empty()
                    && word.split_once('=').is_some_and(|(name, _)| {
                        !name.is_empty()
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    });
                if !assignment {
                    current.push(word);
                }
            }
        }
    }
    commands.retain(|command| !command.is_empty());
    commands
}

/// The command lines clap refuses, with its message.
fn refused(commands: &[CommandLine]) -> Vec<String> {
    commands
        .iter()
        .filter_map(|command| {
            cachescan::Cli::try_parse_from(&command.words).err().map(|error| {
                format!("job {}: `{}`:\n{}", command.job, command.words.join(" "), error.render())
            })
        })
        .collect()
}

/// The value of `--format` in a command line, or `human`.
fn format_of(words: &[String]) -> String {
    words
        .iter()
        .position(|word| word == "--format")
        .and_then(|index| words.get(index + 1).cloned())
        .unwrap_or_else(|| "human".to_owned())
}

#[test]
fn every_cachescan_command_in_the_workflow_is_one_the_cli_accepts() {
    let text = std::fs::read_to_string(repository_path(WORKFLOW)).expect("read the workflow");
    let commands = cachescan_commands(&load(&text));
    let refused = refused(&commands);
    assert!(
        refused.is_empty(),
        "{WORKFLOW} runs command lines cachescan refuses:\n{}",
        refused.join("\n")
    );
    // What the README promises the workflow does, by job: (job, subcommand, format).
    let seen: BTreeSet<(String, String, String)> = commands
        .iter()
        .map(|command| (command.job.clone(), command.words[1].clone(), format_of(&command.words)))
        .collect();
    for (job, subcommand, format) in [
        ("plan", "plan", "github"),
        ("apply", "apply", "human"),
        ("merge", "merge", "markdown"),
        ("merge", "merge", "sarif"),
        ("merge", "merge", "github"),
    ] {
        let wanted = (job.to_owned(), subcommand.to_owned(), format.to_owned());
        assert!(
            seen.contains(&wanted),
            "no `cachescan {subcommand} --format {format}` in job {job}: {seen:?}"
        );
    }
    let shards: BTreeSet<String> = commands
        .iter()
        .filter(|command| command.words[1] == "apply")
        .filter_map(|command| {
            let index = command.words.iter().position(|word| word == "--shard")?;
            command.words.get(index + 1).cloned()
        })
        .collect();
    assert_eq!(shards, BTreeSet::from(["1/4", "2/4", "3/4", "4/4"].map(str::to_owned)));
}

#[test]
fn the_workflow_runs_plan_on_push_and_apply_on_demand_or_nightly() {
    let text = std::fs::read_to_string(repository_path(WORKFLOW)).expect("read the workflow");
    let workflow = load(&text);
    let on = workflow["on"].as_object().expect("`on` is a mapping");
    for event in ["push", "workflow_dispatch", "schedule"] {
        assert!(on.contains_key(event), "not triggered by {event}: {on:?}");
    }
    let condition = |job: &str| workflow["jobs"][job]["if"].as_str().unwrap_or_default().to_owned();
    assert!(condition("plan").contains("'push'"), "{}", condition("plan"));
    for job in ["apply", "merge"] {
        for event in ["'workflow_dispatch'", "'schedule'"] {
            assert!(condition(job).contains(event), "job {job} ({}) lacks {event}", condition(job));
        }
    }
    let merge_steps = workflow["jobs"]["merge"]["steps"].as_array().expect("merge steps");
    let uses: Vec<&str> = merge_steps.iter().filter_map(|step| step["uses"].as_str()).collect();
    assert!(
        uses.iter().any(|action| action.starts_with("github/codeql-action/upload-sarif@")),
        "the merge job uploads SARIF: {uses:?}"
    );
    let runs: Vec<&str> = merge_steps.iter().filter_map(|step| step["run"].as_str()).collect();
    assert!(
        runs.iter()
            .any(|run| run.contains("--format markdown")
                && run.contains(">> \"$GITHUB_STEP_SUMMARY\"")),
        "the Markdown report goes to the step summary: {runs:?}"
    );
    assert_eq!(
        workflow["jobs"]["merge"]["permissions"]["security-events"], "write",
        "upload-sarif needs security-events: write"
    );
    let install: Vec<&Value> = workflow["jobs"]
        .as_object()
        .expect("jobs")
        .values()
        .flat_map(|job| job["steps"].as_array().expect("steps"))
        .filter(|step| step["run"].as_str().is_some_and(|run| run.contains("install cachescan")))
        .collect();
    assert_eq!(install.len(), 3, "each job installs cachescan with pip(x): {install:?}");
}

#[test]
fn a_misspelled_flag_or_format_in_a_workflow_is_caught() {
    let workflow = load(
        "jobs:\n  check:\n    strategy:\n      matrix:\n        shard: [1, 2]\n    steps:\n      - run: |\n          cachescan plan --fromat github\n          cachescan apply --shard ${{ matrix.shard }}/2 \\\n            --format sarif || test $? -eq 1\n          X=1 cachescan merge a.json --format gitlab >> \"$OUT\"\n",
    );
    let commands = cachescan_commands(&workflow);
    let lines: Vec<String> = commands.iter().map(|command| command.words.join(" ")).collect();
    assert_eq!(
        lines,
        [
            "cachescan plan --fromat github",
            "cachescan apply --shard 1/2 --format sarif",
            "cachescan apply --shard 2/2 --format sarif",
            "cachescan merge a.json --format gitlab",
        ]
    );
    let refused = refused(&commands);
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert!(refused[0].contains("--fromat"), "{}", refused[0]);
    assert!(refused[1].contains("gitlab"), "{}", refused[1]);
}
