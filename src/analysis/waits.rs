//! Who waits for which Job, over every context of the run: k8s-wait-for init containers in a job
//! mode and `kubectl wait` init containers, with what makes a wait unknowable (a selector, a
//! placeholder namespace, a patch); deploy-tool hooks, Argo CD sync waves and Flux `dependsOn`
//! stages; and from those, whether a Job holds the app back. `job-not-awaited`,
//! `job-ttl-breaks-wait` and `job-ttl-missing` read it through `analysis::waits` and
//! `analysis::job_status`, which build it once per run.

use super::wait_target::{Compare, JOB_MODES, arg_path, args_are_script_args, compare};
use crate::base::diagnostic::Loc;
use crate::base::mask::display_value;
use crate::model::Object;
use crate::model::migration::annotation;
use crate::render::links::{self, Container, MODES};
use crate::render::path::Step;
use crate::render::workspace::Workspace;
use crate::render::{Context, Env, Rendered, pod_spec_path};
use crate::yaml::Seg;
use std::collections::BTreeSet;

/// `spec.ttlSecondsAfterFinished` of a Job.
pub(crate) const TTL: &[Seg] = &[Seg::Key("spec"), Seg::Key("ttlSecondsAfterFinished")];

/// Something that waits for a Job by name.
#[derive(Debug, Clone)]
pub(crate) struct Waiter {
    /// `kubectl wait` (no prefix fallback) rather than k8s-wait-for.
    pub(crate) kubectl: bool,
    pub(crate) namespace: String,
    pub(crate) target: String,
    /// The argument naming the Job.
    pub(crate) loc: Option<Loc>,
    /// `Deployment `myapp``.
    pub(crate) workload: String,
    /// Index of the context it was found in.
    pub(crate) context: usize,
}

impl Waiter {
    pub(crate) fn describe(&self) -> String {
        if self.kubectl {
            format!("the `kubectl wait` init container of {}", self.workload)
        } else {
            format!("the k8s-wait-for init container of {}", self.workload)
        }
    }
}

/// An init container that retries a migration tool's status check until it succeeds
/// (`until kong migrations list; do sleep 1; done`): it names no Job, but holds its pod back
/// until the migrations are applied.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    /// Index of the context it was found in.
    pub(crate) context: usize,
    /// The workload whose pod it holds back (index in the context's `rendered`).
    pub(crate) rendered: usize,
    /// The status check it retries (`kong migrations list`, `psql`).
    pub(crate) check: String,
    pub(crate) loc: Option<Loc>,
}

/// A namespace within one build: waits and Jobs are matched build by build, never across
/// sibling builds (alternatives such as a staging and a prod overlay of one base).
fn scoped(context: usize, ns: &str) -> String {
    format!("{context}\u{0}{ns}")
}

/// The waiters an index (see [`by_namespace`]) lists for build `ci` and namespace `ns`.
fn in_scope<'w>(
    index: &'w std::collections::HashMap<String, Vec<usize>>,
    waiters: &'w [Waiter],
    ci: usize,
    ns: &str,
) -> impl Iterator<Item = &'w Waiter> + 'w {
    let ids = index.get(&scoped(ci, ns)).map(Vec::as_slice).unwrap_or(&[]);
    ids.iter().map(move |&i| &waiters[i])
}

/// Indices of `waiters` by build and namespace, in order.
fn by_namespace(waiters: &[Waiter]) -> std::collections::HashMap<String, Vec<usize>> {
    let mut m: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for (i, w) in waiters.iter().enumerate() {
        m.entry(scoped(w.context, &w.namespace))
            .or_default()
            .push(i);
    }
    m
}

