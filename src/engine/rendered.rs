//! Per-object rules on the rendered object: an object a patch changed in some build is judged
//! as that build renders it, and each finding is mapped back to where its value is written
//! (the patch's line, with the base's line as a related location).

use super::AsFinding;
use crate::base::diagnostic::{Diagnostic, Loc, ObjectId};
use crate::base::source::SourceFile;
use crate::model::{FileData, FileRole, Object};
use crate::render::tree::{Data, Node};
use crate::render::workspace::Workspace;
use crate::rules::{ObjectCx, Rule};
use crate::yaml::{Document, NodeId};
use std::collections::{BTreeMap, HashMap};

/// Where the text of a node of the rendered document comes from.
#[derive(Clone, Copy)]
struct Prov {
    loc: Option<Loc>,
    replaced: Option<Loc>,
    patched: bool,
}

/// Walk the rendered document and its tree together (the document is the tree printed), so
/// each node's span finds its provenance.
fn provenance(
    doc: &Document,
    id: NodeId,
    t: &Node,
    out: &mut HashMap<(u32, u32), Prov>,
    depth: usize,
) {
    let span = doc.span(id);
    out.entry((span.start, span.end)).or_insert(Prov {
        loc: t.loc,
        replaced: t.replaced,
        patched: t.via == Some(crate::render::patch::VIA),
    });
    if depth > 200 {
        return;
    }
    match &t.data {
        Data::Map(_) => {
            for (k, v) in doc.entries(id) {
                let Some(tv) = doc.str(k).and_then(|key| t.get(key)) else {
                    continue;
                };
                let ks = doc.span(k);
                out.entry((ks.start, ks.end)).or_insert(Prov {
                    loc: tv.key_loc.or(tv.loc),
                    replaced: None,
                    patched: tv.via == Some(crate::render::patch::VIA),
                });
                provenance(doc, v, tv, out, depth + 1);
            }
        }
        Data::Seq(items) => {
            for (&i, ti) in doc.items(id).iter().zip(items) {
                provenance(doc, i, ti, out, depth + 1);
            }
        }
        Data::Scalar(..) => {}
    }
}

/// The objects a patch changed or deleted, with whether some build renders them from their
/// manifest and the distinct trees the builds render them as (none when deleted everywhere).
pub(crate) fn patched_objects(ws: &Workspace) -> BTreeMap<ObjectId, (bool, Vec<Node>)> {
    let env = ws.env();
    let mut out: BTreeMap<ObjectId, (bool, Vec<Node>)> = BTreeMap::new();
    for cx in &ws.contexts {
        for &o in &cx.deleted {
            out.entry(o).or_insert((false, Vec::new()));
        }
        for r in &cx.rendered {
            let Some(o) = r.object() else { continue };
            let entry = out.entry(o).or_insert((false, Vec::new()));
            if r.tree.is_none() {
                // Rendered from its manifest somewhere: the source run covers it.
                entry.0 = true;
                continue;
            }
            let t = crate::render::tree::materialize(&env, r);
            if !entry.1.contains(&t) {
                entry.1.push(t);
            }
        }
    }
    out.retain(|_, (plain, trees)| !trees.is_empty() || !*plain);
    out
}

/// Run the per-object rules on each rendered tree of `obj`.
pub(crate) fn check(
    ws: &Workspace,
    obj: &Object,
    trees: &[Node],
    rules: &[&'static dyn Rule],
    budget: u64,
) -> Vec<Diagnostic> {
    let source = &ws.files[obj.file as usize];
    let root_loc = Loc {
        file: obj.file,
        span: source.docs[obj.doc as usize].span(obj.root),
    };
    let mut out = Vec::new();
    for t in trees {
        let text: std::sync::Arc<str> = t.to_yaml(&|_| None).into();
        let parsed = crate::yaml::parse_shared(&text, crate::yaml::Limits::default());
        let Some(doc) = parsed.docs.into_iter().next() else {
            continue;
        };
        let Some((mut rendered, _)) =
            crate::model::object_at(obj.file, obj.doc, &doc, doc.root, budget)
        else {
            continue;
        };
        rendered.id = obj.id;
        let mut prov = HashMap::new();
        provenance(&doc, doc.root, t, &mut prov, 0);
        let file = FileData {
            source: SourceFile::new(
                source.source.display.clone(),
                source.source.path.clone(),
                text,
            ),
            docs: Vec::new(),
            error: None,
            role: FileRole::Manifest,
        };
        let cx = ObjectCx {
            ws,
            obj: &rendered,
            doc: &doc,
            file: &file,
        };
        let mut found = Vec::new();
        for r in rules {
            if let Err(c) = crate::base::internal::isolate(|| r.check_object(&cx, &mut found)) {
                let doing = format!("running {} on the rendered {}", r.meta().name, obj.kind);
                let mut d = c
                    .error("rule", doing, Some(&source.source.display))
                    .finding(root_loc);
                d.object = Some(obj.id);
                out.push(d);
            }
        }
        let map = |l: Loc| -> (Loc, Option<Prov>) {
            if l.file != obj.file {
                return (l, None);
            }
            match prov.get(&(l.span.start, l.span.end)) {
                Some(p) => (p.loc.unwrap_or(root_loc), Some(*p)),
                None => (root_loc, None),
            }
        };
        for mut d in found {
            let (loc, p) = map(d.loc);
            d.loc = loc;
            d.fix = None;
            for rel in &mut d.related {
                rel.loc = map(rel.loc).0;
            }
            if let Some(p) = p
                && p.patched
                && let Some(base) = p.replaced
                && base != loc
            {
                d = d.related(base, "the base sets it here; the patch replaces it");
            }
            out.push(d);
        }
    }
    out
}
