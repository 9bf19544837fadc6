//! The integrations users copy, with the real tools: the pre-commit hook run by `pre-commit`,
//! and SARIF checked by Microsoft's SARIF multitool; and the hook definition.

use std::path::Path;
use std::process::Command;

fn precommit() -> Option<String> {
    let bin = std::env::var("PRE_COMMIT").unwrap_or_else(|_| "pre-commit".into());
    Command::new(&bin)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| bin)
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

const BROKEN_JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: shop-migration-v1\n  annotations:\n    kustomize.toolkit.fluxcd.io/force: enabled\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: \"shop-migration:v1\", command: [flyway, migrate]}]\n";

/// A git repository holding the tree under test: the checkout's files as they are on disk,
/// committed or not (tracked and untracked, not ignored), in one commit. `pre-commit try-repo
/// --ref HEAD` on the checkout itself would build what was last committed.
fn snapshot_of_the_working_tree(checkout: &Path, into: &Path) {
    let o = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(checkout)
        .output()
        .unwrap();
    assert!(o.status.success(), "the checkout must be a git repository");
    for name in o.stdout.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = std::str::from_utf8(name).unwrap();
        let from = checkout.join(name);
        if !from.is_file() {
            continue; // deleted, not yet staged
        }
        let to = into.join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    git(into, &["init", "-q"]);
    git(into, &["add", "-A"]);
    git(
        into,
        &[
            "-c",
            "user.email=ci@example.com",
            "-c",
            "user.name=ci",
            "-c",
            "commit.gpgsign=false",
            "commit",
            "-qm",
            "the tree under test",
        ],
    );
}

/// The hook, built by pre-commit from the tree under test, fails on a broken manifest with the
/// finding in its output and each rule's page (the binary lives in pre-commit's environment, so
/// `explain` is not offered), and passes on a correct one.
///
/// pre-commit runs `cargo install --path .` (release profile) in its clone. To keep that cheap
/// the profile is overridden through cargo's environment variables, which pre-commit passes on:
/// no LTO, no optimisation (the hook lints two small files), many codegen units; the target
/// directory persists under the crate's `target/`, so the dependencies are built once and only
/// the crate itself is rebuilt on later runs; and resolution is offline, from the crates the
/// main build downloaded (pre-commit installs without `--locked`).
#[test]
fn the_real_pre_commit_runs_the_hook() {
    let Some(bin) = precommit() else {
        if std::env::var_os("CI").is_some() {
            panic!("pre-commit is required in CI (.ci/run installs it into a virtual environment)");
        }
        eprintln!(
            "SKIPPED the_real_pre_commit_runs_the_hook: pre-commit is not installed (pip install pre-commit)"
        );
        return;
    };
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    let hook_repo = tempfile::tempdir().unwrap();
    snapshot_of_the_working_tree(checkout, hook_repo.path());
    let target_dir = checkout.join("target/pre-commit-hook");
    let repo = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let r = repo.path();
    git(r, &["init", "-q"]);
    git(r, &["config", "user.email", "ci@example.com"]);
    git(r, &["config", "user.name", "ci"]);
    std::fs::create_dir_all(r.join("k8s")).unwrap();
    std::fs::write(r.join("k8s/migration-job.yaml"), BROKEN_JOB).unwrap();
    std::fs::write(r.join("README.md"), "not yaml\n").unwrap();
    git(r, &["add", "-A"]);
    let run = || {
        Command::new(&bin)
            .arg("try-repo")
            .arg(hook_repo.path())
            .args([
                "kube-migrate-lint",
                "--ref",
                "HEAD",
                "--all-files",
                "--color",
                "never",
            ])
            .current_dir(r)
            .env("PRE_COMMIT_HOME", home.path())
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
            .env("CARGO_NET_OFFLINE", "true")
            .output()
            .unwrap()
    };
    let o = run();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !o.status.success(),
        "a broken manifest must fail the hook:\n{out}"
    );
    assert!(out.contains("job-backoff-limit-nonzero"), "{out}");
    assert!(out.contains("k8s/migration-job.yaml"), "{out}");
    // pre-commit sets PRE_COMMIT=1: the hint is the rule's page, not a command.
    assert!(
        out.contains(&kube_migrate_lint::output::sarif::rule_url(
            "job-backoff-limit-nonzero"
        )),
        "{out}"
    );
    assert!(!out.contains("kube-migrate-lint explain"), "{out}");
    let fixed = BROKEN_JOB.replace(
        "spec:\n  template:",
        "spec:\n  backoffLimit: 0\n  template:",
    );
    std::fs::write(r.join("k8s/migration-job.yaml"), fixed).unwrap();
    git(r, &["add", "-A"]);
    let o = run();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success(),
        "a correct manifest must pass the hook:\n{out}"
    );
}

