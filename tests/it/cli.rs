//! The binary as users run it: formats, exit codes, stdin, CRLF, config errors, subcommands.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kube-migrate-lint"));
    c.env_remove("NO_COLOR").env_remove("COLUMNS");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

const BROKEN_JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: myapp-migration-v1\n  annotations:\n    kustomize.toolkit.fluxcd.io/force: enabled\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: \"app:v1\"}]\n";

#[test]
fn exit_codes() {
    assert_eq!(
        run(&["testdata/fixtures/pattern-ok"]).status.code(),
        Some(0)
    );
    assert_eq!(run(&["testdata/example"]).status.code(), Some(1));
    // Only warnings: fail on warning (default) but not on error.
    let warn_only = "testdata/fixtures/force-annotation";
    assert_eq!(run(&[warn_only]).status.code(), Some(1));
    assert_eq!(
        run(&[warn_only, "--fail-on", "error"]).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["testdata/example", "--fail-on", "never"])
            .status
            .code(),
        Some(0)
    );
    // Usage errors.
    assert_eq!(run(&["--format", "xml"]).status.code(), Some(2));
    let o = run(&["testdata/example", "--select", "job-backof-limit-nonzero"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean `job-backoff-limit-nonzero`"),
        "{}",
        stderr(&o)
    );
}

