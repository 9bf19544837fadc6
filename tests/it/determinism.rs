//! Determinism: the same tree gives byte-identical reports whatever the thread count and
//! however often it is run (parallel walk, parse and rules must not leak their order).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use super::support::{Rng, write};

const BIN: &str = env!("CARGO_BIN_EXE_kube-migrate-lint");

/// The resources of one application: a migration Job, a Deployment waiting for it, RBAC and
/// its variables, each with a chance of a deliberate mistake.
fn app_resources(rng: &mut Rng, app: &str, version: u32) -> Vec<(&'static str, String)> {
    let job_name = format!("{app}-migration-v{version}");
    let backoff = match rng.next() % 4 {
        0 => String::new(),
        1 => "  backoffLimit: 2\n".to_string(),
        _ => "  backoffLimit: 0\n".to_string(),
    };
    let annotations = if rng.chance(70) {
        "  annotations:\n    kustomize.toolkit.fluxcd.io/force: enabled\n"
    } else {
        ""
    };
    let ttl = if rng.chance(15) {
        "  ttlSecondsAfterFinished: 600\n"
    } else {
        ""
    };
    let restart = rng.pick(&["Never", "Never", "Never", "OnFailure"]);
    let tag = if rng.chance(80) {
        format!("v{version}.0")
    } else {
        "latest".to_string()
    };
    let env = if rng.chance(20) {
        "          env:\n            - {name: DATABASE_URL, value: \"postgres://app:hunter2@db/app\"}\n"
    } else {
        "          envFrom: [{secretRef: {name: db}}]\n"
    };
    let job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {job_name}\n{annotations}spec:\n{backoff}{ttl}  template:\n    spec:\n      restartPolicy: {restart}\n      containers:\n        - name: migrate\n          image: registry.example.com/{app}-migration:{tag}\n          command: [npx, prisma, migrate, deploy]\n{env}"
    );
    let target = if rng.chance(75) {
        job_name.clone()
    } else {
        format!("{app}-migrate-v{version}")
    };
    let mode = rng.pick(&["job-wr", "job-wr", "job-wr", "job", "job-r"]);
    let replicas = 1 + rng.next() % 3;
    let deployment = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {app}}}}}\n  template:\n    metadata: {{labels: {{app: {app}}}}}\n    spec:\n      serviceAccountName: {app}\n      initContainers:\n        - name: wait-for-migration\n          image: groundnuty/k8s-wait-for:{}\n          args: [\"{mode}\", \"{target}\"]\n      containers:\n        - name: app\n          image: registry.example.com/{app}:{tag}\n          envFrom: [{{secretRef: {{name: db}}}}]\n",
        rng.pick(&["v2.0", "v2.0", "v1.6", "latest"])
    );
    let verbs = rng.pick(&["[get, list]", "[get, list, watch]", "[get]"]);
    let rbac = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {app}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {app}-job-reader\nrules:\n  - apiGroups: [batch]\n    resources: [jobs]\n    verbs: {verbs}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {app}-job-reader\nsubjects:\n  - kind: ServiceAccount\n    name: {}\nroleRef:\n  kind: Role\n  name: {app}-job-reader\n  apiGroup: rbac.authorization.k8s.io\n",
        if rng.chance(85) {
            app.to_string()
        } else {
            format!("{app}-sa")
        }
    );
    let variables = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deployment-variables\ndata:\n  IMAGE_TAG: \"v{version}.0\"\n"
    );
    vec![
        ("migration-job.yaml", job),
        ("deployment.yaml", deployment),
        ("rbac.yaml", rbac),
        ("deployment-variables.yaml", variables),
    ]
}

/// About 300 files: single-directory applications, bases shared by two overlays each (the
/// same finding reached through several contexts), and plain multi-document directories.
fn generate(root: &Path, seed: u64) -> usize {
    let mut rng = Rng(seed);
    let mut files = 0;
    for i in 0..30 {
        let app = format!("app{i:02}");
        let version = 1 + (rng.next() % 9) as u32;
        let resources = app_resources(&mut rng, &app, version);
        let mut kustomization = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {app}\nresources:\n"
        );
        let mut order: Vec<&str> = resources.iter().map(|(n, _)| *n).collect();
        if rng.chance(30) {
            order.reverse();
        }
        for name in order {
            let _ = writeln!(kustomization, "  - {name}");
        }
        if i % 3 == 0 {
            // A base, and two overlays that rename and retag it.
            for (name, text) in &resources {
                write(root, &format!("apps/{app}/base/{name}"), text);
            }
            write(
                root,
                &format!("apps/{app}/base/kustomization.yaml"),
                &kustomization,
            );
            for (overlay, prefix) in [("staging", "stg-"), ("prod", "")] {
                write(
                    root,
                    &format!("apps/{app}/overlays/{overlay}/kustomization.yaml"),
                    &format!(
                        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {app}-{overlay}\nnamePrefix: \"{prefix}\"\nresources:\n  - ../../base\nimages:\n  - name: registry.example.com/{app}\n    newTag: v{version}.1\n"
                    ),
                );
            }
            files += resources.len() + 3;
        } else {
            for (name, text) in &resources {
                write(root, &format!("apps/{app}/{name}"), text);
            }
            write(
                root,
                &format!("apps/{app}/kustomization.yaml"),
                &kustomization,
            );
            files += resources.len() + 1;
        }
    }
    // Plain manifests: directories of multi-document files, no kustomization.
    while files < 300 {
        let dir = format!("plain/team{}", files % 7);
        let mut text = String::new();
        for d in 0..1 + rng.next() % 4 {
            let app = format!("svc{files}x{d}");
            let version = 1 + (rng.next() % 5) as u32;
            let resources = app_resources(&mut rng, &app, version);
            let (_, body) = &resources[(rng.next() % resources.len() as u64) as usize];
            text.push_str("---\n");
            text.push_str(body);
        }
        write(root, &format!("{dir}/manifests-{files}.yaml"), &text);
        files += 1;
    }
    files
}

