//! The rule framework: metadata, the two entry points, and the one registry.
//!
//! A rule lives in `src/rules/<rule_name>.rs` with its metadata, its check and its inline tests;
//! its page is `rules/<rule-name>.md` (embedded for `explain`, examples executed by the tests).
//! Rules never print and never know the output format: they return diagnostics against one
//! primary object; the engine applies configured severities and suppressions, and sorts.

use crate::base::diagnostic::{Diagnostic, FileId, Loc, Severity};
pub(crate) use crate::base::rule_id::RuleId;
use crate::model::config::DeployEngine;
use crate::model::{FileData, Object};
use crate::render::path::Step;
use crate::render::workspace::Workspace;
use crate::render::{Context, Env, Rendered, Value};
use crate::yaml::{Document, NodeId, Seg};

mod framework;
pub use framework::docs;
pub(crate) use framework::suppress;

// The rules' modules, `RuleId::meta`, `meta::*` and `REGISTRY`, generated from the pages by build.rs.
include!(concat!(env!("OUT_DIR"), "/rules.rs"));

#[cfg(test)]
pub(crate) mod testing;

/// What part of the pattern a rule checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Category {
    /// The file cannot be read as Kubernetes YAML.
    Syntax,
    /// The migration Job itself.
    Job,
    /// The k8s-wait-for init container and the Job it waits for.
    Wait,
    /// Permissions the waiting pod needs.
    Rbac,
    /// How Kustomize (and Flux) render the manifests.
    Kustomize,
    /// Containers, images and their configuration.
    Workload,
    /// The linter's own bookkeeping (suppressions).
    Meta,
}

impl Category {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Category::Syntax => "syntax",
            Category::Job => "job",
            Category::Wait => "wait",
            Category::Rbac => "rbac",
            Category::Kustomize => "kustomize",
            Category::Workload => "workload",
            Category::Meta => "meta",
        }
    }
}

/// Whether a rule's findings come with a fix (as ruff says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixAvailability {
    /// Every finding has one.
    Always,
    /// Some findings have one.
    Sometimes,
    /// No finding has one.
    Never,
}

impl FixAvailability {
    /// The name the rules table and pages use.
    pub fn as_str(self) -> &'static str {
        match self {
            FixAvailability::Always => "always",
            FixAvailability::Sometimes => "sometimes",
            FixAvailability::Never => "never",
        }
    }
}

/// A rule's metadata, generated from the front matter of its page (see build.rs).
#[derive(Debug)]
pub struct RuleMeta {
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "read by the test that checks the generated registry"
        )
    )]
    pub(crate) id: RuleId,
    /// Stable kebab-case name, named after what the rule forbids.
    pub name: &'static str,
    pub(crate) severity: Severity,
    pub(crate) category: Category,
    pub(crate) summary: &'static str,
    /// What the rule needs to see before it speaks: the deploy engine, the evidence.
    pub(crate) evidence: &'static str,
    /// Whether the rule's findings come with fixes.
    pub fix: FixAvailability,
    /// The rule page, `rules/<name>.md`.
    pub page: &'static str,
}

impl RuleMeta {
    /// Whether some of the rule's findings come with a fix.
    pub fn fixable(&self) -> bool {
        self.fix != FixAvailability::Never
    }
}

/// A rule's metadata, implemented for every rule by the code `build.rs` generates from its page.
pub(crate) trait Declared {
    fn declared(&self) -> &'static RuleMeta;
}

