//! The object model: Kubernetes objects found in the parsed documents, with typed views for the
//! kinds the rules read. Unknown kinds and custom resources are kept as generic objects.

pub mod config;
pub mod discover;
pub mod evidence;
pub(crate) mod migration;
pub(crate) mod secrets;
pub mod template;

use crate::base::diagnostic::{Diagnostic, FileId, Fix, Loc, ObjectId, ObjectRef, Severity};
use crate::base::source::SourceFile;
use crate::yaml::{self, Document, NodeId, Seg, YamlError, from_node};
use k8s_openapi::api::{
    apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch, core::v1 as core,
    rbac::v1 as rbac,
};

/// What a file is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    Manifest,
    /// `kustomization.yaml`, `kustomization.yml` or `Kustomization`.
    Kustomization,
    /// A file a kustomization or component references as a patch (`patches[].path`,
    /// `patchesStrategicMerge`, `patchesJson6902[].path`) and none lists as a resource: its
    /// documents are edits to objects, not objects, so no object rule or schema check runs on
    /// them and they never form a context of their own. They stay parsed, reachable from
    /// their kustomization, for the evaluator to apply.
    Patch,
}

pub(crate) fn file_role(name: &str) -> FileRole {
    match name {
        "kustomization.yaml" | "kustomization.yml" | "Kustomization" => FileRole::Kustomization,
        _ => FileRole::Manifest,
    }
}

/// A linted file: its source, its parsed YAML documents and what it is to kustomize.
#[derive(Debug)]
pub struct FileData {
    pub source: SourceFile,
    pub docs: Vec<Document>,
    pub error: Option<YamlError>,
    pub role: FileRole,
}

/// The kinds the rules read, by k8s-openapi module: each is a [`Typed`] variant, and
/// [`type_object`] types it when the object has the type's `apiVersion` and `kind`.
macro_rules! typed_kinds {
    ($($module:ident: $($kind:ident)*;)*) => {
        /// What typing an object against its API schema found. Every object of a kind the rules
        /// read (Jobs, workloads, ConfigMaps, Secrets, RBAC, HPAs) is typed through k8s-openapi
        /// once, when its file is modelled, so a wrong type is a `schema-invalid` finding at its
        /// node; the typed struct (kilobytes per object) is dropped at once. The few fields rules
        /// read are typed again, on their own, when asked for ([`Object::pod_spec`], [`read`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Typed {
            None,
            $($($kind,)*)*
            /// A known kind whose typed view failed; a `schema-invalid` finding says why.
            Invalid,
        }

        /// The kind of `obj`, typed whole to find what the API server would reject, then dropped.
        fn type_object(obj: &Object, doc: &Document, budget: u64) -> Result<Typed, yaml::DeError> {
            use k8s_openapi::Resource;
            $($(
                if obj.is($module::$kind::API_VERSION, $module::$kind::KIND) {
                    from_node::<$module::$kind>(doc, obj.root, budget)?;
                    return Ok(Typed::$kind);
                }
            )*)*
            Ok(Typed::None)
        }
    };
}

typed_kinds! {
    batch: Job CronJob;
    apps: Deployment StatefulSet DaemonSet ReplicaSet;
    core: Pod ConfigMap Secret ServiceAccount;
    rbac: Role ClusterRole RoleBinding ClusterRoleBinding;
    autoscaling: HorizontalPodAutoscaler;
}

/// What the rules read of a pod spec, typed as k8s-openapi's `PodSpec` types these fields.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecView {
    pub init_containers: Option<Vec<ContainerView>>,
    pub containers: Option<Vec<ContainerView>>,
}

impl PodSpecView {
    /// Init containers first, then containers.
    pub fn all(&self) -> impl Iterator<Item = &ContainerView> {
        self.init_containers
            .iter()
            .flatten()
            .chain(self.containers.iter().flatten())
    }
}

/// What the rules read of a container, typed as k8s-openapi's `Container` types these fields.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ContainerView {
    pub image: Option<String>,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
}

/// The field at `path` below `root`, typed as `T`; None when it is absent or does not type
/// (which cannot happen below an object whose typed view succeeded, for a `T` that types the
/// field as k8s-openapi does). Aliases were expanded within the budget when the object was
/// typed whole, so a part of it needs no budget of its own.
pub(crate) fn read<T: serde::de::DeserializeOwned>(
    doc: &Document,
    root: NodeId,
    path: &[Seg],
) -> Option<T> {
    from_node(doc, doc.at(root, path)?, u64::MAX).ok()
}

