//! Reports name files relative to the project root: the same tree linted from the root, from a
//! subdirectory, by absolute path or with `..` and `.` in the path gives byte-identical
//! reports, and a baseline written in one place hides the same findings in every other.

use crate::support::BIN;
use std::path::Path;
use std::process::{Command, Output};

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A copy of `from` in a temporary directory that is a git work tree of its own (so the
/// repository scan starts, and stops, there).
pub(crate) fn git_copy(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(from, dir.path());
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .output()
        .unwrap()
}

/// Every report format that carries paths, from one run in `dir` on `path`.
fn reports(dir: &Path, path: &str, extra: &[&str]) -> Vec<(String, String)> {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![path, "--format", "json"];
    let files: Vec<(String, String)> = ["gitlab", "sarif", "concise", "github"]
        .iter()
        .map(|f| {
            let p = out.path().join(format!("report.{f}"));
            (f.to_string(), format!("{f}={}", p.display()))
        })
        .collect();
    for (_, spec) in &files {
        args.push("--output");
        args.push(spec);
    }
    args.extend_from_slice(extra);
    let o = run(dir, &args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{path} from {}: {}",
        dir.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let mut got = vec![(
        "json".to_string(),
        String::from_utf8(o.stdout.clone()).unwrap(),
    )];
    for (f, _) in files {
        let text = std::fs::read_to_string(out.path().join(format!("report.{f}"))).unwrap();
        got.push((f, text));
    }
    got
}

fn same_everywhere(repo: &Path, project: &str) {
    let sub = repo.join(project);
    let abs = sub.join("k8s").display().to_string();
    let base = reports(repo, &format!("{project}/k8s"), &[]);
    let root_json = &base[0].1;
    let expected = format!("\"{project}/k8s/deployment.yaml\"");
    assert!(
        root_json.contains(&expected),
        "paths are relative to the project root: {root_json}"
    );
    assert!(!root_json.contains(&repo.display().to_string()));
    let dotted = "../k8s/./".to_string();
    let up = "../".repeat(project.split('/').count() + 1);
    let single = format!("./{up}{project}/k8s/deployment.yaml");
    for (dir, path) in [
        (sub.clone(), "k8s"),
        (sub.join("k8s"), "."),
        (sub.join("k8s"), dotted.as_str()),
        (repo.to_path_buf(), abs.as_str()),
        (std::env::temp_dir(), abs.as_str()),
        (sub.join("k8s"), single.as_str()),
    ] {
        let got = reports(&dir, path, &[]);
        if path.ends_with("deployment.yaml") {
            // One file: its findings, named as in the whole-tree run.
            assert!(got[0].1.contains(&expected), "{}", got[0].1);
            continue;
        }
        for ((format, want), (_, have)) in base.iter().zip(&got) {
            assert_eq!(
                want,
                have,
                "{format} differs when `{path}` is linted from {}",
                dir.display()
            );
        }
    }
}

#[test]
fn reports_are_the_same_from_any_directory() {
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path();
    std::fs::create_dir(r.join(".git")).unwrap();
    copy_tree(Path::new("testdata/example/k8s"), &r.join("apps/shop/k8s"));
    same_everywhere(r, "apps/shop");
}

#[test]
fn the_configuration_file_marks_the_root() {
    // No git work tree: the configuration file's directory is the root.
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path();
    copy_tree(Path::new("testdata/example/k8s"), &r.join("apps/shop/k8s"));
    std::fs::write(r.join(".kube-migrate-lint.yaml"), "rules: {}\n").unwrap();
    same_everywhere(r, "apps/shop");
}

#[test]
fn a_baseline_written_at_the_root_matches_from_a_subdirectory() {
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path();
    std::fs::create_dir(r.join(".git")).unwrap();
    copy_tree(Path::new("testdata/example/k8s"), &r.join("deploy/k8s"));
    let baseline = r.join("baseline.json");
    let o = run(
        r,
        &[
            "deploy/k8s",
            "--write-baseline",
            &baseline.display().to_string(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let b = baseline.display().to_string();
    for (dir, path) in [
        (r.join("deploy"), "k8s"),
        (r.join("deploy/k8s"), "."),
        (
            std::env::temp_dir(),
            &*r.join("deploy/k8s").display().to_string(),
        ),
    ] {
        let o = run(&dir, &[path, "--baseline", &b, "--format", "concise"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "`{path}` from {}: {}{}",
            dir.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.stdout.is_empty());
        assert!(String::from_utf8_lossy(&o.stderr).contains("are hidden"));
    }
}