#[test]
fn hook_definition_and_gitlab_job_are_consistent() {
    use kube_migrate_lint::yaml;
    let text = std::fs::read_to_string(".pre-commit-hooks.yaml").unwrap();
    let p = yaml::parse(&text, yaml::Limits::default());
    let d = &p.docs[0];
    let hook = d.items(d.root)[0];
    assert_eq!(d.get_str(hook, "id"), Some("kube-migrate-lint"));
    assert_eq!(d.get_str(hook, "language"), Some("rust"));
    assert_eq!(d.get_str(hook, "entry"), Some("kube-migrate-lint"));
    let files = regex::Regex::new(d.get_str(hook, "files").unwrap()).unwrap();
    for f in ["k8s/job.yaml", "a.yml", "overlays/prod/Kustomization"] {
        assert!(files.is_match(f), "{f}");
    }
    assert!(!files.is_match("README.md"));

    let text = std::fs::read_to_string("ci/gitlab-ci.yml").unwrap();
    let p = yaml::parse(&text, yaml::Limits::default());
    assert!(p.error.is_none());
    let d = &p.docs[0];
    // The hidden job holds the script and the reports; `kube-migrate-lint` extends it (the
    // merged job is checked in ci_templates.rs).
    let job = d.get(d.root, ".kube-migrate-lint").unwrap();
    let reports = d
        .at(
            job,
            &[yaml::Seg::Key("artifacts"), yaml::Seg::Key("reports")],
        )
        .unwrap();
    let script: String = d
        .items(d.get(job, "script").unwrap())
        .iter()
        .filter_map(|&s| d.str(s))
        .collect::<Vec<_>>()
        .join("\n");
    for (kind, format) in [("codequality", "gitlab"), ("junit", "junit")] {
        let path = d.get_str(reports, kind).unwrap();
        assert!(
            script.contains(&format!("--output {format}={path}")),
            "{kind}: {script}"
        );
    }
}

/// Microsoft's SARIF multitool, which `.ci/run` installs from npm into `.ci/sarif-multitool`
/// and names in `SARIF_MULTITOOL` (the native `Sarif.Multitool`; npm's `bin.js` wrapper runs it
/// through a shell, which splits `Sarif;Ghas`). Locally, that install is used when present.
fn sarif_multitool() -> Option<std::path::PathBuf> {
    let candidate = std::env::var_os("SARIF_MULTITOOL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(
                ".ci/sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool",
            )
        });
    Command::new(&candidate)
        .arg("--version")
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| candidate)
}

