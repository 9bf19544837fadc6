//! Mistakes on the command line are said plainly, before any report is written.

use crate::support::{BIN, run_in, text};
use std::process::Command;

#[test]
fn a_directory_with_no_manifests_is_said_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::create_dir_all(dir.path().join("k8s")).unwrap();
    std::fs::write(dir.path().join("docs/readme.md"), "# not a manifest\n").unwrap();
    std::fs::write(
        dir.path().join("k8s/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    )
    .unwrap();
    let (o, _) = run_in(dir.path(), &["docs", "k8s", "--no-config"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: no manifests (*.yaml, *.yml, Kustomization) found under `docs`"),
        "{err}"
    );
    assert!(!err.contains("`k8s`"), "{err}");
    // Only the empty one: a tree with manifests says nothing.
    let (o, _) = run_in(dir.path(), &["k8s", "--no-config"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"));
}

#[test]
fn a_path_that_does_not_exist_is_a_usage_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("k8s")).unwrap();
    let (o, _) = run_in(
        dir.path(),
        &[
            "k8s",
            "k8z",
            "--output",
            "gitlab=report.json",
            "--no-config",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(o.stdout.is_empty(), "no report: {}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err, "error: `k8z`: no such file or directory\n");
    assert!(!dir.path().join("report.json").exists());
}

#[test]
fn stdin_filename_without_stdin_is_a_usage_error() {
    let o = Command::new(BIN)
        .args(["testdata/example", "--stdin-filename", "k8s/job.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(o.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("add `-` to the paths"),
        "{}",
        text(&o)
    );
}

/// `graph --help` names its formats and `--build`; a format it does not draw, a path that does
/// not exist and a `--build` that is no drawn build are usage errors (status 2, nothing on
/// stdout).
#[test]
fn graph_usage() {
    let o = Command::new(BIN)
        .args(["graph", "--help"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let help = String::from_utf8_lossy(&o.stdout);
    for part in ["mermaid", "dot", "json", "--build <DIR>", "red and dashed"] {
        assert!(help.contains(part), "{part}: {help}");
    }
    let o = Command::new(BIN).args(["--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("graph"));
    for args in [
        &["graph", "testdata/example", "--format", "svg"][..],
        &["graph", "testdata/exampel"],
        &["graph", "testdata/example", "--build", "testdata"],
    ] {
        let o = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(o.stdout.is_empty(), "{args:?}: {}", text(&o));
    }
    let o = Command::new(BIN)
        .args(["graph", "testdata/example"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("flowchart LR\n"));
}
