//! The integrations users copy: the pre-commit hook, run by the real `pre-commit` tool, and the
//! GitLab CI job file.

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

/// The hook, built by pre-commit from this checkout's committed HEAD (`pre-commit try-repo
/// --ref HEAD`, what CI's clean clone is), fails on a broken manifest with the finding in its
/// output, and passes on a correct one.
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
    let checkout = env!("CARGO_MANIFEST_DIR");
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
            .args([
                "try-repo",
                checkout,
                "kube-migrate-lint",
                "--ref",
                "HEAD",
                "--all-files",
                "--color",
                "never",
            ])
            .current_dir(r)
            .env("PRE_COMMIT_HOME", home.path())
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
    let job = d.get(d.root, "kube-migrate-lint").unwrap();
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
