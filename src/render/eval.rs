//! Building contexts and evaluating kustomizations natively, in kustomize's order:
//! resources (bases built first, recursively), components, generators, then the namespace,
//! name prefix and suffix (with name references), images, replicas and replacements.

use super::flux::{self, FluxKustomization};
use super::path::{self, Concrete, PathError, Step};
use super::refusal::{Refusal, yaml11_type};
use super::{Context, Rendered, Source, Value};
use super::{generate, metadata};
use crate::base::diagnostic::{FileId, Loc, ObjectId};
use crate::base::internal::{InternalError, inject, isolate};
use crate::model::{FileData, FileRole, Object};
use crate::render::kustomize::{self, Selector};
use crate::yaml::{Document, NodeId, Seg};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ContextMode {
    /// One context per kustomization, plus one per directory of manifests none includes.
    #[default]
    Auto,
    /// Everything given is one context.
    All,
}

/// Kinds kustomize never puts in a namespace.
pub(crate) const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "CSINode",
    "VolumeSnapshotClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
    "Node",
];

/// Pod spec location of workload kinds.
pub fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => Some(&["spec", "template", "spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        "Pod" => Some(&["spec"]),
        _ => None,
    }
}

/// A problem met while evaluating a replacement, for the kustomize rules.
#[derive(Debug, Clone)]
pub struct ReplacementIssue {
    pub kustomization: FileId,
    /// The node to point at (a fieldPath, a select, a source).
    pub(crate) node: NodeId,
    pub issue: Issue,
}

impl ReplacementIssue {
    pub fn kind(&self) -> IssueKind {
        match self.issue {
            Issue::TargetUnmatched => IssueKind::Unmatched,
            Issue::TargetRegexOnly { .. } => IssueKind::RegexOnly,
            Issue::Build(_) => IssueKind::BuildError,
            _ => IssueKind::Invalid,
        }
    }
}

/// What is wrong with a replacement, as data: the rules word the findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// The source selects no resource (kustomize: `nothing selected by`).
    SourceSelectsNone,
    /// The source selects this many resources (kustomize: `multiple matches for selector`).
    SourceSelectsMany(usize),
    /// Neither `source` nor `sourceValue`.
    NoSource,
    /// A fieldPath element kustomize rejects, and why.
    InvalidFieldPath(String),
    /// The source's fieldPath has no (non-empty) value.
    SourceFieldMissing { field_path: String },
    /// `options.index` past the parts of the source value split by `delimiter`.
    SourceIndexOutOfBounds { index: i64, delimiter: String },
    /// A target's fieldPath does not resolve in the target `kind` `name`.
    TargetPath {
        error: PathError,
        kind: String,
        name: String,
    },
    /// A target select matches nothing.
    TargetUnmatched,
    /// A target select with this name matches only as a regular expression.
    TargetRegexOnly { name: String },
    /// Not a replacement: something else kustomize refuses to build.
    Build(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What a replacement problem amounts to.
pub enum IssueKind {
    /// kustomize build fails.
    Invalid,
    /// A target select matches nothing: kustomize silently ignores it.
    Unmatched,
    /// Matches only when names are read as regular expressions (kustomize 5.8+).
    RegexOnly,
    /// kustomize build fails, for a reason outside the replacements.
    BuildError,
}

/// Read access to rendered values: overrides first, then the manifest, then Flux substitution.
pub struct Env<'a> {
    pub(crate) files: &'a [FileData],
    pub(crate) objects: &'a [Object],
}

impl<'a> Env<'a> {
    pub(crate) fn doc_of(&self, o: ObjectId) -> (&'a Document, NodeId, FileId) {
        let obj = &self.objects[o as usize];
        (
            &self.files[obj.file as usize].docs[obj.doc as usize],
            obj.root,
            obj.file,
        )
    }

    /// The raw node at `path` in a rendered object's manifest, when the object is read from
    /// its manifest (not materialized by a patch: see `exists` and `loc`).
    pub(crate) fn node(&self, r: &Rendered, p: &[Step]) -> Option<(FileId, &'a Document, NodeId)> {
        let Source::Object(o) = r.source else {
            return None;
        };
        if r.tree.is_some() {
            return None;
        }
        let (doc, root, file) = self.doc_of(o);
        path::node_at(doc, root, p).map(|n| (file, doc, n))
    }

    /// Whether the rendered object has a field at `path` (a transformer's override, the
    /// patched tree, or the manifest).
    pub(crate) fn exists(&self, r: &Rendered, p: &[Step]) -> bool {
        r.overrides.contains_key(p)
            || match &r.tree {
                Some(t) => t.at(p).is_some(),
                None => self.node(r, p).is_some(),
            }
    }

    /// Where the field at `path` is written: the manifest's node, or the patch that wrote it.
    pub(crate) fn loc(&self, r: &Rendered, p: &[Step]) -> Option<Loc> {
        match &r.tree {
            Some(t) => t.at(p).and_then(|n| n.loc),
            None => self.node(r, p).map(|(file, doc, n)| Loc {
                file,
                span: doc.span(n),
            }),
        }
    }

    /// Number of entries of a mapping at `path`.
    pub(crate) fn map_len(&self, r: &Rendered, p: &[Step]) -> usize {
        match &r.tree {
            Some(t) => match t.at(p).map(|n| &n.data) {
                Some(super::tree::Data::Map(es)) => es.len(),
                _ => 0,
            },
            None => self
                .node(r, p)
                .filter(|(_, d, n)| d.is_map(*n))
                .map(|(_, d, n)| d.entries(n).len())
                .unwrap_or(0),
        }
    }

    /// The base's node a patch replaced at `path`, when a patch wrote the value there.
    pub(crate) fn replaced(&self, r: &Rendered, p: &[Step]) -> Option<Loc> {
        let n = r.tree.as_ref()?.at(p)?;
        n.replaced.filter(|_| n.via == Some(super::patch::VIA))
    }

    /// Where the key `key` of the mapping at `path` is written.
    pub(crate) fn key_loc(&self, r: &Rendered, p: &[Step], key: &str) -> Option<Loc> {
        match &r.tree {
            Some(t) => t.at(p)?.get(key)?.key_loc,
            None => {
                let (file, doc, n) = self.node(r, p)?;
                let (k, _) = doc.entry(n, key)?;
                Some(Loc {
                    file,
                    span: doc.span(k),
                })
            }
        }
    }

    /// The value at `path` before Flux substitution.
    pub(crate) fn raw_value(&self, r: &Rendered, p: &[Step]) -> Option<Value> {
        if let Some(v) = r.overrides.get(p) {
            return Some(v.clone());
        }
        if let Some(t) = &r.tree {
            return t.at(p).and_then(super::tree::Node::value);
        }
        let (file, doc, n) = self.node(r, p)?;
        self.literal(file, doc, n)
    }

    /// The value a manifest's node holds, before Flux substitution.
    pub(crate) fn literal(&self, file: FileId, doc: &Document, n: NodeId) -> Option<Value> {
        let text = doc.string(n)?;
        Some(Value::literal(
            text,
            Loc {
                file,
                span: doc.span(doc.resolve(n)),
            },
        ))
    }

    /// The manifest's node at `path` when the manifest alone writes what is below it (no
    /// patch changed the object, no transformer wrote a value under `path`): the values below
    /// it can then be read from its nodes ([`Env::literal`]), with no path per value.
    pub(crate) fn plain_node(
        &self,
        r: &Rendered,
        p: &[Step],
    ) -> Option<(FileId, &'a Document, NodeId)> {
        use std::ops::Bound;
        let below = r
            .overrides
            .range::<[Step], _>((Bound::Included(p), Bound::Unbounded))
            .next()
            .is_some_and(|(k, _)| k.starts_with(p));
        if below {
            return None;
        }
        self.node(r, p)
    }

    /// The value at `path` as it will be applied.
    pub fn value(&self, cx: &Context, r: &Rendered, p: &[Step]) -> Option<Value> {
        let v = self.raw_value(r, p)?;
        self.substituted(cx, r, v)
    }

    #[cfg(test)]
    pub(crate) fn value_at(&self, cx: &Context, r: &Rendered, p: &[&str]) -> Option<Value> {
        self.value(cx, r, &path::keys(p))
    }

    /// Apply Flux post-build substitution; None when the result cannot be known.
    pub(crate) fn substituted(&self, cx: &Context, r: &Rendered, v: Value) -> Option<Value> {
        if !cx.substitute || !v.text.contains("${") || self.substitution_disabled(r) {
            return Some(v);
        }
        let unknown = cx.unknown.iter().any(|u| u.starts_with("substituteFrom"));
        let (text, loc) = flux::substitute(&v.text, &cx.substitutions, unknown)?;
        Some(Value {
            text,
            origin: v.origin,
            writer: loc.or(v.writer),
            via: Some("Flux substitution"),
        })
    }

    /// Whether the object opts out of Flux post-build substitution
    /// (`kustomize.toolkit.fluxcd.io/substitute: disabled` as an annotation or a label).
    pub(crate) fn substitution_disabled(&self, r: &Rendered) -> bool {
        let Source::Object(o) = r.source else {
            return false;
        };
        let (doc, root, _) = self.doc_of(o);
        ["annotations", "labels"].iter().any(|f| {
            doc.at(root, &[Seg::Key("metadata"), Seg::Key(f)])
                .and_then(|m| doc.get_str(m, "kustomize.toolkit.fluxcd.io/substitute"))
                .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
        })
    }

    pub fn name(&self, cx: &Context, r: &Rendered) -> Option<Value> {
        self.substituted(cx, r, r.name.clone())
    }

    pub fn namespace(&self, cx: &Context, r: &Rendered) -> String {
        r.namespace
            .clone()
            .and_then(|v| self.substituted(cx, r, v))
            .map(|v| v.text)
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "default".into())
    }

    /// A kustomize field path resolved in the rendered object (its patched tree when a patch
    /// changed it).
    pub(crate) fn resolve_path(
        &self,
        r: &Rendered,
        field_path: &str,
        create: bool,
        source: bool,
    ) -> Result<Vec<Concrete>, PathError> {
        // Sources compare `[name=value]` exactly; targets read it as a regular expression.
        let go = |d: &Document, root: NodeId| {
            if source {
                path::resolve_source(d, root, field_path)
            } else {
                path::resolve(d, root, field_path, create)
            }
        };
        match (&r.tree, r.source) {
            (Some(t), _) => {
                let text = t.to_yaml(&|_| None);
                let parsed = crate::yaml::parse(&text, crate::yaml::Limits::default());
                match parsed.docs.first() {
                    Some(d) => go(d, d.root),
                    None => Err(PathError::NoField {
                        field_path: field_path.to_string(),
                    }),
                }
            }
            (None, Source::Object(o)) => {
                let (doc, root, _) = self.doc_of(o);
                go(doc, root)
            }
            (None, Source::Generated(..)) => Err(PathError::NoField {
                field_path: field_path.to_string(),
            }),
        }
    }

    /// The string map at `path` (`metadata.labels`, a generated object's `data`) as rendered:
    /// the manifest's entries with what transformers and generators wrote.
    pub fn map_at(&self, r: &Rendered, p: &[Step]) -> BTreeMap<String, String> {
        metadata::map_at(self, r, p)
    }

    /// Number of elements of a sequence in the manifest.
    pub fn len(&self, r: &Rendered, p: &[Step]) -> usize {
        if let Some(t) = &r.tree {
            return t.at(p).map(|n| n.items().len()).unwrap_or(0);
        }
        self.node(r, p)
            .map(|(_, d, n)| d.items(n).len())
            .unwrap_or(0)
    }
}

