//! A pod's `serviceAccountName`, a binding's ServiceAccount subject or a binding's `roleRef`
//! that names an object the context does not define.

use super::meta::RBAC_SERVICE_ACCOUNT_MISSING as META;
use super::{ContextCx, Rule};
use crate::analysis::rbac::{
    Binding, RoleDef, at, bindings, k, known, loc_of, object_loc, roles, well_known_cluster_role,
};
use crate::base::diagnostic::{Diagnostic, Loc};
use crate::base::mask::display_value;
use crate::base::text::edit_distance;
use crate::render::Rendered;
use crate::render::links;
use crate::render::path;
use std::collections::BTreeSet;

pub(crate) struct RbacServiceAccountMissing;

/// A ServiceAccount of the context: (namespace, name, where the name is written).
type Account = (String, String, Option<Loc>);

struct Accounts {
    defined: Vec<Account>,
}

impl Accounts {
    fn has(&self, ns: &str, name: &str) -> bool {
        name == "default" || self.defined.iter().any(|(n, s, _)| n == ns && s == name)
    }

    /// The same name in another namespace, else the closest name in this one.
    fn near(&self, ns: &str, name: &str) -> Option<(String, &Account)> {
        if let Some(a) = self.defined.iter().find(|(n, s, _)| s == name && n != ns) {
            return Some((
                format!(
                    "the ServiceAccount `{}` is defined in namespace `{}`, not `{ns}`",
                    display_value(name),
                    a.0
                ),
                a,
            ));
        }
        self.defined
            .iter()
            .filter(|(n, _, _)| n == ns)
            .map(|a| (edit_distance(&a.1, name), a))
            .filter(|(d, a)| *d <= 3.max(a.1.len() / 3))
            .min_by(|x, y| (x.0, &x.1.1).cmp(&(y.0, &y.1.1)))
            .map(|(_, a)| {
                (
                    format!("did you mean ServiceAccount `{}`?", display_value(&a.1)),
                    a,
                )
            })
    }
}

fn accounts(cx: &ContextCx<'_>) -> Accounts {
    let env = cx.env();
    Accounts {
        defined: cx
            .context
            .rendered
            .iter()
            .filter(|r| r.kind == "ServiceAccount" && r.api_version == "v1")
            .filter_map(|r| {
                let name = env.name(cx.context, r)?;
                Some((
                    env.namespace(cx.context, r),
                    name.text,
                    object_loc(&cx.env(), r),
                ))
            })
            .collect(),
    }
}

/// The namespaces the context's namespaced objects are applied to.
fn namespaces(cx: &ContextCx<'_>) -> BTreeSet<String> {
    let env = cx.env();
    cx.context
        .rendered
        .iter()
        .filter(|r| !crate::render::CLUSTER_SCOPED.contains(&r.kind.as_str()))
        .map(|r| env.namespace(cx.context, r))
        .collect()
}

fn unknown_namespace(cx: &ContextCx<'_>, r: &Rendered) -> bool {
    r.namespace
        .as_ref()
        .is_some_and(|ns| match cx.env().substituted(cx.context, r, ns.clone()) {
            None => true,
            Some(v) => v.text.contains("${"),
        })
}

impl RbacServiceAccountMissing {
    /// `bound`: the ServiceAccounts (namespace, name) the build's bindings name as subjects.
    fn pods(
        &self,
        cx: &ContextCx<'_>,
        acc: &Accounts,
        bound: &BTreeSet<(String, String)>,
        out: &mut Vec<Diagnostic>,
    ) {
        for r in &cx.context.rendered {
            let Some(spec) = links::pod_spec(r) else {
                continue;
            };
            if r.patched || unknown_namespace(cx, r) {
                continue;
            }
            let (p, v) = match ["serviceAccountName", "serviceAccount"]
                .iter()
                .map(|key| {
                    (
                        at(&spec, &[k(key)]),
                        known(&cx.env(), cx.context, r, &at(&spec, &[k(key)])),
                    )
                })
                .find(|(_, v)| !matches!(v, Ok(None)))
            {
                Some((p, Ok(Some(v)))) => (p, v),
                _ => continue,
            };
            let ns = cx.env().namespace(cx.context, r);
            if v.text.is_empty() || acc.has(&ns, &v.text) {
                continue;
            }
            // Evidence that this build should define it: it binds RBAC to that name, or it
            // defines ServiceAccounts for its pods. Otherwise the account comes from
            // elsewhere (another application, a parent kustomization, the platform).
            if acc.defined.is_empty() && !bound.contains(&(ns.clone(), v.text.clone())) {
                continue;
            }
            let Some(d) = cx.diag_written(
                    &META,
                    r,
                    &p,
                    format!(
                        "the {} `{}` runs as service account `{}`, which this context does not define in namespace `{ns}`: the API server accepts the {}, but its pods are rejected (`serviceaccount \"{}\" not found`) until the ServiceAccount exists, and no RoleBinding of this context can give them permissions",
                        r.kind,
                        display_value(&r.name.text),
                        display_value(&v.text),
                        r.kind,
                        display_value(&v.text),
                    ),
                ) else {
                continue;
            };
            let mut d = d.help("add the ServiceAccount to the kustomization (or the directory) that deploys the workload, or fix the name");
            if let Some((msg, (_, _, Some(l)))) = acc.near(&ns, &v.text) {
                d = d.related(*l, msg);
            }
            out.push(d);
        }
    }

