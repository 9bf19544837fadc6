//! What is at a position of a file, and how each build renders it: the object and field under
//! an editor's cursor, the value each build gives that field, and every step that wrote it
//! (the manifest, a patch, a replacement or another transformer, Flux substitution), each with
//! where it is written. The language server's hover and navigation read the model of the last
//! lint through these; nothing here parses.

use crate::base::diagnostic::{FileId, Loc, ObjectId};
use crate::base::source::Span;
use crate::render::path::{self, Step};
use crate::render::tree::Node;
use crate::render::workspace::Workspace;
use crate::render::{Context, Rendered, Value};
use crate::yaml::{Document, Kind, NodeId};

/// The node under a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) file: FileId,
    /// The document of the file that holds it.
    pub(crate) doc: usize,
    /// The innermost node holding the offset: a mapping key when `on_key`.
    pub(crate) node: NodeId,
    pub(crate) span: Span,
    pub(crate) on_key: bool,
    /// From the document's root to the node (a key's own path when on a key).
    pub(crate) path: Vec<Step>,
    /// The object whose text holds the cursor, and the path within it.
    pub(crate) object: Option<(ObjectId, Vec<Step>)>,
}

impl Cursor {
    /// The node's scalar text, if it is a scalar.
    pub(crate) fn text<'w>(&self, ws: &'w Workspace) -> Option<&'w str> {
        self.document(ws).str(self.node)
    }

    pub(crate) fn document<'w>(&self, ws: &'w Workspace) -> &'w Document {
        &ws.files[self.file as usize].docs[self.doc]
    }

    pub(crate) fn loc(&self) -> Loc {
        Loc {
            file: self.file,
            span: self.span,
        }
    }

    /// The cursor on the value of its key, when it is on a key (a link is made by the value:
    /// `roleRef:`'s `name:` names the role); else itself.
    pub(crate) fn on_value(self, ws: &Workspace) -> Cursor {
        if !self.on_key {
            return self;
        }
        let doc = self.document(ws);
        match path::node_at(doc, doc.root, &self.path) {
            Some(v) if !doc.span(v).is_empty() => {
                cursor(ws, self.file, doc.span(v).start as usize).unwrap_or(self)
            }
            _ => self,
        }
    }
}

/// The node at byte `offset` of `file`; None between documents or outside the file.
pub(crate) fn cursor(ws: &Workspace, file: FileId, offset: usize) -> Option<Cursor> {
    let data = ws.files.get(file as usize)?;
    let (di, doc) = data.docs.iter().enumerate().find(|(_, d)| {
        (d.span.start as usize) <= offset && offset < (d.span.end as usize).max(1)
    })?;
    let chain = doc.chain_at(doc.root, offset);
    let &node = chain.last()?;
    let mut path = Vec::new();
    let mut on_key = false;
    for w in chain.windows(2) {
        let (parent, child) = (w[0], w[1]);
        match &doc.node(parent).kind {
            Kind::Map(entries) => {
                let Some(&(k, v)) = entries.iter().find(|&&(k, v)| k == child || v == child) else {
                    break;
                };
                path.push(Step::Key(doc.str(k).unwrap_or_default().to_string()));
                on_key = k == child && k != v;
            }
            Kind::Seq(items) => {
                let Some(i) = items.iter().position(|&i| i == child) else {
                    break;
                };
                path.push(Step::Index(i));
            }
            _ => break,
        }
    }
    // Objects are in file order; those of this document whose root is on the chain.
    let first = ws.objects.partition_point(|o| o.file < file);
    let object = ws.objects[first..]
        .iter()
        .take_while(|o| o.file == file)
        .filter(|o| o.doc as usize == di)
        .find_map(|o| {
            let depth = chain.iter().position(|&n| n == o.root)?;
            Some((o.id, path[depth..].to_vec()))
        });
    Some(Cursor {
        file,
        doc: di,
        node,
        span: doc.span(node),
        on_key,
        path,
        object,
    })
}

/// One step that wrote a rendered value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// `manifest` (as written in the object), `patch`, or the transformer: `replacement`,
    /// `images`, `namePrefix`, `namespace`, …, `Flux substitution`.
    pub(crate) by: &'static str,
    /// The value after this step.
    pub(crate) text: String,
    /// Where the step is written (the manifest's node, the patch's, the kustomization entry,
    /// the Flux variable).
    pub(crate) at: Option<Loc>,
    /// Where it read the value from, when elsewhere (a replacement's source).
    pub(crate) reads: Option<Loc>,
}