struct Kust {
    file: FileId,
    dir: PathBuf,
    component: bool,
}

/// What every build of a workspace reads, shared by the threads that evaluate builds.
struct Shared<'a> {
    env: Env<'a>,
    kusts: BTreeMap<PathBuf, Kust>,
    files_by_key: HashMap<PathBuf, FileId>,
    objects_by_file: Vec<Vec<ObjectId>>,
    regex_names: bool,
    /// The most objects one context may render (bases included twice are built twice, as
    /// kustomize does, so a chain of kustomizations each listing the next twice renders
    /// 2^depth objects: this stops it).
    max_objects: usize,
}

/// The evaluation of one build: the shared workspace, and this build's own counters.
struct Evaluator<'a> {
    shared: &'a Shared<'a>,
    /// How many objects this build has rendered so far.
    produced: std::cell::Cell<usize>,
    /// The files each kustomization reads when built (itself, its resources, bases,
    /// components and patches), recorded as this build evaluates them.
    parts: std::cell::RefCell<Parts>,
}

impl<'a> std::ops::Deref for Evaluator<'a> {
    type Target = Shared<'a>;
    fn deref(&self) -> &Shared<'a> {
        self.shared
    }
}

impl<'a> Evaluator<'a> {
    fn new(shared: &'a Shared<'a>) -> Self {
        Evaluator {
            shared,
            produced: std::cell::Cell::new(0),
            parts: Default::default(),
        }
    }
}

/// The files each kustomization reads when built, as one build recorded them.
type Parts = BTreeMap<FileId, BTreeSet<FileId>>;

/// What evaluating one build root yields, merged into the workspace in root order.
enum Outcome {
    /// Evaluation failed on a bug: the context, as far as known, and the error.
    Failed(Context, InternalError),
    /// Over the object limit, or an evaluated build; with the files it covers.
    Context(Context, Vec<FileId>),
    /// A component nothing includes: its files are covered, no build judges it.
    Component(Vec<FileId>),
}

#[derive(Default)]
struct Built {
    rendered: Vec<Rendered>,
    deleted: Vec<ObjectId>,
    files: BTreeSet<FileId>,
    /// (kustomization or component, patch file it names), in evaluation order.
    patches: Vec<(FileId, FileId)>,
    kusts: Vec<FileId>,
    unknown: Vec<String>,
    issues: Vec<ReplacementIssue>,
}

impl Built {
    fn absorb(&mut self, other: Built) {
        self.rendered.extend(other.rendered);
        self.deleted.extend(other.deleted);
        self.files.extend(other.files);
        self.patches.extend(other.patches);
        self.kusts.extend(other.kusts);
        self.unknown.extend(other.unknown);
        self.issues.extend(other.issues);
    }
}

/// Every file's [`file_key`], in parallel: the working directory is asked once per file, and
/// the serial passes over the files reuse them.
pub(crate) fn file_keys(files: &[FileData]) -> Vec<PathBuf> {
    use rayon::prelude::*;
    files.par_iter().map(file_key).collect()
}

/// Lexically normalised path (no `.`/`..`), absolute when the file came from disk.
pub(crate) fn file_key(f: &FileData) -> PathBuf {
    key_of(f.source.path.as_deref(), &f.source.display)
}

/// [`file_key`] of a file read from `path` (None: given as bytes), shown as `display`.
pub(crate) fn key_of(path: Option<&Path>, display: &str) -> PathBuf {
    let p = match path {
        Some(p) if p.is_absolute() => p.to_path_buf(),
        Some(p) => std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf()),
        None => PathBuf::from(display),
    };
    normalize(&p)
}

pub(crate) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::with_capacity(p.as_os_str().len());
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("github.com/")
        || entry.starts_with("git@")
        || entry.contains("?ref=")
}

/// The files some kustomization or component names as patches and none lists as a resource:
/// they are edits, not objects (see [`FileRole::Patch`]).
pub(crate) fn patch_files(files: &[FileData], keys: &[PathBuf]) -> BTreeSet<FileId> {
    let by_key: HashMap<&Path, FileId> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_path(), i as FileId))
        .collect();
    let (mut patches, mut resources) = (BTreeSet::new(), BTreeSet::new());
    for (f, key) in files
        .iter()
        .zip(keys)
        .filter(|(f, _)| f.role == FileRole::Kustomization)
    {
        let Some(doc) = f.docs.first() else { continue };
        let dir = key.parent().unwrap_or(Path::new(""));
        let find = |entry: &str| by_key.get(normalize(&dir.join(entry)).as_path()).copied();
        for (entry, _) in kustomize::patch_paths(doc) {
            patches.extend(find(entry));
        }
        for (entry, _) in kustomize::included_paths(doc) {
            resources.extend(find(entry));
        }
    }
    patches
        .difference(&resources)
        .copied()
        .filter(|&f| files[f as usize].role == FileRole::Manifest)
        .collect()
}

/// Which kustomizations are builds: those no other kustomization in the linted paths includes
/// (an overlay, or a lone kustomization), and those whose directory the user named (`explicit`,
/// normalised absolute directories), which are linted as asked. A component nothing includes is
/// returned too, to learn its files, but forms no build.
fn build_roots(
    kusts: &BTreeMap<PathBuf, Kust>,
    env: &Env<'_>,
    explicit: &[PathBuf],
) -> Vec<PathBuf> {
    let mut included = BTreeSet::new();
    for k in kusts.values() {
        let Some(doc) = env.files[k.file as usize].docs.first() else {
            continue;
        };
        for (entry, _) in kustomize::included_paths(doc) {
            let target = normalize(&k.dir.join(entry));
            if target != k.dir && kusts.contains_key(&target) {
                included.insert(target);
            }
        }
    }
    kusts
        .keys()
        .filter(|d| !included.contains(*d) || explicit.contains(d))
        .cloned()
        .collect()
}

/// How many objects one context may render by default.
pub(crate) const DEFAULT_MAX_CONTEXT_OBJECTS: usize = 100_000;

/// Evaluate one build root: its context (or why there is none) and its replacement issues.
fn evaluate_root(
    ev: &Evaluator<'_>,
    k: &Kust,
    flux_paths: &FluxPaths<'_>,
) -> (Outcome, Vec<ReplacementIssue>) {
    let files = ev.env.files;
    let max_objects = ev.max_objects;
    let evaluated = isolate(|| {
        inject("contexts", &files[k.file as usize].source.display);
        let mut built = ev.build(k.file, &mut Vec::new());
        if !ev.over_limit() {
            // Kustomize appends generated names' content hash last, after prefixes,
            // suffixes and every transformer that changes the data.
            let hashed: Vec<(usize, String, Loc)> = built
                .rendered
                .iter()
                .enumerate()
                .filter(|(_, r)| r.name_hash)
                .map(|(i, r)| {
                    let writer = r.name.origin.unwrap_or(Loc {
                        file: k.file,
                        span: Default::default(),
                    });
                    (
                        i,
                        format!("{}-{}", r.name.text, generate::rendered_hash(r)),
                        writer,
                    )
                })
                .collect();
            ev.rename_all(hashed, "generator hash suffix", &mut built.rendered);
        }
        built
    });
    let built = match evaluated {
        Ok(b) => b,
        Err(c) => {
            let name = display_dir(&files[k.file as usize].source.display);
            let e = c.error(
                "contexts",
                format!("evaluating the kustomization {name}"),
                Some(&name),
            );
            // The manifests under its directory are its own: linted as loose manifests they
            // would yield findings about a context that was never rendered.
            let mut own: Vec<FileId> = ev
                .files_by_key
                .iter()
                .filter(|(key, _)| key.starts_with(&k.dir))
                .map(|(_, &f)| f)
                .collect();
            own.sort();
            let cx = Context {
                name,
                root: Some(k.file),
                files: own,
                kustomizations: vec![k.file],
                unknown: vec![NOT_EVALUATED.to_string()],
                ..Context::default()
            };
            return (Outcome::Failed(cx, e), Vec::new());
        }
    };
    if ev.over_limit() {
        let cx = Context {
            name: display_dir(&files[k.file as usize].source.display),
            root: Some(k.file),
            files: built.files.iter().copied().collect(),
            kustomizations: vec![k.file],
            over_limit: Some(max_objects),
            ..Context::default()
        };
        let covered = built.files.into_iter().collect();
        return (Outcome::Context(cx, covered), Vec::new());
    }
    if k.component {
        // A component no linted kustomization includes completes something we do not see:
        // its objects get the per-object checks, and no build judges its links.
        return (
            Outcome::Component(built.files.into_iter().collect()),
            Vec::new(),
        );
    }
    let mut cx = Context {
        name: display_dir(&files[k.file as usize].source.display),
        root: Some(k.file),
        files: built.files.iter().copied().collect(),
        objects: Vec::new(),
        kustomizations: built.kusts,
        patches: built.patches,
        rendered: built.rendered,
        deleted: built.deleted,
        unknown: built.unknown,
        ..Context::default()
    };
    cx.objects = cx.rendered.iter().filter_map(Rendered::object).collect();
    cx.objects.sort();
    cx.objects.dedup();
    attach_flux(&mut cx, &k.dir, flux_paths);
    let covered = cx.files.clone();
    (Outcome::Context(cx, covered), built.issues)
}

/// Build every context (build) of a workspace.
/// Whether a source object is a migration Job (see `model::migration::classify`).
fn is_migration_job(env: &Env<'_>, o: ObjectId) -> bool {
    let obj = &env.objects[o as usize];
    let (doc, _, file) = env.doc_of(o);
    obj.is("batch/v1", "Job")
        && crate::model::migration::classify(
            obj,
            doc,
            doc,
            &env.files[file as usize].source.display,
        )
        .is_some()
}

