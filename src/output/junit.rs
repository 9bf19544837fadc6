//! `--format junit`: JUnit XML, which GitLab (`artifacts:reports:junit`) and most CI systems
//! render. One test suite per file, one test case per file and rule; a file without findings
//! is one passing test case, so the report shows what was checked.

use super::range;
use crate::engine::Report;
use std::collections::BTreeMap;

/// Escape text for XML, dropping characters XML 1.0 cannot carry.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

pub fn render(report: &Report) -> String {
    // file -> rule -> findings
    let mut by_file: BTreeMap<u32, BTreeMap<&str, Vec<usize>>> = BTreeMap::new();
    for i in 0..report.files.len() {
        by_file.entry(i as u32).or_default();
    }
    for (i, d) in report.diagnostics.iter().enumerate() {
        by_file
            .entry(d.loc.file)
            .or_default()
            .entry(d.rule)
            .or_default()
            .push(i);
    }
    let tests: usize = by_file.values().map(|r| r.len().max(1)).sum();
    let failures: usize = by_file.values().map(|r| r.len()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"kube-migrate-lint\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">\n",
        report.elapsed.as_secs_f64()
    ));
    for (file, rules) in &by_file {
        let path = xml_escape(&report.files[*file as usize].display);
        out.push_str(&format!(
            "  <testsuite name=\"{path}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">\n",
            rules.len().max(1),
            rules.len()
        ));
        if rules.is_empty() {
            out.push_str(&format!(
                "    <testcase classname=\"{path}\" name=\"kube-migrate-lint\" file=\"{path}\"/>\n"
            ));
        }
        for (rule, idx) in rules {
            let first = &report.diagnostics[idx[0]];
            out.push_str(&format!(
                "    <testcase classname=\"{path}\" name=\"{rule}\" file=\"{path}\">\n"
            ));
            let mut text = String::new();
            for &i in idx {
                let d = &report.diagnostics[i];
                let (s, _) = range(report, d.loc);
                text.push_str(&format!(
                    "{}:{}:{}: {}[{}] {}\n",
                    report.files[*file as usize].display,
                    s.line,
                    s.column,
                    d.severity.as_str(),
                    d.rule,
                    d.message
                ));
                if let Some(h) = &d.help {
                    text.push_str(&format!("  help: {h}\n"));
                }
            }
            out.push_str(&format!(
                "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                xml_escape(&first.message),
                first.severity.as_str(),
                xml_escape(&text)
            ));
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
