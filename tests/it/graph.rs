//! `kube-migrate-lint graph`: every fixture drawn in Mermaid and DOT (snapshotted), each drawing
//! checked by the real renderers — Graphviz's `dot -Tsvg` and Mermaid's own parser from npm —
//! and the JSON against its schema; names that need escaping; no secret in any format; and the
//! README's picture of the example's graph, produced here.
//!
//! `.ci/run` installs Graphviz (Debian's package) and Mermaid's parser (npm, into
//! `.ci/mermaid`); in CI (`CI` set) a missing tool fails, locally its test is skipped with a
//! message.

use kube_migrate_lint::app::graph::{GraphOptions, graph};
use kube_migrate_lint::output::graph::GraphFormat;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(paths: &[&Path], format: GraphFormat, builds: &[&str]) -> (i32, String, String) {
    let opts = GraphOptions {
        paths: paths.iter().map(|p| p.to_path_buf()).collect(),
        format,
        builds: builds.iter().map(PathBuf::from).collect(),
        config: None,
        no_config: false,
        exclude: Vec::new(),
        // Each fixture stands for a repository of its own (as in the fixture reports).
        repo_root: paths.first().map(|p| p.to_path_buf()),
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = graph(&opts, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn fixtures() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("testdata/fixtures")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 15, "fixtures went missing: {}", dirs.len());
    dirs
}

/// A tool the tests need: in CI its absence fails the test, locally it skips it.
fn required<T>(found: Option<T>, test: &str, what: &str) -> Option<T> {
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("{what} is required in CI (.ci/run installs it)");
        }
        eprintln!("SKIPPED {test}: {what} is not installed");
    }
    found
}

/// Graphviz's `dot`, when it runs.
fn dot() -> Option<PathBuf> {
    let ok = Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| PathBuf::from("dot"))
}

/// `.ci/mermaid-parse.mjs` placed next to the Mermaid and jsdom that `.ci/run` installs into
/// `.ci/mermaid` (or the script `MERMAID_PARSE` names), when node can run it.
fn mermaid_parser() -> Option<PathBuf> {
    let script = match std::env::var_os("MERMAID_PARSE") {
        Some(p) => PathBuf::from(p),
        None => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/mermaid");
            if !dir.join("node_modules/mermaid").is_dir()
                || !dir.join("node_modules/jsdom").is_dir()
            {
                return None;
            }
            let script = dir.join("parse.mjs");
            std::fs::copy(".ci/mermaid-parse.mjs", &script).ok()?;
            script
        }
    };
    let ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    (ok && script.is_file()).then_some(script)
}