    fn subjects(
        &self,
        cx: &ContextCx<'_>,
        acc: &Accounts,
        bs: &[Binding<'_>],
        out: &mut Vec<Diagnostic>,
    ) {
        let nss = namespaces(cx);
        let env = cx.env();
        for b in bs {
            if unknown_namespace(cx, b.r) {
                continue;
            }
            for s in b.subjects.iter().filter(|s| s.kind == "ServiceAccount") {
                let Some(ns) = b.subject_namespace(s) else {
                    continue;
                };
                // Binding RBAC to the name is itself the evidence that the build means it.
                if !nss.contains(&ns) || acc.has(&ns, &s.name.text) {
                    continue;
                }
                let p = at(&s.path, &[k("name")]);
                let Some(d) = cx.diag_written(
                        &META,
                        b.r,
                        &p,
                        format!(
                            "the {} `{}` binds service account `{}` of namespace `{ns}`, which this context does not define: the binding gives its role to no pod this context runs",
                            b.kind(),
                            display_value(&b.name),
                            display_value(&s.name.text),
                        ),
                    ) else {
                    continue;
                };
                let mut d = d.help("bind the ServiceAccount the pods run as (`serviceAccountName`, `default` when unset), and define it in the same kustomization");
                if let Some((msg, (_, _, Some(l)))) = acc.near(&ns, &s.name.text) {
                    d = d.related(*l, msg);
                }
                // Pods of that namespace and the account they really run as.
                let mut n = 0;
                for r in &cx.context.rendered {
                    let Some(spec) = links::pod_spec(r) else {
                        continue;
                    };
                    if n >= 2 || env.namespace(cx.context, r) != ns {
                        continue;
                    }
                    let sa_path = at(&spec, &[k("serviceAccountName")]);
                    let sa = cx.value(r, &sa_path).map(|v| v.text);
                    let runs_as = sa.clone().unwrap_or_else(|| "default".into());
                    if runs_as == s.name.text {
                        continue;
                    }
                    let at_loc = if sa.is_some() {
                        loc_of(&cx.env(), r, &sa_path)
                    } else {
                        object_loc(&cx.env(), r)
                    };
                    if let Some(l) = at_loc {
                        d = d.related(
                            l,
                            format!(
                                "the {} `{}` runs as `{}`{}",
                                r.kind,
                                display_value(&r.name.text),
                                display_value(&runs_as),
                                if sa.is_none() {
                                    " (no serviceAccountName)"
                                } else {
                                    ""
                                }
                            ),
                        );
                        n += 1;
                    }
                }
                out.push(d);
            }
        }
    }

    fn role_refs(
        &self,
        cx: &ContextCx<'_>,
        bs: &[Binding<'_>],
        rs: &[RoleDef<'_>],
        out: &mut Vec<Diagnostic>,
    ) {
        for b in bs {
            if unknown_namespace(cx, b.r) {
                continue;
            }
            let name = &b.role_name.text;
            let defined = match b.role_kind.as_str() {
                "Role" => {
                    b.cluster
                        || rs
                            .iter()
                            .any(|r| !r.cluster && &r.name == name && r.namespace == b.namespace)
                }
                "ClusterRole" => {
                    well_known_cluster_role(name) || rs.iter().any(|r| r.cluster && &r.name == name)
                }
                _ => true,
            };
            if defined {
                continue;
            }
            let p = path::keys(&["roleRef", "name"]);
            let where_ = if b.role_kind == "Role" {
                format!(" in namespace `{}`", b.namespace)
            } else {
                String::new()
            };
            let Some(d) = cx.diag_written(
                    &META,
                    b.r,
                    &p,
                    format!(
                        "the {} `{}` refers to {} `{}`, which this context does not define{where_}: the binding grants nothing until it exists (RBAC resolves `roleRef` on every request)",
                        b.kind(),
                        display_value(&b.name),
                        b.role_kind,
                        display_value(name),
                    ),
                ) else {
                continue;
            };
            let mut d = d.help("define the role in the same kustomization, or fix `roleRef` (kind and name)");
            // A role of the other kind, or in another namespace, with that name; else the
            // closest name of the right kind.
            let want_cluster = b.role_kind == "ClusterRole";
            if let Some(r) = rs.iter().find(|r| &r.name == name)
                && let Some(l) = object_loc(&cx.env(), r.r)
            {
                let msg = if r.cluster != (b.role_kind == "ClusterRole") {
                    format!(
                        "a {} of that name exists: set `roleRef.kind: {}`",
                        r.kind(),
                        r.kind()
                    )
                } else {
                    format!(
                        "the Role `{}` is in namespace `{}`",
                        display_value(name),
                        r.namespace
                    )
                };
                d = d.related(l, msg);
            } else if let Some((_, r)) = rs
                .iter()
                .filter(|r| {
                    r.cluster == want_cluster && (want_cluster || r.namespace == b.namespace)
                })
                .map(|r| (edit_distance(&r.name, name), r))
                .filter(|(dist, r)| *dist <= 3.max(r.name.len() / 3))
                .min_by(|x, y| (x.0, &x.1.name).cmp(&(y.0, &y.1.name)))
                && let Some(l) = object_loc(&cx.env(), r.r)
            {
                d = d.related(
                    l,
                    format!("did you mean {} `{}`?", r.kind(), display_value(&r.name)),
                );
            }
            out.push(d);
        }
    }
}

impl Rule for RbacServiceAccountMissing {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        let acc = accounts(cx);
        if cx
            .context
            .rendered
            .iter()
            .any(|r| r.kind == "ServiceAccount" && r.patched)
        {
            return;
        }
        let (bs, rs) = (bindings(cx.ws, cx.context), roles(cx.ws, cx.context));
        let bound: BTreeSet<(String, String)> = bs
            .iter()
            .flatten()
            .flat_map(|b| {
                b.subjects
                    .iter()
                    .filter(|s| s.kind == "ServiceAccount")
                    .filter_map(|s| Some((b.subject_namespace(s)?, s.name.text.clone())))
            })
            .collect();
        self.pods(cx, &acc, &bound, out);
        let (Ok(bs), Ok(rs)) = (bs, rs) else {
            return;
        };
        self.subjects(cx, &acc, &bs, out);
        self.role_refs(cx, &bs, &rs, out);
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use crate::rules::testing::service_account as sa;

    const RULE: &str = "rbac-service-account-missing";

    fn deploy(sa: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: myapp, namespace: app}}\nspec:\n  template:\n    spec:\n{sa}      containers: [{{name: app, image: app:v1}}]\n"
        )
    }

