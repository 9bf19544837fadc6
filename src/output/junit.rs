//! `--format junit`: JUnit XML, which GitLab (`artifacts:reports:junit`) and most CI systems
//! render. One test suite per file, one test case per finding (named by rule and position,
//! with the file as its class); a file without findings is one passing test case, so the report
//! shows what was checked.

use super::{escape, range};
use crate::engine::Report;
use std::collections::BTreeMap;

/// Escape text for XML, dropping characters XML 1.0 cannot carry (control characters other
/// than tab and line breaks, U+FFFE and U+FFFF).
pub fn xml_escape(s: &str) -> String {
    let table = [
        ('&', "&amp;"),
        ('<', "&lt;"),
        ('>', "&gt;"),
        ('"', "&quot;"),
        ('\'', "&apos;"),
    ];
    escape(s, &table, |c| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{fffe}' | '\u{ffff}'))
    })
}

pub fn render(report: &Report) -> String {
    // file -> its findings, in report order
    let mut by_file: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for i in 0..report.files.len() {
        by_file.entry(i as u32).or_default();
    }
    for (i, d) in report.diagnostics.iter().enumerate() {
        by_file.entry(d.loc.file).or_default().push(i);
    }
    let tests: usize = by_file.values().map(|f| f.len().max(1)).sum();
    let failures = report.diagnostics.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"kube-migrate-lint\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">\n",
        report.elapsed.as_secs_f64()
    ));
    for (file, findings) in &by_file {
        let path = xml_escape(&report.files[*file as usize].display);
        out.push_str(&format!(
            "  <testsuite name=\"{path}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">\n",
            findings.len().max(1),
            findings.len()
        ));
        if findings.is_empty() {
            out.push_str(&format!(
                "    <testcase classname=\"{path}\" name=\"kube-migrate-lint\" file=\"{path}\"/>\n"
            ));
        }
        for &i in findings {
            let d = &report.diagnostics[i];
            let (s, _) = range(report, d.loc);
            out.push_str(&format!(
                "    <testcase classname=\"{path}\" name=\"{} at {}:{}\" file=\"{path}\" line=\"{}\">\n",
                d.rule, s.line, s.column, s.line
            ));
            let mut text = format!(
                "{}:{}:{}: {}[{}] {}\n",
                report.files[*file as usize].display,
                s.line,
                s.column,
                d.severity.as_str(),
                d.rule,
                d.message
            );
            if let Some(h) = &d.help {
                text.push_str(&format!("help: {h}\n"));
            }
            for r in &d.related {
                let (rs, _) = range(report, r.loc);
                text.push_str(&format!(
                    "{}:{}:{}: note: {}\n",
                    report.files[r.loc.file as usize].display, rs.line, rs.column, r.message
                ));
            }
            out.push_str(&format!(
                "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                xml_escape(&d.message),
                d.severity.as_str(),
                xml_escape(&text)
            ));
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::xml_escape;

    #[test]
    fn xml_escape_escapes_markup_and_drops_what_xml_cannot_carry() {
        for (text, want) in [
            ("a<b>&\"c'", "a&lt;b&gt;&amp;&quot;c&apos;"),
            ("tab\tline\r\nend", "tab\tline\r\nend"),
            ("bell\u{7}nul\u{0}", "bellnul"),
            ("\u{fffe}x\u{ffff}é☃", "xé☃"),
        ] {
            assert_eq!(xml_escape(text), want, "{text:?}");
        }
    }
}
