//! The RBAC a context renders: its RoleBindings and ClusterRoleBindings with their subjects,
//! its Roles and ClusterRoles with their rules, and which role a binding refers to (one the
//! context defines, or a ClusterRole every cluster has). `rbac-job-read-missing` asks what it
//! grants a wait's ServiceAccount on jobs; `rbac-service-account-missing` what it names that
//! the context does not define.

use crate::base::diagnostic::Loc;
use crate::render::links;
use crate::render::path::{self, Concrete, Step};
use crate::render::workspace::Workspace;
use crate::render::{Context, Env, Rendered, Value};
use std::ops::Deref;
use std::sync::OnceLock;

pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io/";

/// ClusterRoles every cluster has that grant `get`/`list`/`watch` on jobs.batch.
pub const DEFAULT_JOB_READERS: &[&str] = &["view", "edit", "admin", "cluster-admin"];

/// Whether a ClusterRole of this name exists in every cluster.
pub fn well_known_cluster_role(name: &str) -> bool {
    DEFAULT_JOB_READERS.contains(&name) || name.starts_with("system:")
}

pub fn k(s: &str) -> Step {
    Step::Key(s.to_string())
}

pub fn at(base: &[Step], rest: &[Step]) -> Concrete {
    [base, rest].concat()
}

/// A value of a rendered object: `Ok(None)` when absent, `Err(())` when it cannot be known
/// (a placeholder left, or a Flux substitution we could not read).
#[allow(clippy::result_unit_err)]
pub fn known(
    env: &Env<'_>,
    context: &Context,
    r: &Rendered,
    p: &[Step],
) -> Result<Option<Value>, ()> {
    match env.raw_value(r, p) {
        None => Ok(None),
        Some(_) => match env.value(context, r, p) {
            Some(v) if !v.text.contains("${") => Ok(Some(v)),
            _ => Err(()),
        },
    }
}

pub fn is_rbac(r: &Rendered, kind: &str) -> bool {
    r.kind == kind && r.api_version.starts_with(RBAC_GROUP)
}

/// A subject of a binding.
#[derive(Debug, Clone)]
pub struct Subject {
    pub kind: String,
    pub name: Value,
    /// As written (or as kustomize's namespace transformer set it).
    pub namespace: Option<String>,
    pub path: Concrete,
}

/// An RBAC object of a context as the rules see it: the rendered object, and what was read
/// from it (whose fields and methods reach through: `b.cluster`, `b.binds(…)`). What was
/// read is kept once per context by the per-run cache, which holds no references.
#[derive(Debug)]
pub struct InContext<'a, T> {
    pub r: &'a Rendered,
    read: &'a T,
}

impl<T> Clone for InContext<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for InContext<'_, T> {}

impl<T> Deref for InContext<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.read
    }
}

/// The cached objects of a context (by index in `Context::rendered`), as the rules see them.
fn in_context<'a, T>(
    cached: &'a Result<Vec<(usize, T)>, ()>,
    context: &'a Context,
) -> Result<Vec<InContext<'a, T>>, ()> {
    let cached = cached.as_ref().map_err(|_| ())?;
    Ok(cached
        .iter()
        .map(|(ri, read)| InContext {
            r: &context.rendered[*ri],
            read,
        })
        .collect())
}

/// A RoleBinding or ClusterRoleBinding as rendered.
pub type Binding<'a> = InContext<'a, BindingRead>;

/// What a binding says.
#[derive(Debug, Clone)]
pub struct BindingRead {
    pub cluster: bool,
    /// The binding's namespace (RoleBinding).
    pub namespace: String,
    pub name: String,
    pub role_kind: String,
    pub role_name: Value,
    pub subjects: Vec<Subject>,
}

impl BindingRead {
    /// The namespace a ServiceAccount subject names (empty in a RoleBinding: the binding's).
    pub fn subject_namespace(&self, s: &Subject) -> Option<String> {
        match (&s.namespace, self.cluster) {
            (Some(ns), _) if !ns.is_empty() => Some(ns.clone()),
            (_, false) => Some(self.namespace.clone()),
            (_, true) => None,
        }
    }

