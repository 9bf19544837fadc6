//! Rule pages: front matter, and the examples the tests execute.
//!
//! A page's examples are fenced ```` ```yaml ```` blocks under `## Fails` and `## Passes`. A block
//! may name its file (```` ```yaml file=k8s/job.yaml ````); consecutive blocks with file names
//! form one multi-file example, a block without one is an example of its own (`example.yaml`).
//!
//! A failing example marks the findings it must produce with a YAML comment at the end of the
//! line the finding points at: `backoffLimit: 3  # expect: job-backoff-limit-nonzero`. Several
//! findings on one line are listed with commas (`# expect: rule-a, rule-a`, one name per
//! finding). The page tests (`tests/it/rule_pages.rs`) check that the page's rule, and every rule
//! a marker names, produces exactly the marked findings (rule, file, line and count) in that
//! example, and that passing examples produce none of the page's rule. The markers are test
//! annotations: [`body`] (what `explain` prints and SARIF carries as help) drops them.

#[cfg(test)]
use std::collections::BTreeMap;

/// `key: value` pairs between the leading `---` lines.
#[cfg(test)]
pub(crate) fn front_matter(page: &str) -> Option<BTreeMap<String, String>> {
    let rest = page.strip_prefix("---\n")?;
    let end = rest.find("\n---")?;
    Some(
        rest[..end]
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            .collect(),
    )
}

/// The page without its front matter and its examples' `# expect:` markers (what `explain`
/// prints).
pub(crate) fn body(page: &str) -> String {
    let body = page
        .strip_prefix("---\n")
        .and_then(|r| r.find("\n---\n").map(|e| &r[e + 5..]))
        .unwrap_or(page)
        .trim_start();
    let mut out = String::with_capacity(body.len());
    for line in body.split_inclusive('\n') {
        match line.find(EXPECT) {
            Some(at) => {
                out.push_str(line[..at].trim_end_matches(' '));
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => out.push_str(line),
        }
    }
    out
}

/// The marker of an expected finding in a failing example (see the module docs).
pub(crate) const EXPECT: &str = "# expect: ";

/// The findings a failing example's file marks: `(1-based line, rule)`, one per finding.
pub fn expected_findings(content: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        if let Some(at) = line.find(EXPECT) {
            for rule in line[at + EXPECT.len()..].split(',') {
                out.push((i + 1, rule.trim().to_string()));
            }
        }
    }
    out
}

/// The first paragraph under `## What it checks`, its lines joined: what SARIF gives as the
/// rule's full description.
pub(crate) fn what_it_checks(page: &str) -> Option<String> {
    let mut lines = page.lines().skip_while(|l| l.trim() != "## What it checks");
    lines.next()?;
    let paragraph: Vec<&str> = lines
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::trim)
        .collect();
    (!paragraph.is_empty()).then(|| paragraph.join(" "))
}

/// The README's rules table, generated from the pages (a test keeps README.md equal to it).
pub fn readme_table() -> String {
    let mut s = String::from(
        "| rule | default | fix | finds | speaks only with (engine, evidence) |\n|---|---|---|---|---|\n",
    );
    for rule in crate::rules::REGISTRY {
        let m = rule.meta();
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            m.name,
            m.severity.as_str(),
            m.fix.as_str(),
            m.summary.replace('|', "\\|"),
            m.evidence.replace('|', "\\|")
        ));
    }
    s
}

/// One example of a rule page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// `(file name, content)` pairs.
    pub files: Vec<(String, String)>,
    /// Under `## Fails` (true) or `## Passes` (false).
    pub fails: bool,
    /// 1-based line of the first block in the page.
    pub line: usize,
}

/// The examples of a rule page, in order.
pub fn examples(page: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut section: Option<bool> = None;
    let mut lines = page.lines().enumerate();
    let mut last_block_end: Option<usize> = None;
    while let Some((i, line)) = lines.next() {
        if let Some(h) = line.strip_prefix("## ") {
            section = match h.trim() {
                "Fails" => Some(true),
                "Passes" => Some(false),
                _ => None,
            };
            last_block_end = None;
            continue;
        }
        let Some(fails) = section else { continue };
        let Some(info) = line.strip_prefix("```yaml") else {
            if !line.trim().is_empty() && !line.starts_with("```") {
                last_block_end = None;
            }
            continue;
        };
        let file = info
            .split_whitespace()
            .find_map(|w| w.strip_prefix("file="))
            .map(str::to_string);
        let mut content = String::new();
        for (_, l) in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            content.push_str(l);
            content.push('\n');
        }
        let joins = file.is_some()
            && last_block_end.is_some()
            && out.last().is_some_and(|e| {
                e.fails == fails && e.files.iter().all(|(n, _)| n != "example.yaml")
            });
        let name = file.unwrap_or_else(|| "example.yaml".to_string());
        if joins {
            out.last_mut().unwrap().files.push((name, content));
        } else {
            out.push(Example {
                files: vec![(name, content)],
                fails,
                line: i + 1,
            });
        }
        last_block_end = Some(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_front_matter_and_examples() {
        let page = "---\nname: x\nseverity: error\n---\n# x\n\n## Fails\n\n```yaml\na: 1\n```\n\n## Passes\n\n```yaml file=k/a.yaml\na: 2\n```\n\n```yaml file=k/b.yaml\nb: 3\n```\n\nText between examples.\n\n```yaml\nc: 4\n```\n";
        let fm = front_matter(page).unwrap();
        assert_eq!(fm["name"], "x");
        assert!(body(page).starts_with("# x"));
        let marked = "# x\n\n```yaml\nspec:\n  backoffLimit: 3  # expect: a, a\n```\n";
        assert_eq!(
            body(marked),
            "# x\n\n```yaml\nspec:\n  backoffLimit: 3\n```\n"
        );
        assert_eq!(
            expected_findings("spec:\n  backoffLimit: 3  # expect: a, b\n"),
            [(2, "a".to_string()), (2, "b".to_string())]
        );
        let ex = examples(page);
        assert_eq!(ex.len(), 3);
        assert!(ex[0].fails);
        assert_eq!(ex[1].files.len(), 2);
        assert_eq!(ex[1].files[1].0, "k/b.yaml");
        assert!(!ex[2].fails);
        assert_eq!(ex[2].files[0].1, "c: 4\n");
    }

    #[test]
    fn what_it_checks_is_the_sections_first_paragraph() {
        let page = "---\nname: x\n---\n# x\n\n## What it checks\n\nA Job whose\n`backoffLimit` is 6.\n\nMore.\n";
        assert_eq!(
            what_it_checks(page).as_deref(),
            Some("A Job whose `backoffLimit` is 6.")
        );
        assert_eq!(what_it_checks("# x\n\n## Why\n\nText.\n"), None);
        assert_eq!(what_it_checks("## What it checks\n\n## Next\n"), None);
    }
}
