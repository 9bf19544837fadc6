//! Hostile input: every entry of the catalogue in `testdata/hostile` (its README.md says what
//! each file is and what we promise) gets its finding, fast, and the other files of the same
//! run are still linted. Entries too big or too special to commit (deep nesting, multi-megabyte
//! files, document streams, a FIFO, symlinks) are generated here, into the same directory.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{BIN, job, run_in};
const HOSTILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/hostile");

/// What the run must show for one catalogue entry.
enum Expect {
    /// A concise line starting with `file:line:col: severity[rule]` and containing the text.
    Finding(&'static str, &'static str),
    /// A `limit-exceeded` finding at `file:line:col`, containing the text.
    Limit(&'static str, &'static str),
    /// Exactly this many concise lines start with this.
    Times(usize, &'static str),
    /// A note on stderr for the file, containing the text.
    Note(&'static str),
    /// No finding and no note mentions the file.
    Quiet,
}

use Expect::*;

/// Every entry, committed or generated, and what the run must show for it. An entry may have
/// several rows.
fn catalogue() -> Vec<(&'static str, Expect)> {
    vec![
        // Committed: testdata/hostile.
        (
            "neighbour.yaml",
            Finding(
                "neighbour.yaml:7:17: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 3)",
            ),
        ),
        (
            "alias-bomb.yaml",
            Limit("alias-bomb.yaml:14:11", "alias bomb"),
        ),
        (
            "binary.yaml",
            Finding(
                "binary.yaml:1:1: error[yaml-syntax]",
                "binary file: NUL byte at offset 4",
            ),
        ),
        (
            "latin1.yaml",
            Finding("latin1.yaml:2:21: error[yaml-syntax]", "invalid UTF-8"),
        ),
        (
            "utf16.yaml",
            Finding("utf16.yaml:1:1: error[yaml-syntax]", "UTF-16"),
        ),
        (
            "utf16le-bom.yaml",
            Finding("utf16le-bom.yaml:1:1: error[yaml-syntax]", "UTF-16"),
        ),
        (
            "utf16be-bom.yaml",
            Finding("utf16be-bom.yaml:1:1: error[yaml-syntax]", "UTF-16"),
        ),
        (
            "utf8-bom.yaml",
            Finding(
                "utf8-bom.yaml:7:17: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 2)",
            ),
        ),
        (
            "crlf.yaml",
            Finding(
                "crlf.yaml:7:17: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 2)",
            ),
        ),
        (
            "lone-cr-job.yaml",
            Finding(
                "lone-cr-job.yaml:7:17: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 2)",
            ),
        ),
        ("lone-cr.yaml", Quiet),
        (
            "tabs.yaml",
            Finding("tabs.yaml:3:1: error[yaml-syntax]", ""),
        ),
        ("tab-in-value.yaml", Quiet),
        // Gap: kubectl accepts a tab after the colon and reads backoffLimit: 2.
        (
            "tab-after-colon.yaml",
            Finding("tab-after-colon.yaml:7:17: error[yaml-syntax]", ""),
        ),
        (
            "duplicate.yaml",
            Finding(
                "duplicate.yaml:2:1: error[yaml-syntax]",
                "duplicate key `kind`",
            ),
        ),
        (
            "yaml11-octal.yaml",
            Finding(
                "yaml11-octal.yaml:8:17: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 493)",
            ),
        ),
        (
            "yaml11-on.yaml",
            Finding("yaml11-on.yaml:12:22: error[schema-invalid]", "boolean"),
        ),
        (
            "yaml11-annotation-on.yaml",
            Finding(
                "yaml11-annotation-on.yaml:7:52: error[schema-invalid]",
                "boolean",
            ),
        ),
        (
            "merge-keys.yaml",
            Finding(
                "merge-keys.yaml:22:19: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 4)",
            ),
        ),
        // The sequence merge, where the earlier map (backoffLimit: 0) wins: nothing else.
        ("merge-keys.yaml", Times(1, "merge-keys.yaml:")),
        // Gap: kubectl (go-yaml v2) reads backoffLimit: 9 here; we keep the explicit 0. When
        // this is fixed, expect `merge-key-order.yaml:11:21: warning[job-backoff-limit-nonzero]`.
        ("merge-key-order.yaml", Quiet),
        (
            "shared-anchors.yaml",
            Times(
                2,
                "shared-anchors.yaml:12:19: warning[job-backoff-limit-nonzero]",
            ),
        ),
        (
            "cross-document-alias.yaml",
            Finding("cross-document-alias.yaml:7:34: error[yaml-syntax]", ""),
        ),
        (
            "list.yaml",
            Finding(
                "list.yaml:10:19: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 1)",
            ),
        ),
        ("list-nested.yaml", Quiet),
        ("empty.yaml", Quiet),
        // Gap: kubectl refuses the lone `...` document.
        ("only-dashes.yaml", Quiet),
        ("comment-only.yaml", Quiet),
        (
            "empty-docs-then-job.yaml",
            Finding(
                "empty-docs-then-job.yaml:9:17: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 2)",
            ),
        ),
        (
            "json-manifest.yaml",
            Finding(
                "json-manifest.yaml:6:21: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 3)",
            ),
        ),
        ("manifest.json", Quiet),
        (
            "keys-not-strings.yaml",
            Finding(
                "keys-not-strings.yaml:5:5: error[schema-invalid]",
                "mapping keys must be strings",
            ),
        ),
        ("keys-scalars.yaml", Quiet),
        // Gap: kubectl refuses a null key.
        ("keys-null.yaml", Quiet),
        ("helm.yaml", Note("Helm template skipped")),
        ("chart/templates/job.yaml", Note("Helm template skipped")),
        (
            "chart/templates/plain-job.yaml",
            Finding(
                "chart/templates/plain-job.yaml:7:17: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 6)",
            ),
        ),
        ("chart/Chart.yaml", Quiet),
        ("braces-not-helm.yaml", Quiet),
        // Generated below.
        ("deep-flow.yaml", Finding("deep-flow.yaml:1:", "")),
        ("deep-flow-map.yaml", Finding("deep-flow-map.yaml:1:", "")),
        (
            "deep-block.yaml",
            Limit(
                "deep-block.yaml:257:513",
                "YAML nesting is deeper than 256 levels",
            ),
        ),
        (
            "deep-seq.yaml",
            Limit(
                "deep-seq.yaml:1:513",
                "YAML nesting is deeper than 256 levels",
            ),
        ),
        (
            "deep-qkey.yaml",
            Limit(
                "deep-qkey.yaml:1:513",
                "YAML nesting is deeper than 256 levels",
            ),
        ),
        (
            "huge.yaml",
            Limit("huge.yaml:1:1", "over the 10485760 byte limit"),
        ),
        (
            "many-docs.yaml",
            Limit("many-docs.yaml:40006:1", "more than 10000 YAML documents"),
        ),
        // The first 10,000 documents of many-docs.yaml are linted: its 10,000th is a Job.
        (
            "many-docs.yaml",
            Finding(
                "many-docs.yaml:40004:17: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 2)",
            ),
        ),
        (
            "docs-10000.yaml",
            Finding(
                "docs-10000.yaml:40004:17: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 2)",
            ),
        ),
        ("pipe.yaml", Note("not a regular file, skipped")),
        ("loop", Quiet),
        ("loop-a.yaml", Note("broken symlink skipped")),
        ("loop-b.yaml", Note("broken symlink skipped")),
        ("dangling.yaml", Note("broken symlink skipped")),
        (
            "outside-link.yaml",
            Note("symlink to a file outside the linted paths, skipped"),
        ),
        (
            "inside-link.yaml",
            Finding(
                "inside-link.yaml:7:17: warning[job-backoff-limit-nonzero]",
                "(backoffLimit: 3)",
            ),
        ),
    ]
}

/// `n` four-line ConfigMap documents, then (if given) a Job document: its backoffLimit is on
/// line `4 * n + 8` (each document starts with `---`).
fn stream(n: usize, last_job: Option<&str>) -> String {
    let mut s: String = (0..n)
        .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"))
        .collect();
    if let Some(name) = last_job {
        s.push_str("---\n");
        s.push_str(&job(name, 2));
    }
    s
}

/// The generated entries: (relative path, contents).
fn generated() -> Vec<(&'static str, Vec<u8>)> {
    let mut many = stream(9_999, Some("tenth-thousand"));
    many.push_str(&stream(1, None));
    vec![
        (
            "deep-flow.yaml",
            format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        ),
        (
            "deep-flow-map.yaml",
            format!("a: {}b{}\n", "{a: ".repeat(100_000), "}".repeat(100_000)).into_bytes(),
        ),
        (
            "deep-block.yaml",
            (0..3000)
                .map(|i| format!("{}k:\n", "  ".repeat(i)))
                .collect::<String>()
                .into_bytes(),
        ),
        (
            "deep-seq.yaml",
            format!("{}x\n", "- ".repeat(100_000)).into_bytes(),
        ),
        (
            "deep-qkey.yaml",
            format!("{}x\n", "? ".repeat(100_000)).into_bytes(),
        ),
        (
            "huge.yaml",
            format!("# {}\n", "x".repeat(11 * 1024 * 1024)).into_bytes(),
        ),
        // 10,001 documents: 9,999 ConfigMaps, a Job (backoffLimit on line 40004), and the
        // 10,001st from line 40006.
        ("many-docs.yaml", many.into_bytes()),
        ("docs-10000.yaml", stream(9_999, Some("last")).into_bytes()),
    ]
}

/// Generated with symlink and mkfifo, on Unix only.
const UNIX_ONLY: &[&str] = &[
    "pipe.yaml",
    "loop",
    "loop-a.yaml",
    "loop-b.yaml",
    "dangling.yaml",
    "outside-link.yaml",
    "inside-link.yaml",
];

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Relative paths of the committed entries (not the README and .gitattributes).
fn committed(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            committed(&entry.path(), &format!("{name}/"), out);
        } else if name != "README.md" && name != ".gitattributes" {
            out.push(name);
        }
    }
}

