//! Every rule page's examples run: a `## Fails` example must produce the rule, a `## Passes`
//! example must not (and must be valid YAML of the right types, so it teaches a real fix).

use crate::support::{lint, rules_of};
use kube_migrate_lint::rules::REGISTRY;
use kube_migrate_lint::rules::docs::examples;

/// Rules that no input should trigger, so their pages have no failing example.
const NO_FAILING_EXAMPLE: &[&str] = &["internal-error"];

#[test]
fn every_page_example_behaves_as_documented() {
    let mut problems = Vec::new();
    for rule in REGISTRY {
        let m = rule.meta();
        let ex = examples(m.page);
        let fails = ex.iter().filter(|e| e.fails).count();
        let passes = ex.iter().filter(|e| !e.fails).count();
        if fails == 0 && !NO_FAILING_EXAMPLE.contains(&m.name) {
            problems.push(format!("rules/{}.md: no failing example", m.name));
        }
        if passes == 0 {
            problems.push(format!("rules/{}.md: no passing example", m.name));
        }
        for e in &ex {
            let files: Vec<(String, String)> = e.files.clone();
            let report = lint(&files);
            let got = rules_of(&report.diagnostics);
            if e.fails && !got.contains(&m.name) {
                problems.push(format!(
                    "rules/{}.md:{}: failing example does not produce {} (got {:?})",
                    m.name, e.line, m.name, got
                ));
            }
            if !e.fails {
                let unwanted: Vec<_> = got
                    .iter()
                    .filter(|r| **r == m.name || **r == "yaml-syntax" || **r == "schema-invalid")
                    .collect();
                if !unwanted.is_empty() {
                    let detail: Vec<String> = report
                        .diagnostics
                        .iter()
                        .map(|d| format!("{}: {}", d.rule, d.message))
                        .collect();
                    problems.push(format!(
                        "rules/{}.md:{}: passing example produces {:?}: {:?}",
                        m.name, e.line, unwanted, detail
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The README's rules table is generated from the pages; `UPDATE_README=1 cargo test
/// readme_rules_table` rewrites it.
#[test]
fn the_readme_rules_table_is_generated_from_the_pages() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme
        .find("| rule | default |")
        .expect("README has a rules table");
    let end = readme[start..]
        .find("\n\n")
        .map_or(readme.len(), |e| start + e + 1);
    let want = kube_migrate_lint::rules::docs::readme_table();
    if readme[start..end] != want {
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{want}{}", &readme[..start], &readme[end..]);
            std::fs::write("README.md", updated).unwrap();
        } else {
            panic!(
                "README.md's rules table is not the one the pages declare; run \
                 `UPDATE_README=1 cargo test readme_rules_table`:\n{want}"
            );
        }
    }
}

/// A page's `fix:` is what the findings show: `never` offers no fix, `always` offers one on
/// every finding (checked on every page's examples).
#[test]
fn fix_availability_matches_the_findings() {
    use kube_migrate_lint::rules::{FixAvailability, find};
    let mut problems = Vec::new();
    for rule in REGISTRY {
        for e in examples(rule.meta().page) {
            let report = lint(&e.files);
            for d in &report.diagnostics {
                let Some(m) = find(d.rule).map(|r| r.meta()) else {
                    continue;
                };
                let wrong = match m.fix {
                    FixAvailability::Always => d.fix.is_none(),
                    FixAvailability::Never => d.fix.is_some(),
                    FixAvailability::Sometimes => false,
                };
                if wrong {
                    problems.push(format!(
                        "rules/{}.md:{}: {} (fix: {}) finding {:?} {} a fix",
                        rule.meta().name,
                        e.line,
                        m.name,
                        m.fix.as_str(),
                        d.message,
                        if d.fix.is_some() { "has" } else { "lacks" }
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