/// Who waits for what, over every context of the run.
#[derive(Debug, Default)]
pub(crate) struct Waits {
    pub(crate) waiters: Vec<Waiter>,
    /// Builds and namespaces where something may wait for Jobs we cannot name (None: any
    /// namespace).
    wild: BTreeSet<(usize, Option<String>)>,
    /// `kubectl wait … || …`: the failure is ignored, so it holds nothing back.
    pub(crate) ignored: Vec<Waiter>,
    /// Init containers that retry a migration status check.
    pub(crate) gates: Vec<Gate>,
    /// `kubectl wait --for=condition=complete` init containers that hold their pod back (not
    /// followed by `||`), by build: `rbac-job-read-missing` checks their RBAC like
    /// k8s-wait-for's.
    pub(crate) kubectl_wait_fors: Vec<(usize, links::WaitFor)>,
    /// Every rendered Job `(build and namespace, name)`: kubectl's prefix fallback applies only
    /// when the exact name is absent.
    jobs: BTreeSet<(String, String)>,
    /// Indices into `waiters` and `ignored` by namespace: every Job of the run is looked up
    /// here, and scanning all waits for each is quadratic in a monorepo.
    waiters_in: std::collections::HashMap<String, Vec<usize>>,
    ignored_in: std::collections::HashMap<String, Vec<usize>>,
    /// Flux Kustomizations (indices into `ws.fluxes`) by object, and the first other one that
    /// depends on each name.
    flux_of: std::collections::HashMap<crate::base::diagnostic::ObjectId, usize>,
    flux_dependents: std::collections::HashMap<String, Vec<usize>>,
    /// The builds where something may hold back a Job of a namespace (a waiter there, a wait
    /// on names we cannot read there), and those where something may hold back any Job (an
    /// unnamed wait in any namespace, a gate): a Job looks only at these among the builds
    /// deployed with its own, instead of at every build of the run.
    holders_in: std::collections::HashMap<String, Vec<usize>>,
    holders_anywhere: Vec<usize>,
}

/// How a Job is waited for.
#[derive(Debug)]
pub(crate) enum Awaited<'w> {
    By(Vec<&'w Waiter>),
    /// Something we cannot evaluate might wait for it.
    Maybe,
    No,
}

fn workload(env: &Env<'_>, cx: &Context, r: &Rendered) -> String {
    let name = env
        .name(cx, r)
        .map(|v| v.text)
        .unwrap_or_else(|| r.name.text.clone());
    format!("{} `{}`", r.kind, display_value(&name))
}

/// Shell-ish words of a command line: quotes removed, `;`, `&&`, `||`, `|`, `&` as separators.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Sep(&'static str),
}

fn tokens(words: &[&str]) -> Vec<Tok> {
    let mut out = Vec::new();
    for w in words {
        let mut cur = String::new();
        let mut quote: Option<char> = None;
        let mut chars = w.chars().peekable();
        let flush = |cur: &mut String, out: &mut Vec<Tok>| {
            if !cur.is_empty() {
                out.push(Tok::Word(std::mem::take(cur)));
            }
        };
        while let Some(c) = chars.next() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => cur.push(c),
                (None, '\'' | '"') => quote = Some(c),
                (None, c) if c.is_whitespace() => flush(&mut cur, &mut out),
                (None, ';') => {
                    flush(&mut cur, &mut out);
                    out.push(Tok::Sep(";"));
                }
                (None, '&' | '|') => {
                    flush(&mut cur, &mut out);
                    let double = chars.peek() == Some(&c);
                    if double {
                        chars.next();
                    }
                    out.push(Tok::Sep(match (c, double) {
                        ('&', true) => "&&",
                        ('|', true) => "||",
                        ('&', false) => "&",
                        _ => "|",
                    }));
                }
                (None, c) => cur.push(c),
            }
        }
        flush(&mut cur, &mut out);
    }
    out
}

/// A `kubectl wait` found in a container's command line.
#[derive(Debug, Default, PartialEq, Eq)]
struct KubectlWait {
    names: Vec<String>,
    namespace: Option<String>,
    /// `-l`, `--selector`, `--all`: Jobs we cannot name.
    selector: bool,
    /// `--for=condition=complete` (or a jsonpath on `succeeded`).
    for_complete: bool,
    /// Followed by `||`: a failure or timeout is ignored.
    ignored: bool,
}

const VALUE_FLAGS: &[&str] = &[
    "--timeout",
    "--context",
    "--kubeconfig",
    "--cluster",
    "--user",
    "--server",
    "-s",
    "-f",
    "--filename",
    "-o",
    "--output",
    "--token",
    "--field-selector",
];