/// Mermaid's verdict on each file: `ok FILE TYPE` or `error FILE: MESSAGE` lines.
fn mermaid_parse(script: &Path, files: &[PathBuf]) -> (bool, String) {
    let o = Command::new("node")
        .arg(script)
        .args(files)
        .output()
        .unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// `dot -Tsvg` on `text`: the SVG, or what Graphviz said (it warns on stderr about syntax it
/// recovers from, which counts as a failure here).
fn dot_svg(text: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.success() && err.trim().is_empty() {
        Ok(String::from_utf8(o.stdout).unwrap())
    } else {
        Err(err)
    }
}

/// Each fixture's graph in Mermaid and DOT, one snapshot per fixture; and its JSON, valid
/// against the checked-in schema, every edge between nodes of its build.
#[test]
fn fixture_graphs() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("schema/graph-output-v1.schema.json").unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut seen = 0;
    insta::glob!("../../testdata/fixtures", "*", |path| {
        let Some((name, dir)) = crate::support::fixture(path) else {
            return;
        };
        seen += 1;
        let dir = PathBuf::from(dir);
        let (code, mermaid, err) = run(&[&dir], GraphFormat::Mermaid, &[]);
        let (dot_code, dot, dot_err) = run(&[&dir], GraphFormat::Dot, &[]);
        let (json_code, json, _) = run(&[&dir], GraphFormat::Json, &[]);
        assert_eq!((code, &err), (dot_code, &dot_err), "{name}");
        assert_eq!(code, json_code, "{name}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}\n{json}");
        for b in v["builds"].as_array().unwrap() {
            let ids: Vec<&str> = b["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap())
                .collect();
            for e in b["edges"].as_array().unwrap() {
                for end in ["from", "to"] {
                    assert!(ids.contains(&e[end].as_str().unwrap()), "{name}: {e}");
                }
            }
        }
        insta::assert_snapshot!(
            "graph",
            format!("exit: {code}\n--- stderr\n{err}--- mermaid\n{mermaid}--- dot\n{dot}")
        );
    });
    assert!(seen >= 15, "fixtures went missing: {seen}");
}

/// A broken link is drawn red and dashed, labelled with its rule, in both formats; the JSON
/// says which rule broke it.
#[test]
fn broken_links_are_red_dashed_and_named() {
    let dir = Path::new("testdata/fixtures/rbac-missing");
    let (_, dot, _) = run(&[dir], GraphFormat::Dot, &[]);
    let red = dot
        .lines()
        .find(|l| l.contains("rbac-job-read-missing"))
        .unwrap_or_else(|| panic!("{dot}"));
    assert!(red.contains("->"), "{red}");
    assert!(
        red.contains("color=red") && red.contains("style=dashed"),
        "{red}"
    );
    let (_, mermaid, _) = run(&[dir], GraphFormat::Mermaid, &[]);
    let (i, line) = mermaid
        .lines()
        .filter(|l| l.contains("-->") || l.contains("-.->"))
        .enumerate()
        .find(|(_, l)| l.contains("rbac-job-read-missing"))
        .unwrap_or_else(|| panic!("{mermaid}"));
    assert!(line.contains("-.->"), "{line}");
    let style = mermaid
        .lines()
        .find(|l| l.trim_start().starts_with("linkStyle"))
        .unwrap_or_else(|| panic!("{mermaid}"));
    assert!(
        style
            .split_whitespace()
            .nth(1)
            .unwrap()
            .split(',')
            .any(|n| n == i.to_string()),
        "edge {i} is not styled: {style}"
    );
    assert!(style.contains("stroke:#d00"), "{style}");
    // Links nothing is wrong with stay solid.
    let ok = Path::new("testdata/fixtures/pattern-ok");
    let (code, dot, _) = run(&[ok], GraphFormat::Dot, &[]);
    assert_eq!(code, 0);
    assert!(dot.contains("waits-for (k8s-wait-for job-wr)"), "{dot}");
    assert!(!dot.contains("color=red"), "{dot}");
    let (_, json, _) = run(&[dir], GraphFormat::Json, &[]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let broken: Vec<&serde_json::Value> = v["builds"][0]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["broken"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(broken.len(), 1, "{json}");
    assert_eq!(broken[0]["kind"], "runs-as");
    assert_eq!(broken[0]["broken"][0], "rbac-job-read-missing");
}

#[test]
fn graphviz_draws_every_fixture() {
    let Some(_) = required(dot(), "graphviz_draws_every_fixture", "Graphviz (dot)") else {
        return;
    };
    for dir in fixtures() {
        let (_, text, _) = run(&[&dir], GraphFormat::Dot, &[]);
        let svg = dot_svg(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", dir.display()));
        assert!(svg.contains("<svg"), "{}", dir.display());
    }
}

#[test]
fn mermaids_parser_reads_every_fixture() {
    let Some(script) = required(
        mermaid_parser(),
        "mermaids_parser_reads_every_fixture",
        "Mermaid's parser (npm install mermaid jsdom into .ci/mermaid)",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for dir in fixtures() {
        let (_, text, _) = run(&[&dir], GraphFormat::Mermaid, &[]);
        let f = tmp.path().join(format!(
            "{}.mmd",
            dir.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&f, text).unwrap();
        files.push(f);
    }
    // The parser can fail: a broken drawing is refused.
    let bad = tmp.path().join("zz-broken.mmd");
    std::fs::write(&bad, "flowchart LR\n  n0[\"a\"b\"] --> n1\n").unwrap();
    let (ok, said) = mermaid_parse(&script, &files);
    assert!(ok, "{said}");
    assert_eq!(
        said.lines().filter(|l| l.starts_with("ok ")).count(),
        files.len()
    );
    assert!(said.lines().all(|l| l.ends_with("flowchart-v2")), "{said}");
    let (ok, said) = mermaid_parse(&script, &[bad]);
    assert!(!ok && said.contains("error"), "{said}");
}

/// A build directory and a wait target with quotes, brackets, braces, pipes, `#`, `;`, `<`,
/// backticks, a backslash and non-ASCII characters: both renderers read the drawing, and the JSON keeps
/// the names exactly.
#[test]
fn names_that_need_escaping() {
    let tmp = tempfile::tempdir().unwrap();
    let build = "we\"ird [dir] {x} | #1; ü☃";
    let target = "mig\"ration[1]|{v}#2;<b>`ü`\\x";
    let root = tmp.path().join(build);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - app.yaml\n  - job.yaml\n",
    )
    .unwrap();
    std::fs::write(
        root.join("job.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: app-migration-v1\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: migrate\n          image: app-migration:v1\n",
    )
    .unwrap();
    let quoted = serde_json::to_string(target).unwrap();
    std::fs::write(
        root.join("app.yaml"),
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, {quoted}]\n      containers:\n        - name: app\n          image: app:v1\n"),
    )
    .unwrap();
    let (code, json, err) = run(&[&root], GraphFormat::Json, &[]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let b = &v["builds"][0];
    assert!(b["name"].as_str().unwrap().ends_with(build), "{json}");
    assert!(
        b["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == target && n["defined"] == false),
        "{json}"
    );
    let (_, mermaid, _) = run(&[&root], GraphFormat::Mermaid, &[]);
    let (_, dot_text, _) = run(&[&root], GraphFormat::Dot, &[]);
    // Nothing of the names is left raw where it would end a string or a label (entity codes
    // such as `#34;` stand for them; `<br/>` breaks lines).
    for line in mermaid.lines().filter(|l| l.contains("[\"")) {
        let inner = &line[line.find("[\"").unwrap() + 2..line.rfind("\"]").unwrap()];
        assert!(
            !inner.contains(['"', '[', ']', '|', '{', '}', '`']),
            "{line}"
        );
    }
    assert!(
        dot_text.contains("we\\\"ird [dir] {x} | #1; ü☃")
            && dot_text.contains("mig\\\"ration[1]|{v}#2;<b>`ü`\\\\x"),
        "{dot_text}"
    );
    if required(dot(), "names_that_need_escaping (dot)", "Graphviz (dot)").is_some() {
        let svg = dot_svg(&dot_text).unwrap_or_else(|e| panic!("{e}\n{dot_text}"));
        // Graphviz read the label back as written: the names are in the SVG, XML-escaped.
        assert!(
            svg.contains("mig&quot;ration[1]|{v}#2;&lt;b&gt;`ü`\\x"),
            "{svg}"
        );
        assert!(svg.contains("we&quot;ird [dir] {x} | #1; ü☃"), "{svg}");
    }
    if let Some(script) = required(
        mermaid_parser(),
        "names_that_need_escaping (mermaid)",
        "Mermaid's parser",
    ) {
        let f = tmp.path().join("weird.mmd");
        std::fs::write(&f, &mermaid).unwrap();
        let (ok, said) = mermaid_parse(&script, &[f]);
        assert!(ok, "{said}\n{mermaid}");
    }
}

/// Secret values never reach a drawing: only the names of the Secrets and keys.
#[test]
fn no_secret_value_in_any_format() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("k8s");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("all.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  url: postgres://app:Sup3rS3cretPw@db/app\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: app-migration-v1\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: migrate\n          image: app-migration:v1\n          env:\n            - name: DATABASE_URL\n              value: postgres://app:L1teralPw@db/app\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, app-migration-v1]\n      containers:\n        - name: app\n          image: app:v1\n          env:\n            - name: DATABASE_URL\n              valueFrom:\n                secretKeyRef: {name: db, key: url}\n",
    )
    .unwrap();
    for format in [GraphFormat::Mermaid, GraphFormat::Dot, GraphFormat::Json] {
        let (code, out, err) = run(&[&root], format, &[]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("key url"), "{out}");
        for secret in ["Sup3rS3cretPw", "L1teralPw", "postgres://"] {
            assert!(
                !out.contains(secret) && !err.contains(secret),
                "{secret}: {out}"
            );
        }
    }
}

/// `--build` draws one build of several; a directory that is no drawn build is a usage error.
#[test]
fn build_picks_one_subgraph() {
    let dir = Path::new("testdata/fixtures/build-sibling-overlay-wait");
    let (code, all, _) = run(&[dir], GraphFormat::Json, &[]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&all).unwrap();
    let names: Vec<String> = v["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.len() >= 2, "{names:?}");
    let pick = &names[names.len() - 1];
    let (code, one, err) = run(&[dir], GraphFormat::Json, &[pick]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(v["builds"].as_array().unwrap().len(), 1);
    assert_eq!(v["builds"][0]["name"].as_str().unwrap(), pick);
    // With no path, the build's directory is what is read.
    let (code, alone, _) = run(&[], GraphFormat::Json, &[pick]);
    assert_eq!(code, 0);
    assert_eq!(alone, one);
    let (code, out, err) = run(&[dir], GraphFormat::Mermaid, &["testdata/fixtures"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("is not a build") && err.contains(pick.as_str()),
        "{err}"
    );
    let (code, _, err) = run(&[Path::new("no/such/dir")], GraphFormat::Dot, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no such file or directory"), "{err}");
}

/// The README shows the bundled example's graph as an SVG that this test draws with Graphviz
/// and compares with the committed one; `UPDATE_README=1` rewrites it.
#[test]
fn readme_example_graph_svg_is_current() {
    let Some(_) = required(
        dot(),
        "readme_example_graph_svg_is_current",
        "Graphviz (dot)",
    ) else {
        return;
    };
    let (code, text, err) = run(&[Path::new("testdata/example")], GraphFormat::Dot, &[]);
    assert_eq!(code, 0, "{err}");
    let svg = normalise_svg(&dot_svg(&text).unwrap());
    let path = Path::new("docs/example-graph.svg");
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::create_dir_all("docs").unwrap();
        std::fs::write(path, &svg).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == svg,
        "docs/example-graph.svg is not the example's graph as drawn now: run `UPDATE_README=1 cargo test --test it readme_example_graph_svg_is_current` and commit it"
    );
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(
        readme.contains("](docs/example-graph.svg)"),
        "the README does not show it"
    );
}

/// Graphviz names its version in a comment; the drawing itself is what is compared.
fn normalise_svg(svg: &str) -> String {
    svg.lines()
        .filter(|l| !l.starts_with("<!-- Generated by graphviz"))
        .map(|l| format!("{l}\n"))
        .collect()
}
