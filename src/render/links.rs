//! Links between rendered objects: containers as they will run, the k8s-wait-for init
//! containers and the Jobs they wait for.
//!
//! k8s-wait-for's image ENTRYPOINT is `wait_for.sh`, so `args` are the script's arguments:
//! `<mode> <name-or-selector> [extra kubectl args...]`. Extra args (such as `-n other`) are
//! appended to every kubectl call.

use super::path::{self, Concrete, Step};
use super::{Context, Env, Rendered, Value, pod_spec_path};
use crate::base::diagnostic::Loc;
use crate::yaml::NodeId;
use std::borrow::Cow;

/// Every mode `wait_for.sh` accepts.
pub(crate) const MODES: &[&str] = &[
    "pod", "pod-we", "pod-wr", "service", "job", "job-we", "job-wr",
];

/// A container of a rendered workload, with its values as they will be applied.
#[derive(Debug, Clone)]
pub(crate) struct Container {
    /// Index within its list.
    pub(crate) index: usize,
    pub(crate) init: bool,
    /// The pod spec path of its workload's kind (see [`pod_spec_path`]).
    pub(crate) spec: &'static [&'static str],
    pub(crate) name: Option<String>,
    pub(crate) image: Option<Value>,
    pub(crate) command: Vec<Value>,
    pub(crate) args: Vec<Value>,
}

impl Container {
    /// The list the container is in.
    pub(crate) fn list(&self) -> &'static str {
        if self.init {
            "initContainers"
        } else {
            "containers"
        }
    }

    /// Concrete path to the container in the manifest (built when asked: reading the
    /// containers needs none).
    pub(crate) fn path(&self) -> Concrete {
        let mut p = path::keys(self.spec);
        p.push(Step::Key(self.list().into()));
        p.push(Step::Index(self.index));
        p
    }

    /// The command's words, then the args': what the container runs.
    pub(crate) fn words(&self) -> Vec<&str> {
        self.command
            .iter()
            .chain(&self.args)
            .map(|v| v.text.as_str())
            .collect()
    }

    pub(crate) fn field(&self, key: &str) -> Concrete {
        let mut p = self.path();
        p.push(Step::Key(key.into()));
        p
    }
}

/// The pod spec path of a rendered workload.
pub(crate) fn pod_spec(r: &Rendered) -> Option<Concrete> {
    pod_spec_path(&r.kind).map(path::keys)
}

/// Containers (init containers first) of a rendered workload of `cx`, read once per build
/// (the rules and the waits all ask) and kept with it.
pub(crate) fn containers<'c>(env: &Env<'_>, cx: &'c Context, r: &Rendered) -> Cow<'c, [Container]> {
    match cx.position(r) {
        Some(i) => Cow::Borrowed(
            &cx.containers.get_or_init(|| {
                cx.rendered
                    .iter()
                    .map(|r| read_containers(env, cx, r))
                    .collect()
            })[i],
        ),
        None => Cow::Owned(read_containers(env, cx, r)),
    }
}