fn kubectl_waits(words: &[&str]) -> Vec<KubectlWait> {
    let toks = tokens(words);
    let mut out = Vec::new();
    let mut segments: Vec<(Vec<String>, Option<&'static str>)> = vec![(Vec::new(), None)];
    for t in toks {
        match t {
            Tok::Word(w) => segments.last_mut().unwrap().0.push(w),
            Tok::Sep(s) => {
                segments.last_mut().unwrap().1 = Some(s);
                segments.push((Vec::new(), None));
            }
        }
    }
    for (seg, sep) in segments {
        let Some(k) = seg
            .iter()
            .position(|w| w.rsplit('/').next() == Some("kubectl"))
        else {
            continue;
        };
        let mut kw = KubectlWait {
            ignored: sep == Some("||"),
            ..KubectlWait::default()
        };
        let mut positional = Vec::new();
        let mut i = k + 1;
        while i < seg.len() {
            let a = seg[i].as_str();
            let next = seg.get(i + 1).map(String::as_str);
            if a == "-n" || a == "--namespace" {
                kw.namespace = next.map(str::to_string);
                i += 1;
            } else if let Some(ns) = a.strip_prefix("--namespace=") {
                kw.namespace = Some(ns.to_string());
            } else if a.starts_with("-n") && a.len() > 2 && !a.starts_with("--") {
                kw.namespace = Some(a[2..].to_string());
            } else if a == "--for" {
                kw.for_complete |= next.is_some_and(for_complete);
                i += 1;
            } else if let Some(v) = a.strip_prefix("--for=") {
                kw.for_complete |= for_complete(v);
            } else if a == "-l" || a == "--selector" {
                kw.selector = true;
                i += 1;
            } else if a.starts_with("-l")
                || a.starts_with("--selector=")
                || a == "--all"
                || a == "-A"
                || a == "--all-namespaces"
            {
                kw.selector = true;
            } else if VALUE_FLAGS.contains(&a) {
                i += 1;
            } else if !a.starts_with('-') {
                positional.push(a.to_string());
            }
            i += 1;
        }
        if positional.first().map(String::as_str) != Some("wait") {
            continue;
        }
        let is_job = |k: &str| matches!(k, "job" | "jobs" | "job.batch" | "jobs.batch");
        let mut rest = positional[1..].iter();
        while let Some(p) = rest.next() {
            match p.split_once('/') {
                Some((kind, name)) if is_job(kind) && !name.is_empty() => {
                    kw.names.push(name.to_string())
                }
                Some(_) => {}
                None if is_job(p) => {
                    kw.names.extend(rest.by_ref().cloned());
                    if kw.names.is_empty() {
                        kw.selector = true;
                    }
                }
                None => {}
            }
        }
        if !kw.names.is_empty() || kw.selector {
            out.push(kw);
        }
    }
    out
}

/// Words that open or continue a compound command rather than run something.
const SHELL_KEYWORDS: &[&str] = &[
    "do", "then", "else", "elif", "if", "!", "{", "}", "time", "fi", "done",
];

const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "ksh"];

/// The migration status check a command line retries until it succeeds, if it does: a loop
/// (`until CHECK; do sleep 1; done`, `while ! CHECK; do …`, `while true; do CHECK && exit 0; …`,
/// `for i in …; do CHECK && break; …`) that runs a migration tool's status command (or a query
/// on its migration table) in its condition or body. A script inside a quoted `sh -c '…'` is
/// read too. A check run once, or a readiness probe of the database alone, is no gate.
pub(crate) fn migration_gate(words: &[&str]) -> Option<String> {
    let is_shell_c = |toks: &[Tok]| match toks {
        [.., Tok::Word(sh), Tok::Word(c)] => {
            SHELLS.contains(&sh.rsplit('/').next().unwrap_or(""))
                && c.starts_with('-')
                && !c.starts_with("--")
                && c.contains('c')
        }
        _ => false,
    };
    let mut toks = Vec::new();
    for t in tokens(words) {
        match t {
            // A script quoted inside the script (`timeout 60 sh -c 'until …'`).
            Tok::Word(w) if is_shell_c(&toks) => {
                toks.push(Tok::Sep(";"));
                toks.extend(tokens(&[&w]));
            }
            t => toks.push(t),
        }
    }
    let mut depth = 0usize;
    let mut simple: Vec<&str> = Vec::new();
    let mut at_start = true;
    let mut found = None;
    let mut end = |simple: &mut Vec<&str>, depth: usize| {
        if depth > 0 && found.is_none() {
            found = crate::model::migration::migration_status_command(simple);
        }
        simple.clear();
    };
    for t in &toks {
        match t {
            Tok::Sep(_) => {
                end(&mut simple, depth);
                at_start = true;
            }
            Tok::Word(w) if at_start && matches!(w.as_str(), "until" | "while" | "for") => {
                depth += 1;
            }
            Tok::Word(w) if at_start && w == "done" => {
                end(&mut simple, depth);
                depth = depth.saturating_sub(1);
            }
            Tok::Word(w) if at_start && SHELL_KEYWORDS.contains(&w.as_str()) => {
                end(&mut simple, depth);
            }
            // `sh -c SCRIPT`, `bash -ec SCRIPT`: the script starts a command of its own.
            Tok::Word(w)
                if simple.len() == 1
                    && SHELLS.contains(&simple[0].rsplit('/').next().unwrap_or(""))
                    && w.starts_with('-')
                    && !w.starts_with("--")
                    && w.contains('c') =>
            {
                simple.clear();
                at_start = true;
            }
            Tok::Word(w) => {
                simple.push(w);
                at_start = false;
            }
        }
    }
    end(&mut simple, depth);
    found
}

