//! Generated ConfigMaps and Secrets, labels and annotations agree with `kubectl kustomize` on
//! seeded random trees: the exact name (kustomize's content-hash suffix), every data key and
//! ConfigMap value, and the labels, annotations, template labels and selectors of every object.
//! Each tree is a base with random generators (literals with awkward characters, env files,
//! files, Secret types, hash suffix disabled, generator option labels) and workloads, and an
//! overlay that merges into, replaces and adds generators under a name prefix, with random
//! `commonLabels`, `labels` (`includeSelectors`, `includeTemplates`) and `commonAnnotations`.
//!
//! `cargo test` runs `GENERATOR_TREES` trees (default 40); `GENERATOR_TREES=2000 cargo test
//! --test it kustomize_generators` runs as many as you like (`GENERATOR_SEED` picks the first).

use kube_migrate_lint::engine::{Settings, load_workspace};
use kube_migrate_lint::model::discover::{Excludes, discover};
use kube_migrate_lint::render::path::Step;
use kube_migrate_lint::yaml;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::support::Rng;

const KEYS: &[&str] = &["A", "b_2", "LOG_LEVEL", "x.y", "db-url", "Z9", "k"];
const VALUES: &[&str] = &[
    "1",
    "hello world",
    "<&>",
    "quote\"d",
    "back\\slash",
    "'single'",
    "\"double\"",
    "é ü ✓",
    "tab\there",
    "a=b=c",
    "",
    " lead",
    "postgres://u@db/x?sslmode=require",
    "true",
];