/// A lint rule: its metadata and the checks it runs on objects, contexts and the workspace.
pub(crate) trait Rule: Declared + Sync + Send {
    /// The rule's metadata, from its page.
    fn meta(&self) -> &'static RuleMeta {
        self.declared()
    }
    /// Runs on every object, in parallel.
    fn check_object(&self, _cx: &ObjectCx<'_>, _out: &mut Vec<Diagnostic>) {}
    /// Runs once per context, for links between objects.
    fn check_context(&self, _cx: &ContextCx<'_>, _out: &mut Vec<Diagnostic>) {}
    /// Runs once per run, for what belongs to no single context (a shared kustomization).
    fn check_workspace(&self, _ws: &Workspace, _out: &mut Vec<Diagnostic>) {}
}

/// Replace an evaluated value where the manifest writes it, when nothing else (a replacement,
/// a transformer, a substitution) wrote it: editing the manifest then changes the value.
pub(crate) fn set_value(
    ws: &Workspace,
    value: &Value,
    new: &str,
) -> Option<crate::base::diagnostic::Edit> {
    if value.writer.is_some() {
        return None;
    }
    let loc = value.origin?;
    let file = ws.files.get(loc.file as usize)?;
    let doc = file
        .docs
        .iter()
        .find(|d| d.span.start <= loc.span.start && loc.span.end <= d.span.end)?;
    let ed = crate::yaml::edit::Editor::new(&file.source.text, doc, loc.file);
    ed.set_scalar(ed.scalar_at(loc.span)?, new)
}

/// The rule called `name`.
pub(crate) fn find(name: &str) -> Option<&'static dyn Rule> {
    REGISTRY.iter().copied().find(|r| r.meta().name == name)
}

/// Every rule's metadata, sorted by name: what `rules` lists and the rule pages declare.
pub fn metas() -> impl Iterator<Item = &'static RuleMeta> {
    REGISTRY.iter().map(|r| r.meta())
}

/// The metadata of the rule called `name`, if there is one.
pub fn meta(name: &str) -> Option<&'static RuleMeta> {
    find(name).map(|r| r.meta())
}

/// Every rule name, in registry order.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|r| r.meta().name).collect()
}

/// What a rule sees of one object.
pub(crate) struct ObjectCx<'a> {
    pub(crate) ws: &'a Workspace,
    pub(crate) obj: &'a Object,
    pub(crate) doc: &'a Document,
    pub(crate) file: &'a FileData,
}

impl<'a> ObjectCx<'a> {
    pub(crate) fn new(ws: &'a Workspace, obj: &'a Object) -> Self {
        let file = &ws.files[obj.file as usize];
        ObjectCx {
            ws,
            obj,
            doc: &file.docs[obj.doc as usize],
            file,
        }
    }

    /// Text edits on this object's document, for fixes.
    pub(crate) fn editor(&self) -> crate::yaml::edit::Editor<'a> {
        crate::yaml::edit::Editor::new(&self.file.source.text, self.doc, self.obj.file)
    }

    /// The engine that applies this object (configured, or decided from the repository).
    pub(crate) fn deploy_engine(&self) -> DeployEngine {
        self.engine().engine
    }

    /// The engine that applies this object, whether it is evident, and why.
    pub(crate) fn engine(&self) -> crate::render::engine::Verdict {
        self.ws.engine_of(self.obj.id)
    }

    /// The field at `path`, typed as `T` (None when absent or null); meant for objects whose
    /// typed view succeeded, for a `T` that types the field as k8s-openapi does.
    pub(crate) fn read<T: serde::de::DeserializeOwned>(&self, path: &[Seg]) -> Option<T> {
        crate::model::read(self.doc, self.obj.root, path)
    }

    pub(crate) fn loc_of(&self, node: NodeId) -> Loc {
        Loc {
            file: self.obj.file,
            span: self.doc.span(node),
        }
    }

    /// Where a finding about `path` goes: the node, or (missing) the nearest key that exists;
    /// a missing top-level field points at the object's `kind`.
    pub(crate) fn locate(&self, path: &[Seg]) -> (Loc, bool) {
        let l = self.doc.locate(self.obj.root, path);
        let node = if l.node == self.obj.root {
            self.doc
                .entry(self.obj.root, "kind")
                .map(|e| e.0)
                .unwrap_or(l.node)
        } else {
            l.node
        };
        (self.loc_of(node), l.found)
    }

    /// A diagnostic of `meta` on this object at `path`.
    pub(crate) fn diag(
        &self,
        meta: &'static RuleMeta,
        path: &[Seg],
        message: impl Into<String>,
    ) -> Diagnostic {
        let (loc, found) = self.locate(path);
        let shown: &[Seg] = if found {
            path
        } else {
            &path[..self.doc.locate(self.obj.root, path).depth]
        };
        self.diag_at(meta, loc, path_string(shown), message)
    }

    pub(crate) fn diag_at(
        &self,
        meta: &'static RuleMeta,
        loc: Loc,
        path: String,
        message: impl Into<String>,
    ) -> Diagnostic {
        let mut d = Diagnostic::new(meta.name, meta.severity, loc, message);
        d.object = Some(self.obj.id);
        d.path = (!path.is_empty()).then_some(path);
        d
    }
}

