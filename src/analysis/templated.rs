//! Values templated outside the manifests (see `model::template`), and whether something
//! inside the repository should have filled them: Flux substituting the build, or the build's
//! own replacements writing over the same token elsewhere (the `${IMAGE_TAG}` pattern: a
//! ConfigMap key copied into the Job name and the wait argument, so one left unfilled is a
//! mistake). Everything else is CI's business: the value is unknown, and rules say nothing
//! about its literal text.

use crate::model::template::{Token, tokens};
use crate::render::links;
use crate::render::path::{self, Concrete};
use crate::render::workspace::Workspace;
use crate::render::{Context, Rendered, pod_spec_path};
use std::collections::BTreeSet;

/// How the tokens of one value are filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Filling {
    /// No token: an ordinary value.
    Plain,
    /// Flux substitutes this build (`${VAR}` tokens are its to fill).
    Flux,
    /// The build's replacements fill these tokens elsewhere: here they were missed.
    Missed(Vec<String>),
    /// Nothing in the repository fills them: CI does, before the apply.
    Outside(Vec<String>),
}

/// Tokens the build's replacements (and other transformers) write over, or mean to: the
/// manifest text at every field something other than the manifest wrote, the names
/// replacements rewrote, and `${KEY}` for every replacement whose source field is `KEY` (the
/// seeds' pattern copies `data.IMAGE_TAG` over `${IMAGE_TAG}`, even where it fails to).
pub(crate) fn filled_tokens(ws: &Workspace, cx: &Context) -> BTreeSet<String> {
    let env = ws.env();
    let mut out = BTreeSet::new();
    for &k in &cx.kustomizations {
        let Some(doc) = ws.files.get(k as usize).and_then(|f| f.docs.first()) else {
            continue;
        };
        let Some(list) = doc.get(doc.root, "replacements") else {
            continue;
        };
        for &rep in doc.items(list) {
            let key = doc
                .get(rep, "source")
                .and_then(|s| doc.get_str(s, "fieldPath"))
                .and_then(|f| f.rsplit('.').next());
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                out.insert(format!("${{{key}}}"));
            }
        }
    }
    for r in &cx.rendered {
        let mut add = |text: &str| out.extend(tokens(text).into_iter().map(|t| t.text));
        for p in r.overrides.keys() {
            if let Some((_, doc, n)) = env.node(r, p)
                && let Some(text) = doc.string(n)
            {
                add(text);
            }
        }
        if r.name_replaced
            && let Some(o) = r.object()
            && let Some(name) = ws.objects[o as usize].name.as_deref()
        {
            add(name);
        }
    }
    out
}

/// How the tokens in `text` (a value of a build) are filled; `flux` is whether Flux substitutes
/// the build, `filled` the build's [`filled_tokens`].
pub(crate) fn filling(text: &str, flux: bool, filled: &BTreeSet<String>) -> Filling {
    let ts: Vec<Token> = tokens(text);
    if ts.is_empty() {
        return Filling::Plain;
    }
    let missed: Vec<String> = ts
        .iter()
        .filter(|t| filled.contains(&t.text))
        .map(|t| t.text.clone())
        .collect();
    if !missed.is_empty() {
        return Filling::Missed(missed);
    }
    if flux && ts.iter().all(|t| t.text.starts_with("${")) {
        return Filling::Flux;
    }
    Filling::Outside(ts.into_iter().map(|t| t.text).collect())
}

/// Whether Flux substitutes a build: a Flux Kustomization with `postBuild` deploys it (in the
/// linted files, or found by the repository scan).
pub(crate) fn flux_substitutes(ws: &Workspace, cx: &Context) -> bool {
    cx.substitute || ws.engine(cx).substituted
}

/// A value of a build that names, runs or versions something: a workload's name, a
/// container's image, a container argument.
#[derive(Debug, Clone)]
pub(crate) struct Field<'c> {
    pub(crate) rendered: &'c Rendered,
    pub(crate) path: Concrete,
    /// How messages name it: "Job name", "image of container `migrate`".
    pub(crate) label: String,
    pub(crate) text: String,
}

/// The names, images and container arguments of a build's workloads, as rendered before Flux.
pub(crate) fn fields<'c>(ws: &Workspace, cx: &'c Context) -> Vec<Field<'c>> {
    let env = ws.env();
    let mut out = Vec::new();
    for r in &cx.rendered {
        if pod_spec_path(&r.kind).is_none() {
            continue;
        }
        out.push(Field {
            rendered: r,
            path: path::keys(&["metadata", "name"]),
            label: format!("{} name", r.kind),
            text: r.name.text.clone(),
        });
        for c in links::containers(&env, cx, r).iter() {
            let cname = c.name.clone().unwrap_or_else(|| format!("#{}", c.index));
            let image = c.field("image");
            if let Some(v) = env.raw_value(r, &image) {
                out.push(Field {
                    rendered: r,
                    path: image,
                    label: format!("image of container `{cname}`"),
                    text: v.text,
                });
            }
        }
    }
    out
}
