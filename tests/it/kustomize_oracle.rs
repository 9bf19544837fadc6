//! The native kustomize evaluation agrees with `kubectl kustomize` on every fixture it can
//! build: names (generated ones with their exact hash suffix), namespaces, container images
//! and args, service accounts and RBAC references, labels, annotations, template labels,
//! selectors and generated data.
//! Where kustomize refuses to build, the evaluation must have found why.

use kube_migrate_lint::engine::{Settings, load_workspace};
use kube_migrate_lint::model::discover::{Excludes, discover};
use kube_migrate_lint::render::{IssueKind, Rendered, path::Step};
use kube_migrate_lint::yaml;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every directory holding a kustomization.yaml under the fixture roots.
pub(crate) fn kustomization_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in ["testdata/fixtures", "testdata/example"] {
        let found = discover(&[PathBuf::from(root)], &Excludes::default());
        for f in found.files {
            if f.path
                .file_name()
                .is_some_and(|n| n == "kustomization.yaml")
            {
                let dir = f.path.parent().unwrap().to_path_buf();
                let is_component = std::fs::read_to_string(&f.path)
                    .unwrap()
                    .contains("kind: Component");
                if !is_component {
                    out.push(dir);
                }
            }
        }
    }
    out.sort();
    out
}

/// What we compare, per object `kind/namespace/name`: field → value.
type Facts = BTreeMap<String, BTreeMap<String, String>>;

fn pod_spec(kind: &str) -> Option<&'static [&'static str]> {
    kube_migrate_lint::render::pod_spec_path(kind)
}

const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
];

