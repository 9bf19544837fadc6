//! The migration and the app must connect to the same database: the env vars that carry the
//! connection (`DATABASE_URL` by default) must come from the same place in the migration
//! container and in the app containers that rely on it.

use super::meta::ENV_SOURCE_MISMATCH as META;
use super::{ContextCx, ObjectCx, PodOwner, Rule};
use crate::analysis::workload::{
    container_anchor, container_name, describe, field, job_links, job_migration_container, judged,
    migration_tool, node_loc,
};
use crate::base::diagnostic::{Diagnostic, Loc, Severity};
use crate::base::mask::key_for_display;
use crate::render::links::{self, Container};
use crate::render::path::Step;
use crate::render::{Rendered, Source, Value};
use std::collections::BTreeSet;

pub(crate) struct EnvSourceMismatch;

/// Where a variable's value comes from. Literal texts are compared, never printed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Src {
    Literal(String),
    Key {
        kind: &'static str,
        name: String,
        key: String,
        namespace: String,
    },
    Absent,
}

/// One container's answer for one variable: the sources it may end up with (more than one
/// when an `envFrom` object is not among the linted files), where that is defined, and how to
/// say it.
struct Side {
    outcomes: Vec<Src>,
    path: Vec<Step>,
    /// The value to explain provenance of (a reference name written by a transformer).
    value: Option<Value>,
    explicit: bool,
    has_env_from: bool,
}

/// How an `envFrom` entry relates to a variable.
enum Provides {
    Yes,
    No,
    Maybe,
}

fn placeholder(s: &str) -> bool {
    s.contains("${") || s.contains("$(")
}

/// Whether two sources certainly differ; None when that cannot be said.
fn differ(a: &Src, b: &Src) -> Option<bool> {
    match (a, b) {
        (Src::Absent, Src::Absent) => Some(false),
        (Src::Absent, _) | (_, Src::Absent) => Some(true),
        (Src::Literal(x), Src::Literal(y)) => {
            if x == y {
                Some(false)
            } else if placeholder(x) || placeholder(y) {
                None
            } else {
                Some(true)
            }
        }
        (Src::Literal(_), Src::Key { .. }) | (Src::Key { .. }, Src::Literal(_)) => Some(true),
        (a, b) => Some(a != b),
    }
}

/// Whether every way the two sides can end up differs.
fn certainly_differ(a: &Side, b: &Side) -> bool {
    a.outcomes
        .iter()
        .all(|x| b.outcomes.iter().all(|y| differ(x, y) == Some(true)))
}

/// The keys a Secret or ConfigMap of the context holds, when they can be known.
fn keys_of(
    cx: &ContextCx<'_>,
    kind: &str,
    name: &str,
    namespace: &str,
) -> Option<BTreeSet<String>> {
    let env = cx.env();
    let found: Vec<&Rendered> = cx
        .context
        .rendered
        .iter()
        .filter(|r| {
            r.api_version == "v1"
                && r.kind == kind
                && env.name(cx.context, r).is_some_and(|n| n.text == name)
                && env.namespace(cx.context, r) == namespace
        })
        .collect();
    let [r] = found.as_slice() else {
        return None;
    };
    if r.patched {
        return None;
    }
    let fields: &[&str] = if kind == "Secret" {
        &["data", "stringData"]
    } else {
        &["data", "binaryData"]
    };
    let mut keys = BTreeSet::new();
    for p in r.overrides.keys() {
        if let [Step::Key(f), Step::Key(k)] = p.as_slice()
            && fields.contains(&f.as_str())
        {
            keys.insert(k.clone());
        }
    }
    match r.source {
        Source::Object(o) => {
            let (doc, root, _) = env.doc_of(o);
            for f in fields {
                if let Some(m) = doc.get(root, f) {
                    for (k, _) in doc.entries(m) {
                        keys.insert(doc.str(k)?.to_string());
                    }
                }
            }
        }
        Source::Generated(file, d, g) => {
            let doc = cx.ws.files.get(file as usize)?.docs.get(d as usize)?;
            if ["envs", "files", "env"]
                .iter()
                .any(|k| doc.get(g, k).is_some())
            {
                return None;
            }
        }
    }
    Some(keys)
}

fn at(base: &[Step], tail: &[Step]) -> Vec<Step> {
    [base, tail].concat()
}