fn for_complete(v: &str) -> bool {
    let v = v.to_ascii_lowercase();
    v.contains("condition=complete") || (v.starts_with("jsonpath") && v.contains("succeeded"))
}

impl Waits {
    pub(crate) fn collect(ws: &Workspace) -> Waits {
        let env = ws.env();
        let mut waits = Waits::default();
        for (ci, context) in ws.contexts.iter().enumerate() {
            for j in ws.jobs(context) {
                waits
                    .jobs
                    .insert((scoped(ci, &j.namespace), j.name.clone()));
            }
            for w in ws.wait_fors(context) {
                let r = &context.rendered[w.rendered];
                let ns = w.namespace.clone();
                let Some(mode) = w.mode() else {
                    waits.wild.insert((ci, Some(ns)));
                    continue;
                };
                // Pod and service modes wait for no Job; an unknown mode (wait-args-invalid)
                // still shows which Job was meant.
                if !JOB_MODES.contains(&mode) && MODES.contains(&mode) {
                    continue;
                }
                let all_ns = w
                    .container
                    .args
                    .iter()
                    .skip(2)
                    .any(|a| a.text == "-A" || a.text.starts_with("--all-namespaces"));
                if all_ns || ns.contains("${") {
                    waits.wild.insert((ci, None));
                    continue;
                }
                if r.patched || !args_are_script_args(w) || w.is_selector() {
                    waits.wild.insert((ci, Some(ns)));
                    continue;
                }
                let Some(target) = w.target.as_ref() else {
                    waits.wild.insert((ci, Some(ns)));
                    continue;
                };
                waits.waiters.push(Waiter {
                    kubectl: false,
                    namespace: ns,
                    target: target.text.clone(),
                    loc: links::value_loc(&env, r, &arg_path(w, 1), Some(target)),
                    workload: workload(&env, context, r),
                    context: ci,
                });
            }
            for (ri, r) in context.rendered.iter().enumerate() {
                if pod_spec_path(&r.kind).is_none() {
                    continue;
                }
                let pod_ns = env.namespace(context, r);
                if r.patched {
                    // A patch may add an init container we do not see.
                    waits.wild.insert((ci, Some(pod_ns.clone())));
                }
                for c in links::containers(&env, context, r)
                    .iter()
                    .filter(|c| c.init)
                {
                    waits.kubectl_container(&env, (ci, context), (ri, r), c, &pod_ns);
                }
            }
        }
        waits.waiters_in = by_namespace(&waits.waiters);
        waits.ignored_in = by_namespace(&waits.ignored);
        for w in &waits.waiters {
            waits
                .holders_in
                .entry(w.namespace.clone())
                .or_default()
                .push(w.context);
        }
        for (ci, ns) in &waits.wild {
            match ns {
                Some(ns) => waits.holders_in.entry(ns.clone()).or_default().push(*ci),
                None => waits.holders_anywhere.push(*ci),
            }
        }
        waits
            .holders_anywhere
            .extend(waits.gates.iter().map(|g| g.context));
        for (i, f) in ws.fluxes.iter().enumerate() {
            waits.flux_of.entry(f.object).or_insert(i);
            for d in &f.depends_on {
                waits.flux_dependents.entry(d.clone()).or_default().push(i);
            }
        }
        waits
    }

    /// The waiters (not ignored) of build `ci` whose namespace is `ns`, in collection order.
    pub(crate) fn waiters_in(&self, ci: usize, ns: &str) -> impl Iterator<Item = &Waiter> {
        in_scope(&self.waiters_in, &self.waiters, ci, ns)
    }

    /// The ignored waits (`kubectl wait … || …`) of build `ci` whose namespace is `ns`.
    pub(crate) fn ignored_in(&self, ci: usize, ns: &str) -> impl Iterator<Item = &Waiter> {
        in_scope(&self.ignored_in, &self.ignored, ci, ns)
    }

    fn gate_container(
        &mut self,
        env: &Env<'_>,
        ci: usize,
        (ri, r): (usize, &Rendered),
        c: &Container,
        texts: &[&str],
    ) {
        // Every loop has a `do`: most containers are passed over without tokenizing.
        if !texts.iter().any(|t| t.contains("do")) {
            return;
        }
        let Some(check) = migration_gate(texts) else {
            return;
        };
        let p = c.field(if c.command.is_empty() {
            "args"
        } else {
            "command"
        });
        self.gates.push(Gate {
            context: ci,
            rendered: ri,
            check,
            loc: links::value_loc(env, r, &p, None),
        });
    }

