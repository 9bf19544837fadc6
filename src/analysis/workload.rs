//! What the workload rules share: which contexts judge rendered values, the migration Jobs and
//! the workloads whose k8s-wait-for init container awaits them, migration init containers, and
//! locations of container fields.

use super::migration_job;
use crate::base::diagnostic::Loc;
use crate::model::Object;
use crate::model::migration::{image_repository, mentions_migration, migration_command};
use crate::render::links::{self, Container};
use crate::render::path::{self, Step};
use crate::render::workspace::Workspace;
use crate::render::{Context, Env, Rendered};
use std::sync::OnceLock;

/// Whether this context judges rendered values. A kustomization that another linted
/// kustomization includes is a base: it is judged as its including overlay renders it (an
/// overlay commonly sets the image tag, the replicas or the namespace), unless a Flux
/// Kustomization deploys the base itself.
pub(crate) fn judged(ws: &Workspace, context: &Context) -> bool {
    let Some(root) = context.root else {
        return true;
    };
    if context.flux.is_some() {
        return true;
    }
    !ws.contexts
        .iter()
        .any(|o| o.root.is_some() && o.root != Some(root) && o.kustomizations.contains(&root))
}

/// Whether an object's fields can be read: a known kind whose typed view failed has a
/// `schema-invalid` finding, and the workload rules leave it alone.
pub(crate) fn readable(obj: &Object) -> bool {
    !matches!(obj.typed, crate::model::Typed::Invalid)
}

/// A migration Job and a workload whose k8s-wait-for init container awaits it.
pub(crate) struct JobLink<'a> {
    pub(crate) app: &'a Rendered,
    pub(crate) app_obj: &'a Object,
    pub(crate) job: &'a Rendered,
    pub(crate) job_obj: &'a Object,
}

/// Every (waiting workload, awaited migration Job) pair of a context, found once per context
/// (three workload rules ask for them).
pub(crate) fn job_links<'a>(ws: &'a Workspace, context: &'a Context) -> Vec<JobLink<'a>> {
    let slots = ws
        .memo::<super::PerRun>()
        .job_links
        .get_or_init(|| ws.contexts.iter().map(|_| OnceLock::new()).collect());
    slots[context.index]
        .get_or_init(|| link_indices(ws, context))
        .iter()
        .map(|&(a, ao, j, jo)| JobLink {
            app: &context.rendered[a],
            app_obj: &ws.objects[ao],
            job: &context.rendered[j],
            job_obj: &ws.objects[jo],
        })
        .collect()
}

/// The pairs of a context as indices: (app rendered, app object, job rendered, job object).
pub(super) type LinkIndices = Vec<(usize, usize, usize, usize)>;

fn link_indices(ws: &Workspace, context: &Context) -> LinkIndices {
    let jobs = ws.jobs(context);
    let mut out = Vec::new();
    for w in ws.wait_fors(context) {
        if !w.is_job_mode() || w.is_selector() {
            continue;
        }
        let app = &context.rendered[w.rendered];
        let Some(ao) = app.object() else { continue };
        for j in links::awaited(w, jobs) {
            let job = &context.rendered[j.rendered];
            let Some(jo) = job.object() else { continue };
            let job_obj = &ws.objects[jo as usize];
            let app_obj = &ws.objects[ao as usize];
            if migration_job(ws, job_obj).is_none() || !readable(job_obj) || !readable(app_obj) {
                continue;
            }
            out.push((w.rendered, ao as usize, j.rendered, jo as usize));
        }
    }
    out
}

/// Whether a container is a k8s-wait-for container.
pub(crate) fn is_wait_for(c: &Container) -> bool {
    c.image
        .as_ref()
        .is_some_and(|i| links::is_wait_for_image(&i.text))
}

/// Words that make a command a check or a wait rather than a migration
/// (`manage.py migrate --check`, `prisma migrate status`, `kubectl wait`).
const NOT_A_RUN: &[&str] = &[
    "--check",
    "--plan",
    "--dry-run",
    "status",
    "check",
    "validate",
    "wait",
];

fn is_check(words: &[&str]) -> bool {
    words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .any(|t| NOT_A_RUN.contains(&t) || t.contains("check-migrations"))
}

