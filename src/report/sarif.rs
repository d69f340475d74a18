//! `--format sarif`: the findings as a SARIF 2.1.0 log, for code scanning
//! (`github/codeql-action/upload-sarif`) and any other SARIF viewer.
//!
//! One run, whose tool lists one rule per hazard code, one for an unresolved target and
//! one per verdict: the rule id is the code itself (`method-self-leak`, `unsafe`), the
//! same catalog in every log, so a rule's index never changes. Each finding is a result at
//! the function's `def` (or at the pattern in the manifest): the path relative to the
//! repository root under the base id `%SRCROOT%`, which `originalUriBaseIds` maps to the
//! root's `file://` URI; the level is the finding's. Remarks without a place are
//! notifications of the one invocation. A test validates the log against the official
//! schema (`tests/sarif/`).

use serde_json::{Value, json};

use crate::python::hazard::{HazardCode, HazardSeverity};
use crate::report::findings::{Finding, Findings, Level, UNRESOLVED_TARGET, percent_encode_path};
use crate::verdict::Verdict;

/// The base id every relative artifact location is resolved against.
const SOURCE_ROOT: &str = "%SRCROOT%";

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// One rule of the catalog.
struct Rule {
    id: &'static str,
    level: Level,
    kind: &'static str,
    summary: &'static str,
}

/// Every rule, in a fixed order: the hazard codes, the unresolved target, the verdicts.
fn catalog() -> Vec<Rule> {
    let hazards = HazardCode::ALL.iter().map(|code| Rule {
        id: code.as_str(),
        level: match code.severity() {
            HazardSeverity::Error => Level::Error,
            HazardSeverity::Warning => Level::Warning,
        },
        kind: "hazard",
        summary: code.summary(),
    });
    let unresolved = Rule {
        id: UNRESOLVED_TARGET,
        level: Level::Error,
        kind: "manifest",
        summary: "a pattern or glob of cachescan.yaml matches no function",
    };
    let verdicts = Verdict::ALL.iter().map(|verdict| Rule {
        id: verdict.as_str(),
        level: if verdict.is_finding() { Level::Error } else { Level::Note },
        kind: "verdict",
        summary: verdict_summary(*verdict),
    });
    hazards.chain(std::iter::once(unresolved)).chain(verdicts).collect()
}

fn verdict_summary(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Safe => {
            "every test outcome equals the baseline, the thresholds are met, and every checked cache hit returned what a fresh call returns"
        }
        Verdict::LowHitRate => {
            "safe, but below a threshold of hit rate or calls: not worth caching"
        }
        Verdict::NotCalled => "the test process loaded the patched function and never called it",
        Verdict::Invisible => {
            "the test process never loaded the patched function (not imported, or another copy shadows it)"
        }
        Verdict::Unsafe => {
            "a cache hit returned something else than a fresh call, or caching changed test outcomes, or the run crashed or timed out"
        }
        Verdict::Skipped => "not patched because of an error hazard",
    }
}

fn level(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Note => "note",
    }
}

/// The SARIF log, pretty-printed.
pub(crate) fn render(findings: &Findings) -> String {
    let rules = catalog();
    let descriptors: Vec<Value> = rules
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "shortDescription": { "text": rule.summary },
                "defaultConfiguration": { "level": level(rule.level) },
                "properties": { "tags": ["cachescan", rule.kind] },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .results
        .iter()
        .map(|finding| {
            let index = rules.iter().position(|rule| rule.id == finding.rule);
            result(finding, index)
        })
        .collect();
    let mut run = json!({
        "tool": {
            "driver": {
                "name": "cachescan",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": descriptors,
            }
        },
        "originalUriBaseIds": { SOURCE_ROOT: { "uri": findings.root_uri } },
        "columnKind": "unicodeCodePoints",
        "results": results,
    });
    if !findings.notices.is_empty() {
        let notifications: Vec<Value> = findings
            .notices
            .iter()
            .map(|(notice_level, text)| {
                json!({ "level": level(*notice_level), "message": { "text": text } })
            })
            .collect();
        run["invocations"] = json!([{
            "executionSuccessful": true,
            "toolExecutionNotifications": notifications,
        }]);
    }
    let log = json!({ "$schema": SCHEMA, "version": "2.1.0", "runs": [run] });
    format!("{}\n", serde_json::to_string_pretty(&log).unwrap_or_default())
}

fn result(finding: &Finding, rule_index: Option<usize>) -> Value {
    // A relative reference goes under the base id; an absolute path is a URI of its own.
    let artifact = if finding.path.starts_with('/') {
        json!({ "uri": format!("file://{}", percent_encode_path(&finding.path)) })
    } else {
        json!({ "uri": percent_encode_path(&finding.path), "uriBaseId": SOURCE_ROOT })
    };
    let mut location = json!({
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": { "startLine": finding.line },
        }
    });
    if let Some(function) = &finding.function {
        location["logicalLocations"] =
            json!([{ "fullyQualifiedName": function, "kind": "function" }]);
    }
    let mut result = json!({
        "ruleId": finding.rule,
        "level": level(finding.level),
        "message": { "text": finding.message },
        "locations": [location],
    });
    if let Some(index) = rule_index {
        result["ruleIndex"] = json!(index);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_id_is_unique_and_every_code_has_one() {
        let rules = catalog();
        let mut ids: Vec<&str> = rules.iter().map(|rule| rule.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), rules.len(), "rule ids repeat: {ids:?}");
        for code in HazardCode::ALL {
            assert!(ids.contains(&code.as_str()), "no rule for {code}");
        }
        for verdict in Verdict::ALL {
            assert!(ids.contains(&verdict.as_str()), "no rule for {}", verdict.as_str());
        }
    }

    #[test]
    fn a_result_points_at_its_rule_and_a_path_outside_the_repository_is_a_file_uri() {
        let finding = Finding {
            rule: "unsafe".to_owned(),
            level: Level::Error,
            path: "/elsewhere/a b.py".to_owned(),
            line: 3,
            function: Some("m:f".to_owned()),
            title: "unsafe: m:f".to_owned(),
            message: "m".to_owned(),
        };
        let findings = Findings {
            results: vec![finding],
            notices: Vec::new(),
            summary: String::new(),
            root_uri: "file:///r/".to_owned(),
        };
        let log: Value = serde_json::from_str(&render(&findings)).expect("JSON");
        let run = &log["runs"][0];
        let result = &run["results"][0];
        let index =
            usize::try_from(result["ruleIndex"].as_u64().expect("ruleIndex")).expect("small index");
        assert_eq!(run["tool"]["driver"]["rules"][index]["id"], "unsafe");
        let artifact = &result["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(artifact, &json!({ "uri": "file:///elsewhere/a%20b.py" }));
        assert!(run.get("invocations").is_none(), "no notices, no invocation");
    }
}
