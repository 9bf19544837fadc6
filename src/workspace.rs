//! Everything one run has read: files, objects, and the contexts cross-resource rules see.

use crate::config::DeployEngine;
use crate::diagnostic::ObjectId;
use crate::graph::{self, Context, ContextMode, Env, FluxKustomization, ReplacementIssue};
use crate::model::{FileData, Object};

#[derive(Debug, Clone, Default)]
pub struct WorkspaceOptions {
    pub deploy_engine: DeployEngine,
    pub context_mode: ContextMode,
    /// Read kustomize selector names as regular expressions (kustomize 5.8+).
    pub regex_selectors: bool,
    /// Env vars that carry the database connection.
    pub database_env: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Workspace {
    pub files: Vec<FileData>,
    pub objects: Vec<Object>,
    pub contexts: Vec<Context>,
    pub fluxes: Vec<FluxKustomization>,
    pub replacement_issues: Vec<ReplacementIssue>,
    pub deploy_engine: DeployEngine,
    pub options: WorkspaceOptions,
}

impl Workspace {
    pub fn new(files: Vec<FileData>, objects: Vec<Object>, options: WorkspaceOptions) -> Self {
        let (contexts, fluxes, replacement_issues) = graph::build_contexts(
            &files,
            &objects,
            options.context_mode,
            options.regex_selectors,
        );
        Workspace {
            files,
            objects,
            contexts,
            fluxes,
            replacement_issues,
            deploy_engine: options.deploy_engine,
            options,
        }
    }

    pub fn env(&self) -> Env<'_> {
        Env {
            files: &self.files,
            objects: &self.objects,
        }
    }

    pub fn doc_of(&self, obj: &Object) -> &crate::yaml::Document {
        &self.files[obj.file as usize].docs[obj.doc as usize]
    }

    /// The contexts that include an object.
    pub fn contexts_of(&self, obj: ObjectId) -> impl Iterator<Item = &Context> {
        self.contexts
            .iter()
            .filter(move |c| c.objects.binary_search(&obj).is_ok())
    }
}