    /// The subject through which the binding applies to service account `sa` of namespace
    /// `ns`, if it does.
    pub fn binds(&self, sa: &str, ns: &str) -> Option<&Subject> {
        self.subjects.iter().find(|s| match s.kind.as_str() {
            "ServiceAccount" => {
                s.name.text == sa && self.subject_namespace(s).as_deref() == Some(ns)
            }
            "Group" => {
                s.name.text == "system:serviceaccounts"
                    || s.name.text == format!("system:serviceaccounts:{ns}")
                    || s.name.text == "system:authenticated"
            }
            "User" => s.name.text == format!("system:serviceaccount:{ns}:{sa}"),
            _ => false,
        })
    }

    pub fn kind(&self) -> &'static str {
        if self.cluster {
            "ClusterRoleBinding"
        } else {
            "RoleBinding"
        }
    }
}

/// Bindings of a context; `Err` when one of them cannot be read (patched, or a value unknown).
/// Read once per context.
#[allow(clippy::result_unit_err)]
pub fn bindings<'a>(ws: &'a Workspace, context: &'a Context) -> Result<Vec<Binding<'a>>, ()> {
    in_context(&cached(ws, context).bindings, context)
}

/// Roles and ClusterRoles of a context; `Err` when one of them cannot be read. Read once per
/// context.
#[allow(clippy::result_unit_err)]
pub fn roles<'a>(ws: &'a Workspace, context: &'a Context) -> Result<Vec<RoleDef<'a>>, ()> {
    in_context(&cached(ws, context).roles, context)
}

/// The RBAC of one context as the per-run cache keeps it: each object by its index in
/// `Context::rendered`, with what was read from it.
pub(super) struct Cached {
    bindings: Result<Vec<(usize, BindingRead)>, ()>,
    roles: Result<Vec<(usize, RoleRead)>, ()>,
}

fn cached<'w>(ws: &'w Workspace, context: &Context) -> &'w Cached {
    let slots = ws
        .memo::<super::PerRun>()
        .rbac
        .get_or_init(|| ws.contexts.iter().map(|_| OnceLock::new()).collect());
    slots[context.index].get_or_init(|| Cached {
        bindings: read_bindings(ws, context),
        roles: read_roles(ws, context),
    })
}

/// The context's `kind` and `Cluster{kind}` objects: (index, object, cluster-scoped, name).
/// `Err` when one was patched or its name is unknown: its RBAC cannot be read.
fn rbac_objects<'c>(
    ws: &Workspace,
    context: &'c Context,
    kind: &str,
) -> Result<Vec<(usize, &'c Rendered, bool, String)>, ()> {
    let env = ws.env();
    let cluster_kind = format!("Cluster{kind}");
    let mut out = Vec::new();
    for (ri, r) in context.rendered.iter().enumerate() {
        let cluster = is_rbac(r, &cluster_kind);
        if !cluster && !is_rbac(r, kind) {
            continue;
        }
        if r.patched {
            return Err(());
        }
        out.push((ri, r, cluster, env.name(context, r).ok_or(())?.text));
    }
    Ok(out)
}

fn read_bindings(ws: &Workspace, context: &Context) -> Result<Vec<(usize, BindingRead)>, ()> {
    let env = ws.env();
    let mut out = Vec::new();
    for (ri, r, cluster, name) in rbac_objects(ws, context, "RoleBinding")? {
        let role_kind = known(&env, context, r, &path::keys(&["roleRef", "kind"]))?
            .map(|v| v.text)
            .unwrap_or_default();
        let Some(role_name) = known(&env, context, r, &path::keys(&["roleRef", "name"]))? else {
            continue;
        };
        let mut subjects = Vec::new();
        for i in 0..env.len(r, &path::keys(&["subjects"])) {
            let base = vec![k("subjects"), Step::Index(i)];
            let kind = known(&env, context, r, &at(&base, &[k("kind")]))?
                .map(|v| v.text)
                .unwrap_or_default();
            let Some(name) = known(&env, context, r, &at(&base, &[k("name")]))? else {
                continue;
            };
            let namespace = known(&env, context, r, &at(&base, &[k("namespace")]))?.map(|v| v.text);
            subjects.push(Subject {
                kind,
                name,
                namespace,
                path: base,
            });
        }
        let binding = BindingRead {
            cluster,
            namespace: env.namespace(context, r),
            name,
            role_kind,
            role_name,
            subjects,
        };
        out.push((ri, binding));
    }
    Ok(out)
}

