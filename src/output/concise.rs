//! `--format concise`: `path:line:col: severity[rule] message`, one line per finding, then each
//! related location as a line of its own, `path:line:col: note: message`, so vim's quickfix
//! (`errorformat=%f:%l:%c:\ %m`), editors' problem matchers and grep take every location.

use super::range;
use crate::engine::Report;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let (s, _) = range(report, d.loc);
        out.push_str(&format!(
            "{}:{}:{}: {}[{}] {}\n",
            report.files[d.loc.file as usize].display,
            s.line,
            s.column,
            d.severity.as_str(),
            d.rule,
            d.message
        ));
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