/// The migration tool a container runs (its command and args), if any. A shell line is read
/// command by command, so `manage.py migrate && manage.py check` still runs a migration.
pub(crate) fn migration_tool(c: &Container) -> Option<String> {
    if is_wait_for(c) {
        return None;
    }
    let line = c.words().join(" ");
    line.split([';', '&', '|', '\n']).find_map(|segment| {
        let w: Vec<&str> = segment.split_whitespace().collect();
        let tool = migration_command(&w)?;
        (!is_check(&w)).then_some(tool)
    })
}

/// Why a container looks like a migration: the tool it runs, else its image or name.
pub(crate) fn migration_reason(c: &Container) -> Option<String> {
    if is_wait_for(c) {
        return None;
    }
    if let Some(tool) = migration_tool(c) {
        return Some(format!("runs `{tool}`"));
    }
    let w = c.words();
    if is_check(&w) {
        return None;
    }
    // A container that waits for or checks migrations is not one.
    let waits = |s: &str| {
        s.split(|ch: char| !ch.is_ascii_alphanumeric())
            .any(|t| t.eq_ignore_ascii_case("wait") || t.eq_ignore_ascii_case("check"))
    };
    let image = c.image.as_ref().map(|v| v.text.as_str()).unwrap_or("");
    let name = c.name.as_deref().unwrap_or("");
    if waits(image) || waits(name) || w.iter().any(|t| waits(t)) {
        return None;
    }
    if !image.contains("${") && mentions_migration(image_repository(image)) {
        return Some(format!(
            "its image `{}` is a migration image",
            crate::base::mask::display_value(image)
        ));
    }
    if mentions_migration(name) {
        return Some("its name mentions a migration".into());
    }
    None
}

/// The node of a container that shows its migration: the command or args that run it, else
/// the image or name that names it (where `init-migration-race` reports, and where the graph's
/// `runs-migration` link sits).
pub(crate) fn migration_anchor(c: &Container) -> Vec<Step> {
    let command: Vec<&str> = c.command.iter().map(|v| v.text.as_str()).collect();
    if migration_command(&command).is_some() {
        return field(c, &["command"]);
    }
    let all = c.words();
    if migration_command(&all).is_some() {
        return field(c, &[if c.args.is_empty() { "command" } else { "args" }]);
    }
    let image_named = c
        .image
        .as_ref()
        .is_some_and(|i| mentions_migration(image_repository(&i.text)));
    field(c, &[if image_named { "image" } else { "name" }])
}

/// The container of a migration Job that runs the migration: the one running a migration
/// tool, else the one whose image or name mentions a migration, else the only one.
pub(crate) fn job_migration_container(containers: &[Container]) -> Option<&Container> {
    let main: Vec<&Container> = containers
        .iter()
        .filter(|c| !c.init && !is_wait_for(c))
        .collect();
    if let Some(c) = main.iter().find(|c| migration_tool(c).is_some()) {
        return Some(c);
    }
    let named: Vec<&&Container> = main
        .iter()
        .filter(|c| migration_reason(c).is_some())
        .collect();
    if named.len() == 1 {
        return Some(named[0]);
    }
    (main.len() == 1).then(|| main[0])
}

/// A HorizontalPodAutoscaler that scales a workload above one pod.
pub(crate) struct Hpa {
    pub(crate) name: String,
    pub(crate) max: u64,
    /// Its `maxReplicas`.
    pub(crate) loc: Option<Loc>,
}

/// A count as a value says it (`3`), if it is one.
pub(crate) fn number(v: &crate::render::Value) -> Option<u64> {
    v.text.trim().parse().ok()
}

/// The HorizontalPodAutoscalers of `context` that scale the workload `r` above one pod (its
/// `scaleTargetRef` names it as rendered, or by a name it had before a prefix).
pub(crate) fn hpas(env: &Env<'_>, context: &Context, r: &Rendered) -> Vec<Hpa> {
    let ns = env.namespace(context, r);
    let mut names: Vec<String> = r.previous_names.clone();
    names.push(r.name.text.clone());
    if let Some(n) = env.name(context, r) {
        names.push(n.text);
    }
    let mut out = Vec::new();
    for h in &context.rendered {
        if h.kind != "HorizontalPodAutoscaler"
            || !h.api_version.starts_with("autoscaling/")
            || env.namespace(context, h) != ns
        {
            continue;
        }
        let target = |k: &str| env.value(context, h, &path::keys(&["spec", "scaleTargetRef", k]));
        let kind_ok = target("kind").is_some_and(|k| k.text == r.kind);
        let name_ok = target("name").is_some_and(|n| names.contains(&n.text));
        if !kind_ok || !name_ok {
            continue;
        }
        let p = path::keys(&["spec", "maxReplicas"]);
        let Some(max) = env.value(context, h, &p) else {
            continue;
        };
        let Some(n) = number(&max) else { continue };
        if n > 1 {
            out.push(Hpa {
                name: env.name(context, h).map(|v| v.text).unwrap_or_default(),
                max: n,
                loc: links::value_loc(env, h, &p, Some(&max)),
            });
        }
    }
    out
}