/// One `rules:` entry of a Role or ClusterRole.
#[derive(Debug, Clone)]
pub struct PolicyRule {
    pub path: Concrete,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
    pub resource_names: Vec<String>,
}

impl PolicyRule {
    /// Whether the rule is about jobs.batch at all.
    pub fn covers_jobs(&self) -> bool {
        self.api_groups.iter().any(|g| g == "batch" || g == "*")
            && self.resources.iter().any(|r| r == "jobs" || r == "*")
    }

    pub fn allows(&self, verb: &str) -> bool {
        self.covers_jobs() && self.verbs.iter().any(|v| v == verb || v == "*")
    }
}

/// A Role or ClusterRole as rendered.
pub type RoleDef<'a> = InContext<'a, RoleRead>;

/// What a role says.
#[derive(Debug, Clone)]
pub struct RoleRead {
    pub cluster: bool,
    pub namespace: String,
    pub name: String,
    pub rules: Vec<PolicyRule>,
    /// An aggregated ClusterRole: the controller fills its rules in from other ClusterRoles.
    pub aggregated: bool,
}

impl RoleRead {
    pub fn kind(&self) -> &'static str {
        if self.cluster { "ClusterRole" } else { "Role" }
    }
}

fn read_roles(ws: &Workspace, context: &Context) -> Result<Vec<(usize, RoleRead)>, ()> {
    let env = ws.env();
    let mut out = Vec::new();
    for (ri, r, cluster, name) in rbac_objects(ws, context, "Role")? {
        let list = |base: &[Step], key: &str| -> Result<Vec<String>, ()> {
            let p = at(base, &[k(key)]);
            (0..env.len(r, &p))
                .map(|j| {
                    known(&env, context, r, &at(&p, &[Step::Index(j)]))
                        .map(|v| v.map(|v| v.text).unwrap_or_default())
                })
                .collect()
        };
        let mut rules = Vec::new();
        for i in 0..env.len(r, &path::keys(&["rules"])) {
            let base = vec![k("rules"), Step::Index(i)];
            rules.push(PolicyRule {
                api_groups: list(&base, "apiGroups")?,
                resources: list(&base, "resources")?,
                verbs: list(&base, "verbs")?,
                resource_names: list(&base, "resourceNames")?,
                path: base,
            });
        }
        let role = RoleRead {
            cluster,
            namespace: env.namespace(context, r),
            name,
            rules,
            aggregated: env.exists(r, &path::keys(&["aggregationRule"])),
        };
        out.push((ri, role));
    }
    Ok(out)
}

/// The role a binding refers to: `Ok(Some)` defined in the context, `Ok(None)` a well-known
/// ClusterRole (`view`, `edit`, `system:...`), `Err` when the context does not define it.
#[allow(clippy::result_unit_err)]
pub fn role_of<'r, 'a>(
    b: &Binding<'_>,
    roles: &'r [RoleDef<'a>],
) -> Result<Option<&'r RoleDef<'a>>, ()> {
    let found = roles.iter().find(|ro| match b.role_kind.as_str() {
        "Role" => {
            !ro.cluster && !b.cluster && ro.name == b.role_name.text && ro.namespace == b.namespace
        }
        "ClusterRole" => ro.cluster && ro.name == b.role_name.text,
        _ => false,
    });
    match found {
        Some(ro) => Ok(Some(ro)),
        None if b.role_kind == "ClusterRole" && well_known_cluster_role(&b.role_name.text) => {
            Ok(None)
        }
        None => Err(()),
    }
}

pub fn loc_of(env: &Env<'_>, r: &Rendered, p: &[Step]) -> Option<Loc> {
    links::value_loc(env, r, p, None)
}

/// Where to point for an object as a whole: its name, else its kind.
pub fn object_loc(env: &Env<'_>, r: &Rendered) -> Option<Loc> {
    loc_of(env, r, &path::keys(&["metadata", "name"])).or_else(|| loc_of(env, r, &[k("kind")]))
}
