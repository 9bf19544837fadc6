//! `--format sarif`: SARIF 2.1.0, for GitHub code scanning and other SARIF viewers. Rule
//! metadata (help text from the rule page, default level, help URI), real regions (columns in
//! Unicode code points), related locations for the other end of each link, and fixes.

use super::range;
use crate::diagnostic::{Loc, Severity};
use crate::engine::Report;
use crate::rules::REGISTRY;
use serde_json::{Value, json};

pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

pub fn rule_url(name: &str) -> String {
    format!("{}/blob/main/rules/{name}.md", env!("CARGO_PKG_REPOSITORY"))
}

fn location(report: &Report, loc: Loc) -> Value {
    let (s, e) = range(report, loc);
    json!({
        "physicalLocation": {
            "artifactLocation": {"uri": uri(&report.files[loc.file as usize].display)},
            "region": {
                "startLine": s.line,
                "startColumn": s.column,
                "endLine": e.line,
                "endColumn": e.column,
            }
        }
    })
}

/// A relative URI reference: path segments percent-encoded where needed.
fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn render(report: &Report, fingerprints: &[String]) -> String {
    let rules: Vec<Value> = REGISTRY
        .iter()
        .map(|r| {
            let m = r.meta();
            json!({
                "id": m.name,
                "name": m.name,
                "shortDescription": {"text": m.summary},
                "helpUri": rule_url(m.name),
                "help": {"text": crate::docs::body(m.page), "markdown": crate::docs::body(m.page)},
                "defaultConfiguration": {"level": level(m.severity)},
                "properties": {"category": m.category.as_str()},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .zip(fingerprints)
        .map(|(d, fp)| {
            let index = REGISTRY.iter().position(|r| r.meta().name == d.rule);
            let mut message = d.message.clone();
            if let Some(h) = &d.help {
                message.push_str(&format!("\nhelp: {h}"));
            }
            let mut r = json!({
                "ruleId": d.rule,
                "level": level(d.severity),
                "message": {"text": message},
                "locations": [location(report, d.loc)],
                "partialFingerprints": {"kubeMigrateLint/v1": fp},
            });
            if let Some(i) = index {
                r["ruleIndex"] = json!(i);
            }
            if !d.related.is_empty() {
                r["relatedLocations"] = Value::Array(
                    d.related
                        .iter()
                        .enumerate()
                        .map(|(i, rel)| {
                            let mut l = location(report, rel.loc);
                            l["id"] = json!(i);
                            l["message"] = json!({"text": rel.message});
                            l
                        })
                        .collect(),
                );
            }
            if let Some(f) = &d.fix {
                let changes: Vec<Value> = f
                    .edits
                    .iter()
                    .map(|e| {
                        let l = location(report, e.loc);
                        json!({
                            "artifactLocation": l["physicalLocation"]["artifactLocation"],
                            "replacements": [{
                                "deletedRegion": l["physicalLocation"]["region"],
                                "insertedContent": {"text": e.replacement},
                            }],
                        })
                    })
                    .collect();
                r["fixes"] =
                    json!([{"description": {"text": f.description}, "artifactChanges": changes}]);
            }
            r
        })
        .collect();
    let mut log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": env!("CARGO_PKG_NAME"),
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    // A bug no file carries is a tool execution notification, and the run did not succeed.
    if !report.internal.is_empty() {
        let notifications: Vec<Value> = report
            .internal
            .iter()
            .map(|e| {
                json!({
                    "level": "error",
                    "message": {"text": e.message()},
                    "properties": {"phase": e.phase, "subject": e.subject, "location": e.location},
                })
            })
            .collect();
        log["runs"][0]["invocations"] = json!([{
            "executionSuccessful": false,
            "toolExecutionNotifications": notifications,
        }]);
    }
    let mut s = serde_json::to_string_pretty(&log).expect("JSON values serialise");
    s.push('\n');
    s
}