fn k(s: &str) -> Step {
    Step::Key(s.to_string())
}

/// Resolve `var` in container `c` of `r`; None when it cannot be known.
fn resolve(cx: &ContextCx<'_>, r: &Rendered, c: &Container, var: &str) -> Option<Side> {
    let env = cx.env();
    let namespace = env.namespace(cx.context, r);
    let env_path = field(c, &["env"]);
    let from_path = field(c, &["envFrom"]);
    let n_from = env.len(r, &from_path);
    // Explicit `env` wins over `envFrom`; of duplicate entries, the last one.
    let mut explicit = None;
    for j in 0..env.len(r, &env_path) {
        let e = at(&env_path, &[Step::Index(j)]);
        if cx
            .value(r, &at(&e, &[k("name")]))
            .is_some_and(|n| n.text == var)
        {
            explicit = Some(e);
        }
    }
    if let Some(e) = explicit {
        let value_path = at(&e, &[k("value")]);
        if env.exists(r, &value_path) || r.overrides.contains_key(&value_path) {
            let v = cx.value(r, &value_path)?;
            return Some(Side {
                outcomes: vec![Src::Literal(v.text.clone())],
                path: value_path,
                value: None,
                explicit: true,
                has_env_from: n_from > 0,
            });
        }
        let from = at(&e, &[k("valueFrom")]);
        if !env.exists(r, &from) {
            // `- name: X` alone sets X to the empty string.
            return Some(Side {
                outcomes: vec![Src::Literal(String::new())],
                path: at(&e, &[k("name")]),
                value: None,
                explicit: true,
                has_env_from: n_from > 0,
            });
        }
        for (ref_key, kind) in [("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")] {
            let rp = at(&from, &[k(ref_key)]);
            if !env.exists(r, &rp) {
                continue;
            }
            let name = cx.value(r, &at(&rp, &[k("name")]))?;
            let key = cx.value(r, &at(&rp, &[k("key")]))?;
            if placeholder(&name.text) || placeholder(&key.text) {
                return None;
            }
            return Some(Side {
                outcomes: vec![Src::Key {
                    kind,
                    name: name.text.clone(),
                    key: key.text,
                    namespace,
                }],
                path: at(&rp, &[k("name")]),
                value: Some(name),
                explicit: true,
                has_env_from: n_from > 0,
            });
        }
        // fieldRef, resourceFieldRef: not a database connection we can compare.
        return None;
    }
    // From `envFrom`: a later source wins over an earlier one for the same key.
    let mut refs = Vec::new();
    for i in 0..n_from {
        let e = at(&from_path, &[Step::Index(i)]);
        let prefix = if env.exists(r, &at(&e, &[k("prefix")])) {
            cx.value(r, &at(&e, &[k("prefix")]))?.text
        } else {
            String::new()
        };
        let Some((ref_key, kind)) = [("secretRef", "Secret"), ("configMapRef", "ConfigMap")]
            .into_iter()
            .find(|(rk, _)| env.exists(r, &at(&e, &[k(rk)])))
        else {
            continue;
        };
        let name_path = at(&e, &[k(ref_key), k("name")]);
        let name = cx.value(r, &name_path)?;
        if placeholder(&name.text) || placeholder(&prefix) {
            return None;
        }
        let Some(key) = var.strip_prefix(prefix.as_str()) else {
            continue;
        };
        let provides = match keys_of(cx, kind, &name.text, &namespace) {
            Some(keys) if keys.contains(key) => Provides::Yes,
            Some(_) => Provides::No,
            None => Provides::Maybe,
        };
        refs.push((
            provides,
            Src::Key {
                kind,
                name: name.text.clone(),
                key: key.to_string(),
                namespace: namespace.clone(),
            },
            name_path,
            name,
        ));
    }
    let mut outcomes = Vec::new();
    let mut definite = None;
    let mut maybes = 0;
    for (provides, src, p, v) in refs.iter().rev() {
        match provides {
            Provides::Yes => {
                outcomes.push(src.clone());
                definite = Some((p.clone(), v.clone()));
                break;
            }
            Provides::Maybe => {
                outcomes.push(src.clone());
                maybes += 1;
            }
            Provides::No => {}
        }
    }
    if definite.is_none() {
        outcomes.push(Src::Absent);
    }
    let (path, value) = match definite {
        Some((p, v)) if maybes == 0 => (p, Some(v)),
        _ if n_from > 0 => (from_path.clone(), None),
        _ => (Vec::new(), None),
    };
    Some(Side {
        outcomes,
        path,
        value,
        explicit: false,
        has_env_from: n_from > 0,
    })
}