pub(crate) fn build_contexts(
    files: &[FileData],
    objects: &[Object],
    mode: ContextMode,
    regex_names: bool,
    max_objects: usize,
    explicit: &[PathBuf],
    keys: &[PathBuf],
) -> Evaluated {
    let mut objects_by_file = vec![Vec::new(); files.len()];
    for o in objects {
        objects_by_file[o.file as usize].push(o.id);
    }
    let mut files_by_key = HashMap::new();
    let mut kusts = BTreeMap::new();
    for (i, (f, key)) in files.iter().zip(keys).enumerate() {
        let key = key.clone();
        if f.role == FileRole::Kustomization {
            let dir = key.parent().map(Path::to_path_buf).unwrap_or_default();
            let component = f
                .docs
                .first()
                .and_then(|d| d.get_str(d.root, "kind"))
                .is_some_and(|k| k == "Component");
            kusts.insert(
                dir.clone(),
                Kust {
                    file: i as FileId,
                    dir,
                    component,
                },
            );
        }
        files_by_key.insert(key, i as FileId);
    }
    let shared = Shared {
        env: Env { files, objects },
        kusts,
        files_by_key,
        objects_by_file,
        regex_names,
        max_objects,
    };
    // Each phase below is isolated: a bug evaluating one context leaves the others linted.
    let mut internal = Vec::new();
    let fluxes = isolate(|| {
        inject("contexts", "Flux Kustomizations");
        flux::read(files, objects)
    })
    .unwrap_or_else(|c| {
        internal.push(c.error("contexts", "reading the Flux Kustomizations", None));
        Vec::new()
    });
    let flux_paths = FluxPaths::new(&fluxes);
    let mut contexts = Vec::new();
    let mut covered: BTreeSet<FileId> = BTreeSet::new();
    let mut issues = Vec::new();
    let mut all_parts: Parts = BTreeMap::new();
    // Builds are independent: evaluated in parallel, merged in root order (so contexts,
    // issues and the first build's record of each kustomization's parts are as in a serial
    // run).
    use rayon::prelude::*;
    let roots = build_roots(&shared.kusts, &shared.env, explicit);
    let outcomes: Vec<(Outcome, Vec<ReplacementIssue>, Parts)> = roots
        .par_iter()
        .map(|root| {
            let ev = Evaluator::new(&shared);
            let k = &shared.kusts[root];
            let (outcome, issues) = evaluate_root(&ev, k, &flux_paths);
            (outcome, issues, ev.parts.into_inner())
        })
        .collect();
    for (outcome, built_issues, parts) in outcomes {
        for (k, fs) in parts {
            all_parts.entry(k).or_insert(fs);
        }
        issues.extend(built_issues);
        match outcome {
            Outcome::Failed(cx, e) => {
                internal.push(e);
                covered.extend(cx.files.iter().copied());
                contexts.push(cx);
            }
            Outcome::Context(cx, files) => {
                covered.extend(files);
                contexts.push(cx);
            }
            Outcome::Component(files) => covered.extend(files),
        }
    }
    let ev = Evaluator::new(&shared);
    // Manifests no kustomization includes: one context per directory.
    let mut by_dir: BTreeMap<String, Vec<FileId>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        if f.role == FileRole::Manifest && !covered.contains(&(i as FileId)) {
            by_dir
                .entry(display_dir(&f.source.display))
                .or_default()
                .push(i as FileId);
        }
    }
    for (dir, fids) in by_dir {
        let built = isolate(|| {
            inject("contexts", &dir);
            let mut cx = Context {
                files: fids.clone(),
                ..Context::default()
            };
            for f in &fids {
                // A directory with a kustomization is applied with `-k`: a file it does not
                // list is not deployed, and a migration Job there never runs.
                let beside = keys[*f as usize]
                    .parent()
                    .and_then(|d| ev.kusts.get(d))
                    .map(|k| k.file);
                for &o in &ev.objects_by_file[*f as usize] {
                    if let Some(k) = beside.filter(|_| is_migration_job(&ev.env, o)) {
                        cx.unlisted.push((o, k));
                        continue;
                    }
                    cx.objects.push(o);
                    cx.rendered.push(ev.raw(o));
                }
            }
            if let Some(p) = fids
                .first()
                .and_then(|f| keys[*f as usize].parent().map(Path::to_path_buf))
            {
                attach_flux(&mut cx, &p, &flux_paths);
            }
            cx
        });
        let cx = match built {
            Ok(cx) => Context { name: dir, ..cx },
            Err(c) => {
                internal.push(c.error(
                    "contexts",
                    format!("building the context of the directory {dir}"),
                    Some(&dir),
                ));
                Context {
                    name: dir,
                    files: fids,
                    unknown: vec![NOT_EVALUATED.to_string()],
                    ..Context::default()
                }
            }
        };
        contexts.push(cx);
    }
    if mode == ContextMode::All && contexts.len() > 1 {
        let mut all = Context {
            name: "all".into(),
            ..Context::default()
        };
        let mut seen = BTreeSet::new();
        for cx in contexts {
            all.files.extend(cx.files);
            all.kustomizations.extend(cx.kustomizations);
            all.unknown.extend(cx.unknown);
            all.unlisted.extend(cx.unlisted);
            for (k, v) in cx.substitutions {
                all.substitutions.entry(k).or_insert(v);
            }
            all.substitute |= cx.substitute;
            for r in cx.rendered {
                if r.object().is_none_or(|o| seen.insert(o)) {
                    all.rendered.push(r);
                }
            }
        }
        all.files.sort();
        all.files.dedup();
        all.objects = all.rendered.iter().filter_map(Rendered::object).collect();
        all.objects.sort();
        contexts = vec![all];
    }
    issues.sort_by_key(|i| (i.kustomization, i.node));
    issues.dedup_by(|a, b| {
        a.kustomization == b.kustomization && a.node == b.node && a.issue == b.issue
    });
    internal.sort();
    for (k, fs) in ev.parts.into_inner() {
        all_parts.entry(k).or_insert(fs);
    }
    let parts = all_parts
        .into_iter()
        .map(|(k, fs)| (k, fs.into_iter().collect()))
        .collect();
    Evaluated {
        contexts,
        fluxes,
        issues,
        internal,
        parts,
    }
}

/// What evaluating a workspace yields.
pub(crate) struct Evaluated {
    /// The builds: one per kustomization no other includes (or named explicitly), one per
    /// directory of manifests no build includes.
    pub(crate) contexts: Vec<Context>,
    pub(crate) fluxes: Vec<FluxKustomization>,
    pub(crate) issues: Vec<ReplacementIssue>,
    pub(crate) internal: Vec<InternalError>,
    /// The files each kustomization reads when built, bases and fragments included.
    pub(crate) parts: BTreeMap<FileId, Vec<FileId>>,
}

/// Whether objects may be missing from what was built so far (a remote base, a resource or a
/// component outside the linted files): then "nothing defines X" cannot be said.
fn missing_objects(unknown: &[String]) -> bool {
    unknown.iter().any(|u| {
        u.starts_with("remote resource")
            || u.starts_with("resource `")
            || u.starts_with("component `")
    })
}

/// What a context that failed to evaluate says it could not know.
pub(crate) const NOT_EVALUATED: &str = "not evaluated (an internal error, reported separately)";

fn doc_is_seq(doc: &Document) -> bool {
    matches!(
        doc.node(doc.resolve(doc.root)).kind,
        crate::yaml::Kind::Seq(_)
    )
}

/// `rel` joined to a displayed directory, `.` and `..` resolved.
fn display_join(dir: &str, rel: &str) -> String {
    normalize(&Path::new(dir).join(rel))
        .to_string_lossy()
        .replace('\\', "/")
}

/// The most a generator source file may hold before it is left unread.
const MAX_GENERATOR_FILE: u64 = 1 << 22;

/// A regular file's text, if it is one, UTF-8, and not over [`MAX_GENERATOR_FILE`].
fn read_bounded_text(path: &Path) -> Option<String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_GENERATOR_FILE {
        return None;
    }
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_GENERATOR_FILE + 1)
        .read_to_end(&mut buf)
        .ok()?;
    if buf.len() as u64 > MAX_GENERATOR_FILE {
        return None;
    }
    String::from_utf8(buf).ok()
}

fn display_dir(display: &str) -> String {
    match display.rsplit_once('/') {
        Some((d, _)) => d.to_string(),
        None => ".".into(),
    }
}

/// A Flux Kustomization deploys a directory when its `path` names the directory's last
/// components (the repository root is not known, so the path is matched as a suffix).
/// Flux Kustomizations by the last component of their normalised `spec.path`.
struct FluxPaths<'f> {
    by_last: HashMap<std::ffi::OsString, Vec<(PathBuf, &'f FluxKustomization)>>,
}

impl<'f> FluxPaths<'f> {
    fn new(fluxes: &'f [FluxKustomization]) -> Self {
        let mut by_last: HashMap<std::ffi::OsString, Vec<(PathBuf, &'f FluxKustomization)>> =
            HashMap::new();
        for f in fluxes.iter().filter(|f| !f.path.is_empty()) {
            let fp = normalize(Path::new(&f.path));
            if let Some(last) = fp.file_name() {
                by_last
                    .entry(last.to_os_string())
                    .or_default()
                    .push((fp.clone(), f));
            }
        }
        FluxPaths { by_last }
    }
}

fn attach_flux(cx: &mut Context, dir: &Path, fluxes: &FluxPaths<'_>) {
    let candidates = dir
        .file_name()
        .and_then(|n| fluxes.by_last.get(n))
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (fp, f) in candidates {
        if dir.ends_with(fp) {
            cx.flux = Some(f.object);
            if let Some((ns, at)) = &f.target_namespace {
                let value = Value {
                    text: ns.clone(),
                    origin: Some(*at),
                    writer: Some(*at),
                    via: Some("Flux targetNamespace"),
                };
                for r in cx
                    .rendered
                    .iter_mut()
                    .filter(|r| !CLUSTER_SCOPED.contains(&r.kind.as_str()))
                {
                    r.namespace = Some(value.clone());
                }
            }
            cx.substitute = f.substitute;
            for (k, v) in &f.substitutions {
                cx.substitutions.insert(k.clone(), v.clone());
            }
            for s in &f.unknown_sources {
                cx.unknown
                    .push(format!("substituteFrom {s}: not found in the linted files"));
            }
            return;
        }
    }
}

fn list<'d>(doc: &'d Document, key: &str) -> Vec<(&'d str, NodeId)> {
    doc.get(doc.root, key)
        .map(|l| {
            doc.items(l)
                .iter()
                .filter_map(|&i| doc.str(i).map(|s| (s, i)))
                .collect()
        })
        .unwrap_or_default()
}

impl<'a> Evaluator<'a> {
    /// Count one more rendered object; false once the context is over its limit.
    fn produce(&self) -> bool {
        self.produced.set(self.produced.get() + 1);
        !self.over_limit()
    }

    fn over_limit(&self) -> bool {
        self.produced.get() > self.max_objects
    }

    fn raw(&self, o: ObjectId) -> Rendered {
        let obj = &self.env.objects[o as usize];
        let (doc, root, file) = self.env.doc_of(o);
        let meta = doc.get(root, "metadata");
        let loc_of = |k: &str| {
            meta.and_then(|m| doc.get(m, k)).map(|n| Loc {
                file,
                span: doc.span(n),
            })
        };
        let name_text = obj
            .name
            .clone()
            .or_else(|| obj.generate_name.clone())
            .unwrap_or_default();
        Rendered {
            source: Source::Object(o),
            api_version: obj.api_version.clone(),
            kind: obj.kind.clone(),
            name: Value {
                text: name_text,
                origin: loc_of("name").or_else(|| loc_of("generateName")),
                writer: None,
                via: None,
            },
            previous_names: Vec::new(),
            namespace: obj.namespace.clone().map(|ns| Value {
                text: ns,
                origin: loc_of("namespace"),
                writer: None,
                via: None,
            }),
            overrides: BTreeMap::new(),
            patched: false,
            tree: None,
            name_hash: false,
            name_replaced: false,
            shared: Vec::new(),
        }
    }