/// A path that does not exist is a typo, said before anything is linted (an unreadable one is
/// an error after the others are linted: tests/it/hostile.rs).
#[test]
fn a_missing_path_is_exit_2_before_anything_is_linted() {
    let o = run(&["testdata/example", "no/such/dir", "--format", "concise"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`no/such/dir`: no such file or directory"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "");
}

#[test]
fn bad_config_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.yaml"), BROKEN_JOB).unwrap();
    std::fs::write(
        dir.path().join(".kube-migrate-lint.yaml"),
        "rules:\n  job-backoff-limit-nonzero: loud\n",
    )
    .unwrap();
    let o = run(&[dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains(".kube-migrate-lint.yaml:2:30: invalid configuration"),
        "{e}"
    );
    // --config picks another file; --no-config ignores them.
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, "rules:\n  job-backoff-limit-nonzero: off\n").unwrap();
    let o = run(&[
        dir.path().to_str().unwrap(),
        "--config",
        good.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = run(&[dir.path().to_str().unwrap(), "--no-config"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn select_and_ignore_override_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.yaml"), BROKEN_JOB).unwrap();
    std::fs::write(
        dir.path().join(".kube-migrate-lint.yaml"),
        "rules:\n  job-backoff-limit-nonzero: off\n",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    assert_eq!(run(&[d]).status.code(), Some(0));
    assert_eq!(
        run(&[d, "--select", "job-backoff-limit-nonzero"])
            .status
            .code(),
        Some(1)
    );
    std::fs::remove_file(dir.path().join(".kube-migrate-lint.yaml")).unwrap();
    assert_eq!(
        run(&[d, "--ignore", "job-backoff-limit-nonzero"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn stdin_uses_the_given_filename_and_crlf_positions() {
    let crlf = BROKEN_JOB.replace('\n', "\r\n");
    let o = run_stdin(
        &[
            "-",
            "--stdin-filename",
            "rendered/app.yaml",
            "--format",
            "concise",
        ],
        crlf.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "rendered/app.yaml:7:1: error[job-backoff-limit-nonzero] migration job retries up to 6 times because backoffLimit is not set\n"
    );
    let o = run_stdin(&["-", "--format", "concise"], BROKEN_JOB.as_bytes());
    assert!(stdout(&o).starts_with("<stdin>:7:1:"), "{}", stdout(&o));
}

#[test]
fn json_output_matches_the_issue_example_shape() {
    let o = run_stdin(
        &[
            "-",
            "--stdin-filename",
            "k8s/migration-job.yaml",
            "--format",
            "json",
        ],
        BROKEN_JOB.as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["summary"]["files"], 1);
    assert_eq!(v["summary"]["objects"], 1);
    assert_eq!(v["summary"]["errors"], 1);
    let d = &v["diagnostics"][0];
    assert_eq!(d["rule"], "job-backoff-limit-nonzero");
    assert_eq!(d["file"], "k8s/migration-job.yaml");
    assert_eq!(d["path"], "spec");
    assert_eq!(
        d["range"]["start"],
        serde_json::json!({"line": 7, "column": 1, "offset": 130})
    );
    assert_eq!(
        d["range"]["end"],
        serde_json::json!({"line": 7, "column": 5, "offset": 134})
    );
    assert_eq!(d["object"]["kind"], "Job");
    assert_eq!(d["object"]["name"], "myapp-migration-v1");
    assert_eq!(d["object"]["namespace"], serde_json::Value::Null);
    // The fix: insert `backoffLimit: 0` as the first line of `spec` (a zero-width edit).
    assert_eq!(d["fix"]["applicability"], "safe");
    let e = &d["fix"]["edits"][0];
    assert_eq!(e["file"], "k8s/migration-job.yaml");
    assert_eq!(e["range"]["start"], e["range"]["end"]);
    assert_eq!(e["range"]["start"]["line"], 8);
    assert_eq!(e["replacement"], "  backoffLimit: 0\n");
}

#[test]
fn json_output_validates_against_the_checked_in_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("schema/json-output-v1.schema.json").unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for target in [
        "testdata/example",
        "testdata/fixtures",
        "testdata/fixtures/pattern-ok",
    ] {
        let o = run(&[target, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{target}: {errors:?}");
        if target != "testdata/fixtures/pattern-ok" {
            assert!(!v["diagnostics"].as_array().unwrap().is_empty());
        }
    }
    // The schema can fail: a wrong shape is rejected.
    let bad = serde_json::json!({"version": 1, "tool": {"name": "kube-migrate-lint", "version": "0.1.0"},
        "summary": {"files": 1, "objects": 1, "errors": 0, "warnings": 0, "infos": 0},
        "diagnostics": [{"rule": "x", "severity": "fatal"}]});
    assert!(!validator.is_valid(&bad));
}

#[test]
fn human_output_has_snippet_help_rule_and_summary() {
    let o = run(&["testdata/example"]);
    let s = stdout(&o);
    assert!(!s.contains('\u{1b}'), "no colour when piped");
    assert!(s.contains("error[job-backoff-limit-nonzero]"));
    assert!(
        s.contains("╭─[testdata/example/k8s/migration-job.yaml:8:1]"),
        "{s}"
    );
    assert!(s.contains("help: set spec.backoffLimit: 0"));
    assert!(
        s.lines()
            .any(|l| l.starts_with("Checked 5 files (6 objects) in ")
                && l.ends_with("4 errors, 2 warnings, 0 infos.")),
        "{s}"
    );
    let o = run(&["testdata/example", "--color", "always"]);
    assert!(stdout(&o).contains('\u{1b}'));
}

/// The closing hint names a command the reader can run. Under pre-commit (which sets
/// `PRE_COMMIT=1` for its hooks) the binary lives only in pre-commit's environment, so the hint
/// gives each rule's page by URL instead.
#[test]
fn the_closing_hint_is_one_the_reader_can_follow() {
    let url = |rule: &str| kube_migrate_lint::output::sarif::rule_url(rule);
    let o = bin()
        .env_remove("PRE_COMMIT")
        .args(["testdata/example"])
        .output()
        .unwrap();
    let s = stdout(&o);
    assert!(
        s.contains("Run `kube-migrate-lint explain wait-target-missing` to see why"),
        "{s}"
    );
    assert!(!s.contains(&url("wait-target-missing")), "{s}");
    // The test suite itself may run with PRE_COMMIT naming the pre-commit binary: only pre-commit's
    // own `1` counts.
    for (value, under_pre_commit) in [("1", true), ("/opt/venv/bin/pre-commit", false)] {
        let o = bin()
            .env("PRE_COMMIT", value)
            .args(["testdata/example"])
            .output()
            .unwrap();
        let s = stdout(&o);
        assert_eq!(
            s.contains("kube-migrate-lint explain"),
            !under_pre_commit,
            "{s}"
        );
        for rule in [
            "wait-target-missing",
            "schema-invalid",
            "job-name-unversioned",
            "job-force-annotation-missing",
            "job-backoff-limit-nonzero",
            "job-restart-policy-not-never",
        ] {
            assert_eq!(
                s.lines()
                    .any(|l| l.contains(rule) && l.ends_with(&url(rule))),
                under_pre_commit,
                "{rule}: {s}"
            );
        }
    }
}

#[test]
fn output_is_identical_for_any_thread_count() {
    let one = run(&["testdata", "--format", "json", "--threads", "1"]);
    for n in ["2", "8"] {
        let many = run(&["testdata", "--format", "json", "--threads", n]);
        assert_eq!(stdout(&one), stdout(&many), "threads {n}");
    }
    assert!(!one.stdout.is_empty());
}

#[test]
fn secret_values_never_appear_in_any_format() {
    // Planted secrets: Secret data, a credential-named env var, a password in a URL, a token in
    // a ConfigMap; some of them also mistyped so schema findings point at them.
    let manifests = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: 918273645\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n    spec:\n      initContainers:\n      - name: migrate\n        image: app:v1\n        command: [npm, run, migrate]\n        env:\n        - {name: DATABASE_URL, value: \"postgres://admin:Zq8pL1x@db:5432/app\"}\n      containers:\n      - name: app\n        image: app:v1\n        env:\n        - {name: API_TOKEN, value: tok-4f9a7c21}\n        - {name: DATABASE_URL, value: \"postgres://admin:Zq8pL1x@db:5432/app\"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  GITHUB_TOKEN: ghp_s3cr3tv4lu3\n";
    for format in [
        "human", "json", "concise", "gitlab", "junit", "sarif", "github",
    ] {
        let o = run_stdin(
            &["-", "--format", format, "--color", "always"],
            manifests.as_bytes(),
        );
        assert_eq!(o.status.code(), Some(1), "{format}");
        let all = format!("{}{}", stdout(&o), stderr(&o));
        for secret in ["918273645", "Zq8pL1x", "tok-4f9a7c21", "ghp_s3cr3tv4lu3"] {
            assert!(!all.contains(secret), "{format} shows {secret}:\n{all}");
        }
        assert!(all.contains("secret-in-plaintext"), "{format}");
    }
}

#[test]
fn broken_pipe_is_not_an_error() {
    let mut child = bin()
        .args(["testdata", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    // Status 1 (the findings), not 2 or 101: a write to a closed pipe is not a crash, and
    // nothing reports a bug.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("this is a bug") && !stderr(&out).contains("internal error"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rules_and_explain() {
    let o = run(&["rules"]);
    let s = stdout(&o);
    for r in [
        "job-backoff-limit-nonzero",
        "yaml-syntax",
        "unused-suppression",
    ] {
        assert!(s.contains(r), "{r}");
    }
    let v: serde_json::Value =
        serde_json::from_slice(&run(&["rules", "--format", "json"]).stdout).unwrap();
    assert_eq!(
        v.as_array().unwrap().len(),
        kube_migrate_lint::rules::metas().count()
    );
    let o = run(&["explain", "job-backoff-limit-nonzero"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("# job-backoff-limit-nonzero"));
    assert!(stdout(&o).contains("## Why it matters"));
    let o = run(&["explain", "job-backoff-limit"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean"));
}

#[test]
fn helm_templates_are_skipped_with_a_note() {
    let o = run(&["testdata/fixtures/helm-chart"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Helm template skipped"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("helm template"));
}

#[test]
fn excludes_from_the_config_and_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("vendor/chart")).unwrap();
    std::fs::create_dir_all(d.join("apps")).unwrap();
    std::fs::write(d.join("vendor/chart/job.yaml"), BROKEN_JOB).unwrap();
    std::fs::write(d.join("apps/job.yaml"), BROKEN_JOB).unwrap();
    let root = d.to_str().unwrap();
    let o = run(&[root, "--format", "concise"]);
    assert_eq!(stdout(&o).lines().count(), 2, "{}", stdout(&o));
    std::fs::write(
        d.join(".kube-migrate-lint.yaml"),
        "exclude: [\"vendor/**\"]\n",
    )
    .unwrap();
    let o = run(&[root, "--format", "concise"]);
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    assert!(stdout(&o).contains("apps/job.yaml"));
    let o = run(&[
        root,
        "--format",
        "concise",
        "--no-config",
        "--exclude",
        "apps",
    ]);
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    assert!(stdout(&o).contains("vendor/chart/job.yaml"));
}

#[test]
fn a_changed_file_is_linted_in_its_context_and_only_its_findings_are_shown() {
    // Pre-commit passes changed files. The Deployment alone: only its own finding.
    let o = run(&[
        "testdata/example/k8s/deployment.yaml",
        "--format",
        "concise",
    ]);
    let s = stdout(&o);
    assert!(
        s.lines()
            .filter(|l| !l.contains(": note: "))
            .all(|l| l.starts_with("testdata/example/k8s/deployment.yaml:")),
        "{s}"
    );
    assert!(s.contains("[schema-invalid]"), "{s}");
    // The Job file: the Job's findings, not the Deployment's own; the broken wait shows too,
    // since its other end (the closest Job) is in this file.
    let o = run(&[
        "testdata/example/k8s/migration-job.yaml",
        "--format",
        "concise",
    ]);
    let s = stdout(&o);
    assert!(
        s.contains("[job-backoff-limit-nonzero]") && !s.contains("[schema-invalid]"),
        "{s}"
    );
    assert!(
        s.contains("deployment.yaml:19:28: error[wait-target-missing]")
            && s.contains("\ntestdata/example/k8s/migration-job.yaml:5:9: note: closest job"),
        "{s}"
    );
    // A finding whose other end (a related location) is in the given file is shown too: the
    // Flux Kustomization's substituted value makes the Job's name invalid.
    let o = run(&[
        "testdata/fixtures/name-invalid-substituted/flux.yaml",
        "--format",
        "concise",
    ]);
    let s = stdout(&o);
    assert!(s.contains("job.yaml:4:9: error[job-name-invalid]"), "{s}");
    assert!(
        s.contains("flux.yaml:12:18: note: written by Flux substitution"),
        "{s}"
    );
}

#[test]
fn stdin_filename_stands_for_the_file_in_its_context() {
    // An editor's unsaved buffer: stdin replaces the file on disk, in the file's context, and
    // only its findings are shown.
    let disk = std::fs::read_to_string("testdata/example/k8s/migration-job.yaml").unwrap();
    let edited = disk.replace("spec:\n  ttl", "spec:\n  backoffLimit: 0\n  ttl");
    assert_ne!(disk, edited);
    let name = "testdata/example/k8s/migration-job.yaml";
    let o = run_stdin(
        &["-", "--stdin-filename", name, "--format", "concise"],
        edited.as_bytes(),
    );
    let s = stdout(&o);
    // Findings in the file, or whose related location is in it (the wait's closest Job).
    assert!(
        s.lines()
            .filter(|l| !l.contains(": note: "))
            .all(|l| l.starts_with(name) || l.contains("[wait-target-missing]")),
        "{s}"
    );
    assert!(
        !s.contains("job-backoff-limit-nonzero"),
        "stdin must replace the disk file: {s}"
    );
    assert!(s.contains("job-restart-policy-not-never"), "{s}");
    let o = run(&[name, "--format", "concise"]);
    assert!(stdout(&o).contains("job-backoff-limit-nonzero"));
}

#[test]
fn shell_completions() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let s = stdout(&o);
        assert!(
            s.contains("kube-migrate-lint") && s.contains("stdin-filename"),
            "{shell}"
        );
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn context_all_merges_directories_into_one_context() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("app")).unwrap();
    std::fs::create_dir_all(d.join("rbac")).unwrap();
    std::fs::write(d.join("app/job.yaml"), "apiVersion: batch/v1\nkind: Job\nmetadata: {name: app-migration-v1, namespace: app, annotations: {kustomize.toolkit.fluxcd.io/force: enabled}}\nspec:\n  backoffLimit: 0\n  template: {spec: {restartPolicy: Never, containers: [{name: m, image: \"app-migration:v1\", command: [flyway, migrate]}]}}\n").unwrap();
    std::fs::write(d.join("app/deploy.yaml"), "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, namespace: app}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n    spec:\n      serviceAccountName: app\n      initContainers: [{name: wait, image: \"groundnuty/k8s-wait-for:v2.0\", args: [job-wr, app-migration-v1]}]\n      containers: [{name: app, image: \"app:v1\"}]\n").unwrap();
    std::fs::write(d.join("rbac/rbac.yaml"), "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: app}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: app}\nrules: [{apiGroups: [batch], resources: [jobs], verbs: [get, list]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb, namespace: app}\nsubjects: [{kind: ServiceAccount, name: app, namespace: app}]\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n").unwrap();
    let root = d.to_str().unwrap();
    let auto = stdout(&run(&[
        root,
        "--format",
        "concise",
        "--select",
        "rbac-job-read-missing",
    ]));
    assert!(auto.contains("[rbac-job-read-missing]"), "{auto}");
    let all = run(&[
        root,
        "--format",
        "concise",
        "--select",
        "rbac-job-read-missing",
        "--context",
        "all",
    ]);
    assert_eq!(all.status.code(), Some(0), "{}", stdout(&all));
}
