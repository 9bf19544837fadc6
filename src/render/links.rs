//! Links between rendered objects: containers as they will run, the k8s-wait-for init
//! containers and the Jobs they wait for.
//!
//! k8s-wait-for's image ENTRYPOINT is `wait_for.sh`, so `args` are the script's arguments:
//! `<mode> <name-or-selector> [extra kubectl args...]`. Extra args (such as `-n other`) are
//! appended to every kubectl call.

use super::path::{self, Concrete, Step};
use super::{Context, Env, Rendered, Value, pod_spec_path};
use crate::base::diagnostic::Loc;

/// Every mode `wait_for.sh` accepts.
pub const MODES: &[&str] = &[
    "pod", "pod-we", "pod-wr", "service", "job", "job-we", "job-wr",
];

/// A container of a rendered workload, with its values as they will be applied.
#[derive(Debug, Clone)]
pub struct Container {
    /// Index within its list.
    pub index: usize,
    pub init: bool,
    /// Concrete path to the container in the manifest.
    pub path: Concrete,
    pub name: Option<String>,
    pub image: Option<Value>,
    pub command: Vec<Value>,
    pub args: Vec<Value>,
}

impl Container {
    /// The command's words, then the args': what the container runs.
    pub fn words(&self) -> Vec<&str> {
        self.command
            .iter()
            .chain(&self.args)
            .map(|v| v.text.as_str())
            .collect()
    }

    pub fn field(&self, key: &str) -> Concrete {
        [self.path.clone(), path::keys(&[key])].concat()
    }
}

/// The pod spec path of a rendered workload.
pub fn pod_spec(r: &Rendered) -> Option<Concrete> {
    pod_spec_path(&r.kind).map(path::keys)
}

/// Containers (init containers first) of a rendered workload.
pub fn containers(env: &Env<'_>, cx: &Context, r: &Rendered) -> Vec<Container> {
    let Some(spec) = pod_spec(r) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (list, init) in [("initContainers", true), ("containers", false)] {
        let base = [spec.clone(), path::keys(&[list])].concat();
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
                init,
                name: env
                    .value(cx, r, &[p.clone(), path::keys(&["name"])].concat())
                    .map(|v| v.text),
                image: env.value(cx, r, &[p.clone(), path::keys(&["image"])].concat()),
                command: words("command"),
                args: words("args"),
                path: p,
            });
        }
    }
    out
}

/// Whether an image is k8s-wait-for (Docker Hub or GHCR, any tag, rootless variants too).
pub fn is_wait_for_image(image: &str) -> bool {
    let (repo, _, _) = super::split_image(image);
    repo.rsplit('/').next() == Some("k8s-wait-for")
}

/// A k8s-wait-for init container.
#[derive(Debug, Clone)]
pub struct WaitFor {
    /// Index of the waiting workload in `Context::rendered`.
    pub rendered: usize,
    pub container: Container,
    pub mode: Option<Value>,
    pub target: Option<Value>,
    /// `-n NS` / `--namespace NS` among the extra args.
    pub namespace_arg: Option<Value>,
    /// The namespace kubectl will look in: the `-n` value, else the pod's.
    pub namespace: String,
    pub pod_namespace: String,
    /// The pod's service account (`default` when unset) and where it is set.
    pub service_account: String,
    pub service_account_value: Option<Value>,
}

impl WaitFor {
    /// A wait by the init container `c` of rendered workload `rendered`, with its mode and
    /// target, its `-n` argument, the pod's namespace and its ServiceAccount as rendered.
    pub fn new(
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

    pub fn mode(&self) -> Option<&str> {
        self.mode.as_ref().map(|v| v.text.as_str())
    }

    pub fn is_job_mode(&self) -> bool {
        self.mode().is_some_and(|m| m.starts_with("job"))
    }

    /// Whether the target is a label selector (`-lapp=x`) rather than a name.
    pub fn is_selector(&self) -> bool {
        self.target
            .as_ref()
            .is_some_and(|t| t.text.starts_with("-l") || t.text.starts_with("--selector"))
    }
}

/// Every k8s-wait-for init container in a context.
/// The pod's `serviceAccountName` (or the deprecated `serviceAccount`) as rendered.
pub fn service_account(env: &Env<'_>, cx: &Context, r: &Rendered, spec: &[Step]) -> Option<Value> {
    let sa_path = [spec, &path::keys(&["serviceAccountName"])[..]].concat();
    env.value(cx, r, &sa_path).or_else(|| {
        env.value(
            cx,
            r,
            &[spec, &path::keys(&["serviceAccount"])[..]].concat(),
        )
    })
}

pub fn wait_fors(env: &Env<'_>, cx: &Context) -> Vec<WaitFor> {
    let mut out = Vec::new();
    for (ri, r) in cx.rendered.iter().enumerate() {
        let Some(spec) = pod_spec(r) else { continue };
        for c in containers(env, cx, r) {
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
                (ri, c),
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
pub struct JobRef {
    pub rendered: usize,
    pub name: String,
    pub namespace: String,
    pub name_value: Option<Value>,
}

pub fn jobs(env: &Env<'_>, cx: &Context) -> Vec<JobRef> {
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
pub fn awaited<'j>(w: &WaitFor, jobs: &'j [JobRef]) -> Vec<&'j JobRef> {
    let Some(target) = w.target.as_ref().map(|t| t.text.as_str()) else {
        return Vec::new();
    };
    jobs.iter()
        .filter(|j| j.name == target && j.namespace == w.namespace)
        .collect()
}

/// Location of a value for a finding: where it is written in the manifest of `r` at `path`,
/// else where it came from.
pub fn value_loc(env: &Env<'_>, r: &Rendered, path: &[Step], v: Option<&Value>) -> Option<Loc> {
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