/// A field as one build renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendering {
    /// The build (`Workspace::contexts` index).
    pub(crate) context: usize,
    /// The value applied; None when it cannot be known (a Flux variable from a source that
    /// was not read).
    pub(crate) value: Option<String>,
    pub(crate) steps: Vec<Written>,
}

/// How each build that renders object `obj` renders the scalar at `path` in it.
pub(crate) fn renderings(ws: &Workspace, obj: ObjectId, path: &[Step]) -> Vec<Rendering> {
    ws.contexts_of(obj)
        .filter_map(|c| {
            let r = c.rendered_of(obj)?;
            rendering(ws, c, r, path)
        })
        .collect()
}

/// How the builds render the value a patch writes at `at` (a node of a patch file): for each
/// object a patch changed there, in each build.
pub(crate) fn patched_renderings(ws: &Workspace, at: Loc) -> Vec<(usize, Vec<Step>, Rendering)> {
    let mut out = Vec::new();
    for c in ws
        .contexts
        .iter()
        .filter(|c| c.patches.iter().any(|&(_, p)| p == at.file))
    {
        for (ri, r) in c.rendered.iter().enumerate() {
            let Some(t) = &r.tree else { continue };
            if let Some(p) = find(t, at)
                && let Some(x) = rendering(ws, c, r, &p)
            {
                out.push((ri, p, x));
            }
        }
    }
    out
}

/// The path to the node of `t` written at `at`.
fn find(t: &Node, at: Loc) -> Option<Vec<Step>> {
    let mut stack: Vec<(&Node, Vec<Step>)> = vec![(t, Vec::new())];
    while let Some((n, p)) = stack.pop() {
        if n.loc == Some(at) {
            return Some(p);
        }
        if p.len() > 200 {
            continue;
        }
        match &n.data {
            crate::render::tree::Data::Map(es) => {
                for (k, v) in es {
                    let mut q = p.clone();
                    q.push(Step::Key(k.clone()));
                    stack.push((v, q));
                }
            }
            crate::render::tree::Data::Seq(items) => {
                for (i, v) in items.iter().enumerate() {
                    let mut q = p.clone();
                    q.push(Step::Index(i));
                    stack.push((v, q));
                }
            }
            crate::render::tree::Data::Scalar(..) => {}
        }
    }
    None
}

/// The scalar at `path` of `r` as build `c` renders it, with the steps that wrote it; None
/// when the object has no scalar there.
pub(crate) fn rendering(
    ws: &Workspace,
    c: &Context,
    r: &Rendered,
    p: &[Step],
) -> Option<Rendering> {
    let env = ws.env();
    let is = |keys: &[&str]| p == path::keys(keys).as_slice();
    let own = r
        .object()
        .and_then(|o| {
            let (doc, root, file) = env.doc_of(o);
            Some((doc, path::node_at(doc, root, p)?, file))
        })
        .and_then(|(doc, n, file)| {
            let n = doc.resolve(n);
            Some(Written {
                by: "manifest",
                text: doc.str(n)?.to_string(),
                at: Some(Loc {
                    file,
                    span: doc.span(n),
                }),
                reads: None,
            })
        });
    let mut steps: Vec<Written> = own.into_iter().collect();
    let written_at = steps.first().and_then(|s| s.at);
    // A patch (or a transformer folded into the patched tree) wrote the node.
    if let Some(n) = r.tree.as_ref().and_then(|t| t.at(p))
        && let (Some(by), Some(text)) = (n.via, n.as_str())
        && n.loc != written_at
    {
        steps.push(Written {
            by,
            text: text.to_string(),
            at: n.loc,
            reads: None,
        });
    }
    let raw: Value = if is(&["metadata", "name"]) {
        r.name.clone()
    } else if is(&["metadata", "namespace"]) {
        r.namespace.clone()?
    } else {
        env.raw_value(r, p)?
    };
    if let Some(by) = raw.via
        && (r.overrides.contains_key(p)
            || is(&["metadata", "name"])
            || is(&["metadata", "namespace"]))
    {
        let at = raw.writer.or(raw.origin);
        steps.push(Written {
            by,
            text: raw.text.clone(),
            at,
            reads: raw
                .origin
                .filter(|o| Some(*o) != at && Some(*o) != written_at),
        });
    }
    if steps.is_empty() {
        steps.push(Written {
            by: "manifest",
            text: raw.text.clone(),
            at: raw.origin,
            reads: None,
        });
    }
    let value = if c.substitute && raw.text.contains("${") && !env.substitution_disabled(r) {
        let before = raw.writer;
        match env.substituted(c, r, raw) {
            Some(v) => {
                // No variable defined: the Flux Kustomization's defaults and empty strings.
                let at = v
                    .writer
                    .filter(|w| Some(*w) != before)
                    .or_else(|| c.flux.map(|f| object_loc(ws, f)));
                steps.push(Written {
                    by: "Flux substitution",
                    text: v.text.clone(),
                    at,
                    reads: None,
                });
                Some(v.text)
            }
            None => None,
        }
    } else {
        Some(raw.text)
    };
    Some(Rendering {
        context: c.index,
        value,
        steps,
    })
}

