//! `--fix`: before/after fixtures for every fixable rule, the rule pages' failing examples, and
//! the command line (atomic writes, `--diff`, stdin, files that must not be touched).
//!
//! `testdata/fixes/<case>/before/` is fixed with unsafe fixes included and compared byte for
//! byte with `after/` (a file absent there must be unchanged). Regenerate the `after/` trees
//! with `UPDATE_FIXES=1 cargo test fixes::` and review the diff.

use kube_migrate_lint::base::diagnostic::Applicability;
use kube_migrate_lint::engine::fix::{self, Options};
use kube_migrate_lint::engine::{Input, Settings};
use kube_migrate_lint::rules;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/fixes");

fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn inputs(files: &[(String, Vec<u8>)]) -> Vec<Input> {
    files
        .iter()
        .map(|(n, b)| Input::from_bytes(n.clone(), b.clone()))
        .collect()
}

fn fix_all(files: &[(String, Vec<u8>)]) -> fix::Outcome {
    fix::fix(
        inputs(files),
        &Settings::default(),
        Options { unsafe_fixes: true },
        &|_| true,
    )
}

#[test]
fn every_fix_fixture_gives_its_after_tree_and_a_second_fix_changes_nothing() {
    let update = std::env::var_os("UPDATE_FIXES").is_some();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(ROOT)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 12, "fixtures missing: {cases:?}");
    let mut fixed_rules = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let before = files_under(&case.join("before"));
        let outcome = fix_all(&before);
        for a in &outcome.applied {
            fixed_rules.insert(a.rule);
        }
        let after_dir = case.join("after");
        if update {
            let _ = std::fs::remove_dir_all(&after_dir);
            for c in &outcome.changed {
                let p = after_dir.join(&c.display);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, &c.after).unwrap();
            }
        }
        let expected = if after_dir.exists() {
            files_under(&after_dir)
        } else {
            Vec::new()
        };
        let got: Vec<(String, Vec<u8>)> = outcome
            .changed
            .iter()
            .map(|c| (c.display.clone(), c.after.clone().into_bytes()))
            .collect();
        if got != expected {
            problems.push(format!(
                "{name}: fixed files differ from after/ (changed: {:?})",
                got.iter().map(|g| &g.0).collect::<Vec<_>>()
            ));
            continue;
        }
        if name.ends_with("not-fixed") {
            if !outcome.changed.is_empty() {
                problems.push(format!("{name}: must stay unchanged"));
            }
            continue;
        }
        if outcome.applied.is_empty() || !outcome.rejected.is_empty() {
            problems.push(format!(
                "{name}: applied {:?}, rejected {:?}",
                outcome.applied, outcome.rejected
            ));
        }
        // Fixing the fixed tree changes nothing, and the fixed findings are gone.
        let mut fixed = before.clone();
        for (n, b) in fixed.iter_mut() {
            if let Some(c) = outcome.changed.iter().find(|c| &c.display == n) {
                *b = c.after.clone().into_bytes();
            }
        }
        let again = fix_all(&fixed);
        if !again.changed.is_empty() {
            problems.push(format!(
                "{name}: a second --fix changes {:?}",
                again.changed
            ));
        }
        for a in &outcome.applied {
            if again.report.diagnostics.iter().any(|d| {
                d.rule == a.rule
                    && d.fix.is_some()
                    && again.report.files[d.loc.file as usize].display == a.file
            }) {
                problems.push(format!("{name}: {} still offers a fix", a.rule));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    // Every fixable rule is exercised by some fixture.
    for m in rules::metas() {
        if m.fixable() {
            assert!(fixed_rules.contains(m.name), "no fixture fixes {}", m.name);
        }
    }
}

#[test]
fn every_fixable_rules_page_has_a_failing_example_that_fix_mends() {
    for m in rules::metas() {
        if !m.fixable() {
            continue;
        }
        let mended = kube_migrate_lint::rules::docs::examples(m.page)
            .into_iter()
            .filter(|e| e.fails)
            .any(|e| {
                let files: Vec<(String, Vec<u8>)> = e
                    .files
                    .iter()
                    .map(|(n, t)| (n.clone(), t.clone().into_bytes()))
                    .collect();
                let o = fix_all(&files);
                o.applied.iter().any(|a| a.rule == m.name)
                    && !o.report.diagnostics.iter().any(|d| d.rule == m.name)
            });
        assert!(
            mended,
            "rules/{}.md: no failing example is mended by --fix",
            m.name
        );
    }
}

#[test]
fn unsafe_fixes_wait_for_the_flag() {
    let before = files_under(&Path::new(ROOT).join("wait-mode-unsafe/before"));
    let o = fix::fix(
        inputs(&before),
        &Settings::default(),
        Options::default(),
        &|_| true,
    );
    assert!(o.changed.is_empty(), "{:?}", o.applied);
    assert_eq!(o.unsafe_available, 1);
    let o = fix_all(&before);
    assert_eq!(o.applied.len(), 1);
    assert_eq!(o.applied[0].applicability, Applicability::Unsafe);
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kube-migrate-lint"));
    c.env("NO_COLOR", "1").env_remove("CI");
    c
}

fn run_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = bin()
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn copy_case(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (n, b) in files_under(&Path::new(ROOT).join(case).join("before")) {
        let p = dir.path().join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b).unwrap();
    }
    dir
}