/// What a rule sees of one context.
pub(crate) struct ContextCx<'a> {
    pub(crate) ws: &'a Workspace,
    pub(crate) context: &'a Context,
}

impl<'a> ContextCx<'a> {
    /// Rendered objects backed by a manifest, with their object.
    pub(crate) fn rendered(&self) -> impl Iterator<Item = (&'a Rendered, ObjectCx<'a>)> + '_ {
        self.context.rendered.iter().filter_map(|r| {
            r.object()
                .map(|o| (r, ObjectCx::new(self.ws, &self.ws.objects[o as usize])))
        })
    }

    /// The rendered objects with pods that the workload rules judge: none unless the build is
    /// judged on its own (see [`crate::analysis::workload::judged`]); objects with a pod
    /// template, backed by a manifest that is no patch and whose fields can be read.
    pub(crate) fn pod_owners(&self) -> impl Iterator<Item = PodOwner<'a>> + '_ {
        use crate::analysis::workload::{judged, readable};
        let judged = judged(self.ws, self.context);
        let rendered = self.context.rendered.iter().enumerate();
        rendered.filter_map(move |(index, r)| {
            if !judged || r.patched || crate::render::pod_spec_path(&r.kind).is_none() {
                return None;
            }
            let ocx = ObjectCx::new(self.ws, &self.ws.objects[r.object()? as usize]);
            readable(ocx.obj).then_some(PodOwner { index, r, ocx })
        })
    }

    pub(crate) fn env(&self) -> Env<'a> {
        self.ws.env()
    }

    /// A value as the context applies it.
    pub(crate) fn value(&self, r: &Rendered, path: &[Step]) -> Option<Value> {
        self.env().value(self.context, r, path)
    }

    /// A finding about an evaluated value at `path` of a rendered object: at the manifest node
    /// when it exists, else where the value came from; related locations say who wrote it.
    pub(crate) fn diag_value(
        &self,
        meta: &'static RuleMeta,
        ocx: &ObjectCx<'_>,
        r: &Rendered,
        path: &[Step],
        v: Option<&Value>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let loc = crate::render::links::value_loc(&self.env(), r, path, v)
            .unwrap_or_else(|| ocx.locate(&[]).0);
        let mut d = ocx.diag_at(meta, loc, crate::render::path::display(path), message);
        if let Some(base) = self.env().replaced(r, path)
            && base != loc
        {
            d = d.related(base, "the base sets it here; a patch replaces it");
        }
        match v {
            Some(v) => self.provenance(d, v, loc),
            None => d,
        }
    }

    /// A finding at `path` of a rendered object, where its manifest writes that path; `None`
    /// when the object has no manifest or does not write the path.
    pub(crate) fn diag_written(
        &self,
        meta: &'static RuleMeta,
        r: &Rendered,
        path: &[Step],
        message: impl Into<String>,
    ) -> Option<Diagnostic> {
        let o = r.object()?;
        let loc = crate::render::links::value_loc(&self.env(), r, path, None)?;
        let ocx = ObjectCx::new(self.ws, &self.ws.objects[o as usize]);
        Some(ocx.diag_at(meta, loc, crate::render::path::display(path), message))
    }

    /// Related locations explaining where an evaluated value came from.
    pub(crate) fn provenance(&self, mut d: Diagnostic, v: &Value, primary: Loc) -> Diagnostic {
        if let Some(w) = v.writer
            && w != primary
        {
            d = d.related(
                w,
                format!("written by {}", v.via.unwrap_or("a transformer")),
            );
        }
        if let Some(o) = v.origin
            && o != primary
            && Some(o) != v.writer
        {
            d = d.related(o, "value comes from here");
        }
        d
    }
}

/// A rendered object whose pods the workload rules judge ([`ContextCx::pod_owners`]).
pub(crate) struct PodOwner<'a> {
    /// Its index in the context's rendered objects.
    pub(crate) index: usize,
    pub(crate) r: &'a Rendered,
    /// Its manifest.
    pub(crate) ocx: ObjectCx<'a>,
}