fn describe_src(src: &Src, var: &str, via_env_from: bool, show_ns: bool) -> String {
    match src {
        Src::Literal(_) => format!("sets `{var}` to a literal value"),
        Src::Key {
            kind,
            name,
            key,
            namespace,
        } => {
            let ns = if show_ns {
                format!(" in namespace `{namespace}`")
            } else {
                String::new()
            };
            if via_env_from {
                format!(
                    "gets `{var}` from its envFrom {kind} `{}`{ns} (key `{}`)",
                    key_for_display(name),
                    key_for_display(key)
                )
            } else {
                format!(
                    "takes `{var}` from {kind} `{}`{ns} key `{}`",
                    key_for_display(name),
                    key_for_display(key)
                )
            }
        }
        Src::Absent => format!("does not set `{var}`"),
    }
}

fn describe_side(side: &Side, var: &str, show_ns: bool) -> String {
    let keys: Vec<&Src> = side
        .outcomes
        .iter()
        .filter(|s| !matches!(s, Src::Absent))
        .collect();
    match (keys.as_slice(), side.outcomes.len()) {
        ([one], 1) => describe_src(one, var, !side.explicit, show_ns),
        ([], _) if side.has_env_from => {
            format!("does not get `{var}`: none of its envFrom sources has that key")
        }
        ([], _) => describe_src(&Src::Absent, var, false, show_ns),
        (many, _) => {
            let names: Vec<String> = many
                .iter()
                .map(|s| match s {
                    Src::Key { kind, name, .. } => format!("{kind} `{}`", key_for_display(name)),
                    _ => String::new(),
                })
                .collect();
            format!(
                "can only get `{var}` from its envFrom {} (not all among the linted files)",
                names.join(" or ")
            )
        }
    }
}

/// What goes wrong, by which side lacks the variable.
fn consequence(app: &Side, migration: &Side) -> &'static str {
    if migration.outcomes == [Src::Absent] {
        "the migration connects with its tool's default or fails, so the schema the app expects may never reach the app's database"
    } else if app.outcomes == [Src::Absent] {
        "the migration changes the database it was given while the app connects with its own default, or not at all"
    } else {
        "the migration can succeed against one database, or with other credentials, while the app connects to another"
    }
}

/// Whether a container sets `var` itself or has `envFrom` that may.
fn mentions(cx: &ContextCx<'_>, r: &Rendered, c: &Container, var: &str) -> bool {
    let env = cx.env();
    if env.len(r, &field(c, &["envFrom"])) > 0 {
        return true;
    }
    let p = field(c, &["env"]);
    (0..env.len(r, &p)).any(|j| {
        cx.value(r, &at(&p, &[Step::Index(j), k("name")]))
            .is_some_and(|n| n.text == var)
    })
}

/// The app containers to compare: those that set the variable or have `envFrom`; if none
/// does, the first.
fn app_containers<'c>(
    cx: &ContextCx<'_>,
    r: &Rendered,
    containers: &'c [Container],
    var: &str,
) -> Vec<&'c Container> {
    let main: Vec<&Container> = containers.iter().filter(|c| !c.init).collect();
    let setting: Vec<&Container> = main
        .iter()
        .copied()
        .filter(|c| mentions(cx, r, c, var))
        .collect();
    if setting.is_empty() {
        main.into_iter().take(1).collect()
    } else {
        setting
    }
}

/// One migration container against the app containers of a workload.
struct Pair<'p, 'a> {
    app: &'a Rendered,
    app_obj: &'p ObjectCx<'a>,
    app_containers: &'p [Container],
    migration: &'a Rendered,
    migration_container: &'p Container,
    /// How to name the migration side in messages.
    migration_desc: String,
}