/// The multitool's findings at `error` or `warning` level on `inputs`, with GitHub's rules
/// (`Ghas`) on top of the SARIF ones, each as `file: RULE: message`.
fn multitool_complaints(tool: &Path, inputs: &[std::path::PathBuf]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("validation.sarif");
    let o = Command::new(tool)
        .args([
            "validate",
            "--rule-kind",
            "Sarif;Ghas",
            "--level",
            "Error;Warning",
            "-o",
        ])
        .arg(&out)
        .args(inputs)
        .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
        // Runs without the ICU libraries too (a slim CI image); the checks are culture-free.
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .unwrap();
    let log = std::fs::read_to_string(&out).unwrap_or_else(|e| {
        panic!(
            "the multitool wrote no log ({e}):\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let v: serde_json::Value = serde_json::from_str(&log).unwrap();
    let run = &v["runs"][0];
    let empty = Vec::new();
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap_or(&empty);
    let mut complaints = Vec::new();
    // Notifications: a file it could not read or parse is an error too.
    for inv in run["invocations"].as_array().unwrap_or(&empty) {
        for key in [
            "toolExecutionNotifications",
            "toolConfigurationNotifications",
        ] {
            for n in inv[key].as_array().unwrap_or(&empty) {
                if n["level"] == "error" || n["level"] == "warning" || n["level"].is_null() {
                    complaints.push(format!("notification: {}", n["message"]));
                }
            }
        }
    }
    for r in run["results"].as_array().unwrap_or(&empty) {
        let level = r["level"].as_str().unwrap_or("warning");
        if level != "error" && level != "warning" {
            continue;
        }
        let id = r["ruleId"].as_str().unwrap_or("?");
        let template = rules
            .iter()
            .find(|d| d["id"] == id)
            .and_then(|d| d["messageStrings"][r["message"]["id"].as_str()?]["text"].as_str())
            .unwrap_or("{0}");
        let mut text = template.to_string();
        for (i, a) in r["message"]["arguments"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .enumerate()
        {
            text = text.replace(&format!("{{{i}}}"), a.as_str().unwrap_or(""));
        }
        let file = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or("?");
        complaints.push(format!("{file}: {level} {id}: {text}"));
    }
    complaints
}

/// GitHub code scanning takes the SARIF as written: Microsoft's validator, with GitHub's rule
/// set, finds no error and no warning in the reports of the bundled trees, whether the paths
/// were given relative, absolute, or reaching outside the working directory.
#[test]
fn the_sarif_multitool_accepts_the_reports_with_githubs_rules() {
    let Some(tool) = sarif_multitool() else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "the SARIF multitool is required in CI (.ci/run installs @microsoft/sarif-multitool from npm and sets SARIF_MULTITOOL)"
            );
        }
        eprintln!(
            "SKIPPED the_sarif_multitool_accepts_the_reports_with_githubs_rules: set SARIF_MULTITOOL to Sarif.Multitool (npm install @microsoft/sarif-multitool)"
        );
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    let mut lint = |name: &str, cwd: &Path, path: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_kube-migrate-lint"))
            .args([path, "--format", "sarif"])
            .current_dir(cwd)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{name}");
        let file = dir.path().join(format!("{name}.sarif"));
        std::fs::write(&file, &o.stdout).unwrap();
        inputs.push(file);
    };
    for t in ["example", "fixtures", "formats"] {
        let rel = format!("testdata/{t}");
        lint(&format!("{t}-relative"), root, &rel);
        lint(
            &format!("{t}-absolute"),
            root,
            root.join(&rel).to_str().unwrap(),
        );
    }
    lint("outside-cwd", &root.join("testdata/example"), "../formats");
    let complaints = multitool_complaints(&tool, &inputs);
    assert!(
        complaints.is_empty(),
        "{} complaints, the first:\n{}",
        complaints.len(),
        complaints[..complaints.len().min(10)].join("\n")
    );

    // The validator, run this way, does fail: a rule without a full description, named as its
    // id, and an absolute path given as relative to a base.
    let bad = dir.path().join("bad.sarif");
    std::fs::write(
        &bad,
        serde_json::json!({
            "version": "2.1.0",
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{
                "tool": {"driver": {"name": "x", "rules": [{"id": "a-rule", "name": "a-rule",
                    "shortDescription": {"text": "Short."}, "help": {"text": "Help."}}]}},
                "results": [{"ruleId": "a-rule", "ruleIndex": 0, "level": "error",
                    "message": {"text": "Broken."},
                    "locations": [{"physicalLocation": {"artifactLocation":
                        {"uri": "/abs/a.yaml", "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": 1}}}]}],
            }],
        })
        .to_string(),
    )
    .unwrap();
    let complaints = multitool_complaints(&tool, &[bad]);
    for id in ["GH2012", "SARIF1001", "SARIF1004"] {
        assert!(
            complaints.iter().any(|c| c.contains(id)),
            "{id} expected in {complaints:#?}"
        );
    }
}
