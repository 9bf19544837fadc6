//! Every fixture tree under `testdata/fixtures/` is linted through the CLI layer and its JSON and
//! concise reports, stderr and exit code are snapshotted, one snapshot per fixture; the correct
//! pattern must be clean.

use kube_migrate_lint::app::{self, RunOptions};
use kube_migrate_lint::output::Format;
use std::path::PathBuf;

pub fn run(paths: &[&str], format: Format) -> (i32, String, String) {
    let opts = RunOptions {
        paths: paths.iter().map(PathBuf::from).collect(),
        format,
        // Each fixture stands for a repository of its own: its deploy engine comes from its
        // own files, not from the other fixtures'.
        repo_root: paths.first().map(PathBuf::from),
        ..RunOptions::default()
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = app::run(&opts, &mut std::io::empty(), &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// Each fixture is a snapshot of its own (`glob!` runs them all and reports every mismatch): the
/// JSON report (message, help, fix edits, related locations, object, path), then the concise
/// lines, stderr and the exit code.
#[test]
fn fixture_reports() {
    let mut seen = 0;
    insta::glob!("../../testdata/fixtures", "*", |path| {
        let Some((name, dir)) = crate::support::fixture(path) else {
            return;
        };
        seen += 1;
        let (code, json, err) = run(&[&dir], Format::Json);
        let (concise_code, concise, concise_err) = run(&[&dir], Format::Concise);
        assert_eq!((code, &err), (concise_code, &concise_err), "{name}");
        insta::assert_snapshot!(
            "fixture",
            format!("exit: {code}\n--- stderr\n{err}--- concise\n{concise}--- json\n{json}")
        );
    });
    assert!(seen >= 15, "fixtures went missing: {seen}");
}

#[test]
fn the_correct_pattern_is_clean() {
    let (code, out, err) = run(&["testdata/fixtures/pattern-ok"], Format::Concise);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
}

#[test]
fn a_bad_file_does_not_stop_the_others() {
    let (code, out, _) = run(&["testdata/fixtures/yaml-bad-input"], Format::Concise);
    assert_eq!(code, 1);
    assert!(
        out.contains("good-neighbour.yaml:7:17: warning[job-backoff-limit-nonzero]"),
        "{out}"
    );
    for f in [
        "binary.yaml",
        "duplicate-key.yaml",
        "latin1.yaml",
        "tabs.yaml",
        "unclosed.yaml",
    ] {
        assert!(
            out.lines()
                .any(|l| l.contains(f) && l.contains("[yaml-syntax]")),
            "{f}: {out}"
        );
    }
}

#[test]
fn bundled_example_shows_findings() {
    let (code, out, _) = run(&["testdata/example"], Format::Concise);
    assert_eq!(code, 1);
    assert!(out.lines().count() >= 4, "{out}");
}

/// The deploy engine is the same whether the repository is linted whole or one file at a time
/// (pre-commit): the Flux Kustomization in `clusters/prod/` is found by the repository scan
/// when only the Job is given.
#[test]
fn one_file_and_the_whole_repository_get_the_same_engine() {
    let root = "testdata/fixtures/engine-flux-fleet";
    let lint = |path: &str| {
        let opts = RunOptions {
            paths: vec![PathBuf::from(path)],
            format: Format::Json,
            repo_root: Some(PathBuf::from(root)),
            ..RunOptions::default()
        };
        let mut out = Vec::new();
        app::run(&opts, &mut std::io::empty(), &mut out, &mut Vec::new());
        serde_json::from_slice::<serde_json::Value>(&out).unwrap()
    };
    let force = |report: &serde_json::Value| -> Vec<String> {
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["rule"] == "job-force-annotation-missing")
            .map(|d| d["severity"].as_str().unwrap().to_string())
            .collect()
    };
    let whole = lint(root);
    let one = lint(&format!("{root}/apps/myapp/migration-job.yaml"));
    assert_eq!(force(&whole), ["warning"]);
    assert_eq!(force(&one), ["warning"]);
    // The Job's build, judged by the Flux Kustomization in clusters/prod/ in both runs.
    let app = |report: &serde_json::Value| -> serde_json::Value {
        let engines = report["engines"].as_array().unwrap();
        let found: Vec<&serde_json::Value> = engines
            .iter()
            .filter(|e| e["build"] == format!("{root}/apps/myapp"))
            .collect();
        assert_eq!(found.len(), 1, "{engines:?}");
        found[0].clone()
    };
    assert_eq!(app(&one), app(&whole));
    assert_eq!(app(&one)["engine"], "flux");
    assert_eq!(app(&one)["evident"], true);
    assert_eq!(
        app(&one)["reason"],
        "a Flux Kustomization in the linted files deploys this directory"
    );
}

/// With an engine configured that is not Flux, a file linted alone is not read with the Flux
/// stages (no repository scan: the fast one-file run a large repository configures for); with
/// `auto` or `flux` it is.
#[test]
fn a_configured_engine_other_than_flux_skips_the_flux_stages() {
    let dir = crate::paths::git_copy(std::path::Path::new("testdata/fixtures/engine-flux-fleet"));
    let root = dir.path();
    let builds = |engine: &str| {
        std::fs::write(
            root.join(".kube-migrate-lint.yaml"),
            format!("deploy-engine: {engine}\n"),
        )
        .unwrap();
        let (o, _) =
            crate::support::run_in(root, &["--format", "json", "apps/myapp/migration-job.yaml"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let mut b: Vec<String> = v["engines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["build"].as_str().unwrap().to_string())
            .collect();
        b.sort();
        b
    };
    assert_eq!(builds("kubectl"), ["apps/myapp"]);
    assert_eq!(builds("flux"), ["apps/myapp", "clusters/prod"]);
    assert_eq!(builds("auto"), ["apps/myapp", "clusters/prod"]);
}

/// A migration Job without a deploy-engine marker of its own.
const PLAIN_JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: app-migrate-v1}\nspec:\n  backoffLimit: 0\n  template: {spec: {restartPolicy: Never, containers: [{name: m, image: \"app:v1\", command: [migrate]}]}}\n";

/// The engines a JSON run with `args` in `root` reports for the build `build`.
fn engines_of(root: &std::path::Path, args: &[&str], build: &str) -> Vec<String> {
    let (o, _) = crate::support::run_in(root, args);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["engines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["build"] == build)
        .map(|e| e["engine"].as_str().unwrap().to_string())
        .collect()
}

/// Without a git work tree, a file linted alone from the repository's root looks for the
/// deploy engine from that root, as the whole-tree run does: the Argo CD Application beside the
/// overlays decides it, not the file's own directory (laravel-k3s's layout).
#[test]
fn one_file_run_from_the_root_finds_the_engine_the_root_run_finds() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    crate::support::write(
        root,
        "manifests/argocd-application.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: app}\nspec:\n  source: {path: manifests/overlays/prod}\n",
    );
    crate::support::write(
        root,
        "manifests/overlays/prod/kustomization.yaml",
        "resources: [job.yaml]\n",
    );
    crate::support::write(root, "manifests/overlays/prod/job.yaml", PLAIN_JOB);
    let engines = |args: &[&str]| engines_of(root, args, "manifests/overlays/prod");
    let whole = engines(&["--no-config", "--format", "json", "."]);
    let one = engines(&[
        "--no-config",
        "--format",
        "json",
        "manifests/overlays/prod/job.yaml",
    ]);
    assert_eq!(whole, ["argocd"]);
    assert_eq!(one, whole);
}

/// Outside git, the working directory is only where the run started: a tree beside the linted
/// one that uses Flux does not make the linted build Flux-deployed (its Jobs would be judged by
/// Flux's rules). Linting the whole directory, or the same layout in a git work tree, does.
#[test]
fn a_sign_of_flux_beside_the_linted_tree_counts_only_in_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    crate::support::write(root, "app/kustomization.yaml", "resources: [job.yaml]\n");
    crate::support::write(root, "app/job.yaml", PLAIN_JOB);
    crate::support::write(
        root,
        "other/clusters/flux-system/gotk-sync.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: flux-system, namespace: flux-system}\nspec: {path: ./clusters, sourceRef: {kind: GitRepository, name: flux-system}}\n",
    );
    let engine = |path: &str| engines_of(root, &["--no-config", "--format", "json", path], "app");
    assert_eq!(engine("app"), ["kubectl"]);
    assert_eq!(engine("app/job.yaml"), ["kubectl"]);
    assert_eq!(engine("."), ["flux"]);
    std::fs::create_dir(root.join(".git")).unwrap();
    assert_eq!(engine("app"), ["flux"]);
    assert_eq!(engine("app/job.yaml"), ["flux"]);
}

/// An overlay linted alone reads its base outside the named directory, as `kubectl kustomize`
/// does: its generators' `behavior: merge` finds the base's ConfigMap (no false refusal), and
/// the finding the whole-fixture run makes in the base shows up.
#[test]
fn an_overlay_named_alone_is_built_with_its_base() {
    let (o, _) = crate::support::run_in(
        std::path::Path::new("."),
        &[
            "--no-config",
            "--format",
            "concise",
            "testdata/fixtures/kustomize-generators-labels/prod",
        ],
    );
    let out = crate::support::text(&o);
    assert!(!out.contains("kustomize-build-error"), "{out}");
    assert!(!out.contains("not among the linted files"), "{out}");
    assert!(
        out.contains(
            "kustomize-generators-labels/base/deploy.yaml:16:28: error[wait-target-missing]"
        ),
        "{out}"
    );
}