impl EnvSourceMismatch {
    fn compare(&self, cx: &ContextCx<'_>, p: &Pair<'_, '_>, out: &mut Vec<Diagnostic>) {
        let env = cx.env();
        let show_ns = env.namespace(cx.context, p.app) != env.namespace(cx.context, p.migration);
        // Different envFrom sources are reported once per app container, whatever the number
        // of database variables.
        let mut env_from_reported: BTreeSet<(bool, usize)> = BTreeSet::new();
        for var in &cx.ws.options.database_env {
            let var_shown = key_for_display(var);
            let Some(mig) = resolve(cx, p.migration, p.migration_container, var) else {
                continue;
            };
            for ac in app_containers(cx, p.app, p.app_containers, var) {
                let Some(app) = resolve(cx, p.app, ac, var) else {
                    continue;
                };
                if !certainly_differ(&app, &mig) {
                    if let Some(d) = self.different_env_from(cx, p, ac, (&app, &mig), &var_shown)
                        && env_from_reported.insert((ac.init, ac.index))
                    {
                        out.push(d);
                    }
                    continue;
                }
                let app_desc = describe_side(&app, &var_shown, show_ns);
                let mig_desc = match (&app.outcomes[..], &mig.outcomes[..]) {
                    ([Src::Literal(_)], [Src::Literal(_)]) => {
                        format!("sets `{var_shown}` to a different literal value")
                    }
                    _ => describe_side(&mig, &var_shown, show_ns),
                };
                let message = format!(
                    "container `{}` of {} {app_desc}, but {} {mig_desc}: {}",
                    container_name(ac),
                    describe(&cx.env(), cx.context, p.app),
                    p.migration_desc,
                    consequence(&app, &mig)
                );
                let loc = self.side_loc(cx, p.app, ac, &app);
                let mut d = p
                    .app_obj
                    .diag_at(&META, loc, crate::render::path::display(&self.side_path(ac, &app)), message)
                    .help(format!(
                        "take `{var_shown}` from the same place in both containers: the same Secret key (`valueFrom.secretKeyRef`) or the same `envFrom` Secret, in the same namespace"
                    ));
                if let Some(v) = &app.value {
                    d = cx.provenance(d, v, loc);
                }
                let mig_loc = self.side_loc(cx, p.migration, p.migration_container, &mig);
                let related = if mig.outcomes == [Src::Absent] && !mig.has_env_from {
                    format!("the migration container sets no `{var_shown}`")
                } else {
                    format!("the migration's `{var_shown}` is defined here")
                };
                out.push(d.related(mig_loc, related));
            }
        }
    }

