//! Kustomize's label and annotation transformers (`commonLabels`, `labels`,
//! `commonAnnotations`, generator options), with kustomize's field specs: where each writes,
//! and whether it creates the field or only updates one that exists.

use super::eval::Env;
use super::path::{Concrete, Step};
use super::{Rendered, Source};
use crate::base::diagnostic::Loc;
use crate::yaml::Kind;
use std::collections::BTreeMap;

/// One place a transformer writes: objects it applies to (empty: all), the map's path, and
/// whether a missing map is created.
#[derive(Debug, Clone)]
pub(crate) struct FieldSpec {
    pub(crate) group: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) kind: Option<String>,
    /// Path segments; `true` marks a list (`volumeClaimTemplates[]`), never created.
    pub(crate) path: Vec<(String, bool)>,
    pub(crate) create: bool,
}

fn spec(group: &str, version: &str, kind: &str, path: &str, create: bool) -> FieldSpec {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    FieldSpec {
        group: opt(group),
        version: opt(version),
        kind: opt(kind),
        path: path
            .split('/')
            .map(|seg| match seg.strip_suffix("[]") {
                Some(list) => (list.to_string(), true),
                None => (seg.to_string(), false),
            })
            .collect(),
        create,
    }
}

/// `metadata/<field>` and the pod template's `<field>` of the workload kinds. kustomize's
/// lists differ in one place: the labels' StatefulSet entry names its group (`apps`).
fn template_specs(field: &str, statefulset_group: &str) -> Vec<FieldSpec> {
    let mut out = vec![spec("", "", "", &format!("metadata/{field}"), true)];
    for (g, v, k) in [
        ("", "v1", "ReplicationController"),
        ("", "", "Deployment"),
        ("", "", "ReplicaSet"),
        ("", "", "DaemonSet"),
        (statefulset_group, "", "StatefulSet"),
        ("batch", "", "Job"),
    ] {
        out.push(spec(
            g,
            v,
            k,
            &format!("spec/template/metadata/{field}"),
            true,
        ));
    }
    for p in ["spec/jobTemplate", "spec/jobTemplate/spec/template"] {
        out.push(spec(
            "batch",
            "",
            "CronJob",
            &format!("{p}/metadata/{field}"),
            true,
        ));
    }
    out
}

/// `metadata/labels` and the pod template labels of the workload kinds (kustomize's
/// `metadataLabelsFieldSpecs`: what `labels` with `includeTemplates` writes).
pub(crate) fn template_label_specs() -> &'static [FieldSpec] {
    static SPECS: std::sync::OnceLock<Vec<FieldSpec>> = std::sync::OnceLock::new();
    SPECS.get_or_init(build_template_label_specs)
}

fn build_template_label_specs() -> Vec<FieldSpec> {
    let mut out = template_specs("labels", "apps");
    out.push(spec(
        "apps",
        "",
        "StatefulSet",
        "spec/volumeClaimTemplates[]/metadata/labels",
        true,
    ));
    out
}

/// Everything `commonLabels` (and `labels` with `includeSelectors`) writes: the template
/// labels, the selectors, and the label selectors of affinity terms, spread constraints,
/// disruption budgets and network policies.
pub(crate) fn common_label_specs() -> &'static [FieldSpec] {
    static SPECS: std::sync::OnceLock<Vec<FieldSpec>> = std::sync::OnceLock::new();
    SPECS.get_or_init(build_common_label_specs)
}

fn build_common_label_specs() -> Vec<FieldSpec> {
    let mut out = vec![
        spec("", "v1", "Service", "spec/selector", true),
        spec("", "v1", "ReplicationController", "spec/selector", true),
        spec("", "", "Deployment", "spec/selector/matchLabels", true),
        spec("", "", "ReplicaSet", "spec/selector/matchLabels", true),
        spec("", "", "DaemonSet", "spec/selector/matchLabels", true),
        spec("apps", "", "StatefulSet", "spec/selector/matchLabels", true),
        spec("batch", "", "Job", "spec/selector/matchLabels", false),
        spec(
            "batch",
            "",
            "CronJob",
            "spec/jobTemplate/spec/selector/matchLabels",
            false,
        ),
        spec(
            "policy",
            "",
            "PodDisruptionBudget",
            "spec/selector/matchLabels",
            false,
        ),
        spec(
            "networking.k8s.io",
            "",
            "NetworkPolicy",
            "spec/podSelector/matchLabels",
            false,
        ),
        spec(
            "networking.k8s.io",
            "",
            "NetworkPolicy",
            "spec/ingress/from/podSelector/matchLabels",
            false,
        ),
        spec(
            "networking.k8s.io",
            "",
            "NetworkPolicy",
            "spec/egress/to/podSelector/matchLabels",
            false,
        ),
    ];
    for kind in ["Deployment", "StatefulSet"] {
        for p in [
            "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        ] {
            out.push(spec("apps", "", kind, p, false));
        }
    }
    out.extend(template_label_specs().iter().cloned());
    out
}

/// Where `commonAnnotations` writes.
pub(crate) fn annotation_specs() -> &'static [FieldSpec] {
    static SPECS: std::sync::OnceLock<Vec<FieldSpec>> = std::sync::OnceLock::new();
    SPECS.get_or_init(|| template_specs("annotations", ""))
}