    /// A `kubectl wait` init container as a wait on its first Job (or selector), in the
    /// namespace kubectl looks in, for `rbac-job-read-missing`.
    fn kubectl_wait_for(
        &mut self,
        env: &Env<'_>,
        (ci, context): (usize, &Context),
        r: &Rendered,
        c: &Container,
        kw: &KubectlWait,
    ) {
        let (Some(spec), Some(ri)) = (links::pod_spec(r), context.position(r)) else {
            return;
        };
        let pod_namespace = env.namespace(context, r);
        let value = |text: String| crate::render::Value {
            text,
            origin: None,
            writer: None,
            via: None,
        };
        let sa = links::service_account(env, context, r, &spec);
        let target = match kw.names.first() {
            Some(n) => n.clone(),
            None => "-l".into(),
        };
        let w = links::WaitFor::new(
            (ri, c.clone()),
            (Some(value("kubectl-wait".into())), Some(value(target))),
            kw.namespace.clone().map(value),
            pod_namespace,
            sa,
        );
        self.kubectl_wait_fors.push((ci, w));
    }

    fn kubectl_container(
        &mut self,
        env: &Env<'_>,
        (ci, context): (usize, &Context),
        (ri, r): (usize, &Rendered),
        c: &Container,
        pod_ns: &str,
    ) {
        let texts = c.words();
        let complete = c.command.len() == env.len(r, &c.field("command"))
            && c.args.len() == env.len(r, &c.field("args"));
        self.gate_container(env, ci, (ri, r), c, &texts);
        let found = kubectl_waits(&texts);
        if complete && let Some(kw) = found.iter().find(|kw| kw.for_complete && !kw.ignored) {
            self.kubectl_wait_for(env, (ci, context), r, c, kw);
        }
        if !complete {
            if texts.iter().any(|t| t.contains("kubectl")) {
                self.wild.insert((ci, Some(pod_ns.to_string())));
            }
            return;
        }
        for kw in found {
            let ns = kw.namespace.clone().unwrap_or_else(|| pod_ns.to_string());
            if ns.contains("${") {
                self.wild.insert((ci, None));
                continue;
            }
            if kw.selector && kw.for_complete && !kw.ignored {
                self.wild.insert((ci, Some(ns.clone())));
            }
            if !kw.for_complete {
                continue;
            }
            for name in kw.names {
                // The word that names the Job, for related locations.
                let loc = c
                    .command
                    .iter()
                    .enumerate()
                    .map(|(i, v)| ("command", i, v))
                    .chain(c.args.iter().enumerate().map(|(i, v)| ("args", i, v)))
                    .find(|(_, _, v)| v.text.contains(name.as_str()))
                    .and_then(|(list, i, v)| {
                        let p = [c.field(list), vec![Step::Index(i)]].concat();
                        links::value_loc(env, r, &p, Some(v))
                    });
                let waiter = Waiter {
                    kubectl: true,
                    namespace: ns.clone(),
                    target: name,
                    loc,
                    workload: workload(env, context, r),
                    context: ci,
                };
                if kw.ignored {
                    self.ignored.push(waiter);
                } else {
                    self.waiters.push(waiter);
                }
            }
        }
    }

    /// Whether `target` finds some rendered Job in `ns` (exactly, by kubectl's prefix
    /// fallback, or possibly through placeholders).
    pub(crate) fn names_a_job(&self, ci: usize, ns: &str, target: &str) -> bool {
        // `jobs` is ordered by build and namespace first: the Jobs of `ns` are one range.
        let key = scoped(ci, ns);
        self.jobs
            .range((key.clone(), String::new())..)
            .take_while(|(n, _)| *n == key)
            .any(|(_, name)| compare(target, name) != Compare::Different)
    }

    /// The namespaces where something in one of `builds` may hold a Job back, and whether
    /// something there may hold back Jobs of any namespace.
    pub(super) fn holding_namespaces(
        &self,
        builds: impl Fn(usize) -> bool,
    ) -> (impl Iterator<Item = &String>, bool) {
        let anywhere = self.holders_anywhere.iter().any(|&c| builds(c));
        let named = self
            .holders_in
            .iter()
            .filter(move |(_, cs)| cs.iter().any(|&c| builds(c)))
            .map(|(ns, _)| ns);
        (named, anywhere)
    }

