//! `--format gitlab`: a GitLab Code Quality report (`artifacts:reports:codequality`).
//!
//! GitLab reads `description`, `check_name`, `fingerprint`, `severity` (its own words: info,
//! minor, major, critical, blocker) and `location.path` / `location.lines.begin` (1-based).
//! It shows only the first finding of each fingerprint, so fingerprints are distinct, and stable
//! across unrelated edits so a merge request shows only what it changed.

use super::range;
use crate::base::diagnostic::Severity;
use crate::engine::Report;
use serde_json::json;

pub(crate) fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "critical",
        Severity::Warning => "major",
        Severity::Info => "info",
    }
}

pub(crate) fn render(report: &Report, fingerprints: &[String]) -> String {
    let issues: Vec<_> = report
        .diagnostics
        .iter()
        .zip(fingerprints)
        .map(|(d, fp)| {
            let (s, e) = range(report, d.loc);
            let mut description = d.message.clone();
            if let Some(h) = &d.help {
                description.push_str(&format!(" (help: {h})"));
            }
            json!({
                "description": description,
                "check_name": d.rule,
                "fingerprint": fp,
                "severity": severity(d.severity),
                "location": {
                    "path": report.files[d.loc.file as usize].display,
                    "lines": {"begin": s.line, "end": e.line.max(s.line)},
                },
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&issues).expect("JSON values serialise");
    s.push('\n');
    s
}