    /// Neither container sets `var` explicitly, and the `envFrom` sources that may provide it
    /// (Secrets or ConfigMaps whose contents are not among the linted files) differ on the two
    /// sides, with none in common: a warning naming both, since the values cannot be compared.
    fn different_env_from(
        &self,
        cx: &ContextCx<'_>,
        p: &Pair<'_, '_>,
        ac: &Container,
        (app, mig): (&Side, &Side),
        var_shown: &str,
    ) -> Option<Diagnostic> {
        if app.explicit || mig.explicit || !app.has_env_from || !mig.has_env_from {
            return None;
        }
        let sources = |s: &Side| -> BTreeSet<(&'static str, String, String)> {
            s.outcomes
                .iter()
                .filter_map(|o| match o {
                    Src::Key {
                        kind,
                        name,
                        namespace,
                        ..
                    } => Some((*kind, name.clone(), namespace.clone())),
                    _ => None,
                })
                .collect()
        };
        // Of one kind (Secrets, or ConfigMaps), each side loads some and none in common: a
        // ConfigMap of shared settings beside two different Secrets still counts.
        let of_kind = |set: BTreeSet<(&'static str, String, String)>, kind: &str| {
            set.into_iter()
                .filter(|(k, _, _)| *k == kind)
                .collect::<BTreeSet<_>>()
        };
        let (a, m) = ["Secret", "ConfigMap"]
            .into_iter()
            .map(|kind| (of_kind(sources(app), kind), of_kind(sources(mig), kind)))
            .find(|(a, m)| !a.is_empty() && !m.is_empty() && a.is_disjoint(m))?;
        let list = |set: &BTreeSet<(&'static str, String, String)>| {
            set.iter()
                .map(|(kind, name, _)| format!("{kind} `{}`", key_for_display(name)))
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let message = format!(
            "container `{}` of {} loads {} through envFrom, but {} loads {} instead, and neither sets `{var_shown}` explicitly: when `{var_shown}` comes from those objects (their contents are not among the linted files), the migration may change one database, or use other credentials, while the app connects to another",
            container_name(ac),
            describe(&cx.env(), cx.context, p.app),
            list(&a),
            p.migration_desc,
            list(&m),
        );
        let loc = self.side_loc(cx, p.app, ac, app);
        let d = p
            .app_obj
            .diag_at(
                &META,
                loc,
                crate::render::path::display(&self.side_path(ac, app)),
                message,
            )
            .severity(Severity::Warning)
            .help(format!(
                "load the same Secret or ConfigMap in both containers (`envFrom`), or take `{var_shown}` from the same Secret key (`valueFrom.secretKeyRef`) in both; if the two objects really hold the same connection, suppress this finding"
            ));
        let mig_loc = self.side_loc(cx, p.migration, p.migration_container, mig);
        Some(d.related(mig_loc, format!("the migration's envFrom: {}", list(&m))))
    }

    fn side_path(&self, c: &Container, side: &Side) -> Vec<Step> {
        if side.path.is_empty() {
            c.path()
        } else {
            side.path.clone()
        }
    }

    fn side_loc(&self, cx: &ContextCx<'_>, r: &Rendered, c: &Container, side: &Side) -> Loc {
        if side.path.is_empty() {
            return container_anchor(&cx.env(), r, c, "env");
        }
        let p = &side.path;
        // envFrom as a whole: its key.
        if p.len() == c.path().len() + 1
            && let Some(Step::Key(f)) = p.last()
        {
            return container_anchor(&cx.env(), r, c, f);
        }
        crate::render::links::value_loc(&cx.env(), r, p, side.value.as_ref())
            .or_else(|| node_loc(&cx.env(), r, p))
            .unwrap_or_else(|| container_anchor(&cx.env(), r, c, "env"))
    }
}

impl Rule for EnvSourceMismatch {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        if !judged(cx.ws, cx.context) {
            return;
        }
        let env = cx.env();
        // A migration Job and the workloads waiting for it.
        for l in job_links(cx.ws, cx.context) {
            if l.app.patched || l.job.patched {
                continue;
            }
            let job_containers = links::containers(&env, cx.context, l.job);
            let Some(mc) = job_migration_container(&job_containers) else {
                continue;
            };
            let app_containers = links::containers(&env, cx.context, l.app);
            let app_obj = ObjectCx::new(cx.ws, l.app_obj);
            let pair = Pair {
                app: l.app,
                app_obj: &app_obj,
                app_containers: &app_containers,
                migration: l.job,
                migration_container: mc,
                migration_desc: format!(
                    "the migration {} (container `{}`) it waits for",
                    describe(&cx.env(), cx.context, l.job),
                    container_name(mc)
                ),
            };
            self.compare(cx, &pair, out);
        }
        // A migration init container and the app containers of the same pod.
        for PodOwner { r, ocx, .. } in cx.pod_owners() {
            let containers = links::containers(&env, cx.context, r);
            for mc in containers.iter().filter(|c| c.init) {
                if migration_tool(mc).is_none() {
                    continue;
                }
                let pair = Pair {
                    app: r,
                    app_obj: &ocx,
                    app_containers: &containers,
                    migration: r,
                    migration_container: mc,
                    migration_desc: format!(
                        "the migration init container `{}` of the same pod",
                        container_name(mc)
                    ),
                };
                self.compare(cx, &pair, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::diagnostic::Diagnostic;
    use crate::rules::testing::*;

    const RULE: &str = "env-source-mismatch";

    fn job(env: &str) -> String {
        let containers = format!("{}{env}", migrate_container("myapp-migration:v1"));
        Job::default().containers(&containers).yaml()
    }

    fn deploy(env: &str) -> String {
        let init = wait_for("wait-for-migration", WAIT_V1);
        let d = Deploy::default()
            .init(&init)
            .app("service")
            .image("myapp:v1");
        d.app_extra(env).yaml()
    }

    /// The Job and the Deployment files of a test.
    fn pair<'a>(job: &'a str, deploy: &'a str) -> [(&'static str, &'a str); 2] {
        [("k/job.yaml", job), ("k/deploy.yaml", deploy)]
    }

    /// The Job whose migration container has `env`, the Deployment whose app takes
    /// `DATABASE_URL` from Secret `app-db` key `url`, and the rule's findings in the two.
    fn against_app_db(env: &str) -> (String, String, Vec<Diagnostic>) {
        let (j, d) = (job(env), deploy(&secret_ref("app-db", "url")));
        let found = run(RULE, &pair(&j, &d));
        (j, d, found)
    }

    fn secret_ref(name: &str, key: &str) -> String {
        format!(
            "          env:\n            - name: DATABASE_URL\n              valueFrom:\n                secretKeyRef:\n                  name: {name}\n                  key: {key}\n"
        )
    }

    #[test]
    fn different_secrets_point_at_the_app_side() {
        let (j, d, diags) = against_app_db(&secret_ref("migration-db", "url"));
        assert_eq!(diags.len(), 1, "{diags:?}");
        let x = &diags[0];
        assert_eq!(&d[x.loc.span.range()], "app-db");
        assert_eq!(
            x.message,
            "container `service` of Deployment `myapp` takes `DATABASE_URL` from Secret `app-db` key `url`, but the migration Job `myapp-migration-v1` (container `migrate`) it waits for takes `DATABASE_URL` from Secret `migration-db` key `url`: the migration can succeed against one database, or with other credentials, while the app connects to another"
        );
        assert_eq!(x.related.len(), 1);
        assert_eq!(&j[x.related[0].loc.span.range()], "migration-db");
        assert_eq!(
            x.path.as_deref(),
            Some("spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name")
        );
    }

    #[test]
    fn different_keys_of_the_same_secret() {
        let j = job(&secret_ref("db", "migration_url"));
        let d = deploy(&secret_ref("db", "url"));
        let diags = run(RULE, &pair(&j, &d));
        assert_one_saying(&diags, "key `migration_url`");
    }

    #[test]
    fn literal_against_reference_never_prints_the_value() {
        let (j, _, diags) = against_app_db(
            "          env:\n            - name: DATABASE_URL\n              value: postgres://admin:hunter2@db:5432/app\n",
        );
        assert_eq!(diags.len(), 1, "{diags:?}");
        let x = &diags[0];
        assert_contains(&x.message, "sets `DATABASE_URL` to a literal value");
        assert!(!x.message.contains("hunter2") && !x.help.as_ref().unwrap().contains("hunter2"));
        assert!(x.related.iter().all(|r| !r.message.contains("hunter2")));
        assert_eq!(
            &j[x.related[0].loc.span.range()],
            "postgres://admin:hunter2@db:5432/app"
        );
    }

    #[test]
    fn two_literals_compare_without_printing() {
        let lit = |v: &str| {
            format!("          env:\n            - name: DATABASE_URL\n              value: {v}\n")
        };
        let j = job(&lit("postgres://a:one@db/app"));
        let same = deploy(&lit("postgres://a:one@db/app"));
        assert_none(RULE, &pair(&j, &same));
        let other = deploy(&lit("postgres://a:two@db/app"));
        let diags = run(RULE, &pair(&j, &other));
        assert_one_saying(&diags, "to a different literal value");
        assert!(!diags[0].message.contains("one@") && !diags[0].message.contains("two@"));
        assert_eq!(&other[diags[0].loc.span.range()], "postgres://a:two@db/app");
    }

    #[test]
    fn matching_env_from_passes_and_env_from_matches_a_key_ref() {
        let ef =
            "          envFrom:\n            - secretRef:\n                name: myapp-secrets\n";
        let j = job(ef);
        assert_none(RULE, &pair(&j, &deploy(ef)));
        // envFrom Secret `myapp-secrets` provides DATABASE_URL from key DATABASE_URL.
        let by_key = deploy(&secret_ref("myapp-secrets", "DATABASE_URL"));
        assert_none(RULE, &pair(&j, &by_key));
    }

    #[test]
    fn env_from_with_unknown_contents_against_another_secret() {
        let (_, _, diags) = against_app_db(
            "          envFrom:\n            - secretRef:\n                name: myapp-secrets\n",
        );
        assert_one_saying(
            &diags,
            "can only get `DATABASE_URL` from its envFrom Secret `myapp-secrets`",
        );
    }

    #[test]
    fn different_env_from_sources_with_unknown_contents_are_a_warning() {
        use crate::base::diagnostic::Severity;
        let ef = |names: &[(&str, &str)]| {
            let mut s = "          envFrom:\n".to_string();
            for (kind, name) in names {
                s.push_str(&format!("            - {kind}:\n                name: {name}\n"));
            }
            s
        };
        let j = job(&ef(&[
            ("configMapRef", "myapp-config"),
            ("secretRef", "myapp-secrets"),
        ]));
        // A shared ConfigMap, different Secrets: a warning naming both Secrets, once.
        let d = deploy(&ef(&[
            ("configMapRef", "myapp-config"),
            ("secretRef", "myapp-secrets-v2"),
        ]));
        let diags = run(RULE, &pair(&j, &d));
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].severity, Severity::Warning);
        assert_contains(&diags[0].message, "Secret `myapp-secrets-v2`");
        assert_contains(&diags[0].message, "loads Secret `myapp-secrets` instead");
        assert_eq!(&d[diags[0].loc.span.range()], "envFrom");
        // The same Secret on both sides, or one Secret in common: nothing to say.
        let same = deploy(&ef(&[("secretRef", "myapp-secrets")]));
        assert_none(RULE, &pair(&j, &same));
        let both = deploy(&ef(&[
            ("secretRef", "myapp-secrets"),
            ("secretRef", "extra"),
        ]));
        assert_none(RULE, &pair(&j, &both));
        // Different ConfigMaps count the same way.
        let cm = deploy(&ef(&[("configMapRef", "other-config")]));
        let diags = run(RULE, &pair(&j, &cm));
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_contains(&diags[0].message, "loads ConfigMap `myapp-config` instead");
        // A Secret on one side, a ConfigMap on the other: kinds are compared with their own.
        let only_secret = job(&ef(&[("secretRef", "myapp-secrets")]));
        assert_none(RULE, &pair(&only_secret, &cm));
    }

