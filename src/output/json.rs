//! `--format json`, version 1: one object on stdout (the schema is `schema/json-output-v1.json`).

use super::range;
use crate::base::diagnostic::{Diagnostic, Loc, Severity};
use crate::engine::Report;
use rayon::prelude::*;
use serde_json::{Value, json};

fn range_json(report: &Report, loc: Loc) -> Value {
    let (s, e) = range(report, loc);
    json!({
        "start": {"line": s.line, "column": s.column, "offset": s.offset},
        "end": {"line": e.line, "column": e.column, "offset": e.offset},
    })
}

/// The object of a finding, with the namespace its builds render it into when known.
fn object(report: &Report, o: u32) -> Value {
    let mut r = report.objects[o as usize].clone();
    if let Some(Some(ns)) = report.rendered_namespaces.get(o as usize) {
        r.namespace = Some(ns.clone());
    }
    json!(r)
}

/// A place in the report and what it says there: `{file, range, <key>: text}`.
fn located(report: &Report, loc: Loc, key: &str, text: &str) -> Value {
    let mut v = json!({
        "file": report.files[loc.file as usize].display,
        "range": range_json(report, loc),
    });
    v[key] = json!(text);
    v
}

fn diagnostic(report: &Report, d: &Diagnostic) -> Value {
    let file = &report.files[d.loc.file as usize].display;
    let mut v = json!({
        "rule": d.rule,
        "severity": d.severity,
        "message": d.message,
        "help": d.help,
        "file": file,
        "range": range_json(report, d.loc),
        "object": d.object.map(|o| object(report, o)),
        "path": d.path,
        "related": d.related.iter().map(|r| located(report, r.loc, "message", &r.message)).collect::<Vec<_>>(),
        "fix": d.fix.as_ref().map(|f| json!({
            "description": f.description,
            "applicability": f.applicability,
            "edits": f.edits.iter().map(|e| located(report, e.loc, "replacement", &e.replacement)).collect::<Vec<_>>(),
        })),
    });
    // Only for a file several builds share: which of them show the finding.
    if let Some(b) = &d.builds {
        v["builds"] = json!({"shown": b.shown, "all": !b.only});
    }
    v
}

pub(crate) fn render(report: &Report) -> String {
    let mut v = json!({
        "version": 1,
        "tool": {"name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")},
        "summary": {
            "files": report.files.len(),
            "objects": report.objects.len(),
            "errors": report.count(Severity::Error),
            "warnings": report.count(Severity::Warning),
            "infos": report.count(Severity::Info),
        },
        // Each finding is rendered on its own, in parallel; the order is kept.
        "diagnostics": report.diagnostics.par_iter().map(|d| diagnostic(report, d)).collect::<Vec<_>>(),
        "engines": report.engines.iter().map(|e| json!({
            "build": e.build,
            "engine": e.engine,
            "evident": e.evident,
            "reason": e.why,
        })).collect::<Vec<_>>(),
    });
    // Only when there are some, so that a run without bugs reads as it always has.
    if !report.internal.is_empty() {
        v["internalErrors"] = report
            .internal
            .iter()
            .map(|e| {
                json!({
                    "phase": e.phase,
                    "subject": e.subject,
                    "location": e.location,
                    "message": e.message(),
                })
            })
            .collect();
    }
    let mut s = serde_json::to_string_pretty(&v).expect("JSON values serialise");
    s.push('\n');
    s
}