    fn build(&self, kfile: FileId, stack: &mut Vec<FileId>) -> Built {
        let mut built = Built::default();
        if self.over_limit() {
            return built;
        }
        if stack.contains(&kfile) {
            built.unknown.push(format!(
                "{}: kustomization cycle",
                self.env.files[kfile as usize].source.display
            ));
            return built;
        }
        stack.push(kfile);
        self.load(kfile, stack, &mut built);
        if self.over_limit() {
            stack.pop();
            return built;
        }
        let doc = self.env.files[kfile as usize].docs.first();
        if let Some(doc) = doc {
            for (entry, _) in list(doc, "components") {
                let dir = self.dir_of(kfile).join(entry);
                match self.kusts.get(&normalize(&dir)) {
                    Some(k) => {
                        if !stack.contains(&k.file) {
                            stack.push(k.file);
                            self.load(k.file, stack, &mut built);
                            if let Some(cdoc) = self.env.files[k.file as usize].docs.first() {
                                self.transform(k.file, cdoc, &mut built);
                            }
                            stack.pop();
                        }
                    }
                    None => built.unknown.push(format!(
                        "component `{entry}` was not among the linted files"
                    )),
                }
            }
            self.transform(kfile, doc, &mut built);
        }
        stack.pop();
        self.parts
            .borrow_mut()
            .entry(kfile)
            .or_insert_with(|| built.files.clone());
        built
    }

    fn dir_of(&self, kfile: FileId) -> PathBuf {
        file_key(&self.env.files[kfile as usize])
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// Resources and generators of one kustomization (bases are built whole, recursively).
    fn load(&self, kfile: FileId, stack: &mut Vec<FileId>, built: &mut Built) {
        built.kusts.push(kfile);
        built.files.insert(kfile);
        let file = &self.env.files[kfile as usize];
        let Some(doc) = file.docs.first() else { return };
        let dir = self.dir_of(kfile);
        let mut entries = list(doc, "resources");
        entries.extend(list(doc, "bases"));
        for (entry, node) in entries {
            if is_remote(entry) {
                built
                    .unknown
                    .push(format!("remote resource `{entry}` is not fetched"));
                continue;
            }
            let target = normalize(&dir.join(entry));
            if let Some(k) = self.kusts.get(&target) {
                let sub = self.build(k.file, stack);
                built.absorb(sub);
            } else if let Some(&f) = self.files_by_key.get(&target) {
                if !target.starts_with(&dir) {
                    // kustomize's load restrictor: a resource file must lie in or below the
                    // kustomization's directory (a directory holding a kustomization may not).
                    let root = display_dir(&file.source.display);
                    built.issues.push(ReplacementIssue {
                        kustomization: kfile,
                        node,
                        issue: Issue::Build(Refusal::ResourceOutsideRoot {
                            entry: entry.to_string(),
                            file: display_join(&root, entry),
                            root,
                        }),
                    });
                    continue;
                }
                built.files.insert(f);
                for &o in &self.objects_by_file[f as usize] {
                    if !self.produce() {
                        return;
                    }
                    built.rendered.push(self.raw(o));
                }
            } else {
                built.unknown.push(format!(
                    "resource `{entry}` of {} is not among the linted files",
                    file.source.display
                ));
            }
        }
        self.generators(kfile, doc, built);
    }

    fn generators(&self, kfile: FileId, doc: &Document, built: &mut Built) {
        let loc = |n: NodeId| Loc {
            file: kfile,
            span: doc.span(n),
        };
        let global = doc.get(doc.root, "generatorOptions");
        let flag = |opts: Option<NodeId>, key: &str| {
            opts.and_then(|o| doc.get(o, key)).and_then(|n| doc.str(n)) == Some("true")
        };
        for (key, kind) in [
            ("configMapGenerator", "ConfigMap"),
            ("secretGenerator", "Secret"),
        ] {
            let Some(gens) = doc.get(doc.root, key) else {
                continue;
            };
            for &g in doc.items(gens) {
                let Some(name) = doc.get_str(g, "name") else {
                    continue;
                };
                let refuse = |built: &mut Built, refusal: Refusal| {
                    built.issues.push(ReplacementIssue {
                        kustomization: kfile,
                        node: g,
                        issue: Issue::Build(refusal),
                    })
                };
                let data = match self.generator_data(kfile, doc, g, built) {
                    Ok(d) => d,
                    Err(why) => {
                        refuse(
                            built,
                            Refusal::GeneratorSource {
                                kind: kind.into(),
                                name: name.into(),
                                why,
                            },
                        );
                        continue;
                    }
                };
                let options = doc.get(g, "options");
                let mut r = Rendered {
                    source: Source::Generated(kfile, 0, g),
                    api_version: "v1".into(),
                    kind: kind.into(),
                    name: Value {
                        text: name.to_string(),
                        origin: doc.get(g, "name").map(loc),
                        writer: None,
                        via: None,
                    },
                    previous_names: Vec::new(),
                    namespace: doc
                        .get(g, "namespace")
                        .and_then(|n| doc.str(n).map(|s| Value::literal(s, loc(n)))),
                    overrides: BTreeMap::new(),
                    patched: false,
                    tree: None,
                    name_hash: !(flag(global, "disableNameSuffixHash")
                        || flag(options, "disableNameSuffixHash")),
                    name_replaced: false,
                    shared: Vec::new(),
                };
                for (k, v, at) in data {
                    r.overrides
                        .insert(path::keys(&["data", &k]), Value::literal(v, at));
                }
                if kind == "Secret" {
                    let ty = doc.get(g, "type");
                    r.overrides.insert(
                        path::keys(&["type"]),
                        Value::literal(
                            ty.and_then(|t| doc.str(t)).unwrap_or("Opaque"),
                            loc(ty.unwrap_or(g)),
                        ),
                    );
                }
                // Generator options' labels and annotations (a generator's own win).
                for field in ["labels", "annotations"] {
                    for opts in [global, options].into_iter().flatten() {
                        let Some(m) = doc.get(opts, field) else {
                            continue;
                        };
                        for (k, v) in doc.entries(m) {
                            if let (Some(k), Some(text)) = (doc.str(k), doc.string(v)) {
                                r.overrides.insert(
                                    path::keys(&["metadata", field, k]),
                                    Value {
                                        text: text.to_string(),
                                        origin: Some(loc(v)),
                                        writer: Some(loc(v)),
                                        via: Some("generatorOptions"),
                                    },
                                );
                            }
                        }
                    }
                }
                let behavior = doc.get_str(g, "behavior").unwrap_or("create");
                let namespace = r.namespace.as_ref().map(|v| v.text.clone());
                let same_ns = |ns: Option<&str>| {
                    let norm = |n: Option<&str>| match n {
                        None | Some("") => "default".to_string(),
                        Some(n) => n.to_string(),
                    };
                    norm(ns) == norm(namespace.as_deref())
                };
                let existing: Vec<usize> = (0..built.rendered.len())
                    .filter(|&i| {
                        let o = &built.rendered[i];
                        // kustomize matches any id the object has had: its current one, or
                        // the one it was loaded or generated with (before a base's
                        // `namespace:` moved it).
                        o.kind == kind
                            && (o.name.text == name || o.previous_names.iter().any(|p| p == name))
                            && (same_ns(o.namespace.as_ref().map(|v| v.text.as_str()))
                                || same_ns(self.original_namespace(o)))
                    })
                    .collect();
                let id = |r: &Rendered| {
                    (
                        r.kind.clone(),
                        name.to_string(),
                        namespace.clone().unwrap_or_default(),
                    )
                };
                match (behavior, existing.as_slice()) {
                    ("merge" | "replace", []) => {
                        let (kind, name, namespace) = id(&r);
                        if missing_objects(&built.unknown) {
                            // A base that was not read may define it: say nothing wrong.
                            built.unknown.push(format!(
                                "{kind} generator `{name}` (behavior: {behavior}) names an object of a base that was not read"
                            ));
                        } else {
                            refuse(
                                built,
                                Refusal::GeneratorWithoutBase {
                                    kind,
                                    name,
                                    namespace,
                                },
                            );
                        }
                        // The build fails, but what the generator holds is still linted (a
                        // credential in its literals is one whatever the build does).
                        if !self.produce() {
                            return;
                        }
                        built.rendered.push(r);
                    }
                    (_, []) => {
                        if !self.produce() {
                            return;
                        }
                        built.rendered.push(r);
                    }
                    ("merge" | "replace", [i]) => {
                        let old = &built.rendered[*i];
                        let keep = |p: &Concrete| {
                            matches!(p.first(), Some(Step::Key(k)) if k == "metadata")
                                || (behavior == "merge"
                                    && matches!(p.first(), Some(Step::Key(k)) if k == "data"))
                        };
                        for (p, v) in &old.overrides {
                            if keep(p) && !r.overrides.contains_key(p) {
                                r.overrides.insert(p.clone(), v.clone());
                            }
                        }
                        // kustomize keeps its build annotations from the base object, and
                        // drops the hash request when the new generator disables it: both
                        // must ask for the suffix.
                        r.name_hash &= old.name_hash;
                        r.name = old.name.clone();
                        r.namespace = old.namespace.clone();
                        r.previous_names = old.previous_names.clone();
                        built.rendered[*i] = r;
                    }
                    (_, [_]) => {
                        let (kind, name, namespace) = id(&r);
                        refuse(
                            built,
                            Refusal::GeneratorExists {
                                kind,
                                name,
                                namespace,
                            },
                        );
                    }
                    (_, _) => built.unknown.push(format!(
                        "{kind} generator `{name}`: several objects could accept its {behavior}"
                    )),
                }
            }
        }
    }

    /// The namespace an object was loaded or generated with, before any transformer.
    fn original_namespace(&self, r: &Rendered) -> Option<&'a str> {
        match r.source {
            Source::Object(o) => self.env.objects[o as usize].namespace.as_deref(),
            Source::Generated(f, _, g) => {
                let doc = self.env.files[f as usize].docs.first()?;
                doc.get_str(g, "namespace")
            }
        }
    }

    /// The data of a generator: `envs` (and the legacy `env`), then `literals`, then `files`,
    /// as kustomize reads them. `Err` holds kustomize's error when it refuses the generator.
    fn generator_data(
        &self,
        kfile: FileId,
        doc: &Document,
        g: NodeId,
        built: &mut Built,
    ) -> Result<Vec<(String, String, Loc)>, String> {
        let loc = |n: NodeId| Loc {
            file: kfile,
            span: doc.span(n),
        };
        let strings = |key: &str| -> Vec<(String, NodeId)> {
            match doc.get(g, key) {
                Some(n) if doc.items(n).is_empty() => doc
                    .str(n)
                    .map(|s| vec![(s.to_string(), n)])
                    .unwrap_or_default(),
                Some(n) => doc
                    .items(n)
                    .iter()
                    .filter_map(|&i| doc.str(i).map(|s| (s.to_string(), i)))
                    .collect(),
                None => Vec::new(),
            }
        };
        let name = doc.get_str(g, "name").unwrap_or_default();
        let mut pairs: Vec<(String, String, Loc)> = Vec::new();
        let mut complete = true;
        for (entry, n) in strings("env").into_iter().chain(strings("envs")) {
            match self.read_within(kfile, &entry)? {
                Some(text) => {
                    for (k, v) in generate::parse_env(&text)? {
                        pairs.push((k, v, loc(n)));
                    }
                }
                None => complete = false,
            }
        }
        for (lit, n) in strings("literals") {
            let (k, v) = generate::parse_literal(&lit)?;
            pairs.push((k, v, loc(n)));
        }
        for (src, n) in strings("files") {
            let (k, p) = generate::parse_file_source(&src)?;
            match self.read_within(kfile, &p)? {
                Some(text) => pairs.push((k, text, loc(n))),
                None => complete = false,
            }
        }
        if !complete {
            built.unknown.push(format!(
                "generator `{name}` reads a file that could not be read; its data is incomplete"
            ));
        }
        let mut seen = BTreeSet::new();
        for (k, _, _) in &pairs {
            if !generate::is_config_map_key(k) {
                return Err(format!(
                    "\"{k}\" is not a valid key name: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
                ));
            }
            if !seen.insert(k.clone()) {
                return Err(format!("configmap {name} illegally repeats the key `{k}`"));
            }
        }
        Ok(pairs)
    }