    #[test]
    fn env_from_with_known_contents() {
        let j = job(
            "          envFrom:\n            - secretRef:\n                name: migration-secrets\n",
        );
        let d = deploy(
            "          envFrom:\n            - secretRef:\n                name: app-secrets\n",
        );
        let secrets = "apiVersion: v1\nkind: Secret\nmetadata: {name: migration-secrets}\nstringData:\n  DATABASE_URL: x\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: app-secrets}\nstringData:\n  DATABASE_URL: y\n";
        let diags = run_unchecked(
            RULE,
            &[
                ("k/job.yaml", &j),
                ("k/deploy.yaml", &d),
                ("k/s.yaml", &secrets.to_string()),
            ],
        );
        assert_single(&diags, &d, "app-secrets");
        assert_contains(
            &diags[0].message,
            "gets `DATABASE_URL` from its envFrom Secret `app-secrets` (key `DATABASE_URL`)",
        );
        // The app's Secret lacks the key: the app does not get it at all.
        let secrets2 = secrets.replace("  DATABASE_URL: y", "  OTHER: y");
        let diags = run_unchecked(
            RULE,
            &[
                ("k/job.yaml", &j),
                ("k/deploy.yaml", &d),
                ("k/s.yaml", &secrets2),
            ],
        );
        assert_single(&diags, &d, "envFrom");
        assert_contains(&diags[0].message, "none of its envFrom sources has that key");
    }

