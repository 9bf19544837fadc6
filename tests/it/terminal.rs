//! What a person sees: the binary under a real pseudo-terminal (util-linux `script`), and shell
//! completion in a real bash.

use crate::support::BIN;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether a test that needs `tool` can run; in CI a missing tool fails the test.
fn require(tool: &str, test: &str) -> bool {
    if have(tool) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{tool} is required in CI for {test}"
    );
    eprintln!("SKIPPED {test}: {tool} is not installed");
    false
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Run the linter under a pseudo-terminal `cols` wide, in `dir`; everything the terminal
/// received, and the exit status. A run that does not end within two minutes is a hang.
fn in_terminal(dir: &Path, cols: u16, args: &[&str], env: &[(&str, &str)]) -> (String, i32) {
    let mut line = format!("stty cols {cols} rows 40; exec {}", quote(BIN));
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qefc", &line, "/dev/null"])
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    // Read as it comes: a full pipe would stop the terminal, and the run with it.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the run under a terminal did not end in 120 s (a hang): {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seen = reader.join().unwrap();
    (
        String::from_utf8_lossy(&seen).replace("\r\n", "\n"),
        status.code().unwrap_or(-1),
    )
}

/// A tree of `n` small migration Jobs missing `backoffLimit`, each in its own directory.
fn tree(root: &Path, n: usize) {
    for i in 0..n {
        let d = root.join(format!("svc{i:04}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("job.yaml"),
            format!(
                "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: svc{i}-migration-v1\n  annotations: {{kustomize.toolkit.fluxcd.io/force: enabled}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: m, image: \"svc{i}:v1\", command: [flyway, migrate]}}]\n"
            ),
        )
        .unwrap();
    }
}

const ERASE: &str = "\r\x1b[2K";
const PROGRESS: &str = "checking manifests:";

/// The run ends, the progress line is shown while it runs and erased before the report, and
/// the report is the one a pipe gets.
#[test]
fn a_long_run_on_a_terminal_ends_and_erases_its_progress_line() {
    if !require(
        "script",
        "a_long_run_on_a_terminal_ends_and_erases_its_progress_line",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    tree(&dir.path().join("tree"), 600);
    let args = [
        "tree",
        "--no-config",
        "--color",
        "never",
        "--format",
        "concise",
    ];
    // The line appears after 1 s in a release build; here at once, so the test need not be slow.
    let (seen, code) = in_terminal(
        dir.path(),
        120,
        &args,
        &[("KUBE_MIGRATE_LINT_PROGRESS_AFTER_MS", "0")],
    );
    assert_eq!(code, 1, "{seen}");
    assert!(
        seen.contains(PROGRESS),
        "no progress line was shown:\n{seen}"
    );
    let last_erase = seen.rfind(ERASE).unwrap();
    assert!(
        seen.rfind(PROGRESS).unwrap() < last_erase,
        "the progress line was not erased"
    );
    let report = &seen[last_erase + ERASE.len()..];
    let piped = Command::new(BIN)
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(report, String::from_utf8_lossy(&piped.stdout));
    assert_eq!(
        report.matches("job-backoff-limit-nonzero").count(),
        600,
        "{report}"
    );

    // --fix takes the same path through the progress line, and reports what it wrote after it.
    let (seen, code) = in_terminal(
        dir.path(),
        120,
        &["tree", "--no-config", "--fix"],
        &[("KUBE_MIGRATE_LINT_PROGRESS_AFTER_MS", "0")],
    );
    assert_eq!(code, 0, "{seen}");
    let last_erase = seen.rfind(ERASE).unwrap();
    assert!(seen[last_erase..].contains("fixed 600 finding(s) in 600 file(s)"));
    assert!(!seen[last_erase..].contains(PROGRESS));
}

/// The human report wraps its text to the terminal, and never inside a name.
#[test]
fn the_human_report_fits_the_terminal() {
    if !require("script", "the_human_report_fits_the_terminal") {
        return;
    }
    let example = std::fs::canonicalize("testdata/example").unwrap();
    let example = example.display().to_string();
    for cols in [60u16, 100, 140] {
        let (seen, code) = in_terminal(
            Path::new("."),
            cols,
            &[&example, "--no-config", "--color", "never"],
            &[],
        );
        assert_eq!(code, 1, "{seen}");
        // Message, help and summary lines (not quoted source, which is never wrapped).
        let prose: Vec<&str> = seen
            .lines()
            .filter(|l| l.trim_start().starts_with(['×', '│', 'h']) || l.starts_with("  "))
            .filter(|l| !l.contains(" │ ") && !l.contains('·') && !l.contains('╭'))
            .collect();
        assert!(!prose.is_empty());
        for l in &prose {
            assert!(
                l.chars().count() <= cols as usize,
                "{cols} columns, but {} are used: {l:?}",
                l.chars().count()
            );
        }
        let widest = prose.iter().map(|l| l.chars().count()).max().unwrap();
        assert!(
            widest > cols as usize - 25,
            "{cols} columns, but the text wraps at {widest}"
        );
        // `shop-migration-v1.2286938253.0` stays whole, however narrow the terminal.
        assert!(
            seen.contains("`shop-migration-v1.2286938253.0`"),
            "a name was broken across lines at {cols} columns:\n{seen}"
        );
    }
}

/// `rules` fits an 80-column terminal, with aligned columns.
#[test]
fn the_rules_table_fits_80_columns() {
    if !require("script", "the_rules_table_fits_80_columns") {
        return;
    }
    for cols in [80u16, 160] {
        let (seen, code) = in_terminal(Path::new("."), cols, &["rules"], &[]);
        assert_eq!(code, 0, "{seen}");
        let lines: Vec<&str> = seen.lines().collect();
        assert!(lines.len() > 30);
        for l in &lines {
            assert!(l.chars().count() <= cols as usize, "{cols}: {l:?}");
        }
        // Every rule row puts its severity in the same column as the header's.
        let at = lines[0].find("severity").unwrap();
        for l in lines.iter().filter(|l| !l.starts_with(' ')).skip(1) {
            assert!(
                ["error", "warning", "info"]
                    .iter()
                    .any(|s| l[at..].starts_with(s)),
                "{l:?}"
            );
            let cat = lines[0].find("category").unwrap();
            assert!(
                l[cat..].starts_with(|c: char| c.is_ascii_lowercase()),
                "{l:?}"
            );
        }
    }
}

/// What bash offers after `words` (the last one being completed), with the script sourced as
/// a user's bash-completion directory would.
fn bash_complete(script: &Path, words: &[&str]) -> Vec<String> {
    let words_q: Vec<String> = words.iter().map(|w| quote(w)).collect();
    let program = format!(
        r#"source {script}
spec=$(complete -p kube-migrate-lint) || exit 3
fn=$(sed -E 's/.* -F ([^ ]+) .*/\1/' <<<"$spec")
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$fn" kube-migrate-lint "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script = quote(&script.display().to_string()),
        words = words_q.join(" "),
    );
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn bash_completes_subcommands_their_flags_and_rule_names() {
    if !require(
        "bash",
        "bash_completes_subcommands_their_flags_and_rule_names",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("kube-migrate-lint.bash");
    let o = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(o.status.success());
    std::fs::write(&script, &o.stdout).unwrap();

    let got = |w: &[&str]| bash_complete(&script, w);
    assert_eq!(got(&["kube-migrate-lint", "ex"]), ["explain"]);
    assert!(got(&["kube-migrate-lint", "--fo"]).contains(&"--format".to_string()));
    // A subcommand's own flags (the hyphenated-binary bug left this empty).
    let rules = got(&["kube-migrate-lint", "rules", "--"]);
    assert!(rules.contains(&"--format".to_string()), "{rules:?}");
    let formats = got(&["kube-migrate-lint", "rules", "--format", "j"]);
    assert_eq!(formats, ["json", "junit"]);
    // Rule names after `explain` and `--select`.
    let names = got(&["kube-migrate-lint", "explain", "job-b"]);
    assert_eq!(names, ["job-backoff-limit-nonzero"]);
    let all = got(&["kube-migrate-lint", "explain", ""]);
    for r in kube_migrate_lint::rules::names() {
        assert!(all.contains(&r.to_string()), "{r} is not offered");
    }
    assert_eq!(
        got(&["kube-migrate-lint", "--select", "wait-target"]),
        ["wait-target-missing"]
    );
    let shells = got(&["kube-migrate-lint", "completions", "b"]);
    assert_eq!(shells, ["bash"]);
}
