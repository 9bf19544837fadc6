//! Builds are the unit, checked on seeded generated trees: bases, overlays, fragments,
//! components, patch files and loose manifests, with a migration Job, a Deployment waiting for
//! it and RBAC in various places. Two properties hold on every tree:
//!
//! (a) a run on the tree root reports, for every file, exactly what a run on that file alone
//!     reports (the pre-commit case: the file is resolved to every build that includes it);
//! (b) no finding appears twice.
//!
//! Property (a) is also checked on every fixture, each in a git work tree of its own (so the
//! repository scan sees its Flux Kustomizations, wherever they are).

use super::support::{Rng, run_in, write};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn job(app: &str, rng: &mut Rng) -> String {
    let backoff = if rng.chance(70) { 0 } else { 3 };
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {app}-migration-v1\n  annotations: {{kustomize.toolkit.fluxcd.io/force: enabled}}\nspec:\n  backoffLimit: {backoff}\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: migrate, image: \"reg/{app}:v1\", command: [npm, run, \"db:migrate\"]}}]\n"
    )
}

fn deployment(app: &str, rng: &mut Rng) -> String {
    // Sometimes the wait names a Job no build renders.
    let target = if rng.chance(80) {
        format!("{app}-migration-v1")
    } else {
        format!("{app}-migraton-v1")
    };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {app}}}}}\n  template:\n    metadata: {{labels: {{app: {app}}}}}\n    spec:\n      serviceAccountName: {app}-sa\n      initContainers:\n        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, {target}]\n          resources: {{requests: {{cpu: 10m}}, limits: {{cpu: 10m}}}}\n      containers: [{{name: app, image: \"reg/{app}:v1\"}}]\n"
    )
}

fn rbac(app: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {app}-sa}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: {app}-jobs}}\nrules: [{{apiGroups: [batch], resources: [jobs], verbs: [get, list, watch]}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: {app}-jobs}}\nsubjects: [{{kind: ServiceAccount, name: {app}-sa}}]\nroleRef: {{kind: Role, name: {app}-jobs, apiGroup: rbac.authorization.k8s.io}}\n"
    )
}

fn kustomization(kind: &str, body: &str) -> String {
    let api = if kind == "Component" {
        "kustomize.config.k8s.io/v1alpha1"
    } else {
        "kustomize.config.k8s.io/v1beta1"
    };
    format!("apiVersion: {api}\nkind: {kind}\n{body}")
}

fn list(key: &str, items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut s = format!("{key}:\n");
    for i in items {
        s.push_str(&format!("  - {i}\n"));
    }
    s
}

