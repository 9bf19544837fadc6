//! Everything one run has read: files, objects, and the contexts cross-resource rules see.
//!
//! A context, for now, is a directory: the manifests in it and its `kustomization.yaml`. The
//! migration-graph work replaces this with contexts that follow `resources:`.

use crate::config::DeployEngine;
use crate::diagnostic::{FileId, Loc, ObjectId};
use crate::kustomize;
use crate::model::{FileData, FileRole, Object};
use crate::text::placeholders;
use crate::yaml::Seg;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Context {
    /// The directory, as displayed.
    pub name: String,
    pub files: Vec<FileId>,
    pub objects: Vec<ObjectId>,
    pub kustomizations: Vec<FileId>,
}

#[derive(Debug, Default)]
pub struct Workspace {
    pub files: Vec<FileData>,
    pub objects: Vec<Object>,
    pub contexts: Vec<Context>,
    pub deploy_engine: DeployEngine,
}

/// A value the tree says will be substituted into a name, and where it comes from.
#[derive(Debug, Clone)]
pub struct NameCandidate {
    /// The name as it will be rendered.
    pub rendered: String,
    /// Where the substituted value is written.
    pub value: Option<Loc>,
    /// The replacement or substitution that writes it.
    pub writer: Option<Loc>,
}

impl Workspace {
    pub fn new(files: Vec<FileData>, objects: Vec<Object>, deploy_engine: DeployEngine) -> Self {
        let mut by_dir: BTreeMap<String, Context> = BTreeMap::new();
        for (i, f) in files.iter().enumerate() {
            let dir = match f.source.display.rsplit_once('/') {
                Some((d, _)) => d.to_string(),
                None => ".".to_string(),
            };
            let cx = by_dir.entry(dir.clone()).or_insert_with(|| Context {
                name: dir,
                ..Default::default()
            });
            cx.files.push(i as FileId);
            if f.role == FileRole::Kustomization {
                cx.kustomizations.push(i as FileId);
            }
        }
        let mut contexts: Vec<Context> = by_dir.into_values().collect();
        let file_to_cx: BTreeMap<FileId, usize> = contexts
            .iter()
            .enumerate()
            .flat_map(|(ci, c)| c.files.iter().map(move |&f| (f, ci)))
            .collect();
        for o in &objects {
            contexts[file_to_cx[&o.file]].objects.push(o.id);
        }
        Workspace {
            files,
            objects,
            contexts,
            deploy_engine,
        }
    }

    pub fn doc_of(&self, obj: &Object) -> &crate::yaml::Document {
        &self.files[obj.file as usize].docs[obj.doc as usize]
    }

    fn loc(&self, file: FileId, doc: &crate::yaml::Document, node: crate::yaml::NodeId) -> Loc {
        let _ = self;
        Loc {
            file,
            span: doc.span(node),
        }
    }

    /// Values the context defines for `${var}`: Flux `postBuild.substitute` entries and
    /// ConfigMap `data` keys of that name.
    pub fn variable_values(&self, cx: &Context, var: &str) -> Vec<(String, Loc)> {
        let mut out = Vec::new();
        for &id in &cx.objects {
            let o = &self.objects[id as usize];
            let doc = self.doc_of(o);
            let node = if o.kind == "Kustomization"
                && o.api_version.starts_with("kustomize.toolkit.fluxcd.io/")
            {
                doc.at(
                    o.root,
                    &[
                        Seg::Key("spec"),
                        Seg::Key("postBuild"),
                        Seg::Key("substitute"),
                        Seg::Key(var),
                    ],
                )
            } else if o.is("v1", "ConfigMap") {
                doc.at(o.root, &[Seg::Key("data"), Seg::Key(var)])
            } else {
                None
            };
            if let Some(n) = node
                && let Some(v) = doc.str(n)
            {
                out.push((v.to_string(), self.loc(o.file, doc, n)));
            }
        }
        out
    }

    /// How the context renders `obj`'s `metadata.name`: `${VAR}` placeholders filled with every
    /// value the context defines, and kustomize replacements that write into the name.
    pub fn name_candidates(&self, cx: &Context, obj: &Object) -> Vec<NameCandidate> {
        let mut out = Vec::new();
        let Some(name) = obj.name.as_deref() else {
            return out;
        };
        for p in placeholders(name) {
            let mut values = self.variable_values(cx, &p.var);
            if values.is_empty()
                && let Some(d) = &p.default
            {
                let doc = self.doc_of(obj);
                if let Some(n) = doc.at(obj.root, &[Seg::Key("metadata"), Seg::Key("name")]) {
                    values.push((d.clone(), self.loc(obj.file, doc, n)));
                }
            }
            for (v, loc) in values {
                let rendered = format!("{}{}{}", &name[..p.start], v, &name[p.end..]);
                out.push(NameCandidate {
                    rendered,
                    value: Some(loc),
                    writer: None,
                });
            }
        }
        for w in self.name_writes(cx, obj) {
            out.push(w);
        }
        out
    }

    /// Replacements in the context's kustomizations that write into `obj`'s name.
    pub fn name_writes(&self, cx: &Context, obj: &Object) -> Vec<NameCandidate> {
        let mut out = Vec::new();
        for &k in &cx.kustomizations {
            let kf = &self.files[k as usize];
            for doc in &kf.docs {
                for r in kustomize::replacements(doc) {
                    for t in &r.targets {
                        let selected = t.select.matches(
                            &obj.api_version,
                            &obj.kind,
                            obj.name.as_deref(),
                            obj.namespace.as_deref(),
                            true,
                        ) && !t.reject.iter().any(|s| {
                            s.matches(
                                &obj.api_version,
                                &obj.kind,
                                obj.name.as_deref(),
                                obj.namespace.as_deref(),
                                true,
                            )
                        });
                        if !selected || !t.field_paths.iter().any(|(p, _)| p == "metadata.name") {
                            continue;
                        }
                        let writer = Some(self.loc(k, doc, t.node));
                        let value = self.replacement_source(cx, doc, k, &r);
                        match value {
                            Some((v, loc)) => out.push(NameCandidate {
                                rendered: kustomize::write_delimited(
                                    obj.name.as_deref().unwrap_or(""),
                                    &v,
                                    t.delimiter.as_deref(),
                                    t.index,
                                ),
                                value: Some(loc),
                                writer,
                            }),
                            None => out.push(NameCandidate {
                                rendered: String::new(),
                                value: None,
                                writer,
                            }),
                        }
                    }
                }
            }
        }
        out
    }

    fn replacement_source(
        &self,
        cx: &Context,
        kdoc: &crate::yaml::Document,
        kfile: FileId,
        r: &kustomize::Replacement,
    ) -> Option<(String, Loc)> {
        if let Some((v, n)) = &r.source_value {
            return Some((v.clone(), self.loc(kfile, kdoc, *n)));
        }
        let src = r.source.as_ref()?;
        let mut found = cx
            .objects
            .iter()
            .map(|&i| &self.objects[i as usize])
            .filter(|o| {
                src.selector.matches(
                    &o.api_version,
                    &o.kind,
                    o.name.as_deref(),
                    o.namespace.as_deref(),
                    false,
                )
            });
        let o = found.next()?;
        if found.next().is_some() {
            return None;
        }
        let doc = self.doc_of(o);
        let n = kustomize::field_node(doc, o.root, &src.field_path)?;
        let v = kustomize::read_delimited(doc.str(n)?, src.delimiter.as_deref(), src.index)?;
        Some((v, self.loc(o.file, doc, n)))
    }
}