    #[test]
    fn prefixed_env_from() {
        let j = job(
            "          envFrom:\n            - prefix: DATABASE_\n              secretRef:\n                name: db\n",
        );
        let d = deploy(&secret_ref("db", "URL"));
        assert_none(RULE, &pair(&j, &d));
        let d = deploy(&secret_ref("db", "DATABASE_URL"));
        assert_eq!(
            run(RULE, &pair(&j, &d)).len(),
            1
        );
    }

    #[test]
    fn absent_on_one_side() {
        // The app sets it, the migration neither sets it nor has envFrom.
        let (j, _, diags) = against_app_db("");
        assert_one_saying(&diags, "does not set `DATABASE_URL`");
        assert_contains(&diags[0].message, "connects with its tool's default or fails");
        assert_eq!(
            diags[0].related[0].message,
            "the migration container sets no `DATABASE_URL`"
        );
        assert_eq!(&j[diags[0].related[0].loc.span.range()], "name");
        // Neither sets it: nothing to compare.
        assert_none(RULE, &pair(&j, &deploy("")));
        // The migration has envFrom of unknown contents and the app has nothing: cannot say.
        let j = job("          envFrom:\n            - secretRef: {name: s}\n");
        assert_none(RULE, &pair(&j, &deploy("")));
    }