    /// A generator's file, read as kustomize's loader reads it: relative to the
    /// kustomization's directory and refused outside it. `Ok(None)` when it cannot be read
    /// here (not on disk, too large, not UTF-8), which leaves the data unknown, not wrong.
    fn read_within(&self, kfile: FileId, rel: &str) -> Result<Option<String>, String> {
        let file = &self.env.files[kfile as usize];
        let dir = self.dir_of(kfile);
        let target = normalize(&dir.join(rel));
        if !target.starts_with(&dir) {
            let root = display_dir(&file.source.display);
            return Err(format!(
                "security; file '{}' is not in or below '{root}'",
                display_join(&root, rel)
            ));
        }
        if let Some(&f) = self.files_by_key.get(&target) {
            return Ok(Some(self.env.files[f as usize].source.text.to_string()));
        }
        if file.source.path.is_none() {
            return Ok(None);
        }
        Ok(read_bounded_text(&target))
    }

    /// The transformers of one kustomization, applied to everything it has accumulated.
    fn transform(&self, kfile: FileId, doc: &Document, built: &mut Built) {
        let loc = |n: NodeId| Loc {
            file: kfile,
            span: doc.span(n),
        };
        let dir = self.dir_of(kfile);
        for (entry, _) in kustomize::patch_paths(doc) {
            if let Some(&f) = self.files_by_key.get(&normalize(&dir.join(entry))) {
                built.files.insert(f);
                built.patches.push((kfile, f));
            }
        }
        self.patches(kfile, doc, built, false);
        if let Some(n) = doc.get(doc.root, "namespace")
            && let Some(ns) = doc.str(n)
        {
            self.set_namespace(ns, loc(n), &mut built.rendered);
        }
        let prefix = doc
            .get(doc.root, "namePrefix")
            .and_then(|n| doc.str(n).map(|s| (s.to_string(), n)));
        let suffix = doc
            .get(doc.root, "nameSuffix")
            .and_then(|n| doc.str(n).map(|s| (s.to_string(), n)));
        if prefix.is_some() || suffix.is_some() {
            let writer = prefix
                .as_ref()
                .or(suffix.as_ref())
                .map(|p| loc(p.1))
                .unwrap();
            let p = prefix.as_ref().map(|p| p.0.as_str()).unwrap_or("");
            let s = suffix.as_ref().map(|s| s.0.as_str()).unwrap_or("");
            let renames = built
                .rendered
                .iter()
                .enumerate()
                .filter(|(_, r)| r.kind != "CustomResourceDefinition" && r.kind != "Namespace")
                .map(|(i, r)| (i, format!("{p}{}{s}", r.name.text), writer))
                .collect();
            self.rename_all(renames, "namePrefix/nameSuffix", &mut built.rendered);
        }
        self.labels_and_annotations(kfile, doc, built);
        self.patches(kfile, doc, built, true);
        if let Some(images) = doc.get(doc.root, "images") {
            for &img in doc.items(images) {
                self.apply_image(doc, img, loc(img), &mut built.rendered);
            }
        }
        if let Some(replicas) = doc.get(doc.root, "replicas") {
            for &rep in doc.items(replicas) {
                let (Some(name), Some(count)) = (doc.get_str(rep, "name"), doc.get(rep, "count"))
                else {
                    continue;
                };
                for r in &mut built.rendered {
                    if r.name.text == name || r.previous_names.iter().any(|p| p == name) {
                        r.overrides.insert(
                            path::keys(&["spec", "replicas"]),
                            Value {
                                text: doc.str(count).unwrap_or("").to_string(),
                                origin: Some(loc(count)),
                                writer: Some(loc(rep)),
                                via: Some("replicas"),
                            },
                        );
                    }
                }
            }
        }
        self.replacements(kfile, doc, built);
    }

