//! `--format sarif`: SARIF 2.1.0, for GitHub code scanning and other SARIF viewers. Metadata
//! for the rules that have results (a friendly name, the page's first paragraph as the full
//! description, the page as markdown help, default level, help URI), real regions (columns in
//! Unicode code points), related locations for the other end of each link, and fixes. Files
//! under the working directory are relative to `%SRCROOT%`, which `originalUriBaseIds` gives;
//! others are absolute `file:` URIs. What GitHub accepts is checked with Microsoft's SARIF
//! multitool and GitHub's rule set (tests/it/integrations.rs).

use super::range;
use crate::base::diagnostic::{Loc, Severity};
use crate::engine::Report;
use crate::rules::{REGISTRY, RuleMeta};
use serde_json::{Value, json};
use std::path::{Component, Path, PathBuf};

/// The base that relative artifact URIs are resolved against.
pub(crate) const SRCROOT: &str = "%SRCROOT%";

pub(crate) fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The URL of a rule's page in the repository.
pub fn rule_url(name: &str) -> String {
    format!("{}/blob/main/rules/{name}.md", env!("CARGO_PKG_REPOSITORY"))
}

/// The rule's friendly name: its id in PascalCase (`job-backoff-limit-nonzero` is
/// `JobBackoffLimitNonzero`), distinct from the id as SARIF asks.
pub(crate) fn friendly_name(id: &str) -> String {
    id.split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// Turns displayed paths into SARIF artifact locations.
struct Locator {
    /// The working directory (absolute), or None if it cannot be known.
    root: Option<PathBuf>,
}

impl Locator {
    fn artifact(&self, display: &str) -> Value {
        let path = Path::new(display);
        match &self.root {
            Some(root) => {
                let absolute = crate::model::discover::normalize(&root.join(path));
                match absolute.strip_prefix(root) {
                    Ok(rel) => json!({"uri": encode(&slashed(rel)), "uriBaseId": SRCROOT}),
                    Err(_) => json!({"uri": file_uri(&absolute)}),
                }
            }
            None if path.is_absolute() => json!({"uri": file_uri(path)}),
            None => json!({"uri": encode(display), "uriBaseId": SRCROOT}),
        }
    }

    fn location(&self, report: &Report, loc: Loc) -> Value {
        let (s, e) = range(report, loc);
        json!({
            "physicalLocation": {
                "artifactLocation": self.artifact(&report.files[loc.file as usize].display),
                "region": {
                    "startLine": s.line,
                    "startColumn": s.column,
                    "endLine": e.line,
                    "endColumn": e.column,
                }
            }
        })
    }
}

/// A path's components joined with `/`.
fn slashed(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An absolute `file:` URI; a directory's ends with `/`.
fn file_uri(path: &Path) -> String {
    format!("file:///{}", encode(&slashed(path)))
}

/// A URI path: segments percent-encoded where needed, `/` kept.
fn encode(path: &str) -> String {
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

/// The page as markdown help; links to other rule pages (`](limit-exceeded.md)`) made absolute,
/// since the help is shown away from the repository.
fn help_markdown(page: &str) -> String {
    let mut out = crate::rules::docs::body(page).to_string();
    for r in REGISTRY {
        let name = r.meta().name;
        out = out.replace(&format!("]({name}.md)"), &format!("]({})", rule_url(name)));
    }
    out
}

fn descriptor(m: &RuleMeta) -> Value {
    let page = help_markdown(m.page);
    let full = crate::rules::docs::what_it_checks(m.page).unwrap_or_else(|| m.summary.to_string());
    json!({
        "id": m.name,
        "name": friendly_name(m.name),
        "shortDescription": {"text": m.summary},
        "fullDescription": {"text": full},
        "helpUri": rule_url(m.name),
        "help": {
            "text": format!("{full}\n\nWhy it matters and how to fix it: {}", rule_url(m.name)),
            "markdown": page,
        },
        "defaultConfiguration": {"level": level(m.severity)},
        "properties": {"category": m.category.as_str()},
    })
}

/// The log. `cwd` is the directory the displayed paths are relative to (`%SRCROOT%`): the
/// project root, or the working directory where there is none.
pub(crate) fn render(report: &Report, fingerprints: &[String], cwd: Option<&Path>) -> String {
    let locator = Locator {
        root: cwd
            .filter(|c| c.is_absolute())
            .map(crate::model::discover::normalize),
    };
    // Only the rules that have results, in registry order: a report carries what explains it.
    let used: Vec<&RuleMeta> = REGISTRY
        .iter()
        .map(|r| r.meta())
        .filter(|m| report.diagnostics.iter().any(|d| d.rule == m.name))
        .collect();
    let rules: Vec<Value> = used.iter().map(|m| descriptor(m)).collect();
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .zip(fingerprints)
        .map(|(d, fp)| {
            let index = used.iter().position(|m| m.name == d.rule);
            let mut message = d.message.clone();
            if let Some(h) = &d.help {
                message.push_str(&format!("\nhelp: {h}"));
            }
            let mut r = json!({
                "ruleId": d.rule,
                "level": level(d.severity),
                "message": {"text": message},
                "locations": [locator.location(report, d.loc)],
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
                            let mut l = locator.location(report, rel.loc);
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
                        let l = locator.location(report, e.loc);
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
    let mut run = json!({
        "tool": {"driver": {
            "name": env!("CARGO_PKG_NAME"),
            "version": env!("CARGO_PKG_VERSION"),
            "informationUri": env!("CARGO_PKG_REPOSITORY"),
            "rules": rules,
        }},
        "columnKind": "unicodeCodePoints",
        "results": results,
    });
    if let Some(root) = &locator.root {
        let mut base = file_uri(root);
        if !base.ends_with('/') {
            base.push('/');
        }
        run["originalUriBaseIds"] = json!({SRCROOT: {"uri": base}});
    }
    let mut log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_links_to_other_rule_pages_are_absolute() {
        let yaml_syntax = REGISTRY
            .iter()
            .find(|r| r.meta().name == "yaml-syntax")
            .unwrap()
            .meta();
        let help = help_markdown(yaml_syntax.page);
        assert!(help.contains(&format!("]({})", rule_url("limit-exceeded"))));
        assert!(!help.contains("](limit-exceeded.md)"));
    }

    #[test]
    fn friendly_names_are_pascal_case_and_differ_from_ids() {
        assert_eq!(
            friendly_name("job-backoff-limit-nonzero"),
            "JobBackoffLimitNonzero"
        );
        for r in REGISTRY {
            let id = r.meta().name;
            let name = friendly_name(id);
            assert_ne!(name, id);
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "{name}");
            assert!(name.starts_with(|c: char| c.is_ascii_uppercase()), "{name}");
        }
    }

    #[test]
    fn paths_are_relative_to_srcroot_inside_the_working_directory() {
        let at = |root: Option<&str>, display: &str| {
            Locator {
                root: root.map(PathBuf::from),
            }
            .artifact(display)
        };
        let root = Some("/work/repo");
        assert_eq!(
            at(root, "k8s/a b.yaml"),
            json!({"uri": "k8s/a%20b.yaml", "uriBaseId": "%SRCROOT%"})
        );
        assert_eq!(
            at(root, "./k8s/../k8s/a.yaml"),
            json!({"uri": "k8s/a.yaml", "uriBaseId": "%SRCROOT%"})
        );
        assert_eq!(
            at(root, "/work/repo/k8s/a.yaml"),
            json!({"uri": "k8s/a.yaml", "uriBaseId": "%SRCROOT%"})
        );
        assert_eq!(
            at(root, "../other/a.yaml"),
            json!({"uri": "file:///work/other/a.yaml"})
        );
        assert_eq!(
            at(root, "/etc/a.yaml"),
            json!({"uri": "file:///etc/a.yaml"})
        );
        assert_eq!(
            at(None, "/etc/a.yaml"),
            json!({"uri": "file:///etc/a.yaml"})
        );
        assert_eq!(
            at(None, "k8s/a.yaml"),
            json!({"uri": "k8s/a.yaml", "uriBaseId": "%SRCROOT%"})
        );
    }
}