/// A YAML double-quoted scalar of `s`.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Write one random tree under `root`; returns the overlay directory.
fn tree(rng: &mut Rng, root: &Path) -> std::path::PathBuf {
    let base = root.join("base");
    let overlay = root.join("overlay");
    std::fs::create_dir_all(base.join("files")).unwrap();
    std::fs::create_dir_all(&overlay).unwrap();
    let mut names = Vec::new();
    let mut k = String::from("resources: []\n");
    let mut options = Vec::new();
    if rng.below(3) == 0 {
        options.push("disableNameSuffixHash: true");
    }
    for (section, kind) in [("configMapGenerator", "cm"), ("secretGenerator", "s")] {
        let _ = writeln!(k, "{section}:");
        for g in 0..1 + rng.below(3) {
            let name = format!("{kind}{g}");
            let _ = writeln!(k, "- name: {name}");
            if kind == "s" && rng.below(2) == 0 {
                let _ = writeln!(
                    k,
                    "  type: {}",
                    rng.pick(&["Opaque", "kubernetes.io/tls", "x/y"])
                );
            }
            if rng.below(5) == 0 {
                k.push_str("  options: {disableNameSuffixHash: true}\n");
            }
            let mut used: Vec<&str> = Vec::new();
            let fresh = |rng: &mut Rng, used: &mut Vec<&str>| loop {
                let key = rng.pick(KEYS);
                if !used.contains(&key) {
                    used.push(key);
                    return key;
                }
            };
            if rng.below(2) == 0 {
                let file = format!("{name}.env");
                let mut text = String::from("# generated\n");
                for _ in 0..1 + rng.below(2) {
                    let key = fresh(rng, &mut used);
                    let v = rng.pick(VALUES).replace('\t', " ");
                    let _ = writeln!(text, "{}{key}={v}", rng.pick(&["", "  "]));
                }
                std::fs::write(base.join(&file), text).unwrap();
                let _ = writeln!(k, "  envs: [{file}]");
            }
            if rng.below(3) > 0 {
                k.push_str("  literals:\n");
                for _ in 0..1 + rng.below(3) {
                    let key = fresh(rng, &mut used);
                    let v = rng.pick(VALUES);
                    let _ = writeln!(k, "  - {}", quoted(&format!("{key}={v}")));
                }
            }
            if rng.below(3) == 0 {
                let key = fresh(rng, &mut used);
                let file = format!("files/{name}.txt");
                let body: String = (0..1 + rng.below(3))
                    .map(|_| format!("{}\n", rng.pick(VALUES)))
                    .collect();
                std::fs::write(base.join(&file), body).unwrap();
                let _ = writeln!(k, "  files: [{key}={file}]");
            }
            names.push((section, name));
        }
    }
    let workloads = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {app: web}}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: web}]}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\nspec:\n  template:\n    spec: {restartPolicy: Never, containers: [{name: m, image: m}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n";
    std::fs::write(base.join("workloads.yaml"), workloads).unwrap();
    k = k.replacen("resources: []", "resources: [workloads.yaml]", 1);
    if rng.below(2) == 0 {
        k.push_str("commonLabels: {team: a}\n");
    }
    if rng.below(3) == 0 {
        options.push("labels: {gen: \"yes\"}, annotations: {note: x}");
    }
    if !options.is_empty() {
        let _ = writeln!(k, "generatorOptions: {{{}}}", options.join(", "));
    }
    std::fs::write(base.join("kustomization.yaml"), k).unwrap();
    let mut o = String::from("resources: [../base]\n");
    if rng.below(2) == 0 {
        let _ = writeln!(o, "namePrefix: {}", rng.pick(&["p-", "prod-", "x."]));
    }
    let mut by_section: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (section, name) in &names {
        let entry = match rng.below(3) {
            0 => continue,
            1 => format!(
                "- name: {name}\n  behavior: merge\n  literals: [{}]\n",
                quoted(&format!("{}={}", rng.pick(KEYS), rng.pick(VALUES)))
            ),
            _ => format!(
                "- name: {name}\n  behavior: replace\n  literals: [{}]\n",
                quoted(&format!("{}={}", rng.pick(KEYS), rng.pick(VALUES)))
            ),
        };
        by_section.entry(section).or_default().push(entry);
    }
    by_section
        .entry("configMapGenerator")
        .or_default()
        .push("- name: added\n  literals: [\"k=v\"]\n".into());
    for (section, entries) in by_section {
        let _ = writeln!(o, "{section}:");
        for e in entries {
            o.push_str(&e);
        }
    }
    if rng.below(2) == 0 {
        let _ = writeln!(
            o,
            "commonLabels: {{env: prod, {}: \"1\"}}",
            rng.pick(&["team", "tier"])
        );
    }
    if rng.below(2) == 0 {
        o.push_str("labels:\n");
        for _ in 0..1 + rng.below(2) {
            let _ = writeln!(
                o,
                "- pairs: {{{}: x}}\n  includeSelectors: {}\n  includeTemplates: {}",
                rng.pick(&["a", "b", "team"]),
                rng.pick(&["true", "false"]),
                rng.pick(&["true", "false"])
            );
        }
    }
    if rng.below(2) == 0 {
        let _ = writeln!(
            o,
            "commonAnnotations: {{owner: {}}}",
            quoted(rng.pick(VALUES))
        );
    }
    std::fs::write(overlay.join("kustomization.yaml"), o).unwrap();
    overlay
}

type Facts = BTreeMap<String, BTreeMap<String, String>>;

/// Label and annotation maps compared, besides data: the shared ones, and a Service's selector.
fn maps() -> impl Iterator<Item = &'static (&'static str, &'static [&'static str])> {
    const EXTRA: &[(&str, &[&str])] = &[("service.selector", &["spec", "selector"])];
    crate::support::RENDERED_MAPS.iter().chain(EXTRA)
}

