//! What several rules need to know about the workspace, computed once and shared: the waits of
//! k8s-wait-for and `kubectl wait` init containers and the Jobs they find, the containers of
//! workloads and the migration Jobs they await, and the RBAC a context grants. Rules import
//! from here, never from each other; nothing here builds a diagnostic.

pub(crate) mod graph;
pub(crate) mod inspect;
pub(crate) mod rbac;
pub(crate) mod templated;
pub(crate) mod wait_target;
pub(crate) mod waits;
pub(crate) mod workload;

use crate::model::Object;
use crate::model::migration::Reason;
use crate::render::workspace::Workspace;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The indexes built once per run, on first use, whichever rule (on whichever thread) asks
/// first; kept in the workspace ([`Workspace::memo`]).
#[derive(Default)]
struct PerRun {
    waits: OnceLock<waits::Waits>,
    /// What holds each Job back, by object id (a slot per object, filled on first use).
    statuses: OnceLock<Vec<OnceLock<waits::Status>>>,
    /// The (workload, migration Job) links of each context, by context index.
    job_links: OnceLock<Vec<OnceLock<workload::LinkIndices>>>,
    /// The bindings and roles of each context, by context index.
    rbac: OnceLock<Vec<OnceLock<rbac::Cached>>>,
    /// Whether each object is a migration Job, and why, by object id (a dozen rules ask).
    migration: OnceLock<Vec<OnceLock<Option<Reason>>>>,
    /// The Flux-deployed builds that render Jobs, by the Jobs' namespace.
    flux_jobs: OnceLock<wait_target::FluxJobs>,
}

/// Who waits for which Job over the whole run (built once, shared by the Job rules).
pub(crate) fn waits(ws: &Workspace) -> &waits::Waits {
    ws.memo::<PerRun>()
        .waits
        .get_or_init(|| waits::Waits::collect(ws))
}

/// Everything that decides whether the Job `obj` holds the app back, computed once per Job:
/// `job-not-awaited`, `job-ttl-breaks-wait` and `job-ttl-missing` ask about the same Jobs.
pub(crate) fn job_status<'w>(ws: &'w Workspace, obj: &Object) -> &'w waits::Status {
    let slots = ws
        .memo::<PerRun>()
        .statuses
        .get_or_init(|| ws.objects.iter().map(|_| OnceLock::new()).collect());
    slots[obj.id as usize].get_or_init(|| waits::status(ws, waits(ws), obj))
}

/// The Flux-deployed builds with Jobs in each namespace (built once per run), so a wait
/// looks only at the builds that can hold its Job instead of every build of the run.
pub(crate) fn flux_jobs(ws: &Workspace) -> &wait_target::FluxJobs {
    ws.memo::<PerRun>()
        .flux_jobs
        .get_or_init(|| wait_target::FluxJobs::collect(ws))
}

/// The builds listed under `key` in `index` and those in `always`, sorted, each once.
fn builds_for(
    index: &std::collections::HashMap<String, Vec<usize>>,
    key: &str,
    always: &[usize],
) -> Vec<usize> {
    let mut all: Vec<usize> = index
        .get(key)
        .into_iter()
        .flatten()
        .chain(always)
        .copied()
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// What the Flux-deployed builds of a workspace hold that a check of a Flux-deployed build in
/// another part of the run may look up ([`crate::render::workspace::Reach`]).
#[derive(Debug, Default, Clone)]
pub(crate) struct Offers {
    /// Some build is Flux-deployed.
    pub(crate) stages: bool,
    /// Namespaces with Jobs.
    pub(crate) jobs_in: BTreeSet<String>,
    /// Some Job's namespace is templated: it may be any.
    pub(crate) jobs_anywhere: bool,
    /// Namespaces where something may hold a Job back.
    pub(crate) holding: BTreeSet<String>,
    /// Something may hold back Jobs of any namespace.
    pub(crate) holding_anywhere: bool,
}

/// What this workspace's Flux-deployed builds offer to checks of other parts of a run.
pub(crate) fn offers(ws: &Workspace) -> Offers {
    if !ws.contexts.iter().any(|c| c.flux.is_some()) {
        return Offers::default();
    }
    let (jobs, jobs_anywhere) = flux_jobs(ws).namespaces();
    let (holding, holding_anywhere) =
        waits(ws).holding_namespaces(|c| ws.contexts[c].flux.is_some());
    Offers {
        stages: true,
        jobs_in: jobs.cloned().collect(),
        jobs_anywhere,
        holding: holding.cloned().collect(),
        holding_anywhere,
    }
}

/// Whether `obj` is a Job the migration rules apply to, and why.
pub(crate) fn migration_job(ws: &Workspace, obj: &Object) -> Option<Reason> {
    migration_job_in(ws, obj, ws.doc_of(obj))
}

/// Whether `obj` is a Job the migration rules apply to, and why, with its containers read in
/// `spec_doc`: its manifest (decided once per object), or a patched rendering of it.
pub(crate) fn migration_job_in(
    ws: &Workspace,
    obj: &Object,
    spec_doc: &crate::yaml::Document,
) -> Option<Reason> {
    let own = ws
        .objects
        .get(obj.id as usize)
        .is_some_and(|o| std::ptr::eq(o, obj))
        && std::ptr::eq(spec_doc, ws.doc_of(obj));
    if !own {
        return classify_job(ws, obj, spec_doc);
    }
    let slots = ws
        .memo::<PerRun>()
        .migration
        .get_or_init(|| ws.objects.iter().map(|_| OnceLock::new()).collect());
    slots[obj.id as usize]
        .get_or_init(|| classify_job(ws, obj, spec_doc))
        .clone()
}

fn classify_job(ws: &Workspace, obj: &Object, spec_doc: &crate::yaml::Document) -> Option<Reason> {
    // One beside a kustomization that does not list it is never applied: only
    // `job-not-in-kustomization` speaks of it.
    if !obj.is("batch/v1", "Job") || ws.unlisted_beside(obj.id).is_some() {
        return None;
    }
    let file = &ws.files[obj.file as usize].source.display;
    crate::model::migration::classify(obj, ws.doc_of(obj), spec_doc, file)
}