/// A finding of `meta` at `node` of a document that is no object (a kustomization), with the
/// node's path.
pub(crate) fn diag_in_doc(
    meta: &'static RuleMeta,
    file: FileId,
    doc: &Document,
    node: NodeId,
    message: impl Into<String>,
) -> Diagnostic {
    let loc = Loc {
        file,
        span: doc.span(node),
    };
    let mut d = Diagnostic::new(meta.name, meta.severity, loc, message);
    d.path = doc.path_to(doc.root, node).filter(|p| !p.is_empty());
    d
}

pub(crate) fn path_string(path: &[Seg]) -> String {
    crate::render::path::display_segs(path.iter().cloned())
}

/// Paths the Job rules share.
pub(crate) mod paths {
    use crate::yaml::Seg;
    pub(crate) const BACKOFF_LIMIT: &[Seg] = &[Seg::Key("spec"), Seg::Key("backoffLimit")];
    pub(crate) const RESTART_POLICY: &[Seg] = &[
        Seg::Key("spec"),
        Seg::Key("template"),
        Seg::Key("spec"),
        Seg::Key("restartPolicy"),
    ];
    pub(crate) const NAME: &[Seg] = &[Seg::Key("metadata"), Seg::Key("name")];
    pub(crate) const GENERATE_NAME: &[Seg] = &[Seg::Key("metadata"), Seg::Key("generateName")];
}

/// Whether `obj` is a Job the migration rules apply to, and why.
pub(crate) fn migration_job(cx: &ObjectCx<'_>) -> Option<crate::model::migration::Reason> {
    crate::analysis::migration_job_in(cx.ws, cx.obj, cx.doc)
}

/// Whether `cx` is a Job the migration rules apply to whose typed view succeeded, so its
/// fields read with [`ObjectCx::read`] as the API server reads them.
pub(crate) fn typed_migration_job(cx: &ObjectCx<'_>) -> bool {
    cx.obj.typed == crate::model::Typed::Job && migration_job(cx).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_sorted_unique_and_kebab_case() {
        let names = names();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted, "registry must be sorted and unique");
        for n in names {
            assert!(
                n.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !n.starts_with('-'),
                "{n} is not kebab-case"
            );
        }
    }

    #[test]
    fn every_rule_is_declared_by_its_page() {
        // build.rs generates the metadata from the front matter; this checks the round trip
        // and the sections every page has.
        for (rule, &id) in REGISTRY.iter().zip(RuleId::ALL) {
            let m = rule.meta();
            assert_eq!(m.id, id);
            assert_eq!(id.name(), m.name);
            assert!(std::ptr::eq(id.meta(), m), "{}", m.name);
            let fm = crate::rules::docs::front_matter(m.page)
                .unwrap_or_else(|| panic!("{}: page has no front matter", m.name));
            assert_eq!(fm.get("name").map(String::as_str), Some(m.name));
            assert_eq!(
                fm.get("severity").map(String::as_str),
                Some(m.severity.as_str())
            );
            assert_eq!(
                fm.get("category").map(String::as_str),
                Some(m.category.as_str())
            );
            assert_eq!(fm.get("summary").map(String::as_str), Some(m.summary));
            assert_eq!(fm.get("fix").map(String::as_str), Some(m.fix.as_str()));
            for section in [
                "## What it checks",
                "## Why it matters",
                "## Fails",
                "## Passes",
                "## Fix",
            ] {
                assert!(
                    m.page.contains(section),
                    "{}: page lacks `{section}`",
                    m.name
                );
            }
        }
        assert_eq!(REGISTRY.len(), RuleId::ALL.len());
    }

    #[test]
    fn summaries_and_messages_have_no_trailing_period() {
        for rule in REGISTRY {
            let s = rule.meta().summary;
            assert!(!s.ends_with('.'), "{}", rule.meta().name);
        }
        // Every finding the bundled trees produce.
        let report = crate::engine::lint_paths(
            &[std::path::PathBuf::from("testdata")],
            None,
            &crate::model::discover::Excludes::default(),
            &crate::engine::Settings::default(),
        );
        assert!(report.diagnostics.len() > 100);
        for d in &report.diagnostics {
            assert!(!d.message.ends_with('.'), "[{}] {}", d.rule, d.message);
            if let Some(h) = &d.help {
                assert!(!h.ends_with('.'), "[{}] help: {h}", d.rule);
            }
        }
    }
}
