//! Everything one run has read: files, objects, and the contexts cross-resource rules see.

use crate::base::diagnostic::{FileId, ObjectId};
use crate::model::config::DeployEngine;
use crate::model::{FileData, Object};
use crate::render::{Context, ContextMode, Env, FluxKustomization, ReplacementIssue, links};

/// What decides how a workspace is evaluated.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkspaceOptions {
    pub(crate) deploy_engine: DeployEngine,
    pub(crate) context_mode: ContextMode,
    /// Read kustomize selector names as regular expressions (kustomize 5.8+).
    pub(crate) regex_selectors: bool,
    /// Env vars that carry the database connection.
    pub(crate) database_env: Vec<String>,
    /// The most objects one context may render (None: the default).
    pub(crate) max_context_objects: Option<usize>,
    /// Directories the user named: a kustomization there is a build of its own even when
    /// another linted kustomization includes it (normalised, absolute).
    pub(crate) explicit_builds: Vec<std::path::PathBuf>,
    /// What the repository shows about how it is deployed (None: not scanned).
    pub(crate) repo: Option<std::sync::Arc<crate::model::evidence::RepoEvidence>>,
}

/// Everything a run reads: files, objects and the contexts kustomize and Flux build from them.
#[derive(Debug, Default)]
pub struct Workspace {
    pub files: Vec<FileData>,
    pub(crate) objects: Vec<Object>,
    pub contexts: Vec<Context>,
    pub(crate) fluxes: Vec<FluxKustomization>,
    pub replacement_issues: Vec<ReplacementIssue>,
    /// The configured engine (`Auto`: decided per build, see `engines`).
    pub(crate) deploy_engine: DeployEngine,
    /// The engine each context is applied by, and why, by context index.
    pub(crate) engines: Vec<crate::render::engine::Verdict>,
    pub(crate) options: WorkspaceOptions,
    /// Contexts whose evaluation failed on a bug (the others are complete).
    pub(crate) internal: Vec<crate::base::internal::InternalError>,
    /// The files each kustomization reads when built (bases and fragments are no contexts of
    /// their own: this is how far each reaches).
    pub(crate) parts: std::collections::BTreeMap<FileId, Vec<FileId>>,
    /// Each file's path as kustomize resolves entries (absolute, normalised), by file id.
    pub(crate) file_keys: Vec<std::path::PathBuf>,
    by_key: std::collections::HashMap<std::path::PathBuf, FileId>,
    /// Rendered Jobs per context: computed once, on first use.
    jobs: std::sync::OnceLock<Vec<Vec<links::JobRef>>>,
    waits: std::sync::OnceLock<Vec<std::sync::OnceLock<Vec<links::WaitFor>>>>,
    kustomization_by_dir: std::collections::HashMap<std::path::PathBuf, FileId>,
    object_contexts: std::sync::OnceLock<Vec<Vec<usize>>>,
    unlisted: std::sync::OnceLock<std::collections::HashMap<ObjectId, FileId>>,
    /// The analysis layer's per-run indexes, built on first use (see [`Workspace::memo`]).
    memo: std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>,
    /// What the checks looked up in builds other Flux stages deploy.
    reach: std::sync::Mutex<Reach>,
}

/// What checks of Flux-deployed builds looked up in the other Flux stages of a run
/// ([`Workspace::deployed_with`]). A run checked in independent parts
/// (`crate::engine::stream`) compares it with what the other parts hold: a part that looked
/// for something another part has is checked again together with it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Reach {
    /// Namespaces whose Jobs were looked up.
    pub(crate) jobs_in: std::collections::BTreeSet<String>,
    /// Namespaces whose waits (what may hold a Job back) were looked up.
    pub(crate) holding: std::collections::BTreeSet<String>,
    /// Every other Flux stage was read (an app anywhere, a Job by name in any namespace).
    pub(crate) everything: bool,
}