/// One tree: per app a base (its Job, Deployment and RBAC each in the base, a fragment, an
/// overlay, a component, or nowhere), zero to two overlays with patches, and loose manifests.
fn generate(root: &Path, seed: u64) {
    let mut rng = Rng(seed);
    std::fs::create_dir_all(root.join(".git")).unwrap();
    for a in 0..2 {
        let app = format!("app{a}");
        let dir = format!("apps/{app}");
        let mut base = Vec::new();
        let mut fragment = Vec::new();
        let (mut job_in_overlay, mut rbac_in_overlay, mut rbac_in_component) =
            (false, false, false);
        match rng.next() % 3 {
            0 => base.push("job.yaml".to_string()),
            1 => job_in_overlay = true,
            _ => {}
        }
        if rng.chance(50) {
            fragment.push("deployment.yaml".to_string());
            write(
                root,
                &format!("{dir}/base/fragment/deployment.yaml"),
                &deployment(&app, &mut rng),
            );
        } else {
            base.push("deployment.yaml".to_string());
            write(
                root,
                &format!("{dir}/base/deployment.yaml"),
                &deployment(&app, &mut rng),
            );
        }
        match rng.next() % 4 {
            0 => base.push("rbac.yaml".to_string()),
            1 => rbac_in_overlay = true,
            2 => rbac_in_component = true,
            _ => {}
        }
        if base.contains(&"job.yaml".to_string()) || job_in_overlay {
            let j = job(&app, &mut rng);
            write(root, &format!("{dir}/base/job.yaml"), &j);
        }
        if base.contains(&"rbac.yaml".to_string()) {
            write(root, &format!("{dir}/base/rbac.yaml"), &rbac(&app));
        }
        if !fragment.is_empty() {
            base.push("fragment".to_string());
            write(
                root,
                &format!("{dir}/base/fragment/kustomization.yaml"),
                &kustomization("Kustomization", &list("resources", &fragment)),
            );
        }
        write(
            root,
            &format!("{dir}/base/kustomization.yaml"),
            &kustomization("Kustomization", &list("resources", &base)),
        );
        if rbac_in_component {
            write(
                root,
                &format!("{dir}/components/rbac/rbac.yaml"),
                &rbac(&app),
            );
            write(
                root,
                &format!("{dir}/components/rbac/kustomization.yaml"),
                &kustomization("Component", "resources:\n  - rbac.yaml\n"),
            );
        }
        let overlays = rng.next() % 3;
        for o in ["staging", "prod"].iter().take(overlays as usize) {
            let od = format!("{dir}/overlays/{o}");
            let mut resources = vec!["../../base".to_string()];
            // Each overlay may forget what the base lacks.
            if job_in_overlay && rng.chance(70) {
                write(root, &format!("{od}/job.yaml"), &job(&app, &mut rng));
                resources.push("job.yaml".into());
            }
            if rbac_in_overlay && rng.chance(70) {
                write(root, &format!("{od}/rbac.yaml"), &rbac(&app));
                resources.push("rbac.yaml".into());
            }
            let mut body = String::new();
            if rng.chance(40) {
                body.push_str(&format!("namespace: {app}-{o}\n"));
            }
            body.push_str(&list("resources", &resources));
            if rbac_in_component && rng.chance(70) {
                body.push_str("components:\n  - ../../components/rbac\n");
            }
            if rng.chance(50) {
                write(
                    root,
                    &format!("{od}/job-patch.yaml"),
                    &format!(
                        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {app}-migration-v1}}\nspec:\n  activeDeadlineSeconds: 600\n"
                    ),
                );
                body.push_str("patches:\n  - path: job-patch.yaml\n    target: {kind: Job}\n");
            }
            write(
                root,
                &format!("{od}/kustomization.yaml"),
                &kustomization("Kustomization", &body),
            );
        }
        if rng.chance(50) {
            let ld = format!("loose/{app}");
            write(
                root,
                &format!("{ld}/job.yaml"),
                &job(&format!("l{app}"), &mut rng),
            );
            write(
                root,
                &format!("{ld}/deployment.yaml"),
                &deployment(&format!("l{app}"), &mut rng),
            );
            if rng.chance(50) {
                write(root, &format!("{ld}/rbac.yaml"), &rbac(&format!("l{app}")));
            }
        }
    }
}

/// A finding as compared: file, position, rule, message (which names the builds showing it
/// when only some do), and the JSON build list.
type Finding = (String, u64, u64, String, String, String);

fn findings(dir: &Path, args: &[&str]) -> Vec<Finding> {
    let mut all = vec!["--format", "json", "--no-config", "--fail-on", "never"];
    all.extend_from_slice(args);
    let (o, _) = run_in(dir, &all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let start = &d["range"]["start"];
            (
                d["file"].as_str().unwrap().to_string(),
                start["line"].as_u64().unwrap(),
                start["column"].as_u64().unwrap(),
                d["rule"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
                d["builds"].to_string(),
            )
        })
        .collect()
}

