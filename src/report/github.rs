//! `--format github`: the findings as GitHub Actions workflow commands, one line each,
//! which the runner turns into annotations on the files of a pull request:
//! `::error file=src/shop/pricing.py,line=42,title=dunder-method: …::message`.
//! An error fails the command (exit code 1), a warning is a hazard to look at, a notice is
//! a hazard the manifest allows or a remark. The summary line ends the output as plain log
//! text.
//!
//! Escaping follows the workflow-command format: in the message `%`, `\r` and `\n` become
//! `%25`, `%0D`, `%0A` (so a message keeps its lines); in a property value `:` and `,`
//! become `%3A` and `%2C` as well.

use crate::report::findings::{Findings, Level};

/// The workflow commands, then the summary.
pub(crate) fn render(findings: &Findings) -> String {
    let mut out = String::new();
    for finding in &findings.results {
        out.push_str(&format!(
            "::{} file={},line={},title={}::{}\n",
            command(finding.level),
            property(&finding.path),
            finding.line,
            property(&finding.title),
            data(&finding.message)
        ));
    }
    for (level, text) in &findings.notices {
        out.push_str(&format!("::{} title=cachescan::{}\n", command(*level), data(text)));
    }
    out.push_str(&findings.summary);
    out.push('\n');
    out
}

fn command(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Note => "notice",
    }
}

/// A message: `%`, `\r`, `\n` escaped.
fn data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A property value: also `:` and `,`, which would end the value.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::findings::Finding;

    fn one(finding: Finding) -> String {
        render(&Findings {
            results: vec![finding],
            notices: vec![(Level::Warning, "2 tests already fail\nwithout any patch".to_owned())],
            summary: "1 function".to_owned(),
            root_uri: "file:///r/".to_owned(),
        })
    }

    #[test]
    fn message_and_properties_are_escaped_as_the_workflow_commands_say() {
        let out = one(Finding {
            rule: "unsafe".to_owned(),
            level: Level::Error,
            path: "src/a,b:c.py".to_owned(),
            line: 7,
            function: Some("m:f".to_owned()),
            title: "unsafe: m:f, 100%".to_owned(),
            message: "50% of hits\r\ndiffer: a, b".to_owned(),
        });
        assert_eq!(
            out,
            "::error file=src/a%2Cb%3Ac.py,line=7,title=unsafe%3A m%3Af%2C 100%25::50%25 of hits%0D%0Adiffer: a, b\n\
             ::warning title=cachescan::2 tests already fail%0Awithout any patch\n\
             1 function\n"
        );
    }

    #[test]
    fn warnings_and_notes_get_their_own_commands() {
        let finding = |level| Finding {
            rule: "method-self-leak".to_owned(),
            level,
            path: "a.py".to_owned(),
            line: 1,
            function: None,
            title: "t".to_owned(),
            message: "m".to_owned(),
        };
        assert!(
            one(finding(Level::Warning)).starts_with("::warning file=a.py,line=1,title=t::m\n")
        );
        assert!(one(finding(Level::Note)).starts_with("::notice file=a.py,line=1,title=t::m\n"));
    }
}
