//! Differential test: seeded random kustomization trees (bases and overlays two or three levels
//! deep, components, strategic merge and JSON patches with targets, prefixes and suffixes,
//! namespaces, images, replicas, generators and replacements), each built by
//! `kube-migrate-lint build` and by `kubectl kustomize`, compared on every field of every
//! object after normalising key order and generated-name hashes. Where kustomize refuses a
//! tree, the build must refuse it too.
//!
//! `cargo test` runs `KML_DIFF_TREES` trees (default 150, about 50 s: kubectl takes a third of
//! a second per tree on a shared machine) from `KML_DIFF_SEED` (default 1);
//! a tree that differs is written under `testdata/kustomize-diff/` as a regression fixture,
//! which every later run builds first.

use kube_migrate_lint::render::tree::{Data, Node};
use kube_migrate_lint::yaml;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::Rng;

const BASE: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: web}
    spec:
      serviceAccountName: sa
      initContainers:
        - name: wait
          image: groundnuty/k8s-wait-for:v2.0
          args: [job-wr, mig-v1]
      containers:
        - name: app
          image: registry.example.com/app:v1
          env:
            - {name: A, value: \"1\"}
            - {name: B, value: b}
          envFrom:
            - configMapRef: {name: cfg}
          ports:
            - containerPort: 8080
        - name: side
          image: registry.example.com/side:v1
---
apiVersion: batch/v1
kind: Job
metadata:
  name: mig-v1
  labels: {tier: db}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.com/app:v1
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: sa
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  TAG: v2
";

/// A patch from the menu, as a `patches:` entry (or a legacy entry for `legacy`).
fn patch(rng: &mut Rng, level: usize) -> (String, &'static str) {
    let n = rng.below(12);
    let block = |s: &str| -> String {
        s.lines()
            .map(|l| format!("      {l}\n"))
            .collect::<String>()
    };
    match n {
        0 => (
            format!(
                "  - patch: |-\n{}",
                block(&format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {}",
                    rng.below(5)
                ))
            ),
            "patches",
        ),
        1 => (
            format!(
                "  - target: {{kind: Deployment}}\n    patch: |-\n{}",
                block(&format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      containers:\n        - name: {}\n          image: img:{level}\n          env:\n            - {{name: A, value: over}}\n            - {{name: C{level}, value: c}}",
                    rng.pick(&["app", "side", "extra"])
                ))
            ),
            "patches",
        ),
        2 => (
            format!(
                "  - patch: |-\n{}",
                block(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: wait\n          $patch: delete"
                )
            ),
            "patches",
        ),
        3 => (
            format!(
                "  - target: {{kind: Job}}\n    patch: |-\n{}",
                block(&format!(
                    "- op: {}\n  path: /spec/backoffLimit\n  value: 0",
                    rng.pick(&["add", "replace"])
                ))
            ),
            "patches",
        ),
        4 => (
            format!(
                "  - target: {{kind: Deployment, name: {}}}\n    patch: |-\n{}",
                rng.pick(&["web", "w.*", ".*-web", "nope"]),
                block(&format!(
                    "- op: test\n  path: /spec/replicas\n  value: {}\n- op: add\n  path: /metadata/annotations\n  value: {{a{level}: x}}",
                    rng.below(3) + 1
                ))
            ),
            "patches",
        ),
        5 => (
            format!(
                "  - target: {{kind: Deployment}}\n    patch: |-\n{}",
                block(&format!(
                    "- op: {}\n  path: /spec/template/spec/initContainers/0/args/1\n  value: mig-v{level}",
                    rng.pick(&["replace", "add"])
                ))
            ),
            "patches",
        ),
        6 => (
            format!(
                "  - target: {{labelSelector: \"tier={}\"}}\n    patch: |-\n{}",
                rng.pick(&["db", "web"]),
                block("- op: add\n  path: /metadata/labels/patched~1by\n  value: json")
            ),
            "patches",
        ),
        7 => (
            format!(
                "  - target: {{kind: Deployment}}\n    patch: |-\n{}",
                block(
                    "- op: copy\n  from: /spec/template/spec/containers/0/image\n  path: /metadata/labels/img\n- op: move\n  from: /spec/template/spec/containers/1\n  path: /spec/template/spec/containers/0\n- op: remove\n  path: /spec/template/spec/containers/1/env/0"
                )
            ),
            "patches",
        ),
        8 => (
            format!(
                "  - |-\n{}",
                block(
                    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\nautomountServiceAccountToken: false"
                )
            ),
            "patchesStrategicMerge",
        ),
        9 => (
            format!(
                "  - target: {{group: batch, version: v1, kind: Job, name: mig-v1}}\n    patch: |-\n{}",
                block(
                    "- op: replace\n  path: /spec/template/spec/containers/0/command\n  value: [migrate, up]"
                )
            ),
            "patchesJson6902",
        ),
        10 => (
            format!(
                "  - patch: |-\n{}",
                block(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  TAG: null\n  NEW: n"
                )
            ),
            "patches",
        ),
        _ => (
            format!(
                "  - patch: |-\n{}",
                block(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    $patch: replace\n    spec:\n      containers: [{name: only, image: only:1}]"
                )
            ),
            "patches",
        ),
    }
}

