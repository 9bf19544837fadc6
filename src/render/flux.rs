//! Flux `Kustomization` objects (kustomize.toolkit.fluxcd.io): which directory each deploys,
//! the variables its post-build substitution defines, and how stages depend on each other.

use super::Substitution;
use crate::base::diagnostic::{Loc, ObjectId};
use crate::base::text::placeholders;
use crate::model::{FileData, Object};
use crate::yaml::Seg;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub(crate) struct FluxKustomization {
    pub(crate) object: ObjectId,
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    /// `spec.path`, normalised (`./apps/x/` → `apps/x`).
    pub(crate) path: String,
    pub(crate) substitutions: BTreeMap<String, Substitution>,
    /// `substituteStrategy: Always`, or any variable defined: substitution runs.
    pub(crate) substitute: bool,
    /// `substituteFrom` entries we could not read.
    pub(crate) unknown_sources: Vec<String>,
    /// Names of the Kustomizations this one waits for.
    pub(crate) depends_on: Vec<String>,
    /// `spec.wait: true`: Flux waits for every object (Jobs: completion) before Ready.
    pub(crate) wait: bool,
    /// `spec.targetNamespace`: the namespace Flux sets on every namespaced object, and where.
    pub(crate) target_namespace: Option<(String, Loc)>,
}

pub(crate) fn is_flux_kustomization(o: &Object) -> bool {
    o.kind == "Kustomization" && o.api_version.starts_with("kustomize.toolkit.fluxcd.io/")
}

pub(crate) fn read(files: &[FileData], objects: &[Object]) -> Vec<FluxKustomization> {
    let mut out = Vec::new();
    for o in objects.iter().filter(|o| is_flux_kustomization(o)) {
        let doc = &files[o.file as usize].docs[o.doc as usize];
        let Some(spec) = doc.get(o.root, "spec") else {
            continue;
        };
        let path = doc
            .get_str(spec, "path")
            .unwrap_or("")
            .trim()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let mut f = FluxKustomization {
            object: o.id,
            name: o.name.clone().unwrap_or_default(),
            namespace: o.namespace.clone(),
            path,
            substitutions: BTreeMap::new(),
            substitute: false,
            unknown_sources: Vec::new(),
            depends_on: Vec::new(),
            wait: doc.get_str(spec, "wait") == Some("true"),
            target_namespace: doc.get(spec, "targetNamespace").and_then(|n| {
                doc.str(n).map(|t| {
                    (
                        t.to_string(),
                        Loc {
                            file: o.file,
                            span: doc.span(n),
                        },
                    )
                })
            }),
        };
        if let Some(deps) = doc.get(spec, "dependsOn") {
            for &d in doc.items(deps) {
                if let Some(n) = doc.get_str(d, "name") {
                    f.depends_on.push(n.to_string());
                }
            }
        }
        if let Some(pb) = doc.get(spec, "postBuild") {
            if let Some(sub) = doc.get(pb, "substitute") {
                for (k, v) in doc.entries(sub) {
                    if let (Some(k), Some(val)) = (doc.str(k), doc.str(v)) {
                        f.substitutions.insert(
                            k.to_string(),
                            Substitution {
                                value: val.to_string(),
                                loc: Loc {
                                    file: o.file,
                                    span: doc.span(v),
                                },
                            },
                        );
                    }
                }
            }
            if let Some(from) = doc.get(pb, "substituteFrom") {
                for &src in doc.items(from) {
                    let kind = doc.get_str(src, "kind").unwrap_or("");
                    let name = doc.get_str(src, "name").unwrap_or("");
                    let found = objects.iter().find(|c| {
                        c.kind == kind
                            && c.name.as_deref() == Some(name)
                            && (kind == "ConfigMap" || kind == "Secret")
                    });
                    match found {
                        Some(c) if kind == "ConfigMap" => {
                            let cdoc = &files[c.file as usize].docs[c.doc as usize];
                            if let Some(data) = cdoc.at(c.root, &[Seg::Key("data")]) {
                                for (k, v) in cdoc.entries(data) {
                                    if let (Some(k), Some(val)) = (cdoc.str(k), cdoc.str(v)) {
                                        f.substitutions.entry(k.to_string()).or_insert(
                                            Substitution {
                                                value: val.to_string(),
                                                loc: Loc {
                                                    file: c.file,
                                                    span: cdoc.span(v),
                                                },
                                            },
                                        );
                                    }
                                }
                            }
                        }
                        _ => f.unknown_sources.push(format!("{kind}/{name}")),
                    }
                }
            }
            f.substitute = !f.substitutions.is_empty()
                || !f.unknown_sources.is_empty()
                || doc
                    .get_str(pb, "substituteStrategy")
                    .is_some_and(|s| s.eq_ignore_ascii_case("always"));
        }
        out.push(f);
    }
    out
}

/// What Flux's post-build substitution makes of `text`: `${VAR}` replaced by its value, or its
/// default (`${VAR:=x}`), or the empty string. `None` when a variable's value cannot be known
/// (it comes from a `substituteFrom` source we could not read).
pub(crate) fn substitute(
    text: &str,
    vars: &BTreeMap<String, Substitution>,
    unknown_sources: bool,
) -> Option<(String, Option<Loc>)> {
    let ps = placeholders(text);
    if ps.is_empty() {
        return Some((text.to_string(), None));
    }
    let mut out = String::new();
    let mut last = 0;
    let mut loc = None;
    for p in ps {
        out.push_str(&text[last..p.start]);
        match vars.get(&p.var) {
            Some(s) => {
                out.push_str(&s.value);
                loc.get_or_insert(s.loc);
            }
            None if unknown_sources => return None,
            None => out.push_str(p.default.as_deref().unwrap_or("")),
        }
        last = p.end;
    }
    out.push_str(&text[last..]);
    Some((out, loc))
}
