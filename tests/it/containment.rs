//! Containment: the linter reads only the files it was given, fetches nothing, and never
//! prints a secret it read, whatever the output.

use std::net::TcpListener;
use std::path::Path;

use std::time::Duration;

use crate::support::{job, run_in as run, text};

/// A kustomization whose resources lie outside the linted directory (a relative `../`, an
/// absolute path, a symlinked file and a symlinked directory) or on the network (a GitHub URL,
/// a go-getter style path, and a URL of a local port we watch): none of it is read or fetched,
/// the run says so on stderr, and the inside is linted as usual.
#[test]
fn kustomize_resources_outside_the_root_or_remote_are_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for dir in ["outside", "absolute", "repo/app"] {
        std::fs::create_dir_all(t.join(dir)).unwrap();
    }
    // The outside Jobs would each be a finding ("retries up to 5 times") if they were read.
    std::fs::write(t.join("outside/job.yaml"), job("outside", 5)).unwrap();
    std::fs::write(
        t.join("outside/kustomization.yaml"),
        "resources: [job.yaml]\n",
    )
    .unwrap();
    std::fs::write(t.join("absolute/job.yaml"), job("absolute", 5)).unwrap();
    // Anything that connects to this port is a network attempt.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let absolute = t.join("absolute/job.yaml");
    let kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../outside\n  - ../../outside/job.yaml\n  - {}\n  - https://github.com/example/repo//deploy?ref=v1.0.0\n  - github.com/example/other/deploy?ref=main\n  - http://127.0.0.1:{port}/org/repo//deploy?ref=v1\n  - linked-file.yaml\n  - linked-dir\n  - job.yaml\n",
        absolute.display()
    );
    std::fs::write(t.join("repo/app/kustomization.yaml"), kustomization).unwrap();
    std::fs::write(t.join("repo/app/job.yaml"), job("inside", 1)).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(
            "../../outside/job.yaml",
            t.join("repo/app/linked-file.yaml"),
        )
        .unwrap();
        std::os::unix::fs::symlink("../../outside", t.join("repo/app/linked-dir")).unwrap();
    }
    let repo = t.join("repo");
    let inside = "app/job.yaml:7:17: warning[job-backoff-limit-nonzero]";

    for args in [
        // The directory, as CI runs it.
        &["app", "--format", "concise", "--no-config"][..],
        // Changed files, as pre-commit and editors run it.
        &["app/job.yaml", "--format", "concise", "--no-config"][..],
        &[
            "app/kustomization.yaml",
            "app/job.yaml",
            "--format",
            "concise",
            "--no-config",
        ][..],
        &[
            "app",
            "--format",
            "concise",
            "--no-config",
            "--context",
            "all",
        ][..],
    ] {
        let (o, elapsed) = run(&repo, args);
        let all = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}\n{all}");
        assert!(all.contains(inside), "{args:?}\n{all}");
        assert!(
            !all.contains("outside-migration") && !all.contains("absolute-migration"),
            "{args:?} read a file outside the linted directory:\n{all}"
        );
        assert!(!all.contains("5 times"), "{args:?}\n{all}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        for remote in [
            "https://github.com/example/repo//deploy?ref=v1.0.0".to_string(),
            "github.com/example/other/deploy?ref=main".to_string(),
            format!("http://127.0.0.1:{port}/org/repo//deploy?ref=v1"),
        ] {
            assert!(
                stderr
                    .lines()
                    .any(|l| l.contains(&remote) && l.contains("not fetched")),
                "{args:?}: no note for {remote}:\n{stderr}"
            );
        }
        let mut outside = vec!["`../../outside`", "`../../outside/job.yaml`"];
        if cfg!(unix) {
            outside.extend(["`linked-file.yaml`", "`linked-dir`"]);
        }
        let absolute_note = format!("`{}`", absolute.display());
        outside.push(&absolute_note);
        for local in outside {
            assert!(
                stderr
                    .lines()
                    .any(|l| l.contains(local) && l.contains("not among the linted files")),
                "{args:?}: no note for {local}:\n{stderr}"
            );
        }
        // A hang guard: the run touches no network, so it cannot wait for one.
        assert!(
            elapsed < Duration::from_secs(30),
            "{args:?} took {elapsed:?}"
        );
    }
    // Nothing connected to the watched port.
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the linter connected to a remote resource's URL: {other:?}"),
    }

    // In JSON: only the two inside files were read, and every diagnostic is inside.
    let (o, _) = run(&repo, &["app", "--format", "json", "--no-config"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["files"], 2, "{v}");
    for d in v["diagnostics"].as_array().unwrap() {
        assert!(d["file"].as_str().unwrap().starts_with("app/"), "{d}");
    }
}