/// The human summary line ends with the elapsed time: the one thing allowed to differ.
fn normalise(stdout: &[u8]) -> String {
    let text = String::from_utf8(stdout.to_vec()).unwrap();
    let time = regex::Regex::new(r"(?m)^(Checked .*) in [0-9.]+ m?s: ").unwrap();
    time.replace_all(&text, "$1 in TIME: ").into_owned()
}

/// Runs `paths` (from `dir`) with 1, 2 and 8 threads, twice each, in json and human, and
/// checks each format's output is byte-identical across the six runs. Returns the JSON.
fn same_for_any_thread_count(dir: &Path, paths: &[&str]) -> serde_json::Value {
    let mut json = None;
    for format in ["json", "human"] {
        let mut first: Option<(String, String)> = None;
        for threads in ["1", "2", "8", "1", "2", "8"] {
            let o = Command::new(BIN)
                .args(paths)
                .args([
                    "--format",
                    format,
                    "--color",
                    "never",
                    "--no-config",
                    "--threads",
                    threads,
                ])
                .current_dir(dir)
                .output()
                .unwrap();
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "{paths:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let stdout = if format == "human" {
                normalise(&o.stdout)
            } else {
                String::from_utf8(o.stdout).unwrap()
            };
            let stderr = String::from_utf8(o.stderr).unwrap();
            match &first {
                None => first = Some((stdout, stderr)),
                Some((out, err)) => {
                    assert!(
                        *out == stdout,
                        "{paths:?} --format {format} --threads {threads}: stdout differs from --threads 1\n{}",
                        first_difference(out, &stdout)
                    );
                    assert!(
                        *err == stderr,
                        "{paths:?} --format {format} --threads {threads}: stderr differs\n{}",
                        first_difference(err, &stderr)
                    );
                }
            }
        }
        if format == "json" {
            json = Some(serde_json::from_str(&first.unwrap().0).unwrap());
        }
    }
    json.unwrap()
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n- {x}\n+ {y}", i + 1);
        }
    }
    format!(
        "one is a prefix of the other ({} and {} lines)",
        a.lines().count(),
        b.lines().count()
    )
}

#[test]
fn bundled_examples_are_reported_identically_for_any_thread_count() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for tree in [
        "testdata/example",
        "testdata/fixtures",
        "testdata/formats",
        "testdata/hostile",
        "testdata",
    ] {
        let v = same_for_any_thread_count(root, &[tree]);
        assert!(
            !v["diagnostics"].as_array().unwrap().is_empty(),
            "{tree}: no findings, nothing compared"
        );
    }
}

#[test]
fn a_generated_tree_is_reported_identically_for_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let files = generate(tmp.path(), 0x6b6d_6c21);
    assert!((290..=320).contains(&files), "{files} files");
    // The generator is deterministic: a second tree from the same seed is byte-identical.
    let again = tempfile::tempdir().unwrap();
    generate(again.path(), 0x6b6d_6c21);
    let text = |p: &Path| std::fs::read_to_string(p).unwrap();
    for rel in [
        "apps/app00/base/migration-job.yaml",
        "apps/app01/deployment.yaml",
        "plain/team0/manifests-294.yaml",
    ] {
        assert_eq!(text(&tmp.path().join(rel)), text(&again.path().join(rel)));
    }

    let v = same_for_any_thread_count(tmp.path(), &["."]);
    assert_eq!(v["summary"]["files"], files, "{}", v["summary"]);
    // Deliberate findings of many kinds, so the comparison covers real work.
    let diags = v["diagnostics"].as_array().unwrap();
    let rules: std::collections::BTreeSet<&str> =
        diags.iter().map(|d| d["rule"].as_str().unwrap()).collect();
    assert!(diags.len() > 100, "{} findings", diags.len());
    for rule in [
        "job-backoff-limit-nonzero",
        "job-force-annotation-missing",
        "wait-target-missing",
        "rbac-job-read-missing",
        "image-tag-mutable",
        "secret-in-plaintext",
    ] {
        assert!(rules.contains(rule), "no {rule} among {rules:?}");
    }
    // Sorted by file, then position, as documented.
    let keys: Vec<(String, u64, u64)> = diags
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap().to_string(),
                d["range"]["start"]["offset"].as_u64().unwrap(),
                d["range"]["end"]["offset"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        keys.iter().map(|k| (&k.0, k.1)).collect::<Vec<_>>(),
        sorted.iter().map(|k| (&k.0, k.1)).collect::<Vec<_>>()
    );
}
