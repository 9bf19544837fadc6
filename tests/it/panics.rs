//! Bugs in the linter, driven on purpose through the binary: debug builds panic in the phase
//! that `KUBE_MIGRATE_LINT_TEST_PANIC=PHASE[:SUBSTRING]` names (release builds have no such
//! hook, so this module is compiled for debug builds only).
//!
//! Whatever phase fails, the run says which phase, on which file or context, where in the
//! source, with the panic's message redacted, that it is a bug and where to report it; the
//! other files and contexts are still reported; and the exit status is 2 whatever `--fail-on`
//! says.

use crate::support::{BIN, job};
use std::path::Path;
use std::process::{Command, Output};

/// The password in every injected panic's message (`kube_migrate_lint::base::internal::TEST_SECRET`).
const INJECTED_SECRET: &str = kube_migrate_lint::base::internal::TEST_SECRET;
/// A secret in the input.
const FILE_SECRET: &str = "f1le-s3cret";
const ISSUES: &str = "this is a bug, please report it at https://github.com/kube-migrate-lint/kube-migrate-lint/issues";

/// `good/job.yaml` (a finding of its own), `bad/bad.yaml` (where panics are aimed, with a
/// secret), and a kustomization `kust/` (a context with a finding).
fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let w = |p: &str, text: &str| {
        let p = d.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w("good/job.yaml", &job("good", 4));
    w(
        "bad/bad.yaml",
        &format!(
            "{}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData:\n  password: {FILE_SECRET}\n",
            job("bad", 3)
        ),
    );
    w("kust/kustomization.yaml", "resources: [job.yaml]\n");
    w("kust/job.yaml", &job("kust", 2));
    d
}

fn run(dir: &Path, panic: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("KUBE_MIGRATE_LINT_TEST_PANIC", panic)
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .current_dir(dir)
        .output()
        .unwrap()
}

fn lint(dir: &Path, panic: &str, extra: &[&str]) -> (Output, String) {
    let mut args = vec![
        ".",
        "--format",
        "concise",
        "--fail-on",
        "never",
        "--no-config",
    ];
    args.extend(extra);
    let o = run(dir, panic, &args);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o, all)
}

/// The internal error is reported as it must be: the phase's words, the file or context, our
/// source's location, the redacted payload, the bug notice; exit status 2.
fn assert_reported(o: &Output, all: &str, line_start: &str, doing: &str, source: &str) {
    assert_eq!(o.status.code(), Some(2), "{all}");
    let line = all
        .lines()
        .find(|l| l.starts_with(line_start) && l.contains(doing))
        .unwrap_or_else(|| panic!("no line starting `{line_start}` saying `{doing}` in\n{all}"));
    let at = line
        .split_once(&format!("(at {source}:"))
        .unwrap_or_else(|| panic!("no location in {source}: {line}"))
        .1;
    let digits: String = at.chars().take_while(char::is_ascii_digit).collect();
    assert!(!digits.is_empty(), "a line number: {line}");
    assert!(line.contains(ISSUES), "{line}");
    assert!(
        line.contains("deliberate test panic") && line.contains("postgres://admin:***@db:5432/app"),
        "the payload, masked: {line}"
    );
    for secret in [INJECTED_SECRET, FILE_SECRET] {
        assert!(!all.contains(secret), "{secret} shown:\n{all}");
    }
}

/// The other files' findings are still reported.
fn assert_others_reported(all: &str) {
    assert!(
        all.contains("good/job.yaml:7:17: warning[job-backoff-limit-nonzero]"),
        "{all}"
    );
}

#[test]
fn a_panic_parsing_a_file_is_an_internal_error_on_that_file() {
    let d = tree();
    let (o, all) = lint(d.path(), "parse:bad.yaml", &[]);
    assert_reported(
        &o,
        &all,
        "bad/bad.yaml:1:1: error[internal-error]",
        "internal error while parsing this file",
        "src/engine/mod.rs",
    );
    assert_others_reported(&all);
    assert!(
        all.contains("kust/job.yaml:7:17: warning[job-backoff-limit-nonzero]"),
        "{all}"
    );
    assert!(!all.contains("bad/bad.yaml:7:17"), "not parsed: {all}");
}