/// Where an object is named: its `metadata.name` in the manifest, else its root.
pub(crate) fn name_loc(ws: &Workspace, obj: ObjectId) -> Loc {
    let o = &ws.objects[obj as usize];
    let doc = ws.doc_of(o);
    let node = doc
        .at(
            o.root,
            &[
                crate::yaml::Seg::Key("metadata"),
                crate::yaml::Seg::Key("name"),
            ],
        )
        .unwrap_or(o.root);
    Loc {
        file: o.file,
        span: doc.span(node),
    }
}

/// The mapping on the cursor's chain, innermost first, that holds one of `keys`.
fn enclosing_with(ws: &Workspace, c: &Cursor, keys: &[&str]) -> Option<NodeId> {
    let doc = c.document(ws);
    let offset = c.span.start as usize;
    doc.chain_at(doc.root, offset)
        .into_iter()
        .rev()
        .find(|&n| doc.is_map(n) && keys.iter().any(|k| doc.get(n, k).is_some()))
}

/// The fields a replacement reads, for a cursor inside one (a `replacements:` entry of a
/// kustomization, or of a file it names): the source node of each value it wrote, in any
/// build.
pub(crate) fn replacement_sources(ws: &Workspace, c: &Cursor) -> Vec<Loc> {
    let Some(entry) = enclosing_with(ws, c, &["source", "sourceValue"]) else {
        return Vec::new();
    };
    let doc = c.document(ws);
    if doc.get(entry, "targets").is_none() {
        return Vec::new();
    }
    let within = Loc {
        file: c.file,
        span: doc.span(entry),
    };
    let inside = |l: Option<Loc>| {
        l.is_some_and(|l| {
            l.file == within.file
                && within.span.start <= l.span.start
                && l.span.end <= within.span.end
        })
    };
    let mut out: Vec<Loc> = Vec::new();
    for cx in &ws.contexts {
        for r in &cx.rendered {
            let values = r
                .overrides
                .values()
                .chain(std::iter::once(&r.name))
                .chain(r.namespace.as_ref());
            for v in values {
                if v.via == Some("replacement")
                    && inside(v.writer)
                    && let Some(o) = v.origin
                    && !out.contains(&o)
                {
                    out.push(o);
                }
            }
        }
    }
    out.sort();
    out
}

/// The objects a patch changes, for a cursor in a patch file (the document under it) or on a
/// kustomization's `patches`, `patchesStrategicMerge` or `patchesJson6902` entry (inline, or
/// naming a file): each with the build that applies it.
pub(crate) fn patch_targets(ws: &Workspace, c: &Cursor) -> Vec<(usize, ObjectId)> {
    let data = &ws.files[c.file as usize];
    let doc = c.document(ws);
    // Where the patch's text is: a file's document, an inline entry, or the file it names.
    let mut spans: Vec<Loc> = Vec::new();
    if data.role == crate::model::FileRole::Patch {
        spans.push(Loc {
            file: c.file,
            span: doc.span,
        });
    } else if data.role == crate::model::FileRole::Kustomization
        && let [Step::Key(list), Step::Index(i), ..] = c.path.as_slice()
        && matches!(
            list.as_str(),
            "patches" | "patchesStrategicMerge" | "patchesJson6902"
        )
        && let Some(entry) = doc
            .get(doc.root, list)
            .and_then(|l| doc.items(l).get(*i).copied())
    {
        let named = doc.get_str(entry, "path").or_else(|| {
            (list == "patchesStrategicMerge")
                .then(|| doc.str(entry))
                .flatten()
                .filter(|t| !t.contains('\n'))
        });
        let file = named.and_then(|p| {
            let dir = ws.file_keys.get(c.file as usize)?.parent()?;
            ws.file_at(&crate::render::normalize(&dir.join(p)))
        });
        match file {
            Some(f) => spans.extend(ws.files[f as usize].docs.iter().map(|d| Loc {
                file: f,
                span: d.span,
            })),
            None => spans.push(Loc {
                file: c.file,
                span: doc.span(entry),
            }),
        }
    }
    let mut out = Vec::new();
    for cx in &ws.contexts {
        for r in &cx.rendered {
            let (Some(t), Some(o)) = (&r.tree, r.object()) else {
                continue;
            };
            if written_within(t, &spans) && !out.contains(&(cx.index, o)) {
                out.push((cx.index, o));
            }
        }
    }
    out.sort();
    out
}

