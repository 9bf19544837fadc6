//! Baselines: adopt the linter on a large repository in one command, then see only what is new.
//!
//! `--write-baseline FILE` records the fingerprint of every current finding; `--baseline FILE`
//! hides findings whose fingerprint is recorded. Fingerprints ignore line numbers, so moving
//! code does not resurrect an old finding.

use crate::engine::Report;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;

/// Internal errors are bugs, never accepted: they are not recorded, and never hidden.
fn recordable(d: &crate::base::diagnostic::Diagnostic) -> bool {
    d.rule != crate::rules::meta::INTERNAL_ERROR.name
}

/// How many findings [`render`] records.
pub(crate) fn recorded(report: &Report) -> usize {
    report.diagnostics.iter().filter(|d| recordable(d)).count()
}

pub(crate) fn render(report: &Report, fingerprints: &[String]) -> String {
    let mut entries: Vec<_> = report
        .diagnostics
        .iter()
        .zip(fingerprints)
        .filter(|(d, _)| recordable(d))
        .map(|(d, fp)| {
            json!({
                "fingerprint": fp,
                "rule": d.rule,
                "file": report.files[d.loc.file as usize].display,
            })
        })
        .collect();
    entries.sort_by(|a, b| {
        a["file"]
            .as_str()
            .cmp(&b["file"].as_str())
            .then(a["fingerprint"].as_str().cmp(&b["fingerprint"].as_str()))
    });
    let v = json!({"version": 1, "tool": env!("CARGO_PKG_NAME"), "findings": entries});
    serde_json::to_string_pretty(&v).expect("JSON values serialise") + "\n"
}

pub(crate) fn read(path: &Path) -> Result<BTreeSet<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the baseline: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a baseline file: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    if v["version"] != 1 {
        return Err(format!(
            "{}: unsupported baseline version (expected 1)",
            path.display()
        ));
    }
    let findings = v["findings"]
        .as_array()
        .ok_or_else(|| format!("{}: a baseline needs a `findings` list", path.display()))?;
    Ok(findings
        .iter()
        .filter_map(|f| f["fingerprint"].as_str().map(str::to_string))
        .collect())
}

/// Drop findings recorded in the baseline (and their fingerprints); returns how many.
pub(crate) fn apply(
    report: &mut Report,
    fingerprints: &mut Vec<String>,
    known: &BTreeSet<String>,
) -> usize {
    let before = report.diagnostics.len();
    let keep: Vec<bool> = fingerprints
        .iter()
        .zip(&report.diagnostics)
        .map(|(f, d)| !recordable(d) || !known.contains(f))
        .collect();
    let mut k = keep.iter();
    report.diagnostics.retain(|_| *k.next().unwrap_or(&true));
    let mut k = keep.iter();
    fingerprints.retain(|_| *k.next().unwrap_or(&true));
    before - report.diagnostics.len()
}