    #[test]
    fn kustomize_renames_are_followed() {
        let ef = "          envFrom:\n            - secretRef:\n                name: db\n";
        let k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamePrefix: prod-\nresources: [job.yaml, deploy.yaml, s.yaml]\n";
        let s =
            "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {DATABASE_URL: x}\n";
        // The init arg is not a name reference: keep it matching the prefixed Job name.
        let d = deploy(ef).replace(
            "job-wr, myapp-migration-v1",
            "job-wr, prod-myapp-migration-v1",
        );
        let files = [
            ("k/job.yaml", job(ef)),
            ("k/deploy.yaml", d),
            ("k/s.yaml", s.to_string()),
            ("k/kustomization.yaml", k.to_string()),
        ];
        assert_none(RULE, &files);
    }

    #[test]
    fn different_namespaces_are_different_secrets() {
        let ef = "          envFrom:\n            - secretRef:\n                name: db\n";
        let s = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: NS}\nstringData: {DATABASE_URL: x}\n";
        let j = job(ef).replace(
            "name: myapp-migration-v1",
            "name: myapp-migration-v1\n  namespace: jobs",
        );
        let d = deploy(ef)
            .replace("name: myapp\n", "name: myapp\n  namespace: app\n")
            .replace(
                "job-wr, myapp-migration-v1",
                "job-wr, myapp-migration-v1, -n, jobs",
            );
        let files = [
            ("k/job.yaml", j),
            ("k/deploy.yaml", d),
            ("k/s1.yaml", s.replace("NS", "jobs")),
            ("k/s2.yaml", s.replace("NS", "app")),
        ];
        one(RULE, &files).says("Secret `db` in namespace `app`").says("Secret `db` in namespace `jobs`");
    }

    #[test]
    fn init_container_variant() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: migrate\n          image: app:v1\n          command: [npm, run, migrate]\n          envFrom:\n            - secretRef: {name: migrate-db}\n      containers:\n        - name: web\n          image: app:v1\n          envFrom:\n            - secretRef: {name: web-db}\n        - name: proxy\n          image: cloud-sql-proxy:2\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: migrate-db}\nstringData: {DATABASE_URL: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: web-db}\nstringData: {DATABASE_URL: b}\n";
        let diags = run(RULE, &[("k/web.yaml", text)]);
        assert_single(&diags, text, "web-db");
        assert_starts_with(&diags[0].message, "container `web` of Deployment `web` gets");
        assert_contains(
            &diags[0].message,
            "the migration init container `migrate` of the same pod",
        );
    }

    #[test]
    fn unknown_values_are_skipped() {
        let j = job(&secret_ref("${DB_SECRET}", "url"));
        let d = deploy(&secret_ref("app-db", "url"));
        assert_none(RULE, &pair(&j, &d));
        let field = "          env:\n            - name: DATABASE_URL\n              valueFrom:\n                fieldRef: {fieldPath: metadata.name}\n";
        assert_none(RULE, &pair(&job(field), &d));
    }

    #[test]
    fn configured_variable_names() {
        use crate::engine::Settings;
        use crate::rules::testing::lint_files_with;
        let lit = |n: &str, v: &str| {
            format!("          env:\n            - name: {n}\n              value: {v}\n")
        };
        let j = job(&lit("DB_URL", "a"));
        let d = deploy(&lit("DB_URL", "b"));
        let files = [("k/job.yaml", j.as_str()), ("k/deploy.yaml", d.as_str())];
        assert_none(RULE, &files);
        let settings = Settings {
            database_env: vec!["DB_URL".into()],
            ..Settings::default()
        };
        let diags: Vec<_> = lint_files_with(&files, &settings)
            .into_iter()
            .filter(|d| d.rule == RULE)
            .collect();
        assert_eq!(diags.len(), 1);
    }
}
