//! Waits of k8s-wait-for init containers in a job mode: which arguments are the script's, which
//! targets can be judged, and what `kubectl describe jobs <target>` finds for a target (exact
//! name, kubectl's prefix fallback, another namespace, nothing). `wait_for.sh` runs `kubectl
//! describe jobs <target>`: on NotFound kubectl falls back to every Job whose name starts with
//! the target, and only when none does is the NotFound returned.

use crate::base::diagnostic::Loc;
use crate::base::text::{edit_distance, placeholders};
use crate::render::links::{self, JobRef, WaitFor};
use crate::render::path::{self, Concrete, Step};
use crate::render::workspace::Workspace;
use crate::render::{Context, Env, Rendered};

/// The modes that run `kubectl describe jobs <target>`.
pub(crate) const JOB_MODES: &[&str] = &["job", "job-we", "job-wr"];

/// Whether the container's arguments are the script's arguments as `links::wait_fors` reads
/// them: no `command`, or a command that is just `wait_for.sh` (words after it would shift
/// the arguments).
pub(crate) fn args_are_script_args(w: &WaitFor) -> bool {
    match w
        .container
        .command
        .iter()
        .position(|c| c.text.ends_with("wait_for.sh"))
    {
        Some(i) => i + 1 == w.container.command.len(),
        None => w.container.command.is_empty(),
    }
}

/// Path of argument `i` of a wait-for container.
pub(crate) fn arg_path(w: &WaitFor, i: usize) -> Concrete {
    [w.container.field("args"), vec![Step::Index(i)]].concat()
}

/// Whether the extra arguments make kubectl look in every namespace.
fn all_namespaces(w: &WaitFor) -> bool {
    w.container.args.iter().skip(2).any(|a| {
        a.text == "-A" || a.text == "--all-namespaces" || a.text.starts_with("--all-namespaces=")
    })
}

/// A job-mode wait that can be judged: a valid job mode, the script's own arguments, a known
/// namespace (not every one), and a workload no patch may have changed.
fn judgeable(context: &Context, w: &WaitFor) -> bool {
    w.mode().is_some_and(|m| JOB_MODES.contains(&m))
        && args_are_script_args(w)
        && !context.rendered[w.rendered].patched
        && !all_namespaces(w)
        && !w.namespace.contains("${")
        && !w.namespace.is_empty()
}

/// A job-mode wait whose target and namespace can be judged (see `judgeable`) and whose
/// target is a known name, not a label selector.
pub(crate) fn judged_target<'w>(context: &Context, w: &'w WaitFor) -> Option<&'w str> {
    if !judgeable(context, w) || w.is_selector() {
        return None;
    }
    let t = w.target.as_ref()?.text.as_str();
    (!t.is_empty()).then_some(t)
}

/// One requirement of an equality-based label selector: `key=value` / `key==value`
/// (`equal`) or `key!=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelReq {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) equal: bool,
}

/// Parse an equality-based label selector (`app=x,version!=v1`). `None` for anything else
/// (set-based `in`/`notin`, bare `key` / `!key` existence tests, placeholders, empty parts):
/// those stay unknown.
pub(crate) fn equality_selector(s: &str) -> Option<Vec<LabelReq>> {
    let s = s.trim();
    if s.is_empty() || s.contains("${") || s.contains('(') {
        return None;
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let (key, value, equal) = if let Some((k, v)) = part.split_once("!=") {
            (k, v, false)
        } else if let Some((k, v)) = part.split_once("==") {
            (k, v, true)
        } else if let Some((k, v)) = part.split_once('=') {
            (k, v, true)
        } else {
            return None;
        };
        let (key, value) = (key.trim(), value.trim());
        let ok = |t: &str| !t.contains(['=', '!', ' ']);
        if key.is_empty() || !ok(key) || !ok(value) {
            return None;
        }
        out.push(LabelReq {
            key: key.into(),
            value: value.into(),
            equal,
        });
    }
    Some(out)
}

/// Whether `labels` satisfy every requirement (`!=` also matches an absent key, as in
/// Kubernetes).
pub(crate) fn selector_matches(
    reqs: &[LabelReq],
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    reqs.iter().all(|r| {
        let v = labels.get(&r.key);
        if r.equal {
            v == Some(&r.value)
        } else {
            v != Some(&r.value)
        }
    })
}

