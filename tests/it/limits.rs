//! Input limits: each has a default, a config key under `limits:`, and a `limit-exceeded`
//! finding that names the key; hitting one skips that input and the run goes on.

use crate::support::{BIN, job, run_in, text};
use std::path::Path;
use std::process::{Command, Output};

/// Run in `dir` with the concise format; the output and stdout+stderr as text.
fn run(dir: &Path, args: &[&str]) -> (Output, String) {
    let args: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--format", "concise"])
        .collect();
    let (o, _) = run_in(dir, &args);
    let out = text(&o);
    (o, out)
}

/// `n` ConfigMaps in one stream.
fn stream(n: usize) -> String {
    (0..n)
        .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"))
        .collect()
}

fn nested(depth: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\ndata:\n  x: {}1{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[test]
fn every_limit_is_configurable_and_named_in_its_finding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("stream.yaml"), stream(6)).unwrap();
    std::fs::write(d.join("deep.yaml"), nested(40)).unwrap();
    std::fs::write(
        d.join("big.yaml"),
        format!("# {}\n{}", "x".repeat(3000), stream(1)),
    )
    .unwrap();
    std::fs::write(
        d.join("aliases.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  a: &a [x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n",
    )
    .unwrap();
    std::fs::write(d.join("neighbour.yaml"), job("neighbour", 3)).unwrap();

    // Defaults: all of these are ordinary files.
    let (_, out) = run(d, &["."]);
    assert!(!out.contains("limit-exceeded"), "{out}");
    assert!(
        out.contains("neighbour.yaml:7:17: warning[job-backoff-limit-nonzero]"),
        "{out}"
    );

    std::fs::write(
        d.join(".kube-migrate-lint.yaml"),
        "limits:\n  max-documents: 5\n  max-depth: 32\n  max-file-size: 2048\n  max-alias-expansion: 40\n",
    )
    .unwrap();
    let (o, out) = run(d, &["."]);
    assert_eq!(o.status.code(), Some(1), "{out}");
    for (file, pos, message) in [
        ("stream.yaml", "21:1", "more than 5 YAML documents"),
        ("deep.yaml", "5:", "deeper than 32 levels"),
        ("big.yaml", "1:1", "over the 2048 byte limit"),
        ("aliases.yaml", "6:", "more than 40 nodes"),
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{file}:")) && l.contains("limit-exceeded"))
            .unwrap_or_else(|| panic!("{file}: no limit-exceeded in\n{out}"));
        assert!(
            line.starts_with(&format!("{file}:{pos}")) && line.contains(message),
            "{file}: expected {pos} and `{message}` in {line}"
        );
    }
    // The documents before the limit are still read, the neighbour still linted.
    assert!(
        out.contains("neighbour.yaml:7:17: warning[job-backoff-limit-nonzero]"),
        "{out}"
    );

    // --max-file-size on the command line wins over the config.
    let (_, out) = run(d, &[".", "--max-file-size", "100000"]);
    assert!(!out.contains("big.yaml"), "{out}");

    // The help names the key that raises the limit (human format shows it).
    let o = Command::new(BIN)
        .current_dir(d)
        .args(["stream.yaml", "--color", "never"])
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&o.stdout);
    assert!(human.contains("limits.max-documents"), "{human}");
}

/// A chain of kustomizations each listing the next one twice renders 2^depth objects (kustomize
/// itself fails on the duplicates). The context is skipped with a finding, and the run ends.
#[test]
fn a_kustomization_that_multiplies_its_bases_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let depth = 40;
    for i in 0..=depth {
        let k = d.join(format!("k{i}"));
        std::fs::create_dir(&k).unwrap();
        let body = if i < depth {
            format!("resources:\n- ../k{n}\n- ../k{n}/\n", n = i + 1)
        } else {
            std::fs::write(
                k.join("cm.yaml"),
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            )
            .unwrap();
            "resources: [cm.yaml]\n".to_string()
        };
        std::fs::write(k.join("kustomization.yaml"), body).unwrap();
    }
    std::fs::write(d.join("k0/neighbour.yaml"), job("neighbour", 3)).unwrap();
    std::fs::write(
        d.join(".kube-migrate-lint.yaml"),
        "limits:\n  max-objects-per-context: 1000\n",
    )
    .unwrap();
    let (o, out) = run(d, &["."]);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("k0/kustomization.yaml:1:1: error[limit-exceeded]")
            && out.contains("renders more than 1000 objects"),
        "{out}"
    );
    // A short chain is under the limit: k35 renders 2^5 objects.
    assert!(!out.contains("k35/kustomization.yaml"), "{out}");
    // The neighbour is still judged: a migration Job k0's kustomization does not list, so it
    // is never applied (and not judged as if it were).
    assert!(
        out.contains("neighbour.yaml:4:9: warning[job-not-in-kustomization]")
            && !out.contains("warning[job-backoff-limit-nonzero]"),
        "{out}"
    );
}