/// A Kubernetes object: one mapping document with `apiVersion` and `kind`.
#[derive(Debug, Clone)]
pub struct Object {
    pub id: ObjectId,
    pub file: FileId,
    pub doc: u32,
    pub root: NodeId,
    pub api_version: String,
    pub kind: String,
    pub name: Option<String>,
    pub generate_name: Option<String>,
    pub namespace: Option<String>,
    pub typed: Typed,
}

impl Object {
    pub(crate) fn is(&self, api_version: &str, kind: &str) -> bool {
        self.api_version == api_version && self.kind == kind
    }

    pub(crate) fn reference(&self) -> ObjectRef {
        ObjectRef {
            api_version: Some(self.api_version.clone()),
            kind: Some(self.kind.clone()),
            namespace: self.namespace.clone(),
            name: self.name.clone().or_else(|| self.generate_name.clone()),
        }
    }

    /// Name for messages: the name, or `generateName` with a trailing `*`.
    pub(crate) fn display_name(&self) -> String {
        match (&self.name, &self.generate_name) {
            (Some(n), _) => n.clone(),
            (None, Some(g)) => format!("{g}*"),
            _ => "<unnamed>".into(),
        }
    }

    /// Path to the pod spec for workload kinds.
    pub(crate) fn pod_spec_path(&self) -> Option<&'static [Seg<'static>]> {
        const TEMPLATE: &[Seg] = &[Seg::Key("spec"), Seg::Key("template"), Seg::Key("spec")];
        const CRON: &[Seg] = &[
            Seg::Key("spec"),
            Seg::Key("jobTemplate"),
            Seg::Key("spec"),
            Seg::Key("template"),
            Seg::Key("spec"),
        ];
        const POD: &[Seg] = &[Seg::Key("spec")];
        match self.typed {
            Typed::Job
            | Typed::Deployment
            | Typed::StatefulSet
            | Typed::DaemonSet
            | Typed::ReplicaSet => Some(TEMPLATE),
            Typed::CronJob => Some(CRON),
            Typed::Pod => Some(POD),
            _ => None,
        }
    }

    /// The pod spec of a workload whose typed view succeeded, as written in `doc` (the document
    /// the object is read from: its manifest, or a patched rendering of it).
    pub(crate) fn pod_spec(&self, doc: &Document) -> Option<PodSpecView> {
        read(doc, self.root, self.pod_spec_path()?)
    }

    /// Annotations of the object and, for workloads, of its pod template.
    pub(crate) fn annotation_nodes(&self, doc: &Document) -> Vec<NodeId> {
        let mut out = Vec::new();
        if let Some(n) = doc.at(self.root, &[Seg::Key("metadata"), Seg::Key("annotations")]) {
            out.push(n);
        }
        if let Some(spec) = self.pod_spec_path() {
            let mut p = spec[..spec.len() - 1].to_vec();
            p.push(Seg::Key("metadata"));
            p.push(Seg::Key("annotations"));
            if let Some(n) = doc.at(self.root, &p) {
                out.push(n);
            }
        }
        out
    }
}

/// Limits on what reading one object may cost.
pub const DEFAULT_EXPANSION_BUDGET: u64 = 250_000;

/// Find the objects of one parsed file and build their typed views. Typing errors become
/// `schema-invalid` findings at the offending node.
pub(crate) fn objects_of(
    file_id: FileId,
    file: &FileData,
    budget: u64,
) -> (Vec<Object>, Vec<Diagnostic>) {
    let mut objects = Vec::new();
    let mut diags = Vec::new();
    if file.role != FileRole::Manifest {
        return (objects, diags);
    }
    for (di, doc) in file.docs.iter().enumerate() {
        let mut roots = Vec::new();
        collect_roots(doc, doc.root, &mut roots);
        for root in roots {
            if let Some((obj, diag)) = object_at(file_id, di as u32, doc, root, budget) {
                if let Some((mut d, wants_string)) = diag {
                    // A file-local index; the workspace offsets it to the global id.
                    d.object = Some(objects.len() as ObjectId);
                    if wants_string {
                        d.fix = quote_fix(file_id, file, doc, &d);
                    }
                    diags.push(d);
                }
                objects.push(obj);
            }
        }
    }
    (objects, diags)
}