    /// The builds where something may hold back a Job of namespace `ns`, sorted, each once:
    /// for any other build [`Waits::awaited`] is `No` and it has no gate.
    pub(crate) fn holding(&self, ns: &str) -> Vec<usize> {
        super::builds_for(&self.holders_in, ns, &self.holders_anywhere)
    }

    /// Who, in build `ci`, waits for the Job rendered as `name` in `ns` (`generated`: a
    /// `generateName` prefix).
    pub(crate) fn awaited(&self, ci: usize, ns: &str, name: &str, generated: bool) -> Awaited<'_> {
        let mut by = Vec::new();
        let mut maybe =
            self.wild.contains(&(ci, None)) || self.wild.contains(&(ci, Some(ns.to_string())));
        for w in self.waiters_in(ci, ns) {
            if generated {
                if name.starts_with(&w.target) && !w.kubectl {
                    by.push(w);
                } else if w.target.starts_with(name) || compare(&w.target, name) == Compare::Unknown
                {
                    maybe = true;
                }
                continue;
            }
            match compare(&w.target, name) {
                Compare::Equal => by.push(w),
                Compare::Unknown => maybe = true,
                Compare::Prefix
                    if !w.kubectl && !self.jobs.contains(&(scoped(ci, ns), w.target.clone())) =>
                {
                    by.push(w)
                }
                _ => {}
            }
        }
        if !by.is_empty() {
            Awaited::By(by)
        } else if maybe {
            Awaited::Maybe
        } else {
            Awaited::No
        }
    }
}

/// A deploy-tool hook on the Job.
#[derive(Debug, Clone)]
pub(crate) struct HookInfo {
    pub(crate) tool: &'static str,
    /// The annotation's value (`pre-install,pre-upgrade`, `PreSync`).
    pub(crate) phases: String,
    /// Runs before the release's other resources are applied (and is waited for).
    pub(crate) holds: bool,
    pub(crate) delete_policy: bool,
}

/// The hook annotations a deploy tool reads: (tool, hook key, delete-policy key, the phases
/// that run before the release's other resources).
const HOOKS: [(&str, &str, &str, [&str; 2]); 2] = [
    (
        "Argo CD",
        "argocd.argoproj.io/hook",
        "argocd.argoproj.io/hook-delete-policy",
        ["PreSync", "Sync"],
    ),
    (
        "Helm",
        "helm.sh/hook",
        "helm.sh/hook-delete-policy",
        ["pre-install", "pre-upgrade"],
    ),
];

pub(crate) fn hook_of(obj: &Object, doc: &crate::yaml::Document) -> Option<HookInfo> {
    HOOKS.iter().find_map(|(tool, key, delete_key, holding)| {
        let v = annotation(obj, doc, key)?;
        Some(HookInfo {
            tool,
            phases: v.to_string(),
            holds: v.split(',').map(str::trim).any(|p| holding.contains(&p)),
            delete_policy: annotation(obj, doc, delete_key).is_some_and(|p| !p.trim().is_empty()),
        })
    })
}

/// Everything that decides whether a Job holds the app back.
#[derive(Debug, Default)]
pub(crate) struct Status {
    /// The name as rendered (first context), for messages.
    pub(crate) name: String,
    pub(crate) by: Vec<Waiter>,
    pub(crate) maybe: bool,
    pub(crate) ignored: Vec<Waiter>,
    pub(crate) hook: Option<HookInfo>,
    /// A Flux Kustomization with `wait: true` (or health checks) deploys it and another one
    /// depends on that.
    pub(crate) flux_staged: bool,
    /// `(dependent, stage, stage object)` for a dependsOn stage that does not wait.
    pub(crate) stage_without_wait: Option<(String, String, crate::base::diagnostic::ObjectId)>,
    /// A Flux Kustomization of the tree deploys it.
    pub(crate) flux_managed: bool,
    /// Job-mode waits in its contexts, same namespace, for other names.
    pub(crate) others: Vec<Waiter>,
    /// The Job object is named by `generateName`.
    pub(crate) generated: bool,
    /// The builds that render it, and those of them where nothing holds the app back (no
    /// wait, no possible wait, no stage, no sync wave; a hook is judged apart).
    pub(crate) builds: Vec<usize>,
    pub(crate) unheld: Vec<usize>,
    /// Init containers, in a build that renders it, that retry a migration status check.
    pub(crate) gates: Vec<Gate>,
}

fn wave(obj: &Object, doc: &crate::yaml::Document) -> i64 {
    sync_wave(obj, doc).unwrap_or(0)
}

