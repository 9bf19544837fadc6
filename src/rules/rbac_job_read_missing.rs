//! A k8s-wait-for init container in a `job*` mode runs `kubectl describe jobs NAME`: kubectl GETs
//! the Job and, when it is not found, LISTs every Job in the namespace to match NAME as a prefix.
//! The pod's ServiceAccount therefore needs `get` and `list` on `jobs.batch` in the namespace
//! kubectl looks in, and a mounted token to authenticate at all.
//!
//! The RBAC model (bindings, roles, rules, as the context renders them) is `analysis::rbac`,
//! shared with `rbac-service-account-missing`.

use super::meta::RBAC_JOB_READ_MISSING as META;
use super::{ContextCx, ObjectCx, Rule};
use crate::analysis::rbac::{
    Binding, DEFAULT_JOB_READERS, PolicyRule, RBAC_GROUP, RoleDef, at, bindings, k, known, loc_of,
    object_loc, role_of, roles,
};
use crate::base::diagnostic::{Diagnostic, Loc};
use crate::base::mask::display_value;
use crate::render::Rendered;
use crate::render::links::{self, WaitFor};
use crate::render::path::{self, Step};

pub(crate) struct RbacJobReadMissing;

const HELP: &str = "bind the pod's ServiceAccount with a RoleBinding, in the namespace k8s-wait-for looks in, to a Role with `apiGroups: [batch], resources: [jobs], verbs: [get, list]`";