/// The label selector of a job-mode wait (`-lapp=x`, `-l app=x`, `--selector=app=x`,
/// `--selector app=x`) and the index of the argument that holds it, when the wait is
/// otherwise judgeable (see `judgeable`).
pub(crate) fn judged_selector(context: &Context, w: &WaitFor) -> Option<(String, usize)> {
    if !judgeable(context, w) || !w.is_selector() {
        return None;
    }
    let t = w.target.as_ref()?.text.as_str();
    if t == "-l" || t == "--selector" {
        let next = w.container.args.get(2)?.text.clone();
        return Some((next, 2));
    }
    let sel = t
        .strip_prefix("--selector=")
        .or_else(|| t.strip_prefix("-l"))?;
    Some((sel.trim_start_matches('=').to_string(), 1))
}

/// The Jobs a wait's selector can see (this build's and those deployed with it, in the wait's
/// namespace), or `None` when some Job's namespace, name or labels are unknown, or a CronJob
/// in the namespace may create matching Jobs.
pub(crate) fn selector_candidates<'a>(
    ws: &'a Workspace,
    context: &'a Context,
    w: &WaitFor,
) -> Option<Vec<(JobAt<'a>, std::collections::BTreeMap<String, String>)>> {
    let env = ws.env();
    let ns = w.namespace.as_str();
    let cron = context
        .rendered
        .iter()
        .any(|r| r.is("batch/v1", "CronJob") && env.namespace(context, r) == ns);
    if cron {
        return None;
    }
    let labels = path::keys(&["metadata", "labels"]);
    let mut out = Vec::new();
    let all = jobs_of(ws, context)
        .into_iter()
        .chain(ws.deployed_with(context).flat_map(|c| jobs_of(ws, c)));
    for j in all {
        if j.job.namespace.contains("${") {
            return None;
        }
        if j.job.namespace != ns {
            continue;
        }
        let map = env.map_at(j.rendered(), &labels);
        if map
            .iter()
            .any(|(k, v)| k.contains("${") || v.contains("${"))
        {
            return None;
        }
        out.push((j, map));
    }
    Some(out)
}

/// A rendered Job of some context.
#[derive(Clone)]
pub(crate) struct JobAt<'a> {
    pub(crate) context: &'a Context,
    pub(crate) job: &'a JobRef,
    /// Named by `generateName`: the API appends five random characters.
    pub(crate) generated: bool,
}

impl<'a> JobAt<'a> {
    pub(crate) fn rendered(&self) -> &'a Rendered {
        &self.context.rendered[self.job.rendered]
    }

    /// Where the Job's name is written (the manifest's `metadata.name`, else its origin).
    pub(crate) fn name_loc(&self, env: &Env<'_>) -> Option<Loc> {
        let r = self.rendered();
        let p = if self.generated {
            path::keys(&["metadata", "generateName"])
        } else {
            path::keys(&["metadata", "name"])
        };
        links::value_loc(env, r, &p, self.job.name_value.as_ref())
    }

    /// Where the Job's namespace is set, if anywhere.
    pub(crate) fn namespace_loc(&self, env: &Env<'_>) -> Option<Loc> {
        let r = self.rendered();
        let v = r.namespace.as_ref()?;
        links::value_loc(env, r, &path::keys(&["metadata", "namespace"]), Some(v)).or(v.writer)
    }

    /// The Job opts out of the Flux substitution its build gets, and its name keeps `${VAR}`
    /// as literal text: the name the API server sees (and rejects), never the substituted one.
    pub(crate) fn kept_literal(&self, env: &Env<'_>) -> bool {
        self.context.substitute
            && !self.generated
            && !placeholders(&self.job.name).is_empty()
            && env.substitution_disabled(self.rendered())
    }

    /// The name is unknown (a substitution we cannot evaluate).
    pub(crate) fn unknown(&self) -> bool {
        self.job.name_value.is_none() || self.job.namespace.contains("${")
    }
}

/// The Flux-deployed builds that render Jobs, by the Jobs' rendered namespace, each list in
/// build order; builds with a Job whose namespace is templated (`${NS}`) apart, since they may
/// be in any namespace.
#[derive(Default)]
pub(crate) struct FluxJobs {
    by_namespace: std::collections::HashMap<String, Vec<usize>>,
    templated: Vec<usize>,
}