/// An object's `argocd.argoproj.io/sync-wave`, when it sets one that is a number.
pub(crate) fn sync_wave(obj: &Object, doc: &crate::yaml::Document) -> Option<i64> {
    annotation(obj, doc, "argocd.argoproj.io/sync-wave").and_then(|v| v.trim().parse().ok())
}

/// A Helm hook's `helm.sh/hook-weight`, when it is a number.
pub(crate) fn hook_weight(obj: &Object, doc: &crate::yaml::Document) -> Option<i64> {
    annotation(obj, doc, "helm.sh/hook-weight").and_then(|v| v.trim().parse().ok())
}

pub(crate) fn status(ws: &Workspace, waits: &Waits, obj: &Object) -> Status {
    let env = ws.env();
    let doc = ws.doc_of(obj);
    let generated = obj.name.is_none() && obj.generate_name.is_some();
    let mut st = Status {
        name: obj.display_name(),
        hook: hook_of(obj, doc),
        generated,
        ..Status::default()
    };
    let job_wave = annotation(obj, doc, "argocd.argoproj.io/sync-wave").map(|_| wave(obj, doc));
    let mut first = true;
    for &ci in ws.context_ids_of(obj.id) {
        let context = &ws.contexts[ci];
        let Some(r) = context.rendered_of(obj.id) else {
            continue;
        };
        st.builds.push(ci);
        let Some(name) = env.name(context, r) else {
            st.maybe = true;
            continue;
        };
        // Whether something holds the app back in this build.
        let by_before = st.by.len();
        let (mut maybe_here, mut held_here) = (false, false);
        let ns = env.namespace(context, r);
        if first {
            st.name = if generated {
                format!("{}*", name.text)
            } else {
                name.text.clone()
            };
            first = false;
        }
        if ns.contains("${") || r.patched {
            maybe_here = true;
        }
        // Waits of this build, and of the builds deployed with it (other Flux stages).
        // Only builds where something may hold a Job of this namespace back can add to it.
        ws.reaching(context, |r| {
            r.holding.insert(ns.clone());
        });
        let scopes: Vec<usize> = std::iter::once(ci)
            .chain(
                waits
                    .holding(&ns)
                    .into_iter()
                    .filter(|&s| ws.is_deployed_with(context, &ws.contexts[s])),
            )
            .collect();
        for &scope in &scopes {
            match waits.awaited(scope, &ns, &name.text, generated) {
                Awaited::By(ws_) => st.by.extend(ws_.into_iter().cloned()),
                Awaited::Maybe => maybe_here = true,
                Awaited::No => {}
            }
        }
        // A gate checks the database, not a Job name: it holds back the Jobs of its build.
        for g in waits.gates.iter().filter(|g| scopes.contains(&g.context)) {
            held_here = true;
            if !st
                .gates
                .iter()
                .any(|x| x.loc == g.loc && x.context == g.context)
            {
                st.gates.push(g.clone());
            }
        }
        for w in waits.ignored_in(ci, &ns) {
            if compare(&w.target, &name.text) == Compare::Equal {
                st.ignored.push(w.clone());
            }
        }
        for w in waits.waiters_in(ci, &ns) {
            if !w.kubectl
                && w.context == ci
                && compare(&w.target, &name.text) == Compare::Different
                && !st.others.iter().any(|x| x.loc == w.loc)
            {
                if !waits.names_a_job(ci, &w.namespace, &w.target) {
                    // A wait in the same build that finds no Job at all was most likely meant
                    // for this one: wait-target-missing reports it, at the wait.
                    maybe_here = true;
                }
                st.others.push(w.clone());
            }
        }
        if let Some(jw) = job_wave {
            let later = context.rendered.iter().any(|o| {
                pod_spec_path(&o.kind).is_some()
                    && o.kind != "Job"
                    && o.object().is_some_and(|oo| {
                        let other = &ws.objects[oo as usize];
                        wave(other, ws.doc_of(other)) > jw
                    })
            });
            if later {
                held_here = true;
            }
        }
        if let Some(fo) = context.flux {
            st.flux_managed = true;
            if let Some(f) = waits.flux_of.get(&fo).map(|&i| &ws.fluxes[i]) {
                let dependent = waits
                    .flux_dependents
                    .get(&f.name)
                    .into_iter()
                    .flatten()
                    .map(|&i| &ws.fluxes[i])
                    .find(|g| g.object != f.object);
                if let Some(g) = dependent {
                    if f.wait || has_health_checks(ws, f) {
                        st.flux_staged = true;
                        held_here = true;
                    } else if st.stage_without_wait.is_none() {
                        st.stage_without_wait = Some((g.name.clone(), f.name.clone(), f.object));
                    }
                }
            }
        }
        st.maybe |= maybe_here;
        if !maybe_here && !held_here && st.by.len() == by_before {
            st.unheld.push(ci);
        }
    }
    st
}