    /// `labels`, `commonLabels` and `commonAnnotations`, in kustomize's order.
    fn labels_and_annotations(&self, kfile: FileId, doc: &Document, built: &mut Built) {
        let loc = |n: NodeId| Loc {
            file: kfile,
            span: doc.span(n),
        };
        // A plain `true`, `yes` or `1` is no string to kustomize's YAML 1.1 reader: it refuses
        // the kustomization; a plain `null` is the empty string.
        let mut refusals = Vec::new();
        let mut pairs = |m: NodeId, field: &'static str| -> Vec<(String, String, Loc)> {
            let mut out = Vec::new();
            for (k, v) in doc.entries(m) {
                let (Some(key), Some(text)) = (doc.str(k), doc.str(v)) else {
                    continue;
                };
                let plain = matches!(
                    doc.node(doc.resolve(v)).kind,
                    crate::yaml::Kind::Scalar {
                        style: crate::yaml::Style::Plain,
                        ..
                    }
                );
                match plain.then(|| yaml11_type(text)).flatten() {
                    Some("null") => out.push((key.to_string(), String::new(), loc(v))),
                    Some(read_as) => refusals.push(ReplacementIssue {
                        kustomization: kfile,
                        node: v,
                        issue: Issue::Build(Refusal::NotAString {
                            field,
                            key: key.to_string(),
                            read_as,
                        }),
                    }),
                    None => out.push((key.to_string(), text.to_string(), loc(v))),
                }
            }
            out
        };
        let flag = |n: NodeId, k: &str| doc.get(n, k).and_then(|v| doc.str(v)) == Some("true");
        for &l in doc
            .get(doc.root, "labels")
            .map(|l| doc.items(l))
            .unwrap_or(&[])
        {
            let Some(p) = doc.get(l, "pairs") else {
                continue;
            };
            let mut specs = doc
                .get(l, "fields")
                .map(|f| metadata::read_specs(doc, f))
                .unwrap_or_default();
            if flag(l, "includeSelectors") {
                specs.extend(metadata::common_label_specs().iter().cloned());
            } else {
                if flag(l, "includeTemplates") {
                    specs.extend(metadata::template_label_specs().iter().cloned());
                }
                specs.extend(metadata::template_label_specs().iter().take(1).cloned());
            }
            metadata::apply(
                &self.env,
                &mut built.rendered,
                &specs,
                &pairs(p, "Label.labels.pairs"),
                loc(l),
                "labels",
            );
        }
        for (key, specs, via, field) in [
            (
                "commonLabels",
                metadata::common_label_specs(),
                "commonLabels",
                "Kustomization.commonLabels",
            ),
            (
                "commonAnnotations",
                metadata::annotation_specs(),
                "commonAnnotations",
                "Kustomization.commonAnnotations",
            ),
        ] {
            if let Some(m) = doc.get(doc.root, key) {
                metadata::apply(
                    &self.env,
                    &mut built.rendered,
                    specs,
                    &pairs(m, field),
                    loc(m),
                    via,
                );
            }
        }
        built.issues.extend(refusals);
    }

    /// Rename object `i` and update what refers to it by name, as kustomize's name-reference
    /// transformer does. Init-container arguments are plain strings: never updated.
    /// Rename objects (`(index, new name, writer)`) and update the references to their old
    /// names in one pass over the context: renaming one at a time would scan every object for
    /// every rename, quadratic in a large context.
    fn rename_all(
        &self,
        renames: Vec<(usize, String, Loc)>,
        via: &'static str,
        rendered: &mut [Rendered],
    ) {
        let mut by_kind: BTreeMap<String, HashMap<String, Value>> = BTreeMap::new();
        for (i, new, writer) in renames {
            let old = rendered[i].name.clone();
            let value = Value {
                text: new,
                origin: old.origin,
                writer: Some(writer),
                via: Some(via),
            };
            rendered[i].previous_names.push(old.text.clone());
            rendered[i].name = value.clone();
            by_kind
                .entry(rendered[i].kind.clone())
                .or_default()
                .entry(old.text)
                .or_insert(value);
        }
        if by_kind.is_empty() {
            return;
        }
        for other in rendered.iter_mut() {
            for (kind, names) in &by_kind {
                for p in self.reference_paths(other, kind) {
                    if let Some(v) = self
                        .env
                        .raw_value(other, &p)
                        .and_then(|v| names.get(&v.text))
                    {
                        other.overrides.insert(p, v.clone());
                    }
                }
            }
        }
    }

    /// Paths in `r` that refer to an object of `kind` by name.
    fn reference_paths(&self, r: &Rendered, kind: &str) -> Vec<Concrete> {
        let mut out = Vec::new();
        let seq = |base: &Concrete| -> Vec<Concrete> {
            (0..self.env.len(r, base))
                .map(|i| [base.clone(), vec![Step::Index(i)]].concat())
                .collect()
        };
        let field_is = |p: &Concrete, key: &str, want: &str| {
            self.env
                .raw_value(r, &[p.clone(), path::keys(&[key])].concat())
                .is_some_and(|v| v.text == want)
        };
        if r.kind == "RoleBinding" || r.kind == "ClusterRoleBinding" {
            let role_ref = path::keys(&["roleRef"]);
            if (kind == "Role" || kind == "ClusterRole") && field_is(&role_ref, "kind", kind) {
                out.push(path::keys(&["roleRef", "name"]));
            }
            if kind == "ServiceAccount" {
                for s in seq(&path::keys(&["subjects"])) {
                    if field_is(&s, "kind", "ServiceAccount") {
                        out.push([s, path::keys(&["name"])].concat());
                    }
                }
            }
        }
        // An autoscaler follows its workload's name.
        if r.kind == "HorizontalPodAutoscaler"
            && field_is(&path::keys(&["spec", "scaleTargetRef"]), "kind", kind)
        {
            out.push(path::keys(&["spec", "scaleTargetRef", "name"]));
        }
        let Some(spec) = pod_spec_path(&r.kind) else {
            return out;
        };
        let spec = path::keys(spec);
        match kind {
            "ServiceAccount" => {
                out.push([spec.clone(), path::keys(&["serviceAccountName"])].concat());
                out.push([spec, path::keys(&["serviceAccount"])].concat());
            }
            "ConfigMap" | "Secret" => {
                let (from, key_ref, volume) = if kind == "ConfigMap" {
                    (
                        "configMapRef",
                        "configMapKeyRef",
                        &["configMap", "name"][..],
                    )
                } else {
                    ("secretRef", "secretKeyRef", &["secret", "secretName"][..])
                };
                for list in ["initContainers", "containers"] {
                    for c in seq(&[spec.clone(), path::keys(&[list])].concat()) {
                        for e in seq(&[c.clone(), path::keys(&["envFrom"])].concat()) {
                            out.push([e, path::keys(&[from, "name"])].concat());
                        }
                        for e in seq(&[c.clone(), path::keys(&["env"])].concat()) {
                            out.push([e, path::keys(&["valueFrom", key_ref, "name"])].concat());
                        }
                    }
                }
                for v in seq(&[spec.clone(), path::keys(&["volumes"])].concat()) {
                    out.push([v, path::keys(volume)].concat());
                }
                if kind == "Secret" {
                    for s in seq(&[spec, path::keys(&["imagePullSecrets"])].concat()) {
                        out.push([s, path::keys(&["name"])].concat());
                    }
                }
            }
            _ => {}
        }
        out
    }

    fn set_namespace(&self, ns: &str, at: Loc, rendered: &mut [Rendered]) {
        // The build's ServiceAccounts by name, with the namespace they had before this one: a
        // binding subject naming one in that namespace follows it (kustomize's name
        // references), as does one naming it without a namespace.
        let service_accounts: BTreeSet<(String, Option<String>)> = rendered
            .iter()
            .filter(|r| r.kind == "ServiceAccount")
            .flat_map(|r| {
                let ns = r.namespace.as_ref().map(|v| v.text.clone());
                std::iter::once(r.name.text.clone())
                    .chain(r.previous_names.iter().cloned())
                    .map(move |n| (n, ns.clone()))
            })
            .collect();
        let value = Value {
            text: ns.to_string(),
            origin: Some(at),
            writer: Some(at),
            via: Some("namespace"),
        };
        for r in rendered.iter_mut() {
            if !CLUSTER_SCOPED.contains(&r.kind.as_str()) {
                r.namespace = Some(value.clone());
            }
            if r.kind == "RoleBinding" || r.kind == "ClusterRoleBinding" {
                let n = self.env.len(r, &path::keys(&["subjects"]));
                for i in 0..n {
                    let base = vec![Step::Key("subjects".into()), Step::Index(i)];
                    let kind = self
                        .env
                        .raw_value(r, &[base.clone(), path::keys(&["kind"])].concat());
                    let name = self
                        .env
                        .raw_value(r, &[base.clone(), path::keys(&["name"])].concat());
                    let subject_ns = self
                        .env
                        .raw_value(r, &[base.clone(), path::keys(&["namespace"])].concat())
                        .map(|v| v.text);
                    let follows = name.is_some_and(|n| match &subject_ns {
                        None => {
                            n.text == "default"
                                || service_accounts.iter().any(|(sa, _)| *sa == n.text)
                        }
                        Some(sns) => service_accounts
                            .iter()
                            .any(|(sa, ns)| *sa == n.text && ns.as_deref() == Some(sns.as_str())),
                    });
                    if kind.is_some_and(|k| k.text == "ServiceAccount") && follows {
                        r.overrides
                            .insert([base, path::keys(&["namespace"])].concat(), value.clone());
                    }
                }
            }
        }
    }

    fn apply_image(&self, doc: &Document, img: NodeId, at: Loc, rendered: &mut [Rendered]) {
        let Some(name) = doc.get_str(img, "name") else {
            return;
        };
        let new_name = doc.get_str(img, "newName");
        let new_tag = doc.get(img, "newTag").and_then(|n| doc.str(n));
        let digest = doc.get_str(img, "digest");
        for r in rendered.iter_mut() {
            let Some(spec) = pod_spec_path(&r.kind) else {
                continue;
            };
            for list in ["initContainers", "containers"] {
                let base: Concrete = [path::keys(spec), path::keys(&[list])].concat();
                for i in 0..self.env.len(r, &base) {
                    let p: Concrete = [
                        base.clone(),
                        vec![Step::Index(i), Step::Key("image".into())],
                    ]
                    .concat();
                    let Some(cur) = self.env.raw_value(r, &p) else {
                        continue;
                    };
                    let (repo, tag, dig) = split_image(&cur.text);
                    if repo != name {
                        continue;
                    }
                    let repo = new_name.unwrap_or(repo);
                    let text = match (digest, new_tag) {
                        (Some(d), _) => format!("{repo}@{d}"),
                        (None, Some(t)) => format!("{repo}:{t}"),
                        (None, None) => match (tag, dig) {
                            (_, Some(d)) => format!("{repo}@{d}"),
                            (Some(t), None) => format!("{repo}:{t}"),
                            (None, None) => repo.to_string(),
                        },
                    };
                    r.overrides.insert(
                        p,
                        Value {
                            text,
                            origin: Some(at),
                            writer: Some(at),
                            via: Some("images"),
                        },
                    );
                }
            }
        }
    }

    /// Whether a selector's id fields (group, version, kind, name, namespace) pick `r`, under
    /// any name it has had.
    fn matches(&self, sel: &Selector, r: &Rendered, regex: bool) -> bool {
        let ns = r.namespace.as_ref().map(|v| v.text.as_str());
        sel.matches(&r.api_version, &r.kind, Some(&r.name.text), ns, regex)
            || r.previous_names
                .iter()
                .any(|p| sel.matches(&r.api_version, &r.kind, Some(p), ns, regex))
    }

    /// Whether a selector's `labelSelector` and `annotationSelector` both match `r`'s labels
    /// and annotations as rendered so far (an absent one matches).
    fn matches_maps(&self, sel: &Selector, r: &Rendered) -> bool {
        let by = |selector: &Option<String>, field: &str| {
            selector.as_deref().is_none_or(|s| {
                let map = metadata::map_at(&self.env, r, &path::keys(&["metadata", field]));
                kustomize::selector_matches(s, &map)
            })
        };
        by(&sel.label_selector, "labels") && by(&sel.annotation_selector, "annotations")
    }

    /// Whether a replacement target takes `r`, as kustomize decides: `select` by id and by
    /// labels and annotations; a `reject` entry rejects by its labels and annotations, and
    /// separately by its id, each part only when it is given.
    fn target_takes(&self, t: &kustomize::Target, r: &Rendered, regex: bool) -> bool {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        self.matches(&t.select, r, regex)
            && self.matches_maps(&t.select, r)
            && !t.reject.iter().any(|rej| {
                let by_maps = given(&rej.label_selector) || given(&rej.annotation_selector);
                let by_id = [
                    &rej.group,
                    &rej.version,
                    &rej.kind,
                    &rej.name,
                    &rej.namespace,
                ]
                .into_iter()
                .any(given);
                (by_maps && self.matches_maps(rej, r)) || (by_id && self.matches(rej, r, regex))
            })
    }

    /// The kustomization's replacements in order, those of `path:` files in their place.
    fn replacements(&self, kfile: FileId, doc: &Document, built: &mut Built) {
        let Some(list) = doc.get(doc.root, "replacements") else {
            return;
        };
        let dir = self.dir_of(kfile);
        for &entry in doc.items(list) {
            let Some(rel) = doc.get_str(entry, "path") else {
                for rep in kustomize::replacement_entries(doc, &[entry]) {
                    self.replacement(kfile, doc, &rep, built);
                }
                continue;
            };
            let target = normalize(&dir.join(rel));
            let file = self
                .files_by_key
                .get(&target)
                .filter(|_| target.starts_with(&dir))
                .and_then(|&f| Some((f, self.env.files[f as usize].docs.first()?)));
            let Some((f, fdoc)) = file else {
                built.unknown.push(format!(
                    "replacements file `{rel}` of {} is not among the linted files",
                    self.env.files[kfile as usize].source.display
                ));
                continue;
            };
            built.files.insert(f);
            let nodes: Vec<NodeId> = if doc_is_seq(fdoc) {
                fdoc.items(fdoc.root).to_vec()
            } else {
                vec![fdoc.root]
            };
            for rep in kustomize::replacement_entries(fdoc, &nodes) {
                self.replacement(f, fdoc, &rep, built);
            }
        }
    }

    fn replacement(
        &self,
        kfile: FileId,
        doc: &Document,
        rep: &kustomize::Replacement,
        built: &mut Built,
    ) {
        let loc = |n: NodeId| Loc {
            file: kfile,
            span: doc.span(n),
        };
        let issue = |node: NodeId, issue: Issue| ReplacementIssue {
            kustomization: kfile,
            node,
            issue,
        };
        {
            // The source value.
            let value: Option<Value> = if let Some((v, n)) = &rep.source_value {
                Some(Value::literal(v.clone(), loc(*n)))
            } else if let Some(src) = &rep.source {
                let found: Vec<&Rendered> = built
                    .rendered
                    .iter()
                    .filter(|r| self.matches(&src.selector, r, false))
                    .collect();
                let node = src.selector.node.unwrap_or(rep.node);
                match found.as_slice() {
                    [] => {
                        built.issues.push(issue(node, Issue::SourceSelectsNone));
                        None
                    }
                    [one] => {
                        let r = (*one).clone();
                        self.source_value(&r, src, node, kfile, &mut built.issues)
                    }
                    many => {
                        built
                            .issues
                            .push(issue(node, Issue::SourceSelectsMany(many.len())));
                        None
                    }
                }
            } else {
                built.issues.push(issue(rep.node, Issue::NoSource));
                None
            };
            for t in &rep.targets {
                let select_node = t.select.node.unwrap_or(t.node);
                let selected: Vec<usize> = (0..built.rendered.len())
                    .filter(|&i| self.target_takes(t, &built.rendered[i], self.regex_names))
                    .collect();
                if selected.is_empty() {
                    let regex_hits = !self.regex_names
                        && built.rendered.iter().any(|r| self.target_takes(t, r, true));
                    if regex_hits {
                        built.issues.push(issue(
                            select_node,
                            Issue::TargetRegexOnly {
                                name: t.select.name.clone().unwrap_or_default(),
                            },
                        ));
                    } else {
                        built
                            .issues
                            .push(issue(select_node, Issue::TargetUnmatched));
                    }
                }
                for &(ref fp, fp_node) in &t.field_paths {
                    let fp_node = fp_node.unwrap_or(t.node);
                    if let Some(e) = kustomize::split_field_path(fp)
                        .iter()
                        .find_map(|el| path::invalid_element(el))
                    {
                        built
                            .issues
                            .push(issue(fp_node, Issue::InvalidFieldPath(e)));
                        continue;
                    }
                    let Some(value) = &value else { continue };
                    for &i in &selected {
                        self.write(i, fp, fp_node, t, value, kfile, doc, built);
                    }
                }
            }
        }
    }

    fn source_value(
        &self,
        r: &Rendered,
        src: &kustomize::Source,
        node: NodeId,
        kfile: FileId,
        issues: &mut Vec<ReplacementIssue>,
    ) -> Option<Value> {
        let doc_issue = |issue: Issue| ReplacementIssue {
            kustomization: kfile,
            node,
            issue,
        };
        let value = if src.field_path == "metadata.name" {
            Some(r.name.clone())
        } else if src.field_path == "metadata.namespace" {
            r.namespace.clone()
        } else {
            let concrete = match r.source {
                Source::Object(_) => self
                    .env
                    .resolve_path(r, &src.field_path, false, true)
                    .ok()
                    .and_then(|mut v| v.pop()),
                Source::Generated(..) => Some(
                    kustomize::split_field_path(&src.field_path)
                        .into_iter()
                        .map(Step::Key)
                        .collect(),
                ),
            };
            concrete.and_then(|c| self.env.raw_value(r, &c))
        };
        let Some(mut value) = value.filter(|v| !v.text.is_empty()) else {
            issues.push(doc_issue(Issue::SourceFieldMissing {
                field_path: src.field_path.clone(),
            }));
            return None;
        };
        if let Some(d) = src.delimiter.as_deref() {
            match kustomize::read_delimited(&value.text, Some(d), src.index) {
                Some(part) => value.text = part,
                None => {
                    issues.push(doc_issue(Issue::SourceIndexOutOfBounds {
                        index: src.index,
                        delimiter: d.to_string(),
                    }));
                    return None;
                }
            }
        }
        Some(value)
    }

    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        i: usize,
        fp: &str,
        fp_node: NodeId,
        t: &kustomize::Target,
        value: &Value,
        kfile: FileId,
        doc: &Document,
        built: &mut Built,
    ) {
        let loc = Loc {
            file: kfile,
            span: doc.span(fp_node),
        };
        let r = &built.rendered[i];
        if fp == "metadata.name" || fp == "metadata.namespace" {
            let cur = if fp == "metadata.name" {
                r.name.text.clone()
            } else {
                r.namespace
                    .as_ref()
                    .map(|v| v.text.clone())
                    .unwrap_or_default()
            };
            let v = Value {
                text: kustomize::write_delimited(
                    &cur,
                    &value.text,
                    t.delimiter.as_deref(),
                    t.index,
                ),
                origin: value.origin,
                writer: Some(loc),
                via: Some("replacement"),
            };
            let r = &mut built.rendered[i];
            if fp == "metadata.name" {
                // A replacement does not record a previous name (later selects miss it).
                r.name = v;
                r.name_replaced = true;
            } else {
                r.namespace = Some(v);
            }
            return;
        }
        let concrete = match r.source {
            Source::Object(_) => self.env.resolve_path(r, fp, t.create, false),
            Source::Generated(..) => Ok(vec![
                kustomize::split_field_path(fp)
                    .into_iter()
                    .map(Step::Key)
                    .collect(),
            ]),
        };
        match concrete {
            Ok(paths) => {
                for p in paths {
                    let cur = self
                        .env
                        .raw_value(&built.rendered[i], &p)
                        .map(|v| v.text)
                        .unwrap_or_default();
                    let text = kustomize::write_delimited(
                        &cur,
                        &value.text,
                        t.delimiter.as_deref(),
                        t.index,
                    );
                    metadata::write(
                        &mut built.rendered[i],
                        p,
                        Value {
                            text,
                            origin: value.origin,
                            writer: Some(loc),
                            via: Some("replacement"),
                        },
                    );
                }
            }
            Err(PathError::Invalid(e)) => built.issues.push(ReplacementIssue {
                kustomization: kfile,
                node: fp_node,
                issue: Issue::InvalidFieldPath(e),
            }),
            Err(error) => built.issues.push(ReplacementIssue {
                kustomization: kfile,
                node: fp_node,
                issue: Issue::TargetPath {
                    error,
                    kind: built.rendered[i].kind.clone(),
                    name: built.rendered[i].name.text.clone(),
                },
            }),
        }
    }
}