fn manifests(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_file_alone_reports_what_the_root_run_reports_and_nothing_twice() {
    let mut checked = 0;
    let mut shown_only = 0;
    for seed in 0..30 {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        generate(root, seed);
        let whole = findings(root, &["."]);
        // (b) no finding twice.
        let mut seen = BTreeSet::new();
        for f in &whole {
            assert!(
                seen.insert((&f.0, f.1, f.2, &f.3, &f.4)),
                "seed {seed}: reported twice: {f:?}"
            );
        }
        shown_only += whole.iter().filter(|f| f.4.ends_with(" only)")).count();
        let mut by_file: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for f in &whole {
            by_file.entry(f.0.as_str()).or_default().push(f);
        }
        // (a) each file alone.
        for file in manifests(root) {
            let alone = findings(root, &[&file]);
            let mut alone: Vec<&Finding> = alone.iter().filter(|f| f.0 == file).collect();
            alone.sort();
            let mut expected = by_file.get(file.as_str()).cloned().unwrap_or_default();
            expected.sort();
            assert_eq!(
                alone,
                expected,
                "seed {seed}: `{file}` alone differs from the root run\n{}",
                manifests(root).join("\n")
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked} files checked");
    // The trees do exercise a finding some builds show and others do not.
    assert!(shown_only > 0);
}

/// The pre-commit case on every fixture: each file alone gets exactly the findings the whole
/// repository's run shows in it. A file whose build a Flux Kustomization elsewhere deploys is
/// judged with it (its namespace, its substitutions, the other stages a wait may name), not as
/// a plain `kubectl apply` of its directory.
#[test]
fn each_fixture_file_alone_reports_what_the_repository_run_reports() {
    let mut checked = 0;
    let mut flux_checked = 0;
    for fixture in std::fs::read_dir("testdata/fixtures").unwrap() {
        let fixture = fixture.unwrap().path();
        let tmp = crate::paths::git_copy(&fixture);
        let root = tmp.path();
        let whole = findings(root, &["."]);
        let flux = manifests(root).iter().any(|f| {
            std::fs::read_to_string(root.join(f))
                .is_ok_and(|t| t.contains("kustomize.toolkit.fluxcd.io/v1"))
        });
        // What pre-commit hands over: the YAML files (not a generator's `.env` or `.ini`).
        let yaml = |f: &String| f.ends_with(".yaml") || f.ends_with(".yml");
        for file in manifests(root).into_iter().filter(yaml) {
            let alone = findings(root, &[&file]);
            let mut alone: Vec<&Finding> = alone.iter().filter(|f| f.0 == file).collect();
            alone.sort();
            let mut expected: Vec<&Finding> = whole.iter().filter(|f| f.0 == file).collect();
            expected.sort();
            assert_eq!(
                alone,
                expected,
                "{}: `{file}` alone differs from the repository run",
                fixture.display()
            );
            checked += 1;
            flux_checked += usize::from(flux);
        }
    }
    assert!(checked > 200, "{checked} files checked");
    assert!(
        flux_checked > 20,
        "{flux_checked} files of Flux fixtures checked"
    );
}

/// A run is checked in parts (files no check reads across, see `engine::stream`), parts that
/// looked up what another holds again together. With every group of files a part of its own,
/// each fixture, the fixtures as one tree, and each Flux fixture with every Flux
/// Kustomization moved to a directory of its own (so its stages fall in different parts)
/// report exactly what one part holding every file reports: the whole JSON report.
#[test]
fn a_run_checked_in_parts_reports_what_one_part_reports() {
    let report = |dir: &Path, part_bytes: &str| {
        let o = std::process::Command::new(super::support::BIN)
            .args([".", "--format", "json", "--no-config", "--fail-on", "never"])
            .current_dir(dir)
            .env("KUBE_MIGRATE_LINT_PART_BYTES", part_bytes)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["summary"].as_object_mut().unwrap().remove("time");
        v
    };
    let same = |root: &Path, what: &str| {
        let whole = report(root, &u64::MAX.to_string());
        assert_eq!(
            report(root, "1"),
            whole,
            "{what}: checked apart, the report differs"
        );
        whole["diagnostics"].as_array().unwrap().len()
    };
    let (mut findings, mut split, mut stages) = (0, 0, 0);
    let all = crate::paths::git_copy(Path::new("testdata/fixtures"));
    findings += same(all.path(), "testdata/fixtures");
    for fixture in std::fs::read_dir("testdata/fixtures").unwrap() {
        let fixture = fixture.unwrap().path();
        let tmp = crate::paths::git_copy(&fixture);
        let root = tmp.path();
        findings += same(root, &fixture.display().to_string());
        // Every Flux Kustomization in a directory of its own.
        let mut moved = 0;
        for file in manifests(root) {
            let text = std::fs::read_to_string(root.join(&file)).unwrap_or_default();
            if !text.contains("kustomize.toolkit.fluxcd.io/v1") || file.contains("kustomization") {
                continue;
            }
            std::fs::remove_file(root.join(&file)).unwrap();
            let name = file.rsplit('/').next().unwrap().to_string();
            for doc in text.split("\n---\n") {
                write(root, &format!("flux-stage-{moved}/{name}"), doc);
                moved += 1;
            }
        }
        if moved > 0 {
            same(root, &format!("{} (Flux stages apart)", fixture.display()));
            split += 1;
            stages += usize::from(moved > 1);
        }
    }
    assert!(findings > 300, "{findings} findings compared");
    assert!(
        split > 10,
        "{split} Flux fixtures with their Flux Kustomizations moved"
    );
    assert!(stages > 1, "{stages} fixtures with their Flux stages apart");
}
