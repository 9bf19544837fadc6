//! The migration graph: contexts, and every object as Kustomize (and Flux) will render it.
//!
//! A context is what one deploy applies: a directory whose `kustomization.yaml` lists
//! resources (followed recursively through bases and components), or, for manifests no
//! kustomization includes, their directory. Within a context each object is *rendered*:
//! namespace, name prefix and suffix, images, replicas, replacements and Flux post-build
//! substitution are evaluated natively, and every evaluated value remembers the node it came
//! from and the node (replacement, images entry, substitution) that wrote it.

pub(crate) mod engine;
pub(crate) mod kustomize;
pub(crate) mod resolve;
pub(crate) mod workspace;

pub(crate) mod build;
mod eval;
mod flux;
mod generate;
pub(crate) mod links;
mod metadata;
pub(crate) mod patch;
pub mod path;
pub(crate) mod refusal;
pub mod tree;

pub(crate) use eval::{
    CLUSTER_SCOPED, ContextMode, DEFAULT_MAX_CONTEXT_OBJECTS, Env, Evaluated, Issue,
    ReplacementIssue, build_contexts, file_key, file_keys, key_of, normalize, patch_files,
    split_image,
};
pub use eval::{IssueKind, pod_spec_path};
pub(crate) use flux::{FluxKustomization, read as flux_kustomizations};

use crate::base::diagnostic::{FileId, Loc, ObjectId};
use crate::yaml::NodeId;
use std::collections::BTreeMap;

/// A value as it will be applied, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The value's text after every transformation.
    pub text: String,
    /// The node the text comes from (the manifest's own node, or a replacement's source).
    pub(crate) origin: Option<Loc>,
    /// The node that wrote it, when something other than the manifest did.
    pub(crate) writer: Option<Loc>,
    /// What wrote it, for messages: "replacement", "images", "namePrefix", "Flux substitution".
    pub via: Option<&'static str>,
}

impl Value {
    pub(crate) fn literal(text: impl Into<String>, origin: Loc) -> Value {
        Value {
            text: text.into(),
            origin: Some(origin),
            writer: None,
            via: None,
        }
    }
}

/// Where a rendered object comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Object(ObjectId),
    /// A `configMapGenerator` / `secretGenerator` entry: its file and node.
    Generated(FileId, u32, NodeId),
}

/// An object as the context renders it.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub(crate) source: Source,
    pub(crate) api_version: String,
    /// The object's kind.
    pub kind: String,
    pub(crate) name: Value,
    /// Names it had before prefixes and suffixes (kustomize selects on those too).
    pub(crate) previous_names: Vec<String>,
    /// The namespace it is applied to, if set.
    pub namespace: Option<Value>,
    /// Values written by transformers, by concrete path (`spec.template.spec.containers[0].image`).
    pub(crate) overrides: BTreeMap<path::Concrete, Value>,
    /// Fields a patch may change, which we do not evaluate (a patch file that is not among
    /// the linted files); patches that are evaluated leave this false.
    pub(crate) patched: bool,
    /// The object as an owned tree, once a patch changed it (overrides are folded into it when
    /// it is made; later transformers write overrides on top again).
    pub(crate) tree: Option<Box<tree::Node>>,
    /// A generated object whose name gets a content hash at the end of the build.
    pub(crate) name_hash: bool,
    /// A replacement wrote into the name at some stage of the build.
    pub(crate) name_replaced: bool,
    /// Fields that are one YAML node in kustomize's memory: a label or annotation that one
    /// transformer created in several maps at once (`metadata.labels.team` and the selector's
    /// `team`). Kustomize writes an existing value in place, so a later write to any of them
    /// (an overlay's `labels`, a replacement) changes them all.
    pub(crate) shared: Vec<Vec<path::Concrete>>,
}

impl Rendered {
    pub(crate) fn object(&self) -> Option<ObjectId> {
        match self.source {
            Source::Object(o) => Some(o),
            Source::Generated(..) => None,
        }
    }

    pub(crate) fn is(&self, api_version: &str, kind: &str) -> bool {
        self.api_version == api_version && self.kind == kind
    }
}

/// A variable Flux substitutes after the build, and where it is defined.
#[derive(Debug, Clone)]
pub(crate) struct Substitution {
    pub(crate) value: String,
    pub(crate) loc: Loc,
}

/// One build: a kustomization (or a directory) and the objects it renders.
#[derive(Debug, Default)]
pub struct Context {
    /// Position in `Workspace::contexts`.
    pub(crate) index: usize,
    /// The directory, as displayed.
    pub(crate) name: String,
    /// The kustomization file at the root, if this context is a kustomization.
    pub root: Option<FileId>,
    /// Every file the build reads.
    pub files: Vec<FileId>,
    /// Source objects included (before rendering).
    pub(crate) objects: Vec<ObjectId>,
    /// Every kustomization file that took part (root, bases, components).
    pub(crate) kustomizations: Vec<FileId>,
    /// The patch files the build's kustomizations and components name: (the kustomization or
    /// component, the patch file), in evaluation order. Their documents are edits, not objects.
    pub(crate) patches: Vec<(FileId, FileId)>,
    /// The objects the build outputs, in kustomize's order.
    pub rendered: Vec<Rendered>,
    /// Source objects a `$patch: delete` removed from the build.
    pub(crate) deleted: Vec<ObjectId>,
    /// Flux post-build variables for this context (from a Flux Kustomization whose path is it).
    pub(crate) substitutions: BTreeMap<String, Substitution>,
    /// The Flux Kustomization that deploys this context, if the tree has one.
    pub(crate) flux: Option<ObjectId>,
    /// Whether Flux substitution runs (some variable is defined, or strategy Always).
    pub(crate) substitute: bool,
    /// What we could not evaluate (remote bases, files outside the linted paths, patches).
    pub(crate) unknown: Vec<String>,
    /// Set when the context rendered more objects than the limit allows: evaluation stopped,
    /// and the context holds no objects (a partial one would yield false findings).
    pub(crate) over_limit: Option<usize>,
    /// Migration Jobs in files that sit beside a kustomization which does not list them (and no
    /// linted kustomization includes them): `kubectl apply -k` and Flux never apply them. Each
    /// with that kustomization file. They are not among `objects`/`rendered`: the rules judge
    /// what is deployed, and these never are.
    pub(crate) unlisted: Vec<(ObjectId, FileId)>,
    /// The containers of each rendered object (by index in `rendered`), read on first use
    /// ([`links::containers`]) and dropped with the build.
    pub(crate) containers: std::sync::OnceLock<Vec<Vec<links::Container>>>,
}

impl Context {
    /// The index of `r` in `rendered`, when it is one of them (the same object, not an equal
    /// one).
    pub(crate) fn position(&self, r: &Rendered) -> Option<usize> {
        let size = std::mem::size_of::<Rendered>().max(1);
        let offset = (r as *const Rendered as usize).checked_sub(self.rendered.as_ptr() as usize)?;
        let i = offset / size;
        (offset % size == 0 && i < self.rendered.len()).then_some(i)
    }

    pub(crate) fn rendered_of(&self, obj: ObjectId) -> Option<&Rendered> {
        self.rendered.iter().find(|r| r.object() == Some(obj))
    }
}
