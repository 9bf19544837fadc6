//! Every rule page's examples run: a `## Fails` example must produce exactly the findings its
//! `# expect: rule` markers name (rule, file, line and count: no more, no fewer) of the page's
//! rule and of every rule a marker names; a `## Passes` example must produce none of the page's
//! rule (and must be valid YAML of the right types, so it teaches a real fix).

use crate::support::{lint, rules_of};
use kube_migrate_lint::engine::Report;
use kube_migrate_lint::output::range;
use kube_migrate_lint::rules::docs::{Example, examples, expected_findings};
use kube_migrate_lint::rules::metas;

/// Rules that no input should trigger, so their pages have no failing example.
const NO_FAILING_EXAMPLE: &[&str] = &["internal-error"];

/// `file:line: rule` of each finding of `rules`, sorted.
fn findings_of(report: &Report, rules: &[String]) -> Vec<String> {
    let mut got: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| rules.iter().any(|r| r == d.rule))
        .map(|d| {
            let (s, _) = range(report, d.loc);
            let file = &report.files[d.loc.file as usize].display;
            format!("{file}:{}: {}", s.line, d.rule)
        })
        .collect();
    got.sort();
    got
}

/// The findings a failing example's markers name, as [`findings_of`] writes them.
fn marked(e: &Example) -> Vec<String> {
    let mut want: Vec<String> = e
        .files
        .iter()
        .flat_map(|(name, text)| {
            expected_findings(text)
                .into_iter()
                .map(move |(line, rule)| format!("{name}:{line}: {rule}"))
        })
        .collect();
    want.sort();
    want
}

#[test]
fn every_page_example_behaves_as_documented() {
    let mut problems = Vec::new();
    let mut exact = 0;
    for m in metas() {
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
            let report = lint(&e.files);
            let got = rules_of(&report.diagnostics);
            if e.fails {
                let want = marked(e);
                let mut rules: Vec<String> = vec![m.name.to_string()];
                for w in &want {
                    let rule = w.rsplit(": ").next().unwrap().to_string();
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
                if !want.iter().any(|w| w.ends_with(&format!(": {}", m.name))) {
                    problems.push(format!(
                        "rules/{}.md:{}: failing example marks no `# expect: {}`",
                        m.name, e.line, m.name
                    ));
                }
                let found = findings_of(&report, &rules);
                if found != want {
                    problems.push(format!(
                        "rules/{}.md:{}: failing example's findings differ from its markers\n  marked: {:?}\n  found:  {:?}",
                        m.name, e.line, want, found
                    ));
                } else {
                    exact += 1;
                }
            } else {
                if e.files
                    .iter()
                    .any(|(_, t)| !expected_findings(t).is_empty())
                {
                    problems.push(format!(
                        "rules/{}.md:{}: passing example has an `# expect:` marker",
                        m.name, e.line
                    ));
                }
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
    assert!(exact >= 30, "only {exact} failing examples checked");
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
    use kube_migrate_lint::rules::{FixAvailability, meta};
    let mut problems = Vec::new();
    for rule in metas() {
        for e in examples(rule.page) {
            let report = lint(&e.files);
            for d in &report.diagnostics {
                let Some(m) = meta(d.rule) else {
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
                        rule.name,
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