#[test]
fn diff_prints_and_writes_nothing_then_fix_writes_atomically_keeping_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = copy_case("backoff-limit-absent");
    let job = dir.path().join("job.yaml");
    std::fs::set_permissions(&job, std::fs::Permissions::from_mode(0o640)).unwrap();
    let before = std::fs::read(&job).unwrap();

    let out = run_in(dir.path(), &["--diff", "."], b"");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(diff.contains("--- a/job.yaml\n+++ b/job.yaml\n"), "{diff}");
    assert!(diff.contains("\n+  backoffLimit: 0\n"), "{diff}");
    assert_eq!(
        std::fs::read(&job).unwrap(),
        before,
        "--diff must not write"
    );

    let out = run_in(dir.path(), &["--fix", "--format", "concise", "."], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fixed 1 finding(s) in 1 file(s)"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let after = std::fs::read(&job).unwrap();
    let expected =
        std::fs::read(Path::new(ROOT).join("backoff-limit-absent/after/job.yaml")).unwrap();
    assert_eq!(after, expected);
    let mode = std::fs::metadata(&job).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "permissions kept");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let out = run_in(dir.path(), &["--diff", "."], b"");
    assert_eq!(out.status.code(), Some(0), "nothing left to fix: {out:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_file_that_does_not_parse_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: myapp-migration-v1\nspec:\n  backoffLimit: 3\n  template: {spec: {restartPolicy: Never, containers: [{name: m, image: a:1}]}}\nbad: [unclosed\n";
    std::fs::write(dir.path().join("job.yaml"), broken).unwrap();
    let out = run_in(dir.path(), &["--fix", "."], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("job.yaml")).unwrap(),
        broken
    );
}

#[test]
fn fix_follows_a_symlink_and_keeps_it_a_link() {
    let dir = copy_case("backoff-limit-absent");
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::rename(dir.path().join("job.yaml"), real.join("job.yaml")).unwrap();
    std::os::unix::fs::symlink("real/job.yaml", dir.path().join("job.yaml")).unwrap();
    let out = run_in(dir.path(), &["--fix", "job.yaml"], b"");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let link = std::fs::symlink_metadata(dir.path().join("job.yaml")).unwrap();
    assert!(link.file_type().is_symlink());
    assert!(
        std::fs::read_to_string(real.join("job.yaml"))
            .unwrap()
            .contains("backoffLimit: 0")
    );
}

#[test]
fn stdin_fix_prints_the_fixed_text_and_reports_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(Path::new(ROOT).join("backoff-limit-absent/before/job.yaml")).unwrap();
    let out = run_in(
        dir.path(),
        &[
            "--fix",
            "-",
            "--stdin-filename",
            "job.yaml",
            "--format",
            "concise",
        ],
        &text,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let expected =
        std::fs::read(Path::new(ROOT).join("backoff-limit-absent/after/job.yaml")).unwrap();
    assert_eq!(out.stdout, expected);
    assert!(
        !dir.path().join("job.yaml").exists(),
        "stdin is never written to disk"
    );
}