/// One kustomization's transformers.
fn transformers(rng: &mut Rng, level: usize, out: &mut String) {
    if rng.chance(30) {
        let _ = writeln!(out, "namespace: {}", rng.pick(&["ns-a", "ns-b"]));
    }
    if rng.chance(30) {
        let _ = writeln!(out, "namePrefix: p{level}-");
    }
    if rng.chance(20) {
        let _ = writeln!(out, "nameSuffix: -s{level}");
    }
    if rng.chance(30) {
        let _ = writeln!(
            out,
            "images:\n  - name: registry.example.com/app\n    newTag: t{level}"
        );
    }
    if rng.chance(20) {
        let _ = writeln!(out, "replicas:\n  - name: web\n    count: {}", rng.below(4));
    }
    if rng.chance(60) {
        let mut by_key: Vec<(&str, String)> = Vec::new();
        for _ in 0..=rng.below(2) {
            let (entry, key) = patch(rng, level);
            match by_key.iter_mut().find(|(k, _)| *k == key) {
                Some((_, s)) => s.push_str(&entry),
                None => by_key.push((key, entry)),
            }
        }
        for (k, entries) in by_key {
            let _ = write!(out, "{k}:\n{entries}");
        }
    }
    if rng.chance(15) {
        let _ = writeln!(
            out,
            "replacements:\n  - source: {{kind: ConfigMap, name: cfg, fieldPath: data.TAG}}\n    targets:\n      - select: {{kind: Deployment}}\n        fieldPaths: [spec.template.spec.containers.0.image]\n        options: {{delimiter: ':', index: 1}}"
        );
    }
}