fn read_containers(env: &Env<'_>, cx: &Context, r: &Rendered) -> Vec<Container> {
    let Some(spec) = pod_spec_path(&r.kind) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for init in [true, false] {
        let mut base = path::keys(spec);
        let c = Container {
            index: 0,
            init,
            spec,
            name: None,
            image: None,
            command: Vec::new(),
            args: Vec::new(),
        };
        base.push(Step::Key(c.list().into()));
        // Written in the manifest alone (no patch, no transformer below the list): read its
        // nodes, with no path per field.
        if let Some((file, doc, list)) = env.plain_node(r, &base) {
            let value = |n: Option<NodeId>| env.substituted(cx, r, env.literal(file, doc, n?)?);
            let words = |item: NodeId, key: &str| -> Vec<Value> {
                let Some(l) = doc.get(item, key) else {
                    return Vec::new();
                };
                doc.items(l)
                    .iter()
                    .filter_map(|&w| value(Some(w)))
                    .collect()
            };
            for (i, &item) in doc.items(list).iter().enumerate() {
                out.push(Container {
                    index: i,
                    name: value(doc.get(item, "name")).map(|v| v.text),
                    image: value(doc.get(item, "image")),
                    command: words(item, "command"),
                    args: words(item, "args"),
                    ..c.clone()
                });
            }
            continue;
        }
        // Patched, or written by transformers: each field as the build renders it.
        for i in 0..env.len(r, &base) {
            let p = [base.clone(), vec![Step::Index(i)]].concat();
            let words = |key: &str| -> Vec<Value> {
                let lp = [p.clone(), path::keys(&[key])].concat();
                (0..env.len(r, &lp))
                    .filter_map(|j| env.value(cx, r, &[lp.clone(), vec![Step::Index(j)]].concat()))
                    .collect()
            };
            out.push(Container {
                index: i,
                name: env
                    .value(cx, r, &[p.clone(), path::keys(&["name"])].concat())
                    .map(|v| v.text),
                image: env.value(cx, r, &[p.clone(), path::keys(&["image"])].concat()),
                command: words("command"),
                args: words("args"),
                ..c.clone()
            });
        }
    }
    out
}

/// Whether an image is k8s-wait-for (Docker Hub or GHCR, any tag, rootless variants too).
pub(crate) fn is_wait_for_image(image: &str) -> bool {
    let (repo, _, _) = super::split_image(image);
    repo.rsplit('/').next() == Some("k8s-wait-for")
}

/// A k8s-wait-for init container.
#[derive(Debug, Clone)]
pub(crate) struct WaitFor {
    /// Index of the waiting workload in `Context::rendered`.
    pub(crate) rendered: usize,
    pub(crate) container: Container,
    pub(crate) mode: Option<Value>,
    pub(crate) target: Option<Value>,
    /// `-n NS` / `--namespace NS` among the extra args.
    pub(crate) namespace_arg: Option<Value>,
    /// The namespace kubectl will look in: the `-n` value, else the pod's.
    pub(crate) namespace: String,
    pub(crate) pod_namespace: String,
    /// The pod's service account (`default` when unset) and where it is set.
    pub(crate) service_account: String,
    pub(crate) service_account_value: Option<Value>,
}

impl WaitFor {
    /// A wait by the init container `c` of rendered workload `rendered`, with its mode and
    /// target, its `-n` argument, the pod's namespace and its ServiceAccount as rendered.
    pub(crate) fn new(
        (rendered, container): (usize, Container),
        (mode, target): (Option<Value>, Option<Value>),
        namespace_arg: Option<Value>,
        pod_namespace: String,
        service_account_value: Option<Value>,
    ) -> WaitFor {
        WaitFor {
            rendered,
            mode,
            target,
            namespace: namespace_arg
                .as_ref()
                .map(|v| v.text.clone())
                .unwrap_or_else(|| pod_namespace.clone()),
            namespace_arg,
            pod_namespace,
            service_account: service_account_value
                .as_ref()
                .map(|v| v.text.clone())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "default".into()),
            service_account_value,
            container,
        }
    }

    pub(crate) fn mode(&self) -> Option<&str> {
        self.mode.as_ref().map(|v| v.text.as_str())
    }

    pub(crate) fn is_job_mode(&self) -> bool {
        self.mode().is_some_and(|m| m.starts_with("job"))
    }

    /// Whether the target is a label selector (`-lapp=x`) rather than a name.
    pub(crate) fn is_selector(&self) -> bool {
        self.target
            .as_ref()
            .is_some_and(|t| t.text.starts_with("-l") || t.text.starts_with("--selector"))
    }
}

/// Every k8s-wait-for init container in a context.
/// The pod's `serviceAccountName` (or the deprecated `serviceAccount`) as rendered.
pub(crate) fn service_account(
    env: &Env<'_>,
    cx: &Context,
    r: &Rendered,
    spec: &[Step],
) -> Option<Value> {
    let sa_path = [spec, &path::keys(&["serviceAccountName"])[..]].concat();
    env.value(cx, r, &sa_path).or_else(|| {
        env.value(
            cx,
            r,
            &[spec, &path::keys(&["serviceAccount"])[..]].concat(),
        )
    })
}

