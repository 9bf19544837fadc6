//! `--format github`: GitHub Actions workflow commands, which GitHub turns into annotations on
//! the pull request. Columns are dropped on multi-line ranges, which GitHub rejects.

use super::range;
use crate::base::diagnostic::Severity;
use crate::engine::Report;

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub(crate) fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let (s, e) = range(report, d.loc);
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let file = escape_property(&report.files[d.loc.file as usize].display);
        let position = if s.line == e.line {
            format!(
                "line={},col={},endLine={},endColumn={}",
                s.line,
                s.column,
                e.line,
                e.column.max(s.column)
            )
        } else {
            format!("line={},endLine={}", s.line, e.line)
        };
        let mut message = d.message.clone();
        if let Some(h) = &d.help {
            message.push_str(&format!("\nhelp: {h}"));
        }
        out.push_str(&format!(
            "::{level} file={file},{position},title={}::{}\n",
            escape_property(&format!("{} ({})", d.rule, d.severity.as_str())),
            escape_data(&message)
        ));
    }
    // A bug no file carries: an annotation on the run.
    for e in &report.internal {
        out.push_str(&format!(
            "::error title=internal-error::{}\n",
            escape_data(&e.message())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_workflow_command_syntax() {
        assert_eq!(super::escape_data("a%b\nc"), "a%25b%0Ac");
        assert_eq!(super::escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
