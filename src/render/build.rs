//! `kube-migrate-lint build`: a build's rendered objects as kustomize prints them, optionally
//! with where every value came from.

use super::tree::{self, Node};
use super::workspace::Workspace;
use super::{Context, Rendered, Source};
use crate::base::diagnostic::Loc;

/// Kinds kustomize's legacy order puts first, then last; the rest go between, by group,
/// version and kind.
const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Kustomize's legacy sort key of an object.
fn order_key(r: &Rendered) -> (usize, String, String, String) {
    let rank = match ORDER_FIRST.iter().position(|k| *k == r.kind) {
        Some(i) => i,
        None => match ORDER_LAST.iter().position(|k| *k == r.kind) {
            Some(i) => ORDER_FIRST.len() + 1 + i,
            None => ORDER_FIRST.len(),
        },
    };
    let (group, version) = match r.api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => ("~G".to_string(), r.api_version.clone()),
    };
    (
        rank,
        format!("{group}_{version}_{}", r.kind),
        r.namespace
            .as_ref()
            .map(|n| n.text.clone())
            .unwrap_or_default(),
        r.name.text.clone(),
    )
}

/// Where a location is, as `file:line`.
fn at(ws: &Workspace, loc: Loc) -> String {
    let file = &ws.files[loc.file as usize].source;
    format!(
        "{}:{}",
        file.display,
        file.lines.line_of(loc.span.start as usize) + 1
    )
}

/// The rendered objects of a context, in kustomize's output order.
pub(crate) fn objects(cx: &Context) -> Vec<&Rendered> {
    let mut out: Vec<&Rendered> = cx.rendered.iter().collect();
    out.sort_by_cached_key(|r| order_key(r));
    out
}

/// The YAML stream of a context's build; with `provenance`, each object says where it comes
/// from and each value a transformer or patch wrote says who wrote it.
pub(crate) fn print(ws: &Workspace, cx: &Context, provenance: bool) -> String {
    let env = ws.env();
    let mut out = String::new();
    for (i, r) in objects(cx).into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let t = rendered_tree(&env, cx, r);
        if provenance {
            let from = match r.source {
                Source::Object(o) => {
                    let obj = &ws.objects[o as usize];
                    let (doc, _, _) = env.doc_of(o);
                    Some(Loc {
                        file: obj.file,
                        span: doc.span(obj.root),
                    })
                }
                Source::Generated(f, _, n) => ws.files[f as usize].docs.first().map(|d| Loc {
                    file: f,
                    span: d.span(n),
                }),
            };
            if let Some(l) = from {
                out.push_str(&format!("# from {}\n", at(ws, l)));
            }
            let comment = |n: &Node| -> Option<String> {
                let via = n.via?;
                let by = n.loc.map(|l| at(ws, l)).unwrap_or_default();
                Some(if via == super::patch::VIA {
                    format!("patched by {by}")
                } else {
                    format!("set by {via} ({by})")
                })
            };
            out.push_str(&t.to_yaml(&comment));
        } else {
            out.push_str(&t.to_yaml(&|_| None));
        }
    }
    out
}

/// The object as it will be applied: materialized, with Flux substitution where it runs.
pub(crate) fn rendered_tree(env: &super::Env<'_>, cx: &Context, r: &Rendered) -> Node {
    let mut t = tree::materialize(env, r);
    if cx.substitute {
        substitute(env, cx, r, &mut t, 0);
    }
    t
}

fn substitute(env: &super::Env<'_>, cx: &Context, r: &Rendered, n: &mut Node, depth: usize) {
    if depth > 200 {
        return;
    }
    match &mut n.data {
        tree::Data::Scalar(s, _) if s.contains("${") => {
            if let Some(v) = n.value().and_then(|v| env.substituted(cx, r, v)) {
                n.data = tree::Data::Scalar(v.text, tree::Ty::Str);
            }
        }
        tree::Data::Map(es) => es
            .iter_mut()
            .for_each(|(_, v)| substitute(env, cx, r, v, depth + 1)),
        tree::Data::Seq(is) => is
            .iter_mut()
            .for_each(|v| substitute(env, cx, r, v, depth + 1)),
        tree::Data::Scalar(..) => {}
    }
}