impl FluxJobs {
    pub(super) fn collect(ws: &Workspace) -> Self {
        let mut out = FluxJobs::default();
        for c in ws.contexts.iter().filter(|c| c.flux.is_some()) {
            for job in ws.jobs(c) {
                let list = if job.namespace.contains("${") {
                    &mut out.templated
                } else {
                    out.by_namespace.entry(job.namespace.clone()).or_default()
                };
                if list.last() != Some(&c.index) {
                    list.push(c.index);
                }
            }
        }
        out
    }

    /// The namespaces with Jobs of Flux-deployed builds, and whether some Job's namespace is
    /// templated (then it may be any).
    pub(super) fn namespaces(&self) -> (impl Iterator<Item = &String>, bool) {
        (self.by_namespace.keys(), !self.templated.is_empty())
    }

    /// The builds that may hold a Job in namespace `ns`, in build order, each once.
    pub(crate) fn candidates(&self, ns: &str) -> impl Iterator<Item = usize> + '_ {
        super::builds_for(&self.by_namespace, ns, &self.templated).into_iter()
    }
}

pub(crate) fn jobs_of<'a>(ws: &'a Workspace, context: &'a Context) -> Vec<JobAt<'a>> {
    ws.jobs(context)
        .iter()
        .map(|job| job_at(ws, context, job))
        .collect()
}

fn job_at<'a>(ws: &'a Workspace, context: &'a Context, job: &'a JobRef) -> JobAt<'a> {
    let generated = context.rendered[job.rendered]
        .object()
        .map(|o| &ws.objects[o as usize])
        .is_some_and(|o| o.name.is_none() && o.generate_name.is_some());
    JobAt {
        context,
        job,
        generated,
    }
}

/// `${VAR}` placeholders replaced by their bare variable, and the variables in order.
fn normalized(s: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut vars = Vec::new();
    let mut last = 0;
    for p in placeholders(s) {
        out.push_str(&s[last..p.start]);
        out.push_str("${");
        out.push_str(&p.var);
        out.push('}');
        vars.push(p.var);
        last = p.end;
    }
    out.push_str(&s[last..]);
    (out, vars)
}

/// The literal text before the first placeholder and after the last one.
fn fixed_ends(s: &str) -> (&str, &str) {
    let ps = placeholders(s);
    match (ps.first(), ps.last()) {
        (Some(f), Some(l)) => (&s[..f.start], &s[l.end..]),
        _ => (s, s),
    }
}

/// How a target compares with a Job name when placeholders may remain on either side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    Equal,
    /// The Job's name starts with the target (kubectl's describe fallback).
    Prefix,
    Different,
    /// Placeholders make it undecidable.
    Unknown,
}

pub(crate) fn compare(target: &str, name: &str) -> Compare {
    if target == name {
        return Compare::Equal;
    }
    let tp = target.contains("${") && !placeholders(target).is_empty();
    let np = name.contains("${") && !placeholders(name).is_empty();
    if !tp && !np {
        return if name.starts_with(target) {
            Compare::Prefix
        } else {
            Compare::Different
        };
    }
    let (tn, tv) = normalized(target);
    let (nn, nv) = normalized(name);
    if tp && np && tv == nv {
        // The same variables on both sides take the same values.
        return if tn == nn {
            Compare::Equal
        } else if nn.starts_with(&tn) {
            Compare::Prefix
        } else {
            Compare::Different
        };
    }
    let (t_head, t_tail) = fixed_ends(target);
    let (n_head, n_tail) = fixed_ends(name);
    let heads = t_head.starts_with(n_head) || n_head.starts_with(t_head);
    let tails = t_tail.ends_with(n_tail) || n_tail.ends_with(t_tail);
    if heads && (tails || tp) {
        Compare::Unknown
    } else {
        Compare::Different
    }
}