/// Whether an output line is about this file (a finding, its related location, or a note).
fn mentions(line: &str, file: &str) -> bool {
    let t = line.trim_start();
    t.starts_with(&format!("{file}:"))
        || t.strip_prefix("note: ")
            .or(t.strip_prefix("error: "))
            .is_some_and(|rest| rest.starts_with(&format!("{file}:")))
}

#[test]
fn every_committed_entry_is_in_the_catalogue_and_its_readme() {
    let mut files = Vec::new();
    committed(Path::new(HOSTILE), "", &mut files);
    let readme = std::fs::read_to_string(Path::new(HOSTILE).join("README.md")).unwrap();
    let cat = catalogue();
    for f in &files {
        assert!(
            cat.iter().any(|(name, _)| name == f),
            "{f} is in testdata/hostile but not in the catalogue of tests/it/hostile.rs"
        );
    }
    for (name, _) in &cat {
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} has no row in testdata/hostile/README.md"
        );
    }
    // Nothing big is committed: big entries are generated.
    for f in &files {
        let len = std::fs::metadata(Path::new(HOSTILE).join(f)).unwrap().len();
        assert!(len < 100 * 1024, "{f} is {len} bytes; generate it instead");
    }
}

#[test]
fn every_hostile_entry_gets_its_finding_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_tree(Path::new(HOSTILE), d);
    for (name, bytes) in generated() {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    std::fs::write(outside.path().join("job.yaml"), job("outside", 5)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(".", d.join("loop")).unwrap();
        symlink("loop-b.yaml", d.join("loop-a.yaml")).unwrap();
        symlink("loop-a.yaml", d.join("loop-b.yaml")).unwrap();
        symlink("missing.yaml", d.join("dangling.yaml")).unwrap();
        symlink(outside.path().join("job.yaml"), d.join("outside-link.yaml")).unwrap();
        symlink("neighbour.yaml", d.join("inside-link.yaml")).unwrap();
        let fifo = Command::new("mkfifo").arg(d.join("pipe.yaml")).status();
        assert!(fifo.is_ok_and(|s| s.success()), "mkfifo failed");
    }

    let (o, elapsed) = run_in(d, &[".", "--format", "concise", "--no-config"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let all = format!("{stdout}{stderr}");
    assert_eq!(o.status.code(), Some(1), "{all}");
    // No phase failed on a bug (a caught panic is an `internal-error` finding or an
    // `internal error` line, an escaped one a crash report; both say "this is a bug").
    assert!(
        !all.contains("this is a bug")
            && !all.contains("internal-error")
            && !all.contains("internal error"),
        "{all}"
    );

    let finding_lines: Vec<&str> = stdout.lines().filter(|l| !l.contains(": note: ")).collect();
    for (file, expect) in catalogue() {
        if cfg!(not(unix)) && UNIX_ONLY.contains(&file) {
            continue;
        }
        match expect {
            Finding(prefix, text) => assert!(
                finding_lines
                    .iter()
                    .any(|l| l.starts_with(prefix) && l.contains(text)),
                "{file}: expected a line starting with `{prefix}` containing `{text}` in\n{all}"
            ),
            Limit(at, text) => assert!(
                finding_lines
                    .iter()
                    .any(|l| l.starts_with(&format!("{at}: error[limit-exceeded]"))
                        && l.contains(text)),
                "{file}: expected a limit finding at `{at}` saying `{text}` in\n{all}"
            ),
            Times(n, prefix) => assert_eq!(
                finding_lines
                    .iter()
                    .filter(|l| l.starts_with(prefix))
                    .count(),
                n,
                "{file}: expected {n} lines starting with `{prefix}` in\n{all}"
            ),
            Note(text) => assert!(
                stderr
                    .lines()
                    .any(|l| l.starts_with(&format!("note: {file}: ")) && l.contains(text)),
                "{file}: expected a note containing `{text}` in\n{stderr}"
            ),
            Quiet => assert!(
                !all.lines().any(|l| mentions(l, file)),
                "{file}: expected no finding and no note in\n{all}"
            ),
        }
    }
    // The duplicate key's first occurrence is the related location.
    assert!(
        stdout
            .lines()
            .any(|l| l == "duplicate.yaml:1:1: note: first defined here"),
        "{stdout}"
    );
    // What lies outside is never read, whichever way it is reached.
    assert!(!all.contains("outside-migration"), "{all}");
    assert!(!all.contains("5 times"), "{all}");
    // A `.json` file is not a manifest.
    assert!(!all.contains("dot-json-migration"), "{all}");
    // Not a timing assertion on speed, a guard against hangs (a libyaml-style parser takes
    // minutes on the 100k-deep files).
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

/// 50 MiB of valid YAML: about 6,000 ConfigMaps of 40 keys, then a Job. Returns the text and
/// the line of the Job's `backoffLimit`.
fn fifty_mib() -> (String, usize) {
    let value = "v".repeat(200);
    let mut text = String::with_capacity(51 * 1024 * 1024);
    let mut lines = 0;
    let mut i = 0;
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-{i}\ndata:\n"
        ));
        for k in 0..40 {
            text.push_str(&format!("  key{k}: {value}\n"));
        }
        lines += 6 + 40;
        i += 1;
    }
    text.push_str("---\n");
    text.push_str(&job("after-fifty-mib", 2));
    (text, lines + 1 + 7)
}