/// Whether a patch wrote some node of `t` from text within one of `spans`.
fn written_within(t: &Node, spans: &[Loc]) -> bool {
    let mut stack = vec![(t, 0usize)];
    while let Some((n, depth)) = stack.pop() {
        if n.via == Some(crate::render::patch::VIA)
            && n.loc.is_some_and(|l| {
                spans.iter().any(|s| {
                    s.file == l.file && s.span.start <= l.span.start && l.span.end <= s.span.end
                })
            })
        {
            return true;
        }
        if depth > 200 {
            continue;
        }
        match &n.data {
            crate::render::tree::Data::Map(es) => {
                stack.extend(es.iter().map(|(_, v)| (v, depth + 1)));
            }
            crate::render::tree::Data::Seq(items) => {
                stack.extend(items.iter().map(|v| (v, depth + 1)));
            }
            crate::render::tree::Data::Scalar(..) => {}
        }
    }
    false
}

/// Where an object is written: its root node.
pub(crate) fn object_loc(ws: &Workspace, obj: ObjectId) -> Loc {
    let o = &ws.objects[obj as usize];
    Loc {
        file: o.file,
        span: ws.doc_of(o).span(o.root),
    }
}

/// The `${VAR}` placeholder (its name) around byte `offset` of a scalar's text at `span` in
/// `text`, and the placeholder's span.
pub(crate) fn placeholder_at(text: &str, span: Span, offset: usize) -> Option<(String, Span)> {
    let range = span.range();
    let s = text.get(range.clone())?;
    let mut from = 0;
    while let Some(i) = s[from..].find("${") {
        let start = from + i;
        let end = s[start..].find('}').map(|e| start + e + 1)?;
        let name_end = s[start + 2..end - 1]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(end - 1, |e| start + 2 + e);
        let (a, b) = (range.start + start, range.start + end);
        if a <= offset && offset < b {
            let name = &s[start + 2..name_end];
            return (!name.is_empty()).then(|| (name.to_string(), Span::new(a, b)));
        }
        from = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::workspace_of as ws;

    fn file(ws: &Workspace, name: &str) -> FileId {
        ws.files
            .iter()
            .position(|f| f.source.display == name)
            .unwrap() as FileId
    }

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, app-migration-TAG]\n      containers:\n        - name: app\n          image: \"app:${TAG}\"\n";
    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: app-migration-TAG\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: app}]\n";

    /// A base, an overlay of it as it is, and an overlay with a prefix, a replacement from a ConfigMap, a patch and Flux.
    fn tree() -> Workspace {
        ws(&[
            (
                "base/kustomization.yaml",
                "resources: [deploy.yaml, job.yaml]\n",
            ),
            ("base/deploy.yaml", DEPLOY),
            ("base/job.yaml", JOB),
            (
                "prod/kustomization.yaml",
                "resources: [../base, vars.yaml]\nnamePrefix: prod-\npatches:\n  - path: patch.yaml\nreplacements:\n  - source: {kind: ConfigMap, name: vars, fieldPath: data.TAG}\n    targets:\n      - select: {kind: Deployment}\n        fieldPaths:\n          - spec.template.spec.initContainers.[name=wait].args.1\n        options: {delimiter: '-', index: 2}\n",
            ),
            ("staging/kustomization.yaml", "resources: [../base]\n"),
            (
                "prod/vars.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: vars}\ndata: {TAG: v7}\n",
            ),
            (
                "prod/patch.yaml",
                "apiVersion: batch/v1\nkind: Job\nmetadata: {name: app-migration-TAG}\nspec:\n  template:\n    spec:\n      containers: [{name: m, image: app-migrate}]\n",
            ),
            (
                "flux/app.yaml",
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app}\nspec:\n  path: ./prod\n  postBuild:\n    substitute: {TAG: v7}\n",
            ),
        ])
    }

    /// How build `build` renders the field under the cursor at `offset` of `file`.
    fn in_build(w: &Workspace, file: FileId, offset: usize, build: &str) -> Rendering {
        let (o, p) = cursor(w, file, offset).unwrap().object.unwrap();
        renderings(w, o, &p)
            .into_iter()
            .find(|r| w.contexts[r.context].name == build)
            .unwrap()
    }

    #[test]
    fn a_cursor_names_its_object_and_path() {
        let w = tree();
        let f = file(&w, "base/deploy.yaml");
        let c = cursor(&w, f, DEPLOY.find("app-migration-TAG").unwrap() + 3).unwrap();
        assert_eq!(c.text(&w), Some("app-migration-TAG"));
        assert!(!c.on_key);
        let (o, p) = c.object.clone().unwrap();
        assert_eq!(w.objects[o as usize].kind, "Deployment");
        assert_eq!(
            crate::render::path::display(&p),
            "spec.template.spec.initContainers[0].args[1]"
        );
        let k = cursor(&w, f, DEPLOY.find("initContainers").unwrap()).unwrap();
        assert!(k.on_key);
        assert_eq!(k.text(&w), Some("initContainers"));
        assert!(cursor(&w, f, DEPLOY.len() + 10).is_none());
    }

    #[test]
    fn each_build_renders_a_value_with_the_steps_that_wrote_it() {
        let w = tree();
        let f = file(&w, "base/deploy.yaml");
        let c = cursor(&w, f, DEPLOY.find("app-migration-TAG").unwrap()).unwrap();
        let (o, p) = c.object.clone().unwrap();
        let mut rs = renderings(&w, o, &p);
        rs.sort_by_key(|r| w.contexts[r.context].name.clone());
        let builds: Vec<&str> = rs
            .iter()
            .map(|r| w.contexts[r.context].name.as_str())
            .collect();
        assert_eq!(builds, ["prod", "staging"]);
        // Staging: as written.
        assert_eq!(rs[1].value.as_deref(), Some("app-migration-TAG"));
        assert_eq!(rs[1].steps.len(), 1);
        assert_eq!(rs[1].steps[0].at, Some(c.loc()));
        // Prod: the replacement wrote it, reading the ConfigMap.
        assert_eq!(rs[0].value.as_deref(), Some("app-migration-v7"));
        let by: Vec<&str> = rs[0].steps.iter().map(|s| s.by).collect();
        assert_eq!(by, ["manifest", "replacement"]);
        let k = file(&w, "prod/kustomization.yaml");
        let vars = file(&w, "prod/vars.yaml");
        assert_eq!(rs[0].steps[1].at.map(|l| l.file), Some(k));
        assert_eq!(rs[0].steps[1].reads.map(|l| l.file), Some(vars));

        // The Job's name: the prefix in the overlay.
        let j = file(&w, "base/job.yaml");
        let prod = in_build(&w, j, JOB.find("app-migration").unwrap(), "prod");
        assert_eq!(prod.value.as_deref(), Some("prod-app-migration-TAG"));
        assert_eq!(prod.steps[1].by, "namePrefix/nameSuffix");
        assert_eq!(prod.steps[1].at.map(|l| l.file), Some(k));

        // The image a patch wrote, seen from the patch.
        let pf = file(&w, "prod/patch.yaml");
        let patch = &w.files[pf as usize];
        let at = patch.source.text.find("app-migrate").unwrap();
        let c = cursor(&w, pf, at).unwrap();
        assert!(c.object.is_none());
        let got = patched_renderings(&w, c.loc());
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].2.value.as_deref(), Some("app-migrate"));
        assert_eq!(got[0].2.steps.last().unwrap().by, "patch");
        assert_eq!(got[0].2.steps[0].by, "manifest");
        assert_eq!(got[0].2.steps[0].text, "app");

        // Flux substitution in the overlay Flux deploys.
        let prod = in_build(&w, f, DEPLOY.find("app:${TAG}").unwrap(), "prod");
        assert_eq!(prod.value.as_deref(), Some("app:v7"));
        let flux = prod.steps.last().unwrap();
        assert_eq!(flux.by, "Flux substitution");
        assert_eq!(flux.at.map(|l| l.file), Some(file(&w, "flux/app.yaml")));
    }

    #[test]
    fn a_placeholder_is_found_around_the_offset() {
        let text = "image: \"app:${TAG:=v1}-${X}\"\n";
        let span = Span::new(7, text.len() - 1);
        let at = |needle: &str| text.find(needle).unwrap();
        assert_eq!(
            placeholder_at(text, span, at("TAG")),
            Some(("TAG".into(), Span::new(at("${TAG"), at("-${X}"))))
        );
        assert_eq!(placeholder_at(text, span, at("X}")).unwrap().0, "X");
        assert_eq!(placeholder_at(text, span, at("app")), None);
        // Past the placeholder's closing brace.
        assert_eq!(placeholder_at(text, span, at("-${X}")), None);
    }
}