impl Workspace {
    /// Evaluate the files and objects into contexts, with each file's key
    /// ([`crate::render::file_key`], from [`crate::render::file_keys`]) already known.
    pub(crate) fn with_keys(
        files: Vec<FileData>,
        objects: Vec<Object>,
        options: WorkspaceOptions,
        file_keys: Vec<std::path::PathBuf>,
    ) -> Self {
        let crate::render::Evaluated {
            mut contexts,
            fluxes,
            issues: replacement_issues,
            internal,
            parts,
        } = crate::render::build_contexts(
            &files,
            &objects,
            options.context_mode,
            options.regex_selectors,
            options
                .max_context_objects
                .unwrap_or(crate::render::DEFAULT_MAX_CONTEXT_OBJECTS),
            &options.explicit_builds,
            &file_keys,
        );
        for (i, c) in contexts.iter_mut().enumerate() {
            c.index = i;
        }
        use rayon::prelude::*;
        let repo = options
            .repo
            .as_deref()
            .map(crate::render::engine::Repo::new);
        let engines = contexts
            .par_iter()
            .map(|c| {
                crate::render::engine::decide(
                    options.deploy_engine,
                    repo.as_ref(),
                    &files,
                    &objects,
                    c,
                )
            })
            .collect();
        let by_key = file_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as FileId))
            .collect();
        let kustomization_by_dir = file_keys
            .iter()
            .enumerate()
            .filter(|(i, _)| files[*i].role == crate::model::FileRole::Kustomization)
            .filter_map(|(i, k)| Some((k.parent()?.to_path_buf(), i as FileId)))
            .collect();
        Workspace {
            jobs: Default::default(),
            waits: Default::default(),
            object_contexts: Default::default(),
            unlisted: Default::default(),
            memo: Default::default(),
            reach: Default::default(),
            file_keys,
            by_key,
            kustomization_by_dir,
            files,
            objects,
            contexts,
            fluxes,
            replacement_issues,
            internal,
            parts,
            engines,
            deploy_engine: options.deploy_engine,
            options,
        }
    }

    /// One value of type `T` per workspace, created on first use and shared by every thread:
    /// the per-run indexes of the analysis layer (`crate::analysis`), which render cannot name.
    /// A workspace holds one such type; asking for another is a bug.
    pub(crate) fn memo<T: std::any::Any + Default + Send + Sync>(&self) -> &T {
        self.memo
            .get_or_init(|| Box::<T>::default())
            .downcast_ref()
            .expect("a workspace memo holds one type")
    }

    /// The rendered Jobs of a context, with their applied names and namespaces.
    pub(crate) fn jobs(&self, context: &Context) -> &[links::JobRef] {
        let all = self.jobs.get_or_init(|| {
            let env = self.env();
            self.contexts.iter().map(|c| links::jobs(&env, c)).collect()
        });
        &all[context.index]
    }

    /// The k8s-wait-for init containers of a context, computed once per context.
    pub(crate) fn wait_fors(&self, context: &Context) -> &[links::WaitFor] {
        let slots = self.waits.get_or_init(|| {
            self.contexts
                .iter()
                .map(|_| std::sync::OnceLock::new())
                .collect()
        });
        slots[context.index].get_or_init(|| links::wait_fors(&self.env(), context))
    }

    /// The other builds applied to the same cluster as `context`: when a Flux Kustomization
    /// deploys it, the builds other Flux Kustomizations deploy (a pre-deploy stage holding
    /// the migration Job, the app's stage waiting for it), unless they share a file (then
    /// they are alternatives, like two overlays of one base). Other builds are never linked.
    pub(crate) fn deployed_with<'s>(
        &'s self,
        context: &'s Context,
    ) -> impl Iterator<Item = &'s Context> {
        if context.flux.is_some() {
            self.reached(|r| r.everything = true);
        }
        self.contexts
            .iter()
            .filter(move |c| self.is_deployed_with(context, c))
    }

    /// Record what a check of `context` looks up in the other Flux stages (nothing is
    /// recorded for a build no Flux Kustomization deploys: it has no such stages).
    pub(crate) fn reaching(&self, context: &Context, what: impl FnOnce(&mut Reach)) {
        if context.flux.is_some() {
            self.reached(what);
        }
    }

    fn reached(&self, what: impl FnOnce(&mut Reach)) {
        what(&mut self.reach.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// What the checks so far looked up in other Flux stages.
    pub(crate) fn reach(&self) -> Reach {
        self.reach.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether `other` is one of [`Workspace::deployed_with`]`(context)`.
    pub(crate) fn is_deployed_with(&self, context: &Context, other: &Context) -> bool {
        context.flux.is_some()
            && other.flux.is_some()
            && other.index != context.index
            && !other.files.iter().any(|f| context.files.contains(f))
    }

    /// The build a kustomization's own transformers are seen in: the one it is the root of,
    /// else (a base, a component) the first build that includes it.
    pub(crate) fn build_of_kustomization(&self, k: FileId) -> Option<&Context> {
        self.contexts
            .iter()
            .find(|c| c.root == Some(k))
            .or_else(|| self.contexts.iter().find(|c| c.kustomizations.contains(&k)))
    }

    /// The engine that applies a context, and why.
    pub(crate) fn engine(&self, context: &Context) -> &crate::render::engine::Verdict {
        static FALLBACK: std::sync::OnceLock<crate::render::engine::Verdict> =
            std::sync::OnceLock::new();
        self.engines
            .get(context.index)
            .unwrap_or_else(|| FALLBACK.get_or_init(Default::default))
    }

    /// The engine that applies an object: of the builds that include it, an evident one before
    /// the fallback, Flux first (its rules are the strictest), then by context order.
    pub(crate) fn engine_of(&self, obj: ObjectId) -> crate::render::engine::Verdict {
        let verdicts = || {
            self.context_ids_of(obj)
                .iter()
                .filter_map(|&c| self.engines.get(c))
        };
        let mut v = verdicts()
            .min_by_key(|v| (!v.evident, v.engine))
            .cloned()
            .unwrap_or_else(|| crate::render::engine::decide_alone(self.deploy_engine));
        v.substituted = verdicts().any(|v| v.substituted);
        v
    }

    /// The file at a normalised absolute path.
    pub(crate) fn file_at(&self, key: &std::path::Path) -> Option<FileId> {
        self.by_key.get(key).copied()
    }

    /// The kustomization file of a directory.
    pub(crate) fn kustomization_in(&self, dir: &std::path::Path) -> Option<FileId> {
        self.kustomization_by_dir.get(dir).copied()
    }

    /// The view rules use to read values as a context renders them.
    pub fn env(&self) -> Env<'_> {
        Env {
            files: &self.files,
            objects: &self.objects,
        }
    }

    /// The document an object is parsed from.
    pub(crate) fn doc_of(&self, obj: &Object) -> &crate::yaml::Document {
        &self.files[obj.file as usize].docs[obj.doc as usize]
    }

    /// The contexts that include an object.
    pub(crate) fn contexts_of(&self, obj: ObjectId) -> impl Iterator<Item = &Context> {
        self.context_ids_of(obj).iter().map(|&c| &self.contexts[c])
    }

    /// The kustomization beside a migration Job that does not list it (see
    /// [`Context::unlisted`]): the Job is never applied.
    pub(crate) fn unlisted_beside(&self, obj: ObjectId) -> Option<FileId> {
        self.unlisted
            .get_or_init(|| {
                self.contexts
                    .iter()
                    .flat_map(|c| c.unlisted.iter().copied())
                    .collect()
            })
            .get(&obj)
            .copied()
    }

    /// Indices (in `contexts`) of the contexts that include an object, ascending: an index
    /// built once, because rules ask for every Job and scanning every context for each one is
    /// quadratic in a monorepo.
    pub(crate) fn context_ids_of(&self, obj: ObjectId) -> &[usize] {
        let index = self.object_contexts.get_or_init(|| {
            let mut v = vec![Vec::new(); self.objects.len()];
            for (ci, c) in self.contexts.iter().enumerate() {
                for &o in &c.objects {
                    if let Some(slot) = v.get_mut(o as usize) {
                        slot.push(ci);
                    }
                }
            }
            v
        });
        index.get(obj as usize).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{Input, Settings, load_workspace};

    #[test]
    fn caches_are_per_context() {
        let files = [
            (
                "a/job.yaml",
                "apiVersion: batch/v1\nkind: Job\nmetadata: {name: ja}\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: a}]}}}\n",
            ),
            (
                "b/job.yaml",
                "apiVersion: batch/v1\nkind: Job\nmetadata: {name: jb}\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: a}]}}}\n",
            ),
        ];
        let inputs = files
            .iter()
            .map(|(n, t)| Input::from_bytes(*n, t.as_bytes().to_vec()))
            .collect();
        let ws = load_workspace(inputs, &Settings::default()).0;
        assert_eq!(ws.contexts.len(), 2);
        for (i, c) in ws.contexts.iter().enumerate() {
            assert_eq!(c.index, i);
        }
        let names: Vec<_> = ws
            .contexts
            .iter()
            .map(|c| ws.jobs(c)[0].name.clone())
            .collect();
        assert_eq!(names, vec!["ja", "jb"]);
    }
}