/// A symlink to a file outside the linted directory is skipped with a note, and a symlinked
/// directory that leads outside is not walked.
#[cfg(unix)]
#[test]
fn symlinks_out_of_the_root_are_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    std::fs::create_dir_all(t.join("outside")).unwrap();
    std::fs::create_dir_all(t.join("root")).unwrap();
    std::fs::write(t.join("outside/job.yaml"), job("outside", 5)).unwrap();
    std::fs::write(t.join("root/job.yaml"), job("inside", 1)).unwrap();
    std::os::unix::fs::symlink(
        t.join("outside/job.yaml"),
        t.join("root/absolute-link.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../outside/job.yaml", t.join("root/relative-link.yaml")).unwrap();
    std::os::unix::fs::symlink("../outside", t.join("root/outside-dir")).unwrap();
    std::os::unix::fs::symlink("..", t.join("root/parent")).unwrap();
    let (o, elapsed) = run(t, &["root", "--format", "concise", "--no-config"]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(
        all.contains("root/job.yaml:7:17: warning[job-backoff-limit-nonzero]"),
        "{all}"
    );
    assert!(!all.contains("5 times"), "{all}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    for link in ["root/absolute-link.yaml", "root/relative-link.yaml"] {
        assert!(
            stderr.contains(&format!(
                "note: {link}: symlink to a file outside the linted paths, skipped"
            )),
            "{stderr}"
        );
    }
    assert!(!all.contains("outside-dir/"), "{all}");
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}

const B64_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64_ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const DB_PASSWORD: &str = "S3cr3tPl4nted";
const API_TOKEN: &str = "tok-Pl4ntedT0ken-9f8e7d";
const STRING_DATA_TOKEN: &str = "Pl4ntedStringDataT0ken";
const DATA_PASSWORD: &str = "Pl4ntedB64Secret!";
const TYPED_WRONG_PASSWORD: &str = "Pl4ntedNextToAnInt";

/// Manifests with planted secrets, each on a line that has findings of its own (the secret's,
/// a wrong type beside it) or next to lines that fixes rewrite.
fn secret_tree(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources: [job.yaml, typed-wrong.yaml, secret.yaml]\n",
    )
    .unwrap();
    // No force annotation, OnFailure, backoffLimit 3: three fixes, the last two right after
    // the secrets, so a diff's context shows those lines.
    std::fs::write(
        dir.join("job.yaml"),
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: shop-migration-v1\nspec:\n  template:\n    spec:\n      containers:\n        - name: migrate\n          image: shop:v1\n          env:\n            - {{name: DATABASE_URL, value: \"postgres://user:{DB_PASSWORD}@db/x\"}}\n            - {{name: API_TOKEN, value: \"{API_TOKEN}\"}}\n      restartPolicy: OnFailure\n  backoffLimit: 3\n"
        ),
    )
    .unwrap();
    // A credential and a mistyped value on the very same line.
    std::fs::write(
        dir.join("typed-wrong.yaml"),
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: other-migration-v1\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: migrate\n          image: other:v1\n          env: [{{name: DATABASE_URL, value: \"postgres://admin:{TYPED_WRONG_PASSWORD}@db/y\"}}, {{name: PORT, value: 8080}}]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("secret.yaml"),
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData: {{token: \"{STRING_DATA_TOKEN}\", port: 5432}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: db2}}\ndata: {{password: {}, bad: 12}}\n",
            base64(DATA_PASSWORD.as_bytes())
        ),
    )
    .unwrap();
}

/// The strings no output may contain: each secret, and its base64.
fn planted() -> Vec<String> {
    let mut v = Vec::new();
    for s in [
        DB_PASSWORD,
        API_TOKEN,
        STRING_DATA_TOKEN,
        DATA_PASSWORD,
        TYPED_WRONG_PASSWORD,
    ] {
        v.push(s.to_string());
        v.push(base64(s.as_bytes()));
    }
    v
}

fn assert_no_secret(what: &str, out: &str) {
    for s in planted() {
        assert!(!out.contains(&s), "{what} shows `{s}`:\n{out}");
    }
}

#[test]
fn base64_helper_is_standard() {
    assert_eq!(base64(b"Pl4ntedB64Secret!"), "UGw0bnRlZEI2NFNlY3JldCE=");
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"abc"), "YWJj");
}

#[test]
fn planted_secrets_never_appear_in_any_output() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    secret_tree(&t.join("k8s"));
    let formats = [
        "human", "json", "concise", "gitlab", "junit", "sarif", "github",
    ];
    for format in formats {
        for color in ["never", "always"] {
            let (o, _) = run(
                t,
                &["k8s", "--no-config", "--format", format, "--color", color],
            );
            let all = text(&o);
            assert_eq!(o.status.code(), Some(1), "{format}\n{all}");
            // The secrets' own lines have findings, so this is not vacuous.
            assert!(all.contains("secret-in-plaintext"), "{format}\n{all}");
            assert!(all.contains("schema-invalid"), "{format}\n{all}");
            assert_no_secret(&format!("--format {format} --color {color}"), &all);
        }
    }
    // Every report written with --output, and a baseline.
    let outputs: Vec<String> = formats
        .iter()
        .map(|f| format!("{f}={}", t.join(format!("report.{f}")).display()))
        .collect();
    let mut args = vec!["k8s", "--no-config", "--format", "json"];
    for o in &outputs {
        args.extend(["--output", o.as_str()]);
    }
    let (o, _) = run(t, &args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_no_secret("--output", &text(&o));
    for f in formats {
        let report = std::fs::read_to_string(t.join(format!("report.{f}"))).unwrap();
        assert!(report.contains("secret-in-plaintext"), "{f}: {report}");
        assert_no_secret(&format!("--output {f}=…"), &report);
    }
    let baseline = t.join("baseline.json");
    let (o, _) = run(
        t,
        &[
            "k8s",
            "--no-config",
            "--write-baseline",
            baseline.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_no_secret("--write-baseline", &text(&o));
    assert_no_secret(
        "the baseline file",
        &std::fs::read_to_string(&baseline).unwrap(),
    );

    // Fixes: the diff's context lines are the secrets' lines.
    for extra in [&[][..], &["--unsafe-fixes"][..]] {
        let mut args = vec!["k8s", "--no-config", "--diff"];
        args.extend(extra);
        let (o, _) = run(t, &args);
        let all = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}\n{all}");
        assert!(all.contains("+++ b/k8s/job.yaml"), "{args:?}\n{all}");
        assert!(all.contains("DATABASE_URL"), "{args:?}\n{all}");
        assert_no_secret(&format!("{args:?}"), &all);
    }
    // --fix rewrites a copy (the file keeps its secrets; the report does not show them).
    secret_tree(&t.join("copy"));
    for format in ["human", "concise", "json"] {
        let (o, _) = run(
            t,
            &[
                "copy",
                "--no-config",
                "--fix",
                "--unsafe-fixes",
                "--format",
                format,
            ],
        );
        let all = text(&o);
        assert!(all.contains("secret-in-plaintext"), "--fix {format}\n{all}");
        assert_no_secret(&format!("--fix --format {format}"), &all);
    }
    let fixed = std::fs::read_to_string(t.join("copy/job.yaml")).unwrap();
    assert!(fixed.contains("backoffLimit: 0"), "{fixed}");
    assert!(
        fixed.contains(DB_PASSWORD),
        "--fix must not rewrite values: {fixed}"
    );

    // The rule pages.
    for rule in ["secret-in-plaintext", "schema-invalid"] {
        let (o, _) = run(t, &["explain", rule]);
        assert_eq!(o.status.code(), Some(0));
        assert_no_secret(&format!("explain {rule}"), &text(&o));
    }
}

/// A file that does not parse has no tree to tell secrets from other values, yet its snippet is
/// shown: its values are masked by their lines (`redact::textual_sensitive_spans`).
#[test]
fn secrets_in_files_that_do_not_parse_are_not_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let k = tmp.path().join("k8s");
    std::fs::create_dir_all(&k).unwrap();
    std::fs::write(
        k.join("duplicate.yaml"),
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s1}}\nstringData:\n  password: {DB_PASSWORD}\n  password: {API_TOKEN}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        k.join("tab.yaml"),
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s2}}\nstringData:\n  password: {STRING_DATA_TOKEN}\n\ttoken: x\n"
        ),
    )
    .unwrap();
    std::fs::write(
        k.join("unclosed.yaml"),
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: j-migration-v1}}\nspec:\n  template:\n    spec:\n      containers:\n        - env: [{{name: DATABASE_URL, value: \"postgres://u:{DATA_PASSWORD}@db/x\"\n"
        ),
    )
    .unwrap();
    let (o, _) = run(tmp.path(), &["k8s", "--no-config", "--color", "never"]);
    let all = text(&o);
    assert!(all.contains("yaml-syntax"), "{all}");
    assert_no_secret("a yaml-syntax snippet", &all);
}