/// A kustomization's own field specs (`labels[].fields`).
pub(crate) fn read_specs(doc: &crate::yaml::Document, list: crate::yaml::NodeId) -> Vec<FieldSpec> {
    doc.items(list)
        .iter()
        .filter_map(|&f| {
            let s = |k: &str| doc.get_str(f, k).unwrap_or("");
            let path = doc.get_str(f, "path")?;
            Some(spec(
                s("group"),
                s("version"),
                s("kind"),
                path,
                s("create") == "true",
            ))
        })
        .collect()
}

impl FieldSpec {
    fn applies(&self, r: &Rendered) -> bool {
        let (group, version) = r
            .api_version
            .split_once('/')
            .unwrap_or(("", &r.api_version));
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.group, group) && eq(&self.version, version) && eq(&self.kind, &r.kind)
    }
}

/// Whether a transformer already wrote below `prefix` (a map it created).
fn written_below(r: &Rendered, prefix: &[Step]) -> bool {
    r.overrides
        .range(prefix.to_vec()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(prefix))
}

/// The concrete paths of the maps a field spec names in `r`: lists on the way are entered
/// element by element; a missing map is created only when the spec says so, and a missing list
/// never.
fn targets(env: &Env<'_>, r: &Rendered, spec: &FieldSpec) -> Vec<Concrete> {
    let manifest = match r.source {
        Source::Object(o) => {
            let (doc, root, _) = env.doc_of(o);
            Some((doc, root))
        }
        Source::Generated(..) => None,
    };
    let mut current: Vec<(Option<crate::yaml::NodeId>, Concrete)> =
        vec![(manifest.map(|(_, root)| root), Vec::new())];
    for (seg, is_list) in &spec.path {
        let mut next = Vec::new();
        for (node, path) in current {
            let mut here = vec![(node, path)];
            if let (Some(n), Some((doc, _))) = (node, manifest)
                && let Kind::Seq(items) = doc.node(doc.resolve(n)).kind
            {
                here = items
                    .iter()
                    .enumerate()
                    .map(|(i, &it)| {
                        let mut p = here[0].1.clone();
                        p.push(Step::Index(i));
                        (Some(it), p)
                    })
                    .collect();
            }
            for (node, path) in here {
                let mut p = path.clone();
                p.push(Step::Key(seg.clone()));
                let child = match (node, manifest) {
                    (Some(n), Some((doc, _))) => doc.get(doc.resolve(n), seg),
                    _ => None,
                };
                if child.is_some() || (spec.create && !is_list) || written_below(r, &p) {
                    next.push((child, p));
                }
            }
        }
        current = next;
    }
    current.into_iter().map(|(_, p)| p).collect()
}

/// Write `pairs` (key, value, the value's location) into every map the specs name.
pub(crate) fn apply(
    env: &Env<'_>,
    rendered: &mut [Rendered],
    specs: &[FieldSpec],
    pairs: &[(String, String, Loc)],
    writer: Loc,
    via: &'static str,
) {
    if pairs.is_empty() {
        return;
    }
    for r in rendered.iter_mut() {
        let mut maps = Vec::new();
        for s in specs.iter().filter(|s| s.applies(r)) {
            maps.extend(targets(env, r, s));
        }
        for (k, v, at) in pairs {
            let value = super::Value {
                text: v.clone(),
                origin: Some(*at),
                writer: Some(writer),
                via: Some(via),
            };
            // kustomize makes one node per key and resource and puts it in every map that
            // lacks the key (those entries stay one node), and copies it into the others.
            let mut created = Vec::new();
            for base in &maps {
                let mut p = base.clone();
                p.push(Step::Key(k.clone()));
                if !r.overrides.contains_key(&p) && env.node(r, &p).is_none() {
                    created.push(p.clone());
                }
                write(r, p, value.clone());
            }
            if created.len() > 1 {
                r.shared.push(created);
            }
        }
    }
}

/// Write `value` at `p`, and at every field that is one node with it (see
/// [`Rendered::shared`]).
pub(crate) fn write(r: &mut Rendered, p: Concrete, value: super::Value) {
    let aliases: Vec<Concrete> = r
        .shared
        .iter()
        .filter(|group| group.contains(&p))
        .flatten()
        .filter(|q| **q != p)
        .cloned()
        .collect();
    for q in aliases {
        r.overrides.insert(q, value.clone());
    }
    r.overrides.insert(p, value);
}

/// The string map at `path` of a rendered object (`metadata.labels`): the manifest's entries
/// with what transformers wrote over them.
pub(crate) fn map_at(env: &Env<'_>, r: &Rendered, path: &[Step]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(t) = &r.tree {
        // A patched object: its tree holds the manifest with the patches applied.
        if let Some(super::tree::Node {
            data: super::tree::Data::Map(entries),
            ..
        }) = t.at(path)
        {
            for (k, v) in entries {
                if let Some(v) = v.as_str() {
                    out.insert(k.clone(), v.to_string());
                }
            }
        }
    } else if let Some((_, doc, n)) = env.node(r, path) {
        for (k, v) in doc.entries(n) {
            if let (Some(k), Some(v)) = (doc.str(k), doc.string(v)) {
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    for (p, v) in r.overrides.range(path.to_vec()..) {
        if !p.starts_with(path) {
            break;
        }
        if let [Step::Key(k)] = &p[path.len()..] {
            out.insert(k.clone(), v.text.clone());
        }
    }
    out
}
