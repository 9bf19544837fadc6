//! Every fixture tree under `testdata/fixtures/` is linted through the CLI layer and its concise
//! report, stderr and exit code are snapshotted; the correct pattern must be clean.

use kube_migrate_lint::app::{self, RunOptions};
use kube_migrate_lint::output::Format;
use std::path::PathBuf;

pub fn run(paths: &[&str], format: Format) -> (i32, String, String) {
    let opts = RunOptions {
        paths: paths.iter().map(PathBuf::from).collect(),
        format,
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

fn fixture_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir("testdata/fixtures")
        .expect("run from the package root")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn fixtures_match_their_snapshots() {
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 15, "fixtures went missing: {dirs:?}");
    for name in dirs {
        let path = format!("testdata/fixtures/{name}");
        let (code, out, err) = run(&[&path], Format::Concise);
        insta::assert_snapshot!(
            format!("fixture-{name}"),
            format!("exit: {code}\n--- stdout\n{out}--- stderr\n{err}")
        );
    }
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
        out.contains("good-neighbour.yaml:7:17: error[job-backoff-limit-nonzero]"),
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