fn kubectl_facts(dir: &Path) -> Option<Facts> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let parsed = yaml::parse(&text, yaml::Limits::default());
    let mut facts = Facts::new();
    for d in &parsed.docs {
        let kind = d.get_str(d.root, "kind").unwrap_or_default().to_string();
        let name = d
            .at(
                d.root,
                &[yaml::Seg::Key("metadata"), yaml::Seg::Key("name")],
            )
            .and_then(|n| d.str(n))
            .unwrap_or_default();
        let mut f = BTreeMap::new();
        for (label, path) in maps() {
            let segs: Vec<yaml::Seg> = path.iter().map(|k| yaml::Seg::Key(k)).collect();
            if let Some(m) = d.at(d.root, &segs) {
                for (k, v) in crate::support::map_entries(d, m) {
                    if let (Some(k), Some(v)) = (d.str(k), d.str(v)) {
                        f.insert(format!("{label}.{k}"), v.to_string());
                    }
                }
            }
        }
        if let Some(data) = d.get(d.root, "data") {
            for (k, v) in crate::support::map_entries(d, data) {
                let v = if kind == "Secret" {
                    String::new()
                } else {
                    d.str(v).unwrap_or_default().to_string()
                };
                f.insert(d.str(k).unwrap_or_default().to_string(), v);
            }
        }
        facts.insert(format!("{kind}/{name}"), f);
    }
    Some(facts)
}

fn our_facts(root: &Path, overlay: &Path) -> Facts {
    let inputs = crate::support::disk_inputs(root);
    let (ws, _, _) = load_workspace(inputs, &Settings::default());
    assert!(
        ws.replacement_issues.is_empty(),
        "{:?}",
        ws.replacement_issues
    );
    let kfile = overlay.join("kustomization.yaml");
    let cx = ws
        .contexts
        .iter()
        .find(|c| {
            c.root
                .is_some_and(|r| ws.files[r as usize].source.path.as_deref() == Some(&kfile))
        })
        .expect("the overlay's context");
    let env = ws.env();
    let mut facts = Facts::new();
    for r in &cx.rendered {
        let name = env.name(cx, r).map(|v| v.text).unwrap_or_default();
        let mut f: BTreeMap<String, String> = env
            .map_at(r, &[Step::Key("data".into())])
            .into_iter()
            .map(|(k, v)| (k, if r.kind == "Secret" { String::new() } else { v }))
            .collect();
        for (label, path) in maps() {
            let p: Vec<Step> = path.iter().map(|s| Step::Key(s.to_string())).collect();
            for (k, v) in env.map_at(r, &p) {
                f.insert(format!("{label}.{k}"), v);
            }
        }
        facts.insert(format!("{}/{name}", r.kind), f);
    }
    facts
}

#[test]
fn generated_names_and_data_agree_with_kubectl_kustomize() {
    if Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl is required in CI"
        );
        eprintln!("SKIPPED: kubectl is not installed");
        return;
    }
    let trees: u64 = std::env::var("GENERATOR_TREES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let first: u64 = std::env::var("GENERATOR_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let mut problems = Vec::new();
    let mut objects = 0;
    for seed in first..first + trees {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let overlay = tree(&mut rng, dir.path());
        let Some(theirs) = kubectl_facts(&overlay) else {
            continue;
        };
        let ours = our_facts(dir.path(), &overlay);
        objects += theirs.len();
        if theirs != ours {
            let mut files = String::new();
            for f in discover(&[dir.path().to_path_buf()], &Excludes::default()).files {
                let _ = write!(
                    files,
                    "\n  {}: {:?}",
                    f.display,
                    std::fs::read_to_string(&f.path)
                );
            }
            for sub in ["base", "base/files"] {
                for e in std::fs::read_dir(dir.path().join(sub)).unwrap().flatten() {
                    if e.path().is_file() && !e.path().ends_with("kustomization.yaml") {
                        let _ = write!(
                            files,
                            "\n  {}: {:?}",
                            e.path().display(),
                            std::fs::read_to_string(e.path())
                        );
                    }
                }
            }
            let keys: std::collections::BTreeSet<&String> =
                theirs.keys().chain(ours.keys()).collect();
            let mut diff = String::new();
            for k in keys {
                if theirs.get(k) != ours.get(k) {
                    let _ = write!(
                        diff,
                        "\n  {k}:\n    kubectl: {:?}\n    ours:    {:?}",
                        theirs.get(k),
                        ours.get(k)
                    );
                }
            }
            problems.push(format!("seed {seed}:{diff}{files}"));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    eprintln!("{trees} trees, {objects} objects: all agree");
}