/// Whether a Flux Kustomization lists `spec.healthChecks`: with them (or `wait: true`) the
/// stages that depend on it wait until its objects, a Job among them, are ready.
pub(crate) fn has_health_checks(ws: &Workspace, f: &crate::render::FluxKustomization) -> bool {
    let obj = &ws.objects[f.object as usize];
    let doc = ws.doc_of(obj);
    doc.at(obj.root, &[Seg::Key("spec"), Seg::Key("healthChecks")])
        .is_some_and(|n| !doc.items(n).is_empty())
}

/// Whether a build that includes the Job shows an app at all (a long-running workload).
/// Without one, what holds the app back (or waits for a Job by name) is out of view, and the
/// Job rules that depend on it stay silent rather than guess. Only the Job's own builds (and
/// the builds deployed with them, other Flux stages) count: an app of another build says
/// nothing about this one, and a run on the Job's file alone must judge it as a run on the
/// whole tree does.
pub(crate) fn app_in_view(ws: &Workspace, job: &Object) -> bool {
    let has_app = |c: &crate::render::Context| {
        c.objects.iter().any(|&o| {
            matches!(
                ws.objects[o as usize].kind.as_str(),
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController"
            )
        })
    };
    ws.contexts_of(job.id)
        .any(|c| has_app(c) || ws.deployed_with(c).any(has_app))
}

/// Every migration Job object of the run.
pub(crate) fn migration_jobs(ws: &Workspace) -> impl Iterator<Item = &Object> {
    ws.objects
        .iter()
        .filter(move |o| super::migration_job(ws, o).is_some())
}

#[cfg(test)]
mod tests {
    use super::{KubectlWait, kubectl_waits};

    #[test]
    fn migration_gates() {
        let g = |script: &str| super::migration_gate(&["/bin/sh", "-c", script]);
        assert_eq!(
            g("until kong migrations list; do sleep 1; done").as_deref(),
            Some("kong migrations list")
        );
        assert_eq!(
            g("while true; do kong migrations list; if [[ 0 -eq $? ]]; then exit 0; fi; sleep 2;  done;").as_deref(),
            Some("kong migrations list")
        );
        assert!(g("while ! alembic current 2>/dev/null; do sleep 5; done").is_some());
        assert!(
            g("for i in $(seq 1 60); do flyway -url=$URL info && exit 0; sleep 2; done; exit 1")
                .is_some()
        );
        assert!(
            g("until psql -h db -tAc \"select 1 from schema_migrations where version='42'\"; do sleep 2; done")
                .is_some()
        );
        assert!(
            g("timeout 300 sh -c 'until bin/rails db:migrate:status; do sleep 3; done'").is_some()
        );
        // Run once, a readiness loop on the database alone, or a loop that runs migrations.
        assert_eq!(g("kong migrations list"), None);
        assert_eq!(g("until pg_isready -h db; do sleep 1; done"), None);
        assert_eq!(g("until alembic upgrade head; do sleep 1; done"), None);
        assert_eq!(
            g("kong migrations list; for i in 1 2; do echo $i; done"),
            None
        );
    }

    #[test]
    fn parses_kubectl_wait() {
        let w = kubectl_waits(&[
            "sh",
            "-c",
            "kubectl wait --for=condition=complete --timeout=600s job/app-migration-v1 -n data && echo ok",
        ]);
        assert_eq!(
            w,
            vec![KubectlWait {
                names: vec!["app-migration-v1".into()],
                namespace: Some("data".into()),
                for_complete: true,
                ..KubectlWait::default()
            }]
        );
        let w = kubectl_waits(&[
            "kubectl",
            "wait",
            "--for",
            "condition=Complete",
            "jobs.batch",
            "a",
            "b",
        ]);
        assert_eq!(w[0].names, vec!["a", "b"]);
        assert!(w[0].for_complete);
        let w = kubectl_waits(&[
            "sh",
            "-c",
            "kubectl wait --for=condition=complete job/x || true",
        ]);
        assert!(w[0].ignored);
        let w = kubectl_waits(&["kubectl", "wait", "--for=delete", "pod/x"]);
        assert!(w.is_empty());
        let w = kubectl_waits(&[
            "/usr/bin/kubectl",
            "--namespace=n",
            "wait",
            "--for=condition=complete",
            "-l",
            "app=m",
            "job",
        ]);
        assert!(w[0].selector && w[0].names.is_empty());
    }
}
