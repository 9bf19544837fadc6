//! Hostile input: each nasty file gets its clear finding (or error), fast, and the other files
//! of the run are still linted. Files are generated here, not checked in (some are large).

use std::process::Command;
use std::time::{Duration, Instant};

const NEIGHBOUR: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: neighbour-migration-v1\n  annotations: {kustomize.toolkit.fluxcd.io/force: enabled}\nspec:\n  backoffLimit: 3\n  template: {spec: {restartPolicy: Never, containers: [{name: m, image: \"app:v1\"}]}}\n";

fn alias_bomb() -> String {
    let mut lines = vec!["a0: &a0 [x, x, x, x, x, x, x, x, x, x]".to_string()];
    for i in 1..10 {
        let p = format!("*a{}", i - 1);
        lines.push(format!("a{i}: &a{i} [{}]", vec![p; 10].join(", ")));
    }
    format!(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {{name: bomb}}\n  spec:\n    x:\n{}\n    containers: []\n",
        lines
            .iter()
            .map(|l| format!("      {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// (file name, contents, what the concise output must contain for it)
fn catalogue() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        (
            "alias-bomb.yaml",
            alias_bomb().into_bytes(),
            "alias-bomb.yaml:",
        ),
        (
            "deep-flow.yaml",
            format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            "deep-flow.yaml:1:",
        ),
        (
            "deep-block.yaml",
            (0..3000)
                .map(|i| format!("{}k:\n", "  ".repeat(i)))
                .collect::<String>()
                .into_bytes(),
            "YAML nesting is deeper than 256 levels",
        ),
        (
            "deep-seq.yaml",
            format!("{}x\n", "- ".repeat(50_000)).into_bytes(),
            "YAML nesting is deeper than 256 levels",
        ),
        (
            "huge.yaml",
            format!("# {}\n", "x".repeat(11 * 1024 * 1024)).into_bytes(),
            "over the 10485760 byte limit",
        ),
        (
            "binary.yaml",
            vec![0x89, b'P', b'N', b'G', 0, 0, 1, 2],
            "binary file",
        ),
        (
            "latin1.yaml",
            b"kind: ConfigMap\nmetadata: {name: caf\xe9}\n".to_vec(),
            "invalid UTF-8",
        ),
        ("utf16.yaml", vec![0xff, 0xfe, b'a', 0, b':', 0], "UTF-16"),
        (
            "tabs.yaml",
            b"kind: ConfigMap\nmetadata:\n\tname: x\n".to_vec(),
            "tabs.yaml:3:1: error[yaml-syntax]",
        ),
        (
            "duplicate.yaml",
            b"kind: ConfigMap\nkind: Secret\n".to_vec(),
            "duplicate key `kind`",
        ),
        (
            "many-docs.yaml",
            (0..10_001)
                .map(|i| {
                    format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n")
                })
                .collect::<String>()
                .into_bytes(),
            "more than 10000 YAML documents",
        ),
        (
            "keys-not-strings.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k}\ndata:\n  ? [a, b]\n  : c\n"
                .to_vec(),
            "mapping keys must be strings",
        ),
        (
            "helm.yaml",
            b"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-migrate\n"
                .to_vec(),
            "Helm template skipped",
        ),
    ]
}

#[test]
fn every_hostile_file_gets_its_finding_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, bytes, _) in catalogue() {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    std::fs::write(d.join("neighbour.yaml"), NEIGHBOUR).unwrap();
    // Quiet ones: no finding, no crash.
    std::fs::write(d.join("empty.yaml"), "").unwrap();
    std::fs::write(d.join("only-dashes.yaml"), "---\n---\n...\n").unwrap();
    std::fs::write(
        d.join("lone-cr.yaml"),
        "apiVersion: v1\rkind: ConfigMap\rmetadata: {name: cr}\r",
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(d, d.join("loop")).unwrap();

    let start = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_kube-migrate-lint"))
        .args([d.to_str().unwrap(), "--format", "concise", "--no-config"])
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        !out.contains("panicked") && !out.contains("internal-error"),
        "{out}"
    );
    for (name, _, expect) in catalogue() {
        assert!(
            out.lines().any(|l| l.contains(name) && l.contains(expect)),
            "{name}: expected `{expect}` in\n{out}"
        );
    }
    assert!(
        out.contains("neighbour.yaml:7:17: error[job-backoff-limit-nonzero]"),
        "{out}"
    );
    for quiet in ["empty.yaml", "only-dashes.yaml", "lone-cr.yaml"] {
        assert!(!out.contains(quiet), "{quiet}: {out}");
    }
    // Not a timing assertion on speed, a guard against hangs (a libyaml-style parser takes
    // minutes on the 100k-deep file).
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.yaml");
    let ok = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED a_fifo_is_never_opened: mkfifo unavailable");
        return;
    }
    std::fs::write(dir.path().join("neighbour.yaml"), NEIGHBOUR).unwrap();
    // Named explicitly: an error, exit 2, and the neighbour still linted.
    let o = Command::new(env!("CARGO_BIN_EXE_kube-migrate-lint"))
        .args([
            fifo.to_str().unwrap(),
            dir.path().join("neighbour.yaml").to_str().unwrap(),
            "--format",
            "concise",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a regular file"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("job-backoff-limit-nonzero"));
    // Found by the walk: skipped with a note.
    let o = Command::new(env!("CARGO_BIN_EXE_kube-migrate-lint"))
        .args([dir.path().to_str().unwrap(), "--format", "concise"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a regular file"));
}