#[test]
fn a_50_mib_file_is_refused_by_default_and_linted_when_the_limit_allows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (text, backoff_line) = fifty_mib();
    assert!(text.len() > 50 * 1024 * 1024 && text.len() < 60_000_000);
    std::fs::write(d.join("big.yaml"), text).unwrap();
    std::fs::copy(
        Path::new(HOSTILE).join("neighbour.yaml"),
        d.join("neighbour.yaml"),
    )
    .unwrap();
    let neighbour = "neighbour.yaml:7:17: warning[job-backoff-limit-nonzero]";

    let (o, elapsed) = run_in(d, &[".", "--format", "concise", "--no-config"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("big.yaml:1:1: error[limit-exceeded]")
                && l.contains("over the 10485760 byte limit")),
        "{out}"
    );
    assert!(out.contains(neighbour), "{out}");
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");

    let (o, elapsed) = run_in(
        d,
        &[
            ".",
            "--format",
            "concise",
            "--no-config",
            "--max-file-size",
            "60000000",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(!out.contains("byte limit"), "{out}");
    let want = format!("big.yaml:{backoff_line}:17: warning[job-backoff-limit-nonzero]");
    assert!(out.contains(&want), "expected `{want}` in\n{out}");
    assert!(out.contains(neighbour), "{out}");
    // A hang guard: about 5 s in a release build on a busy 2-core machine.
    assert!(elapsed < Duration::from_secs(120), "took {elapsed:?}");
}

/// A mapping with 200,000 keys (2.4 MB, well under the size limit). Comparing each key with
/// every earlier one to find duplicates took over 15 minutes; an index by key takes well
/// under a second. (A hang guard, not a speed assertion.)
#[test]
fn a_wide_mapping_is_not_a_denial_of_service() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: wide}\ndata:\n");
    for i in 0..200_000 {
        text.push_str(&format!("  k{i}: v\n"));
    }
    text.push_str("  k7: again\n");
    std::fs::write(d.join("wide.yaml"), text).unwrap();
    let (o, elapsed) = run_in(d, &[".", "--format", "concise", "--no-config"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("wide.yaml:200005:3: error[yaml-syntax]") && out.contains("duplicate key"),
        "{out}"
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_an_error_and_the_rest_is_linted() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("unreadable.yaml"), job("unreadable", 4)).unwrap();
    std::fs::copy(
        Path::new(HOSTILE).join("neighbour.yaml"),
        d.join("neighbour.yaml"),
    )
    .unwrap();
    std::fs::set_permissions(d.join("unreadable.yaml"), PermissionsExt::from_mode(0o000)).unwrap();
    let args = [".", "--format", "concise", "--no-config"];
    let o = if std::fs::read(d.join("unreadable.yaml")).is_err() {
        run_in(d, &args).0
    } else {
        // Root reads anything: run the linter as `nobody` instead, if setpriv can.
        std::fs::set_permissions(d, PermissionsExt::from_mode(0o755)).unwrap();
        let o = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(args)
            .current_dir(d)
            .output();
        match o {
            Ok(o) if !String::from_utf8_lossy(&o.stderr).contains("setpriv:") => o,
            _ => {
                eprintln!(
                    "SKIPPED an_unreadable_file_is_an_error_and_the_rest_is_linted: running as root, and setpriv cannot drop to nobody"
                );
                return;
            }
        }
    };
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("unreadable.yaml: permission denied"),
        "{stderr}"
    );
    assert!(
        stdout.contains("neighbour.yaml:7:17: warning[job-backoff-limit-nonzero]"),
        "{stdout}"
    );
    assert!(!stdout.contains("unreadable.yaml"), "{stdout}");
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
    std::fs::write(dir.path().join("neighbour.yaml"), job("neighbour", 3)).unwrap();
    // Named explicitly: an error, exit 2, and the neighbour still linted.
    let o = Command::new(BIN)
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
    let o = Command::new(BIN)
        .args([dir.path().to_str().unwrap(), "--format", "concise"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a regular file"));
}