/// The location of a node of a rendered object's manifest.
pub(crate) fn node_loc(env: &Env<'_>, r: &Rendered, p: &[Step]) -> Option<Loc> {
    env.loc(r, p)
}

/// The key node of `key` in the mapping at `p` of a rendered object's manifest.
pub(crate) fn key_loc(env: &Env<'_>, r: &Rendered, p: &[Step], key: &str) -> Option<Loc> {
    env.key_loc(r, p, key)
}

/// Where a finding about something missing from a container goes: the key of `field` if it
/// exists, else the container's `name` key, else the container.
pub(crate) fn container_anchor(env: &Env<'_>, r: &Rendered, c: &Container, field: &str) -> Loc {
    let p = c.path();
    key_loc(env, r, &p, field)
        .or_else(|| key_loc(env, r, &p, "name"))
        .or_else(|| node_loc(env, r, &p))
        .or_else(|| node_loc(env, r, &[]))
        .unwrap_or(Loc {
            file: 0,
            span: Default::default(),
        })
}

/// `kind name` of a rendered object for messages (`Deployment myapp`).
pub(crate) fn describe(env: &Env<'_>, context: &Context, r: &Rendered) -> String {
    let name = env
        .name(context, r)
        .map(|v| v.text)
        .unwrap_or_else(|| r.name.text.clone());
    format!("{} `{}`", r.kind, crate::base::mask::display_value(&name))
}

/// A container's name for messages.
pub(crate) fn container_name(c: &Container) -> String {
    crate::base::mask::display_value(c.name.as_deref().unwrap_or("?"))
}

/// A path below a container.
pub(crate) fn field(c: &Container, keys: &[&str]) -> Vec<Step> {
    [c.path(), path::keys(keys)].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Value;

    fn container(name: &str, image: &str, command: &[&str]) -> Container {
        let v = |t: &str| Value {
            text: t.into(),
            origin: None,
            writer: None,
            via: None,
        };
        Container {
            index: 0,
            init: true,
            spec: &[],
            name: Some(name.into()),
            image: Some(v(image)),
            command: command.iter().map(|t| v(t)).collect(),
            args: Vec::new(),
        }
    }

    #[test]
    fn migration_containers() {
        let c = container("migrate", "app:v1", &["npm", "run", "migrate"]);
        assert_eq!(migration_tool(&c).as_deref(), Some("npm run migrate"));
        let c = container(
            "migrate",
            "app:v1",
            &[
                "sh",
                "-c",
                "python manage.py migrate && python manage.py check --deploy",
            ],
        );
        assert_eq!(migration_tool(&c).as_deref(), Some("manage.py migrate"));
        let c = container(
            "migrate",
            "app:v1",
            &["python", "manage.py", "migrate", "--check"],
        );
        assert_eq!(migration_tool(&c), None);
        assert_eq!(migration_reason(&c), None);
        let c = container("wait-for-migration", "groundnuty/k8s-wait-for:v2.0", &[]);
        assert_eq!(migration_reason(&c), None);
        let c = container(
            "wait-for-migrations",
            "busybox:1.36",
            &["sh", "-c", "until nc -z db 5432; do sleep 1; done"],
        );
        assert_eq!(migration_reason(&c), None);
        let c = container("schema", "registry/app-migrations:v1", &[]);
        assert!(migration_reason(&c).unwrap().contains("image"));
        let c = container("db-migrate", "app:v1", &["./entrypoint.sh"]);
        assert!(migration_reason(&c).unwrap().contains("name"));
        let c = container("web", "app:v1", &["npm", "start"]);
        assert_eq!(migration_reason(&c), None);
    }
}