/// What the bound roles grant the service account on jobs.
#[derive(Default)]
struct Grants<'r, 'a> {
    get: bool,
    list: bool,
    watch: bool,
    /// Rules that would grant `list` but are restricted by `resourceNames`.
    list_by_name: Vec<(&'r RoleDef<'a>, &'r PolicyRule)>,
    /// Rules that grant `get` only for other names.
    get_other_names: Vec<(&'r RoleDef<'a>, &'r PolicyRule)>,
    /// Rules of bound roles about jobs that lack `get` or `list`.
    partial: Vec<(&'r RoleDef<'a>, &'r PolicyRule)>,
    /// Bound roles that say nothing about jobs.
    unrelated: Vec<&'r RoleDef<'a>>,
    /// The bindings that apply.
    applied: Vec<&'r Binding<'a>>,
}

/// What waits for the Job and which verbs it needs: k8s-wait-for's `kubectl describe jobs`
/// (get, and list when the Job is missing) or `kubectl wait` (get, then list and watch).
struct Tool {
    /// `k8s-wait-for`, `` `kubectl wait` ``.
    name: &'static str,
    /// What it runs, for the related location at its image.
    runs: &'static str,
    /// `kubectl wait` watches the Job until its condition holds.
    watch: bool,
    help: &'static str,
    get_consequence: &'static str,
    list_consequence: &'static str,
}

const WAIT_FOR: Tool = Tool {
    name: "k8s-wait-for",
    runs: "`kubectl describe jobs`",
    watch: false,
    help: HELP,
    get_consequence: GET_CONSEQUENCE,
    list_consequence: LIST_CONSEQUENCE,
};

const KUBECTL_WAIT: Tool = Tool {
    name: "`kubectl wait`",
    runs: "`kubectl wait --for=condition=complete`",
    watch: true,
    help: "bind the pod's ServiceAccount with a RoleBinding, in the namespace `kubectl wait` looks in, to a Role with `apiGroups: [batch], resources: [jobs], verbs: [get, list, watch]`",
    get_consequence: "`kubectl wait` fails with Forbidden (`cannot get resource \"jobs\" in API group \"batch\"`), the init container exits 1 and the pod restarts it in Init:CrashLoopBackOff even after the migration succeeded",
    list_consequence: "`kubectl wait` lists and watches the Job until its condition holds, so it fails with Forbidden (`cannot list resource \"jobs\"` or `cannot watch resource \"jobs\"`), the init container exits 1 and the pod restarts it in Init:CrashLoopBackOff even after the migration succeeded",
};

const GET_CONSEQUENCE: &str = "`kubectl describe jobs` fails with Forbidden (`cannot get resource \"jobs\" in API group \"batch\"`), the init container exits 1 and the pod restarts it in Init:CrashLoopBackOff even after the migration succeeded";
const LIST_CONSEQUENCE: &str = "kubectl only needs `list` when the exact Job is not found (it then lists every Job to match the name as a prefix), so the wait works while the Job exists, but when it is absent the init container fails with `forbidden: ... cannot list resource \"jobs\"` instead of not-found, hiding the real cause";

impl RbacJobReadMissing {
    fn check_wait(
        &self,
        cx: &ContextCx<'_>,
        (w, tool): (&WaitFor, &Tool),
        bindings: &[Binding<'_>],
        roles: &[RoleDef<'_>],
        out: &mut Vec<Diagnostic>,
    ) {
        let r = &cx.context.rendered[w.rendered];
        let Some(o) = r.object() else { return };
        if r.patched {
            return;
        }
        let ocx = ObjectCx::new(cx.ws, &cx.ws.objects[o as usize]);
        let Some(spec) = links::pod_spec(r) else {
            return;
        };
        // Values we cannot know: skip rather than guess.
        for key in ["serviceAccountName", "serviceAccount"] {
            if known(&cx.env(), cx.context, r, &at(&spec, &[k(key)])).is_err() {
                return;
            }
        }
        if let Some(ns) = &r.namespace
            && cx.env().substituted(cx.context, r, ns.clone()).is_none()
        {
            return;
        }
        if w.namespace.contains("${")
            || w.pod_namespace.contains("${")
            || w.service_account.contains("${")
        {
            return;
        }
        let sa = w.service_account.as_str();
        let sa_ns = w.pod_namespace.as_str();
        let ns = w.namespace.as_str();
        let workload = format!("{} `{}`", r.kind, display_value(&r.name.text));
        let image_path = w.container.field("image");
        let image_loc = loc_of(&cx.env(), r, &image_path).unwrap_or_else(|| ocx.locate(&[]).0);
        let container = w.container.name.clone().unwrap_or_else(|| "?".into());
        let init_related = |d: Diagnostic| {
            d.related(
                image_loc,
                format!(
                    "{} in {workload} (init container `{container}`) runs {} here",
                    tool.name, tool.runs
                ),
            )
        };

        self.check_token(cx, (w, tool), r, &ocx, &spec, &init_related, out);

        let needs_get = !w.is_selector();
        let target = w.target.as_ref().map(|t| t.text.as_str()).unwrap_or("");
        let mut g = Grants::default();
        let mut unknown = false;
        for b in bindings {
            if !b.cluster && b.namespace != ns {
                continue;
            }
            if b.binds(sa, sa_ns).is_none() {
                continue;
            }
            g.applied.push(b);
            let role = match role_of(b, roles) {
                Ok(Some(ro)) => ro,
                Ok(None) => {
                    if DEFAULT_JOB_READERS.contains(&b.role_name.text.as_str()) {
                        g.get = true;
                        g.list = true;
                        g.watch = true;
                    } else {
                        unknown = true;
                    }
                    continue;
                }
                Err(()) => {
                    // Not in this context (rbac-service-account-missing says so): unknown.
                    unknown = true;
                    continue;
                }
            };
            if role.aggregated {
                unknown = true;
            }
            let mut about_jobs = false;
            for rule in role.rules.iter().filter(|r| r.covers_jobs()) {
                about_jobs = true;
                let restricted = !rule.resource_names.is_empty();
                if rule.allows("get") {
                    if !restricted
                        || target.contains("${")
                        || rule.resource_names.iter().any(|n| n == target)
                    {
                        g.get = true;
                    } else {
                        g.get_other_names.push((role, rule));
                    }
                }
                if rule.allows("watch") && !restricted {
                    g.watch = true;
                }
                if rule.allows("list") {
                    if restricted {
                        g.list_by_name.push((role, rule));
                    } else {
                        g.list = true;
                    }
                }
                if !rule.allows("get")
                    || !rule.allows("list")
                    || (tool.watch && !rule.allows("watch"))
                {
                    g.partial.push((role, rule));
                }
            }
            if !about_jobs {
                g.unrelated.push(role);
            }
        }
        let get_ok = g.get || !needs_get;
        let watch_ok = g.watch || !tool.watch;
        if (get_ok && g.list && watch_ok) || unknown {
            return;
        }
        let who = format!("service account `{sa}` (namespace `{sa_ns}`)");
        let where_ = if ns == sa_ns {
            format!("namespace `{ns}`")
        } else {
            format!("namespace `{ns}` (the `-n {ns}` argument)")
        };
        // Findings about the waiter as a whole point at its image.
        let at_image = |message: String| {
            ocx.diag_at(&META, image_loc, path::display(&image_path), message)
                .help(tool.help)
        };

        // Nothing bound at all.
        if g.applied.is_empty() {
            let mut d = at_image(format!(
                "{} in {workload} runs as {who}, which no RoleBinding in {where_} and no ClusterRoleBinding binds to a role that can read jobs: {}",
                tool.name,
                if needs_get { tool.get_consequence } else { tool.list_consequence }
            ));
            let sa_path = at(&spec, &[k("serviceAccountName")]);
            if w.service_account_value.is_some()
                && let Some(l) = loc_of(&cx.env(), r, &sa_path)
            {
                d = d.related(l, format!("the pod runs as service account `{sa}`"));
            }
            d = self.near_misses(cx, d, bindings, roles, sa, sa_ns, ns);
            out.push(d);
            return;
        }
        // `resourceNames` on the rule that would grant list.
        if !g.list
            && let Some((role, rule)) = g.list_by_name.first()
        {
            let rn = at(&rule.path, &[k("resourceNames")]);
            if let Some(d) = cx.diag_written(
                        &META,
                        role.r,
                        &rn,
                        format!(
                            "the {} `{}` restricts jobs to `resourceNames` for {who}, used by {} in {workload}: a GET of a listed name works, but a LIST request has no name, so `list` is never granted; {}",
                            role.kind(),
                            display_value(&role.name),
                            tool.name,
                            tool.list_consequence,
                        ),
                    ) {
                let d = d.help("drop `resourceNames` from the jobs rule (a Role in the app's namespace is already narrow), or add a rule with `verbs: [list]` and no `resourceNames`");
                out.push(init_related(d));
            }
        }
        let missing: Vec<&str> = [
            (!get_ok, "get"),
            (!g.list && g.list_by_name.is_empty(), "list"),
            (!watch_ok, "watch"),
        ]
        .into_iter()
        .filter_map(|(m, v)| m.then_some(v))
        .collect();
        if missing.is_empty() {
            return;
        }
        let consequence = if missing.contains(&"get") {
            tool.get_consequence
        } else {
            tool.list_consequence
        };
        let missing_text = missing
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        // A bound role mentions jobs but lacks a verb: point at its rule.
        let pick = if missing.contains(&"get") {
            g.partial
                .iter()
                .find(|(_, r)| !r.allows("get"))
                .map(|x| (x, false))
                .or(g.get_other_names.first().map(|x| (x, true)))
        } else {
            g.partial
                .iter()
                .find(|(_, r)| missing.iter().any(|v| !r.allows(v)))
                .map(|x| (x, false))
        };
        if let Some(((role, rule), by_name)) = pick {
            let Some(ro) = role.r.object() else { return };
            let rocx = ObjectCx::new(cx.ws, &cx.ws.objects[ro as usize]);
            let p = at(
                &rule.path,
                &[k(if by_name { "resourceNames" } else { "verbs" })],
            );
            let Some(loc) =
                loc_of(&cx.env(), role.r, &p).or_else(|| loc_of(&cx.env(), role.r, &rule.path))
            else {
                return;
            };
            let what = if by_name {
                format!(
                    "lets {who} get jobs only by `resourceNames`, which do not include `{}`",
                    display_value(target)
                )
            } else {
                format!("does not grant {missing_text} on jobs to {who}")
            };
            let mut d = rocx
                .diag_at(
                    &META,
                    loc,
                    path::display(&p),
                    format!(
                        "the {} `{}` {what}, which {} in {workload} needs in {where_}: {consequence}",
                        role.kind(),
                        display_value(&role.name),
                        tool.name,
                    ),
                )
                .help(tool.help);
            d = init_related(d);
            if let Some(b) = g.applied.iter().find(|b| {
                b.role_name.text == role.name && (b.role_kind == "ClusterRole") == role.cluster
            }) && let Some(l) = loc_of(&cx.env(), b.r, &path::keys(&["roleRef", "name"]))
            {
                d = d.related(
                    l,
                    format!("bound by the {} `{}`", b.kind(), display_value(&b.name)),
                );
            }
            out.push(d);
            return;
        }
        // Bound only to roles that say nothing about jobs.
        let mut d = at_image(format!(
            "{} in {workload} runs as {who}, whose bound roles grant nothing on jobs in {where_} ({missing_text} missing): {consequence}",
            tool.name
        ));
        for role in g.unrelated.iter().take(3) {
            if let Some(l) = object_loc(&cx.env(), role.r) {
                d = d.related(
                    l,
                    format!(
                        "the {} `{}` is bound to it but has no rule for jobs in API group batch",
                        role.kind(),
                        display_value(&role.name)
                    ),
                );
            }
        }
        out.push(d);
    }

    /// Related locations for bindings that almost apply: another service account, another
    /// namespace, or a binding outside this context.
    #[allow(clippy::too_many_arguments)]
    fn near_misses(
        &self,
        cx: &ContextCx<'_>,
        mut d: Diagnostic,
        bindings: &[Binding<'_>],
        roles: &[RoleDef<'_>],
        sa: &str,
        sa_ns: &str,
        ns: &str,
    ) -> Diagnostic {
        let reads_jobs = |b: &Binding<'_>| match role_of(b, roles) {
            Ok(Some(ro)) => ro.rules.iter().any(PolicyRule::covers_jobs),
            Ok(None) => DEFAULT_JOB_READERS.contains(&b.role_name.text.as_str()),
            Err(()) => true,
        };
        let mut n = 0;
        for b in bindings.iter().filter(|b| reads_jobs(b)) {
            for s in b.subjects.iter().filter(|s| s.kind == "ServiceAccount") {
                if n >= 3 {
                    return d;
                }
                let sns = b.subject_namespace(s).unwrap_or_default();
                let Some(l) = loc_of(&cx.env(), b.r, &at(&s.path, &[k("name")])) else {
                    continue;
                };
                let msg = if s.name.text != sa {
                    format!(
                        "the {} `{}` binds service account `{}`, not `{sa}`",
                        b.kind(),
                        display_value(&b.name),
                        display_value(&s.name.text)
                    )
                } else if sns != sa_ns {
                    format!(
                        "the {} `{}` binds `{sa}` of namespace `{sns}`, but the pod runs in `{sa_ns}`",
                        b.kind(),
                        display_value(&b.name)
                    )
                } else if !b.cluster && b.namespace != ns {
                    format!(
                        "the {} `{}` grants in namespace `{}`, but k8s-wait-for looks in `{ns}`",
                        b.kind(),
                        display_value(&b.name),
                        b.namespace
                    )
                } else {
                    continue;
                };
                d = d.related(l, msg);
                n += 1;
            }
        }
        // Bindings of a ServiceAccount beside this build's files that it does not apply (a
        // file the kustomization forgot to list); bindings of other projects say nothing.
        let dirs: std::collections::BTreeSet<&std::path::Path> = cx
            .context
            .files
            .iter()
            .filter_map(|&f| cx.ws.file_keys.get(f as usize)?.parent())
            .collect();
        let beside = |o: &crate::model::Object| {
            cx.ws
                .file_keys
                .get(o.file as usize)
                .and_then(|k| k.parent())
                .is_some_and(|d| dirs.contains(d))
        };
        for o in cx.ws.objects.iter().filter(|o| beside(o)) {
            if n >= 3 {
                break;
            }
            if !(o.kind == "RoleBinding" || o.kind == "ClusterRoleBinding")
                || !o.api_version.starts_with(RBAC_GROUP)
                || cx.context.objects.binary_search(&o.id).is_ok()
            {
                continue;
            }
            let doc = cx.ws.doc_of(o);
            let Some(subjects) = doc.get(o.root, "subjects") else {
                continue;
            };
            for &s in doc.items(subjects) {
                let Some(nn) = doc.get(s, "name") else {
                    continue;
                };
                let Some(name) = doc.str(nn) else { continue };
                if doc.get_str(s, "kind") != Some("ServiceAccount") {
                    continue;
                }
                d = d.related(
                    Loc {
                        file: o.file,
                        span: doc.span(nn),
                    },
                    format!(
                        "the {} `{}` binds `{}` but is not part of what this build applies",
                        o.kind,
                        display_value(&o.display_name()),
                        display_value(name),
                    ),
                );
                n += 1;
                break;
            }
        }
        d
    }

    /// `automountServiceAccountToken: false` on the pod, or on its ServiceAccount without the
    /// pod turning it back on: kubectl has no token and falls back to localhost:8080.
    #[allow(clippy::too_many_arguments)]
    fn check_token(
        &self,
        cx: &ContextCx<'_>,
        (w, tool): (&WaitFor, &Tool),
        r: &Rendered,
        ocx: &ObjectCx<'_>,
        spec: &[Step],
        init_related: &dyn Fn(Diagnostic) -> Diagnostic,
        out: &mut Vec<Diagnostic>,
    ) {
        // A token mounted by hand (a projected volume at the default path) works too.
        let mounts = w.container.field("volumeMounts");
        let env = cx.env();
        let by_hand = (0..env.len(r, &mounts)).any(|i| {
            cx.value(r, &at(&mounts, &[Step::Index(i), k("mountPath")]))
                .is_some_and(|v| {
                    v.text.trim_end_matches('/') == "/var/run/secrets/kubernetes.io/serviceaccount"
                })
        });
        if by_hand {
            return;
        }
        let consequence = format!(
            "kubectl in {} has no token, falls back to `localhost:8080` and fails with `The connection to the server localhost:8080 was refused`, so the init container exits 1 and the pod never starts",
            tool.name
        );
        let sa = &w.service_account;
        let pod_path = at(spec, &[k("automountServiceAccountToken")]);
        let pod = cx.value(r, &pod_path).map(|v| v.text);
        let workload = format!("{} `{}`", r.kind, display_value(&r.name.text));
        if pod.as_deref() == Some("false") {
            let loc = loc_of(&cx.env(), r, &pod_path).unwrap_or_else(|| ocx.locate(&[]).0);
            let d = ocx
                .diag_at(
                    &META,
                    loc,
                    path::display(&pod_path),
                    format!(
                        "the {workload} sets `automountServiceAccountToken: false`, so the token of service account `{sa}` is not mounted: {consequence}"
                    ),
                )
                .help("remove `automountServiceAccountToken: false` from the pod spec, or mount a projected service account token at /var/run/secrets/kubernetes.io/serviceaccount");
            out.push(init_related(d));
            return;
        }
        if pod.as_deref() == Some("true") {
            return;
        }
        for s in cx
            .context
            .rendered
            .iter()
            .filter(|s| s.kind == "ServiceAccount" && s.api_version == "v1")
        {
            if s.patched
                || env.name(cx.context, s).map(|v| v.text).as_deref() != Some(sa.as_str())
                || env.namespace(cx.context, s) != w.pod_namespace
            {
                continue;
            }
            let p = path::keys(&["automountServiceAccountToken"]);
            if cx.value(s, &p).map(|v| v.text).as_deref() != Some("false") {
                continue;
            }
            let Some(d) = cx.diag_written(
                    &META,
                    s,
                    &p,
                    format!(
                        "service account `{sa}` sets `automountServiceAccountToken: false` and {workload} does not turn it back on, so its token is not mounted: {consequence}"
                    ),
                ) else {
                continue;
            };
            let d = d.help("set `automountServiceAccountToken: true` in the pod spec of the workload that waits (it overrides the ServiceAccount), or remove it from the ServiceAccount");
            out.push(init_related(d));
        }
    }
}

impl Rule for RbacJobReadMissing {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        let kubectl = &crate::analysis::waits(cx.ws).kubectl_wait_fors;
        let waits: Vec<(&WaitFor, &Tool)> = cx
            .ws
            .wait_fors(cx.context)
            .iter()
            .filter(|w| w.is_job_mode())
            .map(|w| (w, &WAIT_FOR))
            .chain(
                kubectl
                    .iter()
                    .filter(|(ci, _)| *ci == cx.context.index)
                    .map(|(_, w)| (w, &KUBECTL_WAIT)),
            )
            .collect();
        if waits.is_empty() {
            return;
        }
        let (Ok(bindings), Ok(roles)) = (bindings(cx.ws, cx.context), roles(cx.ws, cx.context))
        else {
            return;
        };
        for w in waits {
            self.check_wait(cx, w, &bindings, &roles, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::diagnostic::Diagnostic;
    use crate::rules::testing::*;
    use crate::rules::testing;

    const RULE: &str = "rbac-job-read-missing";

    fn deploy(pod_extra: &str, args: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: myapp, namespace: app}}\nspec:\n  template:\n    spec:\n      serviceAccountName: myapp\n{pod_extra}      initContainers:\n      - name: wait\n        image: groundnuty/k8s-wait-for:v2.0\n        args: {args}\n      containers: [{{name: app, image: app:v1}}]\n"
        )
    }

    fn sa() -> String {
        service_account("myapp", "app")
    }

    fn role(rule: &str) -> String {
        testing::role(&format!("\n- {rule}\n"))
    }

    fn binding(subject: &str, role_ref: &str) -> String {
        role_binding("wait-reads-jobs", &format!("\n- {subject}"), role_ref)
    }

    /// The Deployment waiting for the Job, a Role with `rule` and a binding of the pod's account
    /// to it.
    fn granted(rule: &str) -> [(&'static str, String); 3] {
        [
            ("k/deploy.yaml", deploy("", ARGS)),
            ("k/role.yaml", role(rule)),
            ("k/rb.yaml", binding(TO_SA, TO_ROLE)),
        ]
    }

    const GET_LIST: &str = "{apiGroups: [batch], resources: [jobs], verbs: [get, list]}";
    /// A ClusterRole `job-reader` that reads Jobs.
    const JOB_READER: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: job-reader}\nrules: [{apiGroups: [batch], resources: [jobs], verbs: [get, list]}]\n";
    const TO_SA: &str = "{kind: ServiceAccount, name: myapp}";
    const TO_ROLE: &str = "{apiGroup: rbac.authorization.k8s.io, kind: Role, name: job-reader}";
    const ARGS: &str = "[job-wr, myapp-migration-v1]";

    fn file<'a>(files: &'a [(&str, String)], loc: &crate::base::diagnostic::Loc) -> &'a str {
        let mut sorted: Vec<&(&str, String)> = files.iter().collect();
        sorted.sort_by_key(|f| f.0);
        sorted[loc.file as usize].0
    }

    fn text_at<'a>(files: &'a [(&str, String)], d: &Diagnostic) -> &'a str {
        located(files, &d.loc)
    }

    /// The Deployment waiting for the Job, its ServiceAccount, a Role that reads Jobs and the
    /// binding of one to the other, all in namespace `app`.
    fn complete() -> [(&'static str, String); 4] {
        [
            ("k/deploy.yaml", deploy("", ARGS)),
            ("k/sa.yaml", sa()),
            ("k/role.yaml", role(GET_LIST)),
            ("k/rb.yaml", binding(TO_SA, TO_ROLE)),
        ]
    }

    #[test]
    fn correct_rbac_passes() {
        assert_none(RULE, &complete());
        // Wildcards count.
        let files = granted("{apiGroups: ['*'], resources: ['*'], verbs: ['*']}");
        assert_none(RULE, &files);
    }

    #[test]
    fn no_rbac_at_all_points_at_the_init_container() {
        let files = [("k/deploy.yaml", deploy("", ARGS))];
        let d = one(RULE, &files).at("groundnuty/k8s-wait-for:v2.0").d;
        assert_eq!(
            d.message,
            "k8s-wait-for in Deployment `myapp` runs as service account `myapp` (namespace `app`), which no RoleBinding in namespace `app` and no ClusterRoleBinding binds to a role that can read jobs: `kubectl describe jobs` fails with Forbidden (`cannot get resource \"jobs\" in API group \"batch\"`), the init container exits 1 and the pod restarts it in Init:CrashLoopBackOff even after the migration succeeded"
        );
        assert_eq!(d.related.len(), 1);
        assert_eq!(located(&files, &d.related[0].loc), "myapp");
        assert_eq!(
            d.related[0].message,
            "the pod runs as service account `myapp`"
        );
        // Pod modes are not this rule's business.
        assert_none(RULE, &[("k/deploy.yaml", deploy("", "[pod, -lapp=db]"))]);
    }

    #[test]
    fn kubectl_wait_needs_get_list_and_watch() {
        let kubectl = |verbs: &str| {
            let d = deploy("", ARGS).replace(
                "        image: groundnuty/k8s-wait-for:v2.0\n        args: [job-wr, myapp-migration-v1]\n",
                "        image: bitnami/kubectl:1.30.2\n        command: [sh, -c, 'kubectl wait --for=condition=complete --timeout=10m job/myapp-migration-v1']\n",
            );
            assert!(d.contains("kubectl wait"));
            [
                ("k/deploy.yaml", d),
                (
                    "k/role.yaml",
                    role(&format!("{{apiGroups: [batch], resources: [jobs], verbs: {verbs}}}")),
                ),
                ("k/rb.yaml", binding(TO_SA, TO_ROLE)),
            ]
        };
        assert_none(RULE, &kubectl("[get, list, watch]"));
        // What k8s-wait-for needs is not enough: kubectl wait watches.
        let files = kubectl("[get, list]");
        let d = one(RULE, &files).at("[get, list]").starts("the Role `job-reader` does not grant `watch` on jobs to service account `myapp` (namespace `app`), which `kubectl wait` in Deployment `myapp` needs in namespace `app`: `kubectl wait` lists and watches the Job").d;
        assert_contains(&d.help.clone().unwrap_or_default(), "verbs: [get, list, watch]");
        // No RBAC at all: the finding is at the kubectl image.
        let files = [kubectl("[get]")[0].clone()];
        one(RULE, &files).at("bitnami/kubectl:1.30.2").says("`kubectl wait` fails with Forbidden");
        // A wait whose failure is ignored holds nothing back: job-not-awaited speaks of it.
        let ignored = kubectl("[get]")[0]
            .1
            .replace("job/myapp-migration-v1'", "job/myapp-migration-v1 || true'");
        assert_none(RULE, &[("k/deploy.yaml", ignored)]);
    }

    #[test]
    fn missing_list_points_at_the_roles_verbs() {
        let files = granted("{apiGroups: [batch], resources: [jobs], verbs: [get, watch]}");
        let d = one(RULE, &files).at("[get, watch]").starts("the Role `job-reader` does not grant `list` on jobs to service account `myapp` (namespace `app`), which k8s-wait-for in Deployment `myapp` needs in namespace `app`: kubectl only needs `list` when the exact Job is not found").d;
        assert_eq!(d.path.as_deref(), Some("rules[0].verbs"));
        let rel: Vec<(&str, &str)> = d
            .related
            .iter()
            .map(|r| (located(&files, &r.loc), r.message.as_str()))
            .collect();
        assert_eq!(rel[0].0, "groundnuty/k8s-wait-for:v2.0");
        assert_eq!(
            rel[1],
            ("job-reader", "bound by the RoleBinding `wait-reads-jobs`")
        );
        // Missing get is the severe case and is named as such.
        let files = granted("{apiGroups: [batch], resources: [jobs], verbs: [list, watch]}");
        one(RULE, &files).says("does not grant `get` on jobs").says("Init:CrashLoopBackOff");
    }

    #[test]
    fn resource_names_break_the_list_fallback() {
        let files = granted(
            "apiGroups: [batch]\n  resources: [jobs]\n  verbs: [get, list]\n  resourceNames: [myapp-migration-v1]",
        );
        one(RULE, &files).at("[myapp-migration-v1]").says("a LIST request has no name");
        // Names that do not include the awaited Job fail the GET too.
        let files = granted(
            "apiGroups: [batch]\n  resources: [jobs]\n  verbs: [get, list]\n  resourceNames: [myapp-migration-v0]",
        );
        let d = run(RULE, &files);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d.iter().any(|d| d
                .message
                .contains("which do not include `myapp-migration-v1`")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .all(|d| text_at(&files, d) == "[myapp-migration-v0]")
        );
    }

    #[test]
    fn automount_false() {
        let good = |pod_extra: &str, sa: &str| {
            vec![
                ("k/deploy.yaml", deploy(pod_extra, ARGS)),
                ("k/sa.yaml", sa.to_string()),
                ("k/role.yaml", role(GET_LIST)),
                ("k/rb.yaml", binding(TO_SA, TO_ROLE)),
            ]
        };
        let files = good("      automountServiceAccountToken: false\n", &sa());
        one(RULE, &files).at("false").says("localhost:8080 was refused");
        let sa_off = format!("{}automountServiceAccountToken: false\n", sa());
        let files = good("", &sa_off);
        let d = run(RULE, &files);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(file(&files, &d[0].loc), "k/sa.yaml");
        assert_eq!(text_at(&files, &d[0]), "false");
        assert_starts_with(
            &d[0].message,
            "service account `myapp` sets `automountServiceAccountToken: false` and Deployment `myapp` does not turn it back on",
        );
        assert_eq!(
            d[0].related[0].message,
            "k8s-wait-for in Deployment `myapp` (init container `wait`) runs `kubectl describe jobs` here"
        );
        // The pod turns it back on.
        assert!(
            run(
                RULE,
                &good("      automountServiceAccountToken: true\n", &sa_off)
            )
            .is_empty()
        );
    }

    #[test]
    fn a_binding_for_another_service_account() {
        let files = [
            ("k/deploy.yaml", deploy("", ARGS)),
            ("k/role.yaml", role(GET_LIST)),
            (
                "k/rb.yaml",
                binding("{kind: ServiceAccount, name: myapp-service}", TO_ROLE),
            ),
        ];
        let d = one(RULE, &files).at("groundnuty/k8s-wait-for:v2.0").d;
        let r = d
            .related
            .iter()
            .find(|r| file(&files, &r.loc) == "k/rb.yaml")
            .unwrap();
        assert_eq!(located(&files, &r.loc), "myapp-service");
        assert_eq!(
            r.message,
            "the RoleBinding `wait-reads-jobs` binds service account `myapp-service`, not `myapp`"
        );
        // The same name in another namespace does not count either.
        let files = [
            ("k/deploy.yaml", deploy("", ARGS)),
            ("k/role.yaml", role(GET_LIST)),
            (
                "k/rb.yaml",
                binding(
                    "{kind: ServiceAccount, name: myapp, namespace: other}",
                    TO_ROLE,
                ),
            ),
        ];
        let d = run(RULE, &files);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].related.iter().any(|r| {
            r.message
                .contains("of namespace `other`, but the pod runs in `app`")
        }));
    }