/// Write a random tree under `dir`; returns the directory to build.
fn generate(seed: u64, dir: &Path) -> PathBuf {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let write = |p: &str, text: &str| {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("base/resources.yaml", BASE);
    let mut k = String::from("resources:\n  - resources.yaml\n");
    if rng.chance(20) {
        k.push_str("configMapGenerator:\n  - name: gen\n    literals: [K=v]\n");
    }
    transformers(&mut rng, 0, &mut k);
    write("base/kustomization.yaml", &k);
    let levels = 1 + rng.below(3);
    let mut below = "base".to_string();
    for level in 1..levels {
        let name = format!("l{level}");
        let mut k = format!("resources:\n  - ../{below}\n");
        if rng.chance(25) {
            let mut c =
                String::from("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n");
            transformers(&mut rng, 10 + level, &mut c);
            if !c.ends_with("Component\n") {
            } else {
                // kustomize refuses an empty kustomization.
                let _ = writeln!(c, "nameSuffix: -c{level}");
            }
            write(&format!("comp{level}/kustomization.yaml"), &c);
            let _ = writeln!(k, "components:\n  - ../comp{level}");
        }
        transformers(&mut rng, level, &mut k);
        write(&format!("{name}/kustomization.yaml"), &k);
        below = name;
    }
    dir.join(below)
}

/// Generated names' content hash, ours (`-<hash>`) or kustomize's (ten characters).
fn strip_hash(s: &str) -> String {
    let re = regex::Regex::new(r"^(.*gen.*)-(<hash>|[a-z0-9]{10})$").unwrap();
    re.replace(s, "$1-HASH").into_owned()
}

fn canonical(n: &Node, out: &mut String) {
    match &n.data {
        Data::Scalar(s, ty) => {
            let _ = write!(out, "{:?}:{}", ty, strip_hash(s));
        }
        Data::Seq(items) => {
            out.push('[');
            for i in items {
                canonical(i, out);
                out.push(',');
            }
            out.push(']');
        }
        Data::Map(entries) => {
            let mut es: Vec<&(String, Node)> = entries.iter().collect();
            es.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (k, v) in es {
                let _ = write!(out, "{k}=");
                canonical(v, out);
                out.push(',');
            }
            out.push('}');
        }
    }
}

/// Objects of a YAML stream, canonical and sorted.
fn objects(stream: &str) -> Vec<String> {
    let parsed = yaml::parse(stream, yaml::Limits::default());
    let mut out: Vec<String> = parsed
        .docs
        .iter()
        .map(|d| {
            let mut s = String::new();
            canonical(&Node::from_doc(d, d.root, 0), &mut s);
            s
        })
        .filter(|s| s != "Null:")
        .collect();
    out.sort();
    out
}

/// `None` when both agree; else what differs.
fn compare(dir: &Path) -> Option<String> {
    let oracle = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    let ours = kube_migrate_lint::engine::build(dir, false);
    match (oracle.status.success(), ours) {
        (true, Ok(text)) => {
            let want = objects(&String::from_utf8_lossy(&oracle.stdout));
            let got = objects(&text);
            (want != got)
                .then(|| format!("kustomize:\n{}\nours:\n{}", want.join("\n"), got.join("\n")))
        }
        (false, Err(_)) => None,
        (true, Err(e)) => Some(format!("kustomize builds it, we refuse: {e:?}")),
        (false, Ok(_)) => Some(format!(
            "kustomize refuses it ({}), we build it",
            String::from_utf8_lossy(&oracle.stderr).trim()
        )),
    }
}

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            std::fs::create_dir_all(&t).unwrap();
            copy_tree(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

#[test]
fn builds_agree_with_kubectl_kustomize_on_random_trees() {
    if !kubectl_available() {
        eprintln!("kubectl not found: the differential test against kustomize is skipped");
        return;
    }
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let trees = env("KML_DIFF_TREES", 150);
    let seed = env("KML_DIFF_SEED", 1);
    let fixtures = PathBuf::from("testdata/kustomize-diff");
    let mut failures = Vec::new();
    // Every tree that ever differed, first.
    if let Ok(dirs) = std::fs::read_dir(&fixtures) {
        let mut dirs: Vec<PathBuf> = dirs.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for d in dirs {
            let Ok(build) = std::fs::read_to_string(d.join("BUILD")) else {
                continue;
            };
            if let Some(diff) = compare(&d.join(build.trim())) {
                failures.push(format!("{}: {diff}", d.display()));
            }
        }
    }
    // `KML_DIFF_KEEP=1,7` records these seeds' trees as fixtures (trees that differed before
    // the generator or the evaluator changed).
    for s in std::env::var("KML_DIFF_KEEP")
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().parse::<u64>().ok())
    {
        let keep = fixtures.join(format!("seed-{s}"));
        let build = generate(s, &keep);
        let rel = build.strip_prefix(&keep).unwrap();
        std::fs::write(keep.join("BUILD"), format!("{}\n", rel.display())).unwrap();
    }
    let tmp = std::env::temp_dir().join(format!("kml-diff-{}", std::process::id()));
    for i in 0..trees {
        let s = seed.wrapping_add(i);
        let dir = tmp.join(s.to_string());
        let build = generate(s, &dir);
        if let Some(diff) = compare(&build) {
            let keep = fixtures.join(format!("seed-{s}"));
            if !keep.exists() {
                std::fs::create_dir_all(&keep).unwrap();
                copy_tree(&dir, &keep);
                let rel = build.strip_prefix(&dir).unwrap();
                std::fs::write(keep.join("BUILD"), format!("{}\n", rel.display())).unwrap();
            }
            failures.push(format!("seed {s}: {diff}"));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        failures.is_empty(),
        "{} of {trees} trees differ from kubectl kustomize (kept under {}):\n{}",
        failures.len(),
        fixtures.display(),
        failures.join("\n\n")
    );
}

/// `build` prints what `kubectl kustomize` prints (every field of every object, key order
/// aside) for every fixture kustomization kustomize can build, and refuses what it refuses.
#[test]
fn build_matches_kubectl_kustomize_on_every_fixture() {
    if !kubectl_available() {
        eprintln!("kubectl not found: the fixture comparison against kustomize is skipped");
        return;
    }
    let dirs = crate::kustomize_oracle::kustomization_dirs();
    assert!(dirs.len() > 30, "{} fixture kustomizations", dirs.len());
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| compare(d).map(|diff| format!("{}: {diff}", d.display())))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} fixture builds differ from kubectl kustomize:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}