#[test]
fn a_panic_reading_objects_is_an_internal_error_on_that_file() {
    let d = tree();
    let (o, all) = lint(d.path(), "objects:bad.yaml", &[]);
    assert_reported(
        &o,
        &all,
        "bad/bad.yaml:1:1: error[internal-error]",
        "internal error while reading the objects of this file",
        "src/engine/mod.rs",
    );
    assert_others_reported(&all);
}

#[test]
fn a_panic_evaluating_a_kustomization_leaves_the_other_contexts_linted() {
    let d = tree();
    let (o, all) = lint(d.path(), "contexts:kust/", &[]);
    assert_reported(
        &o,
        &all,
        "error: internal error",
        "while evaluating the kustomization kust",
        "src/render/eval.rs",
    );
    assert_others_reported(&all);
    assert!(
        all.contains("bad/bad.yaml:7:17: warning[job-backoff-limit-nonzero]"),
        "{all}"
    );
    // Not blamed on a file.
    assert!(!all.contains("[internal-error]"), "{all}");
    // The JSON report carries it, and stays valid.
    let o = run(
        d.path(),
        "contexts:kust/",
        &[".", "--format", "json", "--no-config"],
    );
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/json-output-v1.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let e = &v["internalErrors"][0];
    assert_eq!(e["phase"], "contexts");
    assert_eq!(e["subject"], "kust");
    assert!(
        e["location"]
            .as_str()
            .unwrap()
            .starts_with("src/render/eval.rs:")
    );
    assert!(e["message"].as_str().unwrap().contains(ISSUES));
    // SARIF: a failed invocation with the notification.
    let o = run(
        d.path(),
        "contexts:kust/",
        &[".", "--format", "sarif", "--no-config"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let inv = &v["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false, "{inv}");
    assert_eq!(inv["toolExecutionNotifications"][0]["level"], "error");
}

#[test]
fn a_panicking_rule_is_reported_on_its_object_and_the_other_rules_still_run() {
    let d = tree();
    let (o, all) = lint(d.path(), "rule:bad/bad.yaml job-ttl-missing", &[]);
    assert_reported(
        &o,
        &all,
        "bad/bad.yaml:1:1: error[internal-error]",
        "internal error while running job-ttl-missing on Job/bad-migration-v1",
        "src/engine/mod.rs",
    );
    assert_others_reported(&all);
    // Another rule on the same object still reports.
    assert!(
        all.contains("bad/bad.yaml:7:17: warning[job-backoff-limit-nonzero]"),
        "{all}"
    );
}

#[test]
fn a_panicking_context_rule_names_the_context_not_a_file() {
    let d = tree();
    let (o, all) = lint(d.path(), "context-rule:kust image-tag-mutable", &[]);
    assert_reported(
        &o,
        &all,
        "error: internal error",
        "while running image-tag-mutable on the context kust",
        "src/engine/mod.rs",
    );
    assert_others_reported(&all);
    assert!(!all.contains("[internal-error]"), "{all}");
}

#[test]
fn a_panicking_workspace_rule_blames_no_file() {
    let d = tree();
    let (o, all) = lint(d.path(), "workspace-rule:job-not-awaited", &[]);
    assert_reported(
        &o,
        &all,
        "error: internal error",
        "while running job-not-awaited across all contexts",
        "src/engine/mod.rs",
    );
    assert_others_reported(&all);
    assert!(!all.contains("[internal-error]"), "{all}");
}

#[test]
fn a_panic_reading_suppressions_leaves_the_findings_reported() {
    let d = tree();
    let (o, all) = lint(d.path(), "suppressions:bad.yaml", &[]);
    assert_reported(
        &o,
        &all,
        "bad/bad.yaml:1:1: error[internal-error]",
        "internal error while reading the suppressions in this file",
        "src/engine/mod.rs",
    );
    assert_others_reported(&all);
    assert!(
        all.contains("bad/bad.yaml:7:17: warning[job-backoff-limit-nonzero]"),
        "{all}"
    );
}

#[test]
fn a_panic_finding_secrets_masks_the_whole_file() {
    let d = tree();
    let (o, all) = lint(d.path(), "redaction:bad.yaml", &[]);
    assert_reported(
        &o,
        &all,
        "bad/bad.yaml:1:1: error[internal-error]",
        "internal error while finding the secret values in this file",
        "src/engine/mod.rs",
    );
    assert_others_reported(&all);
    // The snippets of that file show nothing of it.
    let o = run(
        d.path(),
        "redaction:bad.yaml",
        &[".", "--no-config", "--color", "never"],
    );
    let human = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{human}");
    assert!(human.contains("│   backoffLimit: 4"), "{human}");
    assert!(human.contains("╭─[bad/bad.yaml:7:17]"), "{human}");
    assert!(!human.contains("│   backoffLimit: 3"), "{human}");
    assert!(!human.contains(FILE_SECRET), "{human}");
}

#[test]
fn a_panic_while_fixing_changes_nothing_and_reports_what_is_there() {
    let d = tree();
    let before = std::fs::read_to_string(d.path().join("good/job.yaml")).unwrap();
    let (o, all) = lint(d.path(), "fix", &["--fix"]);
    assert_reported(
        &o,
        &all,
        "error: internal error",
        "while applying fixes; nothing was changed",
        "src/engine/fix.rs",
    );
    assert_others_reported(&all);
    assert_eq!(
        std::fs::read_to_string(d.path().join("good/job.yaml")).unwrap(),
        before
    );
    let (o, all) = lint(d.path(), "fix:diff", &["--diff"]);
    assert_reported(
        &o,
        &all,
        "error: internal error",
        "while printing the diff",
        "src/app/mod.rs",
    );
}

#[test]
fn a_panicking_emitter_costs_only_its_own_report() {
    let d = tree();
    // The SARIF file fails; the report on stdout is whole.
    let (o, all) = lint(d.path(), "output:sarif", &["--output", "sarif=out.sarif"]);
    assert_reported(
        &o,
        &all,
        "error: internal error",
        "while writing the sarif report to out.sarif",
        "src/app/mod.rs",
    );
    assert_others_reported(&all);
    assert!(!d.path().join("out.sarif").exists());
    // Stdout's fails; the file is written.
    let (o, all) = lint(
        d.path(),
        "output:concise stdout",
        &["--output", "json=out.json"],
    );
    assert_reported(
        &o,
        &all,
        "error: internal error",
        "while writing the concise report to stdout",
        "src/app/mod.rs",
    );
    assert!(o.stdout.is_empty());
    let json = std::fs::read_to_string(d.path().join("out.json")).unwrap();
    assert!(json.contains("job-backoff-limit-nonzero"));
}

#[test]
fn a_panic_that_escapes_every_isolation_is_still_a_clear_exit_2() {
    let d = tree();
    let (o, all) = lint(d.path(), "crash", &[]);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(
        all.starts_with(&format!("kube-migrate-lint crashed: {ISSUES}\n")),
        "{all}"
    );
    assert!(
        all.contains("  while choosing the findings to report: deliberate test panic in crash")
            && all.contains("postgres://admin:***@db:5432/app (at src/app/mod.rs:"),
        "{all}"
    );
    assert!(!all.contains(INJECTED_SECRET), "{all}");
}

#[test]
fn an_internal_error_is_never_recorded_in_or_hidden_by_a_baseline() {
    let d = tree();
    let (o, all) = lint(
        d.path(),
        "parse:bad.yaml",
        &["--write-baseline", "base.json"],
    );
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(all.contains("internal error while parsing"), "{all}");
    let base = std::fs::read_to_string(d.path().join("base.json")).unwrap();
    assert!(!base.contains("internal-error"), "{base}");
    assert!(base.contains("job-backoff-limit-nonzero"), "{base}");
    let (o, all) = lint(d.path(), "parse:bad.yaml", &["--baseline", "base.json"]);
    assert_reported(
        &o,
        &all,
        "bad/bad.yaml:1:1: error[internal-error]",
        "internal error while parsing this file",
        "src/engine/mod.rs",
    );
}

#[test]
fn without_a_panic_the_run_is_as_usual() {
    let d = tree();
    let (o, all) = lint(d.path(), "", &[]);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(
        !all.contains("internal error") && !all.contains("this is a bug"),
        "{all}"
    );
}