    #[test]
    fn the_namespace_kubectl_looks_in() {
        // `-n migrations`: the binding in the pod's namespace does not help.
        let files = [
            (
                "k/deploy.yaml",
                deploy("", "[job-wr, myapp-migration-v1, -n, migrations]"),
            ),
            ("k/role.yaml", role(GET_LIST)),
            ("k/rb.yaml", binding(TO_SA, TO_ROLE)),
        ];
        let d = one(RULE, &files).says("no RoleBinding in namespace `migrations` (the `-n migrations` argument)").d;
        assert!(d.related.iter().any(|r| r.message == "the RoleBinding `wait-reads-jobs` grants in namespace `app`, but k8s-wait-for looks in `migrations`"));
        // A RoleBinding in `migrations` naming the pod's account of namespace `app` does.
        let rb = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: x, namespace: migrations}\nsubjects: [{kind: ServiceAccount, name: myapp, namespace: app}]\nroleRef: {kind: ClusterRole, name: job-reader, apiGroup: rbac.authorization.k8s.io}\n";
        let files = [
            (
                "k/deploy.yaml",
                deploy("", "[job-wr, myapp-migration-v1, -n, migrations]"),
            ),
            ("k/cr.yaml", JOB_READER.to_string()),
            ("k/rb.yaml", rb.to_string()),
        ];
        assert_none(RULE, &files);
    }

    #[test]
    fn cluster_roles_groups_and_unknown_roles() {
        // A ClusterRole through a RoleBinding.
        let files = [
            ("k/deploy.yaml", deploy("", ARGS)),
            ("k/cr.yaml", JOB_READER.to_string()),
            (
                "k/rb.yaml",
                binding(
                    TO_SA,
                    "{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: job-reader}",
                ),
            ),
        ];
        assert_none(RULE, &files);
        // The built-in view role, and a group of every service account of the namespace.
        let files = [
            ("k/deploy.yaml", deploy("", ARGS)),
            (
                "k/rb.yaml",
                binding(
                    "{kind: Group, name: 'system:serviceaccounts:app', apiGroup: rbac.authorization.k8s.io}",
                    "{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}",
                ),
            ),
        ];
        assert_none(RULE, &files);
        // A ClusterRoleBinding: its subject must name the namespace.
        let crb = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\nsubjects: [{kind: ServiceAccount, name: myapp, namespace: app}]\nroleRef: {kind: ClusterRole, name: job-reader, apiGroup: rbac.authorization.k8s.io}\n";
        let files = [
            ("k/deploy.yaml", deploy("", ARGS)),
            ("k/cr.yaml", JOB_READER.to_string()),
            ("k/crb.yaml", crb.to_string()),
        ];
        assert_none(RULE, &files);
        // A ClusterRole managed elsewhere: what it grants is unknown, so no finding.
        let files = [
            ("k/deploy.yaml", deploy("", ARGS)),
            (
                "k/rb.yaml",
                binding(
                    TO_SA,
                    "{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: platform-job-reader}",
                ),
            ),
        ];
        assert_none(RULE, &files);
    }

    #[test]
    fn a_role_without_a_jobs_rule() {
        let files = granted("{apiGroups: [''], resources: [pods], verbs: [get, list]}");
        one(RULE, &files).at("groundnuty/k8s-wait-for:v2.0").says("whose bound roles grant nothing on jobs").related(0, "the Role `job-reader` is bound to it but has no rule for jobs in API group batch");
    }

    #[test]
    fn kustomize_renames_bindings_consistently() {
        assert_none(RULE, &renamed_to_prod(&complete()));
        // A binding the kustomization does not list does not count, and is named.
        let mut files = complete().to_vec();
        files.push((
            "k/kustomization.yaml",
            kustomization("[deploy.yaml, sa.yaml, role.yaml]", ""),
        ));
        let d = run(RULE, &files);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].related.iter().any(|r| file(&files, &r.loc) == "k/rb.yaml" && r.message.starts_with("the RoleBinding `wait-reads-jobs` binds `myapp` but is not part of what this build applies")),
            "{:?}",
            d[0].related
        );
    }
}