/// Facts from kubectl's output.
fn oracle_facts(out: &str) -> Facts {
    let parsed = yaml::parse(out, yaml::Limits::default());
    assert!(parsed.error.is_none(), "kubectl output must parse");
    let mut facts = Facts::new();
    for d in &parsed.docs {
        let s = |path: &[&str]| {
            let segs: Vec<yaml::Seg> = path.iter().map(|k| yaml::Seg::Key(k)).collect();
            d.at(d.root, &segs)
                .and_then(|n| d.str(n))
                .map(str::to_string)
        };
        let kind = s(&["kind"]).unwrap_or_default();
        let name = s(&["metadata", "name"]).unwrap_or_default();
        let ns = if CLUSTER_SCOPED.contains(&kind.as_str()) {
            String::new()
        } else {
            s(&["metadata", "namespace"]).unwrap_or_else(|| "default".into())
        };
        let mut f = BTreeMap::new();
        if let Some(spec) = pod_spec(&kind) {
            let segs: Vec<yaml::Seg> = spec.iter().map(|k| yaml::Seg::Key(k)).collect();
            if let Some(ps) = d.at(d.root, &segs) {
                if let Some(sa) = d.get_str(ps, "serviceAccountName") {
                    f.insert("serviceAccountName".into(), sa.to_string());
                }
                for list in ["initContainers", "containers"] {
                    for (i, &c) in d
                        .get(ps, list)
                        .map(|l| d.items(l))
                        .unwrap_or(&[])
                        .iter()
                        .enumerate()
                    {
                        if let Some(img) = d.get_str(c, "image") {
                            f.insert(format!("{list}[{i}].image"), img.to_string());
                        }
                        for (j, &a) in d
                            .get(c, "args")
                            .map(|l| d.items(l))
                            .unwrap_or(&[])
                            .iter()
                            .enumerate()
                        {
                            f.insert(
                                format!("{list}[{i}].args[{j}]"),
                                d.str(a).unwrap_or("").to_string(),
                            );
                        }
                        for (j, &e) in d
                            .get(c, "envFrom")
                            .map(|l| d.items(l))
                            .unwrap_or(&[])
                            .iter()
                            .enumerate()
                        {
                            for r in ["configMapRef", "secretRef"] {
                                if let Some(n) = d.get(e, r).and_then(|r| d.get_str(r, "name")) {
                                    f.insert(
                                        format!("{list}[{i}].envFrom[{j}].{r}"),
                                        n.to_string(),
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
        if kind == "RoleBinding" || kind == "ClusterRoleBinding" {
            if let Some(n) = s(&["roleRef", "name"]) {
                f.insert("roleRef".into(), n);
            }
            for (i, &sub) in d
                .get(d.root, "subjects")
                .map(|l| d.items(l))
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                f.insert(
                    format!("subjects[{i}].name"),
                    d.get_str(sub, "name").unwrap_or("").into(),
                );
                if let Some(n) = d.get_str(sub, "namespace") {
                    f.insert(format!("subjects[{i}].namespace"), n.into());
                }
            }
        }
        for (label, path) in maps() {
            let segs: Vec<yaml::Seg> = path.iter().map(|k| yaml::Seg::Key(k)).collect();
            if let Some(m) = d.at(d.root, &segs) {
                for (k, v) in crate::support::map_entries(d, m) {
                    let v = if kind == "Secret" && label == &"data" {
                        String::new()
                    } else {
                        d.str(v).unwrap_or("").to_string()
                    };
                    f.insert(format!("{label}.{}", d.str(k).unwrap_or("")), v);
                }
            }
        }
        facts.insert(format!("{kind}/{ns}/{name}"), f);
    }
    facts
}

/// String maps compared key by key (`data` values of Secrets: keys only, as we keep them
/// decoded): the shared ones, and generated data.
fn maps() -> impl Iterator<Item = &'static (&'static str, &'static [&'static str])> {
    const EXTRA: &[(&str, &[&str])] = &[("data", &["data"])];
    crate::support::RENDERED_MAPS.iter().chain(EXTRA)
}

/// The fixture tree a kustomization directory belongs to (`testdata/fixtures/<name>`), so its
/// bases are linted with it.
fn fixture_root(dir: &Path) -> PathBuf {
    let parts: Vec<_> = dir.components().collect();
    let n = if parts.len() >= 3 && parts[1].as_os_str() == "fixtures" {
        3
    } else {
        2
    };
    parts[..n.min(parts.len())].iter().collect()
}

fn our_facts(dir: &Path) -> Result<Facts, Vec<String>> {
    let inputs = crate::support::disk_inputs(&fixture_root(dir));
    // The kustomization is built as kustomize builds it, alone, even when it is a base
    // another fixture kustomization includes.
    let mut settings = Settings::default();
    settings.explicit_builds = vec![dir.to_path_buf()];
    let (ws, _, _) = load_workspace(inputs, &settings);
    let root_file = ws
        .files
        .iter()
        .position(|f| {
            f.source
                .path
                .as_deref()
                .is_some_and(|p| p == dir.join("kustomization.yaml"))
        })
        .unwrap() as u32;
    let cx = ws
        .contexts
        .iter()
        .find(|c| c.root == Some(root_file))
        .expect("a context for the kustomization");
    // What makes this build fail: issues raised in the files it is built from (a sibling
    // overlay's refusal is not this build's).
    let invalid: Vec<String> = ws
        .replacement_issues
        .iter()
        .filter(|i| matches!(i.kind(), IssueKind::Invalid | IssueKind::BuildError))
        .filter(|i| cx.files.contains(&i.kustomization))
        .map(|i| format!("{:?}", i.issue))
        .collect();
    if !invalid.is_empty() {
        return Err(invalid);
    }
    let env = ws.env();
    let mut facts = Facts::new();
    for r in &cx.rendered {
        let kind = r.kind.clone();
        let name = env.name(cx, r).map(|v| v.text).unwrap_or_default();
        let ns = if CLUSTER_SCOPED.contains(&kind.as_str()) {
            String::new()
        } else if r
            .namespace
            .as_ref()
            .is_some_and(|v| v.via == Some("Flux targetNamespace"))
        {
            // Flux sets it after the kustomize build: kubectl kustomize never sees it.
            "default".into()
        } else {
            env.namespace(cx, r)
        };
        let get = |p: Vec<Step>| env.value(cx, r, &p).map(|v| v.text);
        let k = |s: &str| Step::Key(s.to_string());
        let mut f = BTreeMap::new();
        if let Some(spec) = pod_spec(&kind) {
            let base: Vec<Step> = spec.iter().map(|s| k(s)).collect();
            if let Some(sa) = get([base.clone(), vec![k("serviceAccountName")]].concat()) {
                f.insert("serviceAccountName".into(), sa);
            }
            for list in ["initContainers", "containers"] {
                let lb = [base.clone(), vec![k(list)]].concat();
                for i in 0..env.len(r, &lb) {
                    let c = [lb.clone(), vec![Step::Index(i)]].concat();
                    if let Some(img) = get([c.clone(), vec![k("image")]].concat()) {
                        f.insert(format!("{list}[{i}].image"), img);
                    }
                    let args = [c.clone(), vec![k("args")]].concat();
                    for j in 0..env.len(r, &args) {
                        f.insert(
                            format!("{list}[{i}].args[{j}]"),
                            get([args.clone(), vec![Step::Index(j)]].concat()).unwrap_or_default(),
                        );
                    }
                    let ef = [c.clone(), vec![k("envFrom")]].concat();
                    for j in 0..env.len(r, &ef) {
                        for rf in ["configMapRef", "secretRef"] {
                            if let Some(n) =
                                get([ef.clone(), vec![Step::Index(j), k(rf), k("name")]].concat())
                            {
                                f.insert(format!("{list}[{i}].envFrom[{j}].{rf}"), n);
                            }
                        }
                    }
                }
            }
        }
        if kind == "RoleBinding" || kind == "ClusterRoleBinding" {
            if let Some(n) = get(vec![k("roleRef"), k("name")]) {
                f.insert("roleRef".into(), n);
            }
            for i in 0..env.len(r, &[k("subjects")]) {
                f.insert(
                    format!("subjects[{i}].name"),
                    get(vec![k("subjects"), Step::Index(i), k("name")]).unwrap_or_default(),
                );
                if let Some(n) = get(vec![k("subjects"), Step::Index(i), k("namespace")]) {
                    f.insert(format!("subjects[{i}].namespace"), n);
                }
            }
        }
        for (label, path) in maps() {
            let p: Vec<Step> = path.iter().map(|s| k(s)).collect();
            for (key, v) in env.map_at(r, &p) {
                let v = if kind == "Secret" && label == &"data" {
                    String::new()
                } else {
                    v
                };
                f.insert(format!("{label}.{key}"), v);
            }
        }
        let _: &Rendered = r;
        facts.insert(format!("{kind}/{ns}/{name}"), f);
    }
    Ok(facts)
}

#[test]
fn evaluation_agrees_with_kubectl_kustomize() {
    if !kubectl_available() {
        if std::env::var_os("CI").is_some() {
            panic!("kubectl is required in CI for the kustomize oracle test");
        }
        eprintln!("SKIPPED evaluation_agrees_with_kubectl_kustomize: kubectl is not installed");
        return;
    }
    let dirs = kustomization_dirs();
    assert!(
        dirs.len() >= 3,
        "expected kustomization fixtures, found {dirs:?}"
    );
    let mut problems = Vec::new();
    let mut built = 0;
    for dir in &dirs {
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(dir)
            .output()
            .unwrap();
        let ours = our_facts(dir);
        match (out.status.success(), ours) {
            (true, Ok(ours)) => {
                built += 1;
                let theirs = oracle_facts(&String::from_utf8_lossy(&out.stdout));
                if std::env::var_os("ORACLE_DEBUG").is_some() {
                    eprintln!("{}: {theirs:?}\n  ours: {ours:?}", dir.display());
                }
                if theirs != ours {
                    problems.push(format!(
                        "{}:\n  kubectl: {theirs:?}\n  ours:    {ours:?}",
                        dir.display()
                    ));
                }
            }
            (false, Err(_)) => {}
            (true, Err(ours)) => problems.push(format!(
                "{}: kubectl builds it, but we found {ours:?}",
                dir.display()
            )),
            (false, Ok(_)) => problems.push(format!(
                "{}: kubectl fails ({}) but we found no invalid replacement",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    assert!(built >= 2, "too few fixtures built");
}
