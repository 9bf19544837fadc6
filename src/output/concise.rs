//! `--format concise`: `path:line:col: severity[rule] message`, one line per finding, then each
//! related location as a line of its own, `path:line:col: note: message`, so vim's quickfix
//! (`errorformat=%f:%l:%c:\ %m`), editors' problem matchers and grep take every location.

use super::range;
use crate::base::diagnostic::Diagnostic;
use crate::engine::Report;

/// A finding's own line, `path:line:col: severity[rule] message`.
pub(crate) fn line(report: &Report, d: &Diagnostic) -> String {
    let (s, _) = range(report, d.loc);
    format!(
        "{}:{}:{}: {}[{}] {}\n",
        report.files[d.loc.file as usize].display,
        s.line,
        s.column,
        d.severity.as_str(),
        d.rule,
        d.message
    )
}

pub(crate) fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        out.push_str(&line(report, d));
        for r in &d.related {
            let (rs, _) = range(report, r.loc);
            out.push_str(&format!(
                "{}:{}:{}: note: {}\n",
                report.files[r.loc.file as usize].display, rs.line, rs.column, r.message
            ));
        }
    }
    out
}