/// What kubectl finds for a wait target.
pub(crate) enum Lookup<'a> {
    /// An exact match (or one that cannot be ruled out).
    Found,
    /// No exact match; kubectl's fallback describes these Jobs instead.
    Prefix(Vec<JobAt<'a>>),
    /// Jobs of that exact name exist in this context, but only in other namespaces.
    OtherNamespace(Vec<JobAt<'a>>),
    /// Nothing matches; the closest Job of the context, if any.
    Missing(Option<JobAt<'a>>),
}

/// Look a job-mode wait's target up the way `kubectl describe jobs <target> -n <ns>` will,
/// among the Jobs of this build and of the builds deployed with it (other Flux stages; see
/// [`Workspace::deployed_with`]): sibling builds (a staging and a prod overlay of one base)
/// are alternatives, never applied together, and a Job of one does not satisfy the other's
/// wait. Findings name Jobs of this build when it has some.
pub(crate) fn lookup<'a>(
    ws: &'a Workspace,
    context: &'a Context,
    w: &WaitFor,
    target: &str,
) -> Lookup<'a> {
    let here = jobs_of(ws, context);
    let ns = w.namespace.as_str();
    // Jobs of the builds deployed with this one (Flux stages); those in another namespace
    // count only for "the job is there, in another namespace" (a stage's `targetNamespace`).
    // Only builds with a Job in this namespace (or a templated one) can add to `others`; the
    // rest are read again only when nothing matched (`staged_elsewhere`, below).
    ws.reaching(context, |r| {
        r.jobs_in.insert(ns.to_string());
    });
    let others: Vec<JobAt<'a>> = super::flux_jobs(ws)
        .candidates(ns)
        .map(|ci| &ws.contexts[ci])
        .filter(|c| ws.is_deployed_with(context, c))
        .flat_map(|c| jobs_of(ws, c))
        .filter(|j| j.job.namespace == ns || j.job.namespace.contains("${"))
        .collect();
    // A CronJob `C` creates Jobs `C-<minutes since epoch>`: a target near its name cannot be
    // judged.
    let env = ws.env();
    let cron_near = context
        .rendered
        .iter()
        .filter(|r| r.is("batch/v1", "CronJob"))
        .any(|r| {
            env.namespace(context, r) == ns
                && env
                    .name(context, r)
                    .is_none_or(|n| target.starts_with(&n.text) || n.text.starts_with(target))
        });
    if cron_near {
        return Lookup::Found;
    }
    let mut prefix = Vec::new();
    for j in here.iter().chain(others.iter()) {
        if j.job.namespace.contains("${") {
            return Lookup::Found;
        }
        if j.job.namespace != ns {
            continue;
        }
        if j.unknown() {
            return Lookup::Found;
        }
        if j.generated {
            // `generateName: G` becomes G + five random characters.
            let g = j.job.name.as_str();
            if g.starts_with(target) {
                prefix.push(j.clone());
            } else if target.starts_with(g) || compare(target, g) == Compare::Unknown {
                return Lookup::Found;
            }
            continue;
        }
        let c = if j.kept_literal(&env) {
            // Opted out of substitution: `${VAR}` stays as written, whatever the wait's value.
            if target == j.job.name {
                Compare::Equal
            } else if j.job.name.starts_with(target) {
                Compare::Prefix
            } else {
                Compare::Different
            }
        } else {
            compare(target, &j.job.name)
        };
        match c {
            Compare::Equal | Compare::Unknown => return Lookup::Found,
            Compare::Prefix => prefix.push(j.clone()),
            Compare::Different => {}
        }
    }
    if !prefix.is_empty() {
        // Name only the Jobs of this build when it has some.
        let local: Vec<JobAt<'a>> = prefix
            .iter()
            .filter(|j| std::ptr::eq(j.context, context))
            .cloned()
            .collect();
        return Lookup::Prefix(if local.is_empty() { prefix } else { local });
    }
    let staged_elsewhere: Vec<JobAt<'a>> = ws
        .deployed_with(context)
        .flat_map(|c| jobs_of(ws, c))
        .filter(|j| !(j.job.namespace == ns || j.job.namespace.contains("${")))
        .collect();
    let elsewhere: Vec<JobAt<'a>> = here
        .iter()
        .chain(staged_elsewhere.iter())
        .filter(|j| {
            j.job.namespace != ns && !j.generated && compare(target, &j.job.name) == Compare::Equal
        })
        .cloned()
        .collect();
    if !elsewhere.is_empty() {
        return Lookup::OtherNamespace(elsewhere);
    }
    if !placeholders(target).is_empty() {
        // Decidable only against a Job named with the same variables (they take the same
        // values); a placeholder only this side has may be substituted outside the tree.
        let vars = normalized(target).1;
        if !here.iter().any(|j| {
            j.job.namespace == ns && !j.kept_literal(&env) && normalized(&j.job.name).1 == vars
        }) {
            return Lookup::Found;
        }
    }
    let closest = here
        .iter()
        .filter(|j| !j.unknown())
        .min_by_key(|j| {
            (
                edit_distance(target, &j.job.name),
                j.job.namespace != ns,
                j.job.name.clone(),
            )
        })
        .cloned();
    Lookup::Missing(closest)
}