    const ROLE: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: job-reader, namespace: app}\nrules: [{apiGroups: [batch], resources: [jobs], verbs: [get, list]}]\n";

    fn binding(subject: &str, role_ref: &str) -> String {
        role_binding("rb", &format!(" [{subject}]"), role_ref)
    }

    const TO_ROLE: &str = "{apiGroup: rbac.authorization.k8s.io, kind: Role, name: job-reader}";

    /// A pod running as `default`, the Role, and a binding of `subject` to `role_ref`.
    fn bound(subject: &str, role_ref: &str) -> [(&'static str, String); 3] {
        [
            ("k/deploy.yaml", deploy("")),
            ("k/role.yaml", ROLE.to_string()),
            ("k/rb.yaml", binding(subject, role_ref)),
        ]
    }

    /// A pod running as `myapp`, its ServiceAccount, the Role, and a binding of one to the other.
    fn defined() -> [(&'static str, String); 4] {
        [
            ("k/deploy.yaml", deploy("      serviceAccountName: myapp\n")),
            ("k/sa.yaml", sa("myapp", "app")),
            ("k/role.yaml", ROLE.to_string()),
            (
                "k/rb.yaml",
                binding("{kind: ServiceAccount, name: myapp}", TO_ROLE),
            ),
        ]
    }

    #[test]
    fn everything_defined_passes() {
        assert_none(RULE, &defined());
        // `default` always exists, and so do the built-in ClusterRoles.
        let files = [
            ("k/deploy.yaml", deploy("")),
            (
                "k/rb.yaml",
                binding(
                    "{kind: ServiceAccount, name: default}",
                    "{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}",
                ),
            ),
        ];
        assert_none(RULE, &files);
    }

    #[test]
    fn a_pod_service_account_not_defined() {
        let files = [
            (
                "k/deploy.yaml",
                deploy("      serviceAccountName: myapp-svc\n"),
            ),
            ("k/sa.yaml", sa("myapp-service", "app")),
        ];
        one(RULE, &files).at("myapp-svc").starts("the Deployment `myapp` runs as service account `myapp-svc`, which this context does not define in namespace `app`").related(0, "did you mean ServiceAccount `myapp-service`?").related_at(0, "myapp-service");
        // A build that neither defines ServiceAccounts nor binds RBAC to the name runs its
        // pods as an account that comes from elsewhere (hermes' `hermes`): nothing to say.
        let files = [("k/deploy.yaml", deploy("      serviceAccountName: hermes\n"))];
        assert_none(RULE, &files);
        // Binding RBAC to that name shows the build means to define it.
        let files = [
            ("k/deploy.yaml", deploy("      serviceAccountName: myapp\n")),
            ("k/role.yaml", ROLE.to_string()),
            ("k/rb.yaml", binding("{kind: ServiceAccount, name: myapp}", TO_ROLE)),
        ];
        let d = run(RULE, &files);
        assert_eq!(d.len(), 2, "{d:?}");
        // Defined, but in another namespace.
        let files = [
            ("k/deploy.yaml", deploy("      serviceAccountName: myapp\n")),
            ("k/sa.yaml", sa("myapp", "other")),
        ];
        one(RULE, &files).related(0, "the ServiceAccount `myapp` is defined in namespace `other`, not `app`");
    }

    #[test]
    fn a_subject_not_defined_names_what_the_pods_run_as() {
        let files = bound("{kind: ServiceAccount, name: myapp-service}", TO_ROLE);
        let d = one(RULE, &files).at("myapp-service").d;
        assert_eq!(
            d.message,
            "the RoleBinding `rb` binds service account `myapp-service` of namespace `app`, which this context does not define: the binding gives its role to no pod this context runs"
        );
        assert_eq!(
            d.related[0].message,
            "the Deployment `myapp` runs as `default` (no serviceAccountName)"
        );
        // A subject in a namespace the context does not deploy to is someone else's.
        let files = bound(
            "{kind: ServiceAccount, name: ci, namespace: tooling}",
            TO_ROLE,
        );
        assert_none(RULE, &files);
    }

    #[test]
    fn role_refs_not_defined() {
        let files = bound(
            "{kind: ServiceAccount, name: default}",
            "{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: job-reader}",
        );
        one(RULE, &files).at("job-reader").starts("the RoleBinding `rb` refers to ClusterRole `job-reader`, which this context does not define:").related(0, "a Role of that name exists: set `roleRef.kind: Role`");
        let files = [
            ("k/deploy.yaml", deploy("")),
            (
                "k/rb.yaml",
                binding("{kind: ServiceAccount, name: default}", TO_ROLE),
            ),
        ];
        let d = one(RULE, &files).says("Role `job-reader`, which this context does not define in namespace `app`").d;
        assert!(d.related.is_empty());
        // A near name is offered.
        let files = [
            ("k/deploy.yaml", deploy("")),
            ("k/role.yaml", ROLE.replace("job-reader", "jobs-reader")),
            (
                "k/rb.yaml",
                binding("{kind: ServiceAccount, name: default}", TO_ROLE),
            ),
        ];
        one(RULE, &files).related(0, "did you mean Role `jobs-reader`?").related_at(0, "jobs-reader");
    }

    #[test]
    fn kustomize_prefix_and_namespace_rename_consistently() {
        assert_none(RULE, &renamed_to_prod(&defined()));
    }
}