/// `repo[:tag][@digest]` → (repo, tag, digest).
pub(crate) fn split_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    match rest.rfind(':') {
        Some(c) if !rest[c..].contains('/') => (&rest[..c], Some(&rest[c + 1..]), digest),
        _ => (rest, None, digest),
    }
}

/// A patch target's field (`patches[].target`) as kustomize's `SelectorRegex` reads it: an
/// anchored regular expression.
fn regex_match(want: &Option<String>, have: &str) -> bool {
    match want.as_deref().filter(|w| !w.is_empty()) {
        None => true,
        Some(w) => {
            w == have || regex::Regex::new(&format!("^(?:{w})$")).is_ok_and(|re| re.is_match(have))
        }
    }
}

/// One patch of a kustomization as read: its documents (a JSON patch is one list).
struct PatchEntry {
    /// The node to report at, in the kustomization.
    node: NodeId,
    docs: Vec<super::tree::Node>,
    json: bool,
    target: Option<Selector>,
    allow_name_change: bool,
    allow_kind_change: bool,
    /// From `patchesStrategicMerge`.
    legacy: bool,
}

/// Map spans of a document parsed from a block scalar's text to the kustomization file.
fn remap_inline(
    text: &str,
    doc: &Document,
    scalar: NodeId,
    node: &mut super::tree::Node,
    file: FileId,
) {
    use crate::base::source::Span;
    let span = doc.span(scalar);
    let style = match doc.node(doc.resolve(scalar)).kind {
        crate::yaml::Kind::Scalar { style, .. } => style,
        _ => crate::yaml::Style::Plain,
    };
    let whole = Loc { file, span };
    let block = matches!(
        style,
        crate::yaml::Style::Literal | crate::yaml::Style::Folded
    );
    // File offsets of the block's content lines, after its indentation.
    let mut lines: Vec<usize> = Vec::new();
    let content_first = doc.str(scalar).unwrap_or("").lines().next().unwrap_or("");
    // The first content line: where the block's first line is written (the parser's span
    // may start at the indicator or at the content).
    let line_start = text[..(span.start as usize).min(text.len())]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let mut found = None;
    let mut at = line_start;
    for l in text[line_start..].split_inclusive('\n') {
        let body = l.trim_end_matches(['\n', '\r']);
        if !content_first.is_empty()
            && body.trim_start() == content_first
            && at + body.len() > span.start as usize
        {
            found = Some((at, body.len() - body.trim_start().len()));
            break;
        }
        at += l.len();
    }
    if block && let Some((first, indent)) = found {
        let mut at = first;
        for l in text[first..].split_inclusive('\n') {
            lines.push(at + indent.min(l.len()));
            at += l.len();
        }
    }
    let content: String = doc.str(scalar).unwrap_or("").to_string();
    let starts: Vec<usize> = std::iter::once(0)
        .chain(content.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let map = |l: Option<Loc>| -> Option<Loc> {
        let l = l?;
        if lines.is_empty() {
            return Some(whole);
        }
        let conv = |b: u32| -> Option<usize> {
            let b = b as usize;
            let line = starts.partition_point(|&s| s <= b).checked_sub(1)?;
            Some(lines.get(line)? + (b - starts[line]))
        };
        match (conv(l.span.start), conv(l.span.end)) {
            (Some(s), Some(e)) if s <= e && e <= text.len() => Some(Loc {
                file,
                span: Span::new(s, e),
            }),
            _ => Some(whole),
        }
    };
    fn walk(n: &mut super::tree::Node, map: &dyn Fn(Option<Loc>) -> Option<Loc>, depth: usize) {
        n.loc = map(n.loc);
        n.key_loc = map(n.key_loc);
        if depth > 200 {
            return;
        }
        match &mut n.data {
            super::tree::Data::Map(es) => es.iter_mut().for_each(|(_, v)| walk(v, map, depth + 1)),
            super::tree::Data::Seq(is) => is.iter_mut().for_each(|v| walk(v, map, depth + 1)),
            super::tree::Data::Scalar(..) => {}
        }
    }
    walk(node, &map, 0);
}

/// Kustomize's id of a patch, as its error messages print it: `Deployment.v1.apps/web.[noNs]`.
fn patch_id(p: &super::tree::Node) -> String {
    let s = |path: &[&str]| {
        p.at(&path::keys(path))
            .and_then(super::tree::Node::as_str)
            .unwrap_or("")
            .to_string()
    };
    let av = s(&["apiVersion"]);
    let (group, version) = match av.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => ("[noGrp]".to_string(), av.clone()),
    };
    let ns = s(&["metadata", "namespace"]);
    format!(
        "{}.{}.{}/{}.{}",
        s(&["kind"]),
        version,
        group,
        s(&["metadata", "name"]),
        if ns.is_empty() { "[noNs]".into() } else { ns }
    )
}