/// A number or boolean where the API wants a string: quote it as written (`3000` → `"3000"`,
/// `0755` → `"0755"`), which is the string its author meant.
fn quote_fix(file_id: FileId, file: &FileData, doc: &Document, d: &Diagnostic) -> Option<Fix> {
    let ed = crate::yaml::edit::Editor::new(&file.source.text, doc, file_id);
    let e = ed.quote(ed.scalar_at(d.loc.span)?)?;
    Some(Fix::safe("quote the value, keeping it as written", vec![e]))
}

fn collect_roots(doc: &Document, root: NodeId, out: &mut Vec<NodeId>) {
    if !doc.is_map(root) {
        return;
    }
    let kind = doc.get_str(root, "kind");
    let is_list = kind.is_some_and(|k| k == "List" || k.ends_with("List"))
        && doc.get(root, "items").is_some();
    if is_list {
        for &item in doc.items(doc.get(root, "items").unwrap()) {
            if doc.is_map(item) {
                out.push(doc.resolve(item));
            }
        }
    } else {
        out.push(root);
    }
}

/// An object, and its `schema-invalid` finding with whether the schema wanted a string (a
/// number or boolean can then be quoted).
pub(crate) fn object_at(
    file: FileId,
    doc_index: u32,
    doc: &Document,
    root: NodeId,
    budget: u64,
) -> Option<(Object, Option<(Diagnostic, bool)>)> {
    let api_version = doc.get_str(root, "apiVersion")?.to_string();
    let kind = doc.get_str(root, "kind")?.to_string();
    let meta = doc.get(root, "metadata");
    let s = |k: &str| meta.and_then(|m| doc.get_str(m, k)).map(str::to_string);
    let mut obj = Object {
        id: 0,
        file,
        doc: doc_index,
        root,
        name: s("name"),
        generate_name: s("generateName"),
        namespace: s("namespace"),
        api_version,
        kind,
        typed: Typed::None,
    };
    let mut diag = None;
    obj.typed = match type_object(&obj, doc, budget) {
        Ok(t) => t,
        Err(e) => {
            let node = e.node.unwrap_or(root);
            let path = doc.path_to(root, node).filter(|p| !p.is_empty());
            let message = match &path {
                Some(p) => format!("`{p}`: {}", e.message),
                None => e.message.clone(),
            };
            let mut d = Diagnostic::new(
                crate::base::rule_id::RuleId::SchemaInvalid.name(),
                Severity::Error,
                Loc {
                    file,
                    span: doc.span(node),
                },
                message,
            )
            .help(format!(
                "the API server rejects this {}; fix the value's type (quote numbers meant as strings, drop quotes from numbers)",
                obj.kind
            ));
            d.path = path;
            let wants_string = e
                .mismatch
                .as_ref()
                .is_some_and(yaml::TypeMismatch::wants_string);
            diag = Some((d, wants_string));
            Typed::Invalid
        }
    };
    Some((obj, diag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> FileData {
        let p = yaml::parse(text, Default::default());
        FileData {
            source: SourceFile::new("t.yaml".into(), None, text),
            docs: p.docs,
            error: p.error,
            role: FileRole::Manifest,
        }
    }

    #[test]
    fn list_items_are_objects_and_unknown_kinds_are_kept() {
        let f = file(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: example.com/v1\n  kind: Widget\n  metadata: {name: b}\n---\nfoo: bar\n",
        );
        let (objs, diags) = objects_of(0, &f, DEFAULT_EXPANSION_BUDGET);
        assert!(diags.is_empty());
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].typed, Typed::ConfigMap);
        assert_eq!(objs[1].typed, Typed::None);
        assert_eq!(objs[1].name.as_deref(), Some("b"));
    }

    #[test]
    fn wrong_types_are_findings_at_the_node() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  PORT: 8080\n";
        let (objs, diags) = objects_of(0, &file(text), DEFAULT_EXPANSION_BUDGET);
        assert_eq!(objs[0].typed, Typed::Invalid);
        assert_eq!(diags.len(), 1);
        assert_eq!(&text[diags[0].loc.span.range()], "8080");
        assert_eq!(diags[0].path.as_deref(), Some("data.PORT"));
    }
}