pub(crate) fn wait_fors(env: &Env<'_>, cx: &Context) -> Vec<WaitFor> {
    let mut out = Vec::new();
    for (ri, r) in cx.rendered.iter().enumerate() {
        let Some(spec) = pod_spec(r) else { continue };
        for c in containers(env, cx, r).iter() {
            if !c.init || !c.image.as_ref().is_some_and(|i| is_wait_for_image(&i.text)) {
                continue;
            }
            // A command replaces the entrypoint: only `wait_for.sh` keeps the args' meaning, and
            // words after it in the command come before the args.
            let script_args: Vec<Value> = if c.command.is_empty() {
                c.args.clone()
            } else if let Some(p) = c
                .command
                .iter()
                .position(|w| w.text.ends_with("wait_for.sh"))
            {
                c.command[p + 1..]
                    .iter()
                    .chain(c.args.iter())
                    .cloned()
                    .collect()
            } else {
                continue;
            };
            let pod_namespace = env.namespace(cx, r);
            let mut namespace_arg = None;
            let extra = script_args.get(2..).unwrap_or(&[]);
            let mut i = 0;
            while i < extra.len() {
                let a = &extra[i].text;
                if (a == "-n" || a == "--namespace") && i + 1 < extra.len() {
                    namespace_arg = Some(extra[i + 1].clone());
                    i += 1;
                } else if let Some(ns) = a
                    .strip_prefix("--namespace=")
                    .or_else(|| a.strip_prefix("-n").filter(|s| !s.is_empty()))
                {
                    namespace_arg = Some(Value {
                        text: ns.to_string(),
                        ..extra[i].clone()
                    });
                }
                i += 1;
            }
            let sa_value = service_account(env, cx, r, &spec);
            out.push(WaitFor::new(
                (ri, c.clone()),
                (script_args.first().cloned(), script_args.get(1).cloned()),
                namespace_arg,
                pod_namespace,
                sa_value,
            ));
        }
    }
    out
}

/// A rendered Job with its applied name and namespace.
#[derive(Debug, Clone)]
pub(crate) struct JobRef {
    pub(crate) rendered: usize,
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) name_value: Option<Value>,
}

pub(crate) fn jobs(env: &Env<'_>, cx: &Context) -> Vec<JobRef> {
    cx.rendered
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is("batch/v1", "Job"))
        .map(|(i, r)| {
            let v = env.name(cx, r);
            JobRef {
                rendered: i,
                name: v.as_ref().map(|v| v.text.clone()).unwrap_or_default(),
                namespace: env.namespace(cx, r),
                name_value: v,
            }
        })
        .collect()
}

/// The Jobs a job-mode wait matches exactly (name and namespace).
pub(crate) fn awaited<'j>(w: &WaitFor, jobs: &'j [JobRef]) -> Vec<&'j JobRef> {
    let Some(target) = w.target.as_ref().map(|t| t.text.as_str()) else {
        return Vec::new();
    };
    jobs.iter()
        .filter(|j| j.name == target && j.namespace == w.namespace)
        .collect()
}

/// Location of a value for a finding: where it is written in the manifest of `r` at `path`,
/// else where it came from.
pub(crate) fn value_loc(
    env: &Env<'_>,
    r: &Rendered,
    path: &[Step],
    v: Option<&Value>,
) -> Option<Loc> {
    if let Some(l) = env.loc(r, path) {
        return Some(l);
    }
    v.and_then(|v| v.origin.or(v.writer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_for_images() {
        assert!(is_wait_for_image("groundnuty/k8s-wait-for:v2.0"));
        assert!(is_wait_for_image(
            "ghcr.io/groundnuty/k8s-wait-for:no-root-v2.0"
        ));
        assert!(is_wait_for_image("registry.local:5000/mirror/k8s-wait-for"));
        assert!(!is_wait_for_image("bitnami/kubectl:1.30"));
    }
}