impl Evaluator<'_> {
    /// The patches of one kustomization: `patchesStrategicMerge` and `patches` (`json6902`
    /// false), or `patchesJson6902` (true), in kustomize's transformer order.
    fn patches(&self, kfile: FileId, doc: &Document, built: &mut Built, json6902: bool) {
        let mut entries = Vec::new();
        let keys: &[&str] = if json6902 {
            &["patchesJson6902"]
        } else {
            &["patchesStrategicMerge", "patches"]
        };
        for key in keys {
            let Some(list) = doc.get(doc.root, key) else {
                continue;
            };
            for &e in doc.items(list) {
                match self.read_patch(kfile, doc, e, *key == "patchesStrategicMerge", built) {
                    Some(p) => entries.push(p),
                    None => {
                        // Not readable here: only what it targets becomes unknown.
                        let target = doc.get(e, "target").map(|t| Selector::read(doc, t));
                        for r in &mut built.rendered {
                            if target.as_ref().is_none_or(|t| self.selects(t, r)) {
                                r.patched = true;
                            }
                        }
                    }
                }
            }
        }
        for p in entries {
            if let Err(message) = self.apply_patch(&p, built) {
                built.issues.push(ReplacementIssue {
                    kustomization: kfile,
                    node: p.node,
                    issue: Issue::Build(Refusal::Patch { error: message }),
                });
                return;
            }
        }
    }

    fn read_patch(
        &self,
        kfile: FileId,
        doc: &Document,
        e: NodeId,
        legacy_smp: bool,
        built: &mut Built,
    ) -> Option<PatchEntry> {
        let text = &self.env.files[kfile as usize].source.text;
        let (inline, file_path) = if legacy_smp {
            // An entry is a path, or an inline patch (text with a newline or a mapping).
            match doc.str(e) {
                Some(s) if s.contains('\n') || s.trim_start().starts_with('{') => (Some(e), None),
                Some(s) => (None, Some(s.to_string())),
                None => (None, None),
            }
        } else {
            (
                doc.get(e, "patch"),
                doc.get_str(e, "path").map(str::to_string),
            )
        };
        let mut docs = Vec::new();
        if let Some(n) = inline {
            let parsed = crate::yaml::parse(doc.str(n)?, crate::yaml::Limits::default());
            for d in &parsed.docs {
                let mut t = super::tree::Node::from_doc(d, d.root, kfile);
                remap_inline(text, doc, n, &mut t, kfile);
                docs.push(t);
            }
        } else if let Some(p) = file_path {
            let key = normalize(&self.dir_of(kfile).join(&p));
            let Some(&f) = self.files_by_key.get(&key) else {
                built.unknown.push(format!(
                    "patch `{p}` of {} is not among the linted files",
                    self.env.files[kfile as usize].source.display
                ));
                return None;
            };
            built.files.insert(f);
            for d in &self.env.files[f as usize].docs {
                docs.push(super::tree::Node::from_doc(d, d.root, f));
            }
        } else if !legacy_smp && doc.is_map(e) {
            return None;
        } else {
            // `patchesStrategicMerge` entry written as a mapping.
            docs.push(super::tree::Node::from_doc(doc, e, kfile));
        }
        docs.retain(|d| !d.is_null());
        let json = docs
            .first()
            .is_some_and(|d| matches!(d.data, super::tree::Data::Seq(_)));
        let opt = |k: &str| {
            doc.at(e, &[Seg::Key("options"), Seg::Key(k)])
                .and_then(|n| doc.str(n))
                == Some("true")
        };
        Some(PatchEntry {
            node: e,
            docs,
            json,
            target: doc.get(e, "target").map(|t| Selector::read(doc, t)),
            allow_name_change: opt("allowNameChange"),
            allow_kind_change: opt("allowKindChange"),
            legacy: legacy_smp,
        })
    }

    /// Labels or annotations of a rendered object.
    fn meta_map(&self, r: &Rendered, field: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let base = path::keys(&["metadata", field]);
        match (&r.tree, r.source) {
            (Some(t), _) => {
                if let Some(super::tree::Data::Map(es)) = t.at(&base).map(|n| &n.data) {
                    for (k, v) in es {
                        out.insert(k.clone(), v.as_str().unwrap_or("").to_string());
                    }
                }
            }
            (None, Source::Object(o)) => {
                let (doc, root, _) = self.env.doc_of(o);
                if let Some(m) = path::node_at(doc, root, &base) {
                    for (k, v) in doc.entries(m) {
                        if let Some(k) = doc.str(k) {
                            out.insert(k.to_string(), doc.str(v).unwrap_or("").to_string());
                        }
                    }
                }
            }
            (None, Source::Generated(..)) => {}
        }
        for (p, v) in &r.overrides {
            if p.len() == 3
                && p.starts_with(&base)
                && let Step::Key(k) = &p[2]
            {
                out.insert(k.clone(), v.text.clone());
            }
        }
        out
    }

    /// Whether a patch target selects a rendered object: its current or original name and
    /// namespace, as kustomize's `Select` tries both.
    fn selects(&self, t: &Selector, r: &Rendered) -> bool {
        let (group, version) = match r.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", r.api_version.as_str()),
        };
        if !regex_match(&t.group, group)
            || !regex_match(&t.version, version)
            || !regex_match(&t.kind, &r.kind)
        {
            return false;
        }
        let original = r.previous_names.first().unwrap_or(&r.name.text);
        if !regex_match(&t.name, original) && !regex_match(&t.name, &r.name.text) {
            return false;
        }
        let current_ns = r
            .namespace
            .as_ref()
            .map(|v| v.text.as_str())
            .unwrap_or("default");
        let original_ns = match r.source {
            Source::Object(o) => self.env.objects[o as usize].namespace.as_deref(),
            Source::Generated(..) => None,
        }
        .unwrap_or("default");
        if !regex_match(&t.namespace, current_ns) && !regex_match(&t.namespace, original_ns) {
            return false;
        }
        let sel = |s: &Option<String>, field: &str| {
            s.as_deref().is_none_or(|s| {
                s.is_empty() || kustomize::selector_matches(s, &self.meta_map(r, field))
            })
        };
        sel(&t.label_selector, "labels") && sel(&t.annotation_selector, "annotations")
    }

    /// The objects a strategic merge patch without a target names (by any of their names).
    fn by_id(&self, p: &super::tree::Node, rendered: &[Rendered]) -> Vec<usize> {
        let s = |path: &[&str]| p.at(&path::keys(path)).and_then(super::tree::Node::as_str);
        let (Some(kind), Some(name)) = (s(&["kind"]), s(&["metadata", "name"])) else {
            return Vec::new();
        };
        let av = s(&["apiVersion"]).unwrap_or("");
        let ns = s(&["metadata", "namespace"]);
        rendered
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.kind == kind
                    && (av.is_empty() || r.api_version == av)
                    && (r.name.text == name || r.previous_names.iter().any(|n| n == name))
                    && ns.is_none_or(|ns| {
                        r.namespace.as_ref().is_some_and(|v| v.text == ns)
                            || matches!(r.source, Source::Object(o)
                                if self.env.objects[o as usize].namespace.as_deref() == Some(ns))
                    })
            })
            .map(|(i, _)| i)
            .collect()
    }

    fn apply_patch(&self, p: &PatchEntry, built: &mut Built) -> Result<(), String> {
        use super::tree::Node;
        if p.json {
            let ops = super::patch::read_ops(&p.docs[0])?;
            let Some(t) = &p.target else {
                return Err("must specify a target for JSON patch".into());
            };
            for i in 0..built.rendered.len() {
                if !self.selects(t, &built.rendered[i]) {
                    continue;
                }
                let mut tree = self.materialized(&mut built.rendered[i]);
                super::patch::json6902(&mut tree, &ops)?;
                self.settle(&mut built.rendered[i], tree, true, true);
            }
            return Ok(());
        }
        let mut deleted = BTreeSet::new();
        for patch in &p.docs {
            let selected = match &p.target {
                Some(t) => (0..built.rendered.len())
                    .filter(|&i| self.selects(t, &built.rendered[i]))
                    .collect(),
                None => {
                    let found = self.by_id(patch, &built.rendered);
                    if found.is_empty() && missing_objects(&built.unknown) {
                        // Its object may be in a base that was not read.
                        built.unknown.push(format!(
                            "strategic merge patch \"{}\" targets an object this build may not have read",
                            patch_id(patch)
                        ));
                        continue;
                    }
                    if found.is_empty() {
                        let id = patch_id(patch);
                        let why = format!(
                            "no matches for Id {id}; failed to find unique target for patch {id}"
                        );
                        // The legacy field words it without the leading clause.
                        return Err(if p.legacy {
                            why
                        } else {
                            format!("no resource matches strategic merge patch \"{id}\": {why}")
                        });
                    }
                    found
                }
            };
            let mut patch: Node = patch.clone();
            if !(p.allow_name_change && p.target.is_some())
                && let Some(m) = patch.get_mut("metadata")
            {
                m.remove("name");
            }
            if let Some(m) = patch.get_mut("metadata") {
                m.remove("namespace");
            }
            if !p.allow_kind_change {
                patch.remove("kind");
                patch.remove("apiVersion");
            }
            for i in selected {
                let r = &mut built.rendered[i];
                let schema = super::patch::has_schema(&r.api_version);
                let mut tree = self.materialized(r);
                if !super::patch::strategic_merge(&mut tree, &patch, &r.kind, schema) {
                    deleted.insert(i);
                    continue;
                }
                self.settle(r, tree, p.allow_name_change, p.allow_kind_change);
            }
        }
        if !deleted.is_empty() {
            built
                .deleted
                .extend(deleted.iter().filter_map(|&i| built.rendered[i].object()));
            let mut i = 0;
            built.rendered.retain(|_| {
                i += 1;
                !deleted.contains(&(i - 1))
            });
        }
        Ok(())
    }

    /// The object as a tree with the overrides so far folded in.
    fn materialized(&self, r: &mut Rendered) -> super::tree::Node {
        let t = super::tree::materialize(&self.env, r);
        r.overrides.clear();
        t
    }

    /// Keep a patched tree, and follow a name or kind it changed.
    fn settle(&self, r: &mut Rendered, tree: super::tree::Node, name: bool, kind: bool) {
        let s = |path: &[&str]| tree.at(&path::keys(path)).and_then(|n| n.value());
        if name
            && let Some(v) = s(&["metadata", "name"])
            && v.text != r.name.text
        {
            r.previous_names
                .push(std::mem::replace(&mut r.name, v).text);
        }
        if let Some(v) = s(&["metadata", "namespace"])
            && r.namespace.as_ref().is_none_or(|n| n.text != v.text)
            && v.via.is_some()
        {
            r.namespace = Some(v);
        }
        if kind {
            if let Some(k) = s(&["kind"]) {
                r.kind = k.text;
            }
            if let Some(a) = s(&["apiVersion"]) {
                r.api_version = a.text;
            }
        }
        r.tree = Some(Box::new(tree));
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::workspace_of as ws;
    use crate::render::workspace::Workspace;
    use crate::render::{Context, Rendered, Value, links, path};

    /// The files `k/kustomization.yaml` and the `k/app.yaml` it lists, modelled.
    fn kustomized(kustomization: &str, app: &str) -> Workspace {
        ws(&[("k/kustomization.yaml", kustomization), ("k/app.yaml", app)])
    }

    /// The object of `kind` the build renders.
    fn of_kind<'a>(cx: &'a Context, kind: &str) -> &'a Rendered {
        cx.rendered.iter().find(|r| r.kind == kind).unwrap()
    }

    /// The value at `p` of the object of `kind` the kustomization of `w` renders.
    fn built_value(w: &Workspace, kind: &str, p: &[&str]) -> Value {
        let cx = w.contexts.iter().find(|c| c.root.is_some()).unwrap();
        w.env().value_at(cx, of_kind(cx, kind), p).unwrap()
    }

    #[test]
    fn an_autoscaler_follows_its_renamed_workload() {
        let w = kustomized(
            "namePrefix: prod-\nresources: [app.yaml]\n",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec: {template: {spec: {containers: [{name: a, image: a}]}}}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: app}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: app}\n  maxReplicas: 5\n",
        );
        let target = built_value(
            &w,
            "HorizontalPodAutoscaler",
            &["spec", "scaleTargetRef", "name"],
        );
        assert_eq!(target.text, "prod-app");
    }

    #[test]
    fn labels_record_their_writer_and_generated_names_their_hash() {
        let w = kustomized(
            "resources: [app.yaml]\ncommonLabels: {team: a}\nconfigMapGenerator:\n- name: cm\n  literals: [a=1]\n",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec: {template: {spec: {containers: [{name: a, image: a, envFrom: [{configMapRef: {name: cm}}]}]}}}\n",
        );
        let label = built_value(
            &w,
            "Deployment",
            &["spec", "selector", "matchLabels", "team"],
        );
        assert_eq!(label.text, "a");
        assert_eq!(label.via, Some("commonLabels"));
        let cx = w.contexts.iter().find(|c| c.root.is_some()).unwrap();
        assert_eq!(label.writer.map(|l| l.file), Some(cx.root.unwrap()));
        let env = w.env();
        let app = of_kind(cx, "Deployment");
        // `kubectl kustomize` names it cm-h29d89cmmt, and the reference follows.
        let cm = of_kind(cx, "ConfigMap");
        assert_eq!(cm.name.text, "cm-h29d89cmmt");
        let r = env
            .value(
                cx,
                app,
                &[
                    path::keys(&["spec", "template", "spec", "containers"]),
                    vec![path::Step::Index(0)],
                    path::keys(&["envFrom"]),
                    vec![path::Step::Index(0)],
                    path::keys(&["configMapRef", "name"]),
                ]
                .concat(),
            )
            .unwrap();
        assert_eq!(r.text, "cm-h29d89cmmt");
    }

    #[test]
    fn flux_target_namespace_applies_to_namespaced_objects() {
        let w = ws(&[
            (
                "apps/web/job.yaml",
                "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: old}\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: a, image: a}]}}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: cr}\n",
            ),
            (
                "clusters/web.yaml",
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: web}\nspec: {path: ./apps/web, targetNamespace: prod, prune: true, interval: 5m, sourceRef: {kind: GitRepository, name: r}}\n",
            ),
        ]);
        let cx = w.contexts.iter().find(|c| c.name == "apps/web").unwrap();
        let env = w.env();
        assert_eq!(env.namespace(cx, of_kind(cx, "Job")), "prod");
        assert!(of_kind(cx, "ClusterRole").namespace.is_none());
    }

    #[test]
    fn wait_for_words_in_the_command_come_before_the_args() {
        let w = ws(&[(
            "k/d.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n      initContainers:\n      - name: wait\n        image: groundnuty/k8s-wait-for:v2.0\n        command: [/usr/local/bin/wait_for.sh, job-wr]\n        args: [app-migration-v1, -n, db]\n      containers: [{name: a, image: a}]\n",
        )]);
        let cx = &w.contexts[0];
        let waits = links::wait_fors(&w.env(), cx);
        assert_eq!(waits.len(), 1);
        assert_eq!(waits[0].mode(), Some("job-wr"));
        assert_eq!(waits[0].target.as_ref().unwrap().text, "app-migration-v1");
        assert_eq!(waits[0].namespace, "db");
    }
}
