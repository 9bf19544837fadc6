//! The `resources:` entry holding a migration Job listed after the entry of a workload that
//! waits for it. Mostly cosmetic: kustomize's default (legacy) output order puts Deployments
//! before Jobs whatever the list says, and Flux sorts by kind before applying. Only with
//! `sortOptions: {order: fifo}` and a plain `kubectl apply -k` does the list order reach the
//! cluster, and then by milliseconds: the init container's wait is what orders them.

use super::meta::KUSTOMIZE_RESOURCE_ORDER as META;
use super::{ContextCx, Rule};
use crate::base::diagnostic::{Diagnostic, FileId, Loc, Severity};
use crate::base::mask::display_value;
use crate::model::config::DeployEngine;
use crate::render::links;
use crate::yaml::{Document, NodeId, Seg};
use std::collections::BTreeSet;
use std::path::PathBuf;

pub(crate) struct KustomizeResourceOrder;

const HELP: &str =
    "list the migration Job's entry before the entries of the workloads that wait for it";

/// Move the Job's entry (with the comments above it) in front of the workload's.
fn move_fix(
    cx: &ContextCx<'_>,
    file: FileId,
    doc: &Document,
    job: NodeId,
    workload: NodeId,
) -> Option<crate::base::diagnostic::Fix> {
    let seq = doc.get(doc.root, "resources")?;
    let items = doc.items(seq);
    let from = items.iter().position(|&n| n == job)?;
    let to = items.iter().position(|&n| n == workload)?;
    crate::yaml::edit::Editor::new(&cx.ws.files[file as usize].source.text, doc, file)
        .move_item(seq, from, to)
        .map(|edits| {
            crate::base::diagnostic::Fix::safe("list the Job's entry before the workload's", edits)
        })
}

/// The `resources:` entries of a kustomization with their nodes.
fn resources(doc: &Document) -> Vec<(String, NodeId)> {
    doc.get(doc.root, "resources")
        .map(|l| {
            doc.items(l)
                .iter()
                .filter_map(|&i| doc.str(i).map(|s| (s.to_string(), i)))
                .collect()
        })
        .unwrap_or_default()
}

/// The files an entry brings in: the file itself, or every file of the kustomization there.
fn entry_files(
    cx: &ContextCx<'_>,
    keys: &[PathBuf],
    kfile: FileId,
    entry: &str,
) -> BTreeSet<FileId> {
    let ws = cx.ws;
    let Some(dir) = keys[kfile as usize].parent() else {
        return BTreeSet::new();
    };
    let target = crate::render::normalize(&dir.join(entry));
    let mut out = BTreeSet::new();
    if let Some(k) = ws.kustomization_in(&target) {
        if let Some(files) = ws.parts.get(&k) {
            out.extend(files.iter().copied());
        }
    } else if let Some(f) = ws.file_at(&target) {
        out.insert(f);
    }
    out
}

impl Rule for KustomizeResourceOrder {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        let Some(root) = cx.context.root else { return };
        let env = cx.env();
        let jobs = cx.ws.jobs(cx.context);
        // (workload index, job index) for every exact wait.
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for w in cx.ws.wait_fors(cx.context) {
            if !w.is_job_mode() {
                continue;
            }
            for j in links::awaited(w, jobs) {
                if !pairs.contains(&(w.rendered, j.rendered)) {
                    pairs.push((w.rendered, j.rendered));
                }
            }
        }
        if pairs.is_empty() {
            return;
        }
        let Some(root_doc) = cx.ws.files[root as usize].docs.first() else {
            return;
        };
        let fifo = root_doc
            .at(root_doc.root, &[Seg::Key("sortOptions"), Seg::Key("order")])
            .and_then(|n| root_doc.str(n))
            == Some("fifo");
        let engine = cx.ws.engine(cx.context);
        let flux = engine.engine == DeployEngine::Flux;
        // Only `kubectl apply -k` keeps the fifo order: a warning when that engine is evident
        // (or configured), an info when it is only the fallback.
        let matters = fifo && !flux && engine.evident;
        let file_of = |i: usize| {
            cx.context.rendered[i]
                .object()
                .map(|o| cx.ws.objects[o as usize].file)
        };
        let keys = &cx.ws.file_keys;
        let mut kusts = cx.context.kustomizations.clone();
        kusts.sort();
        kusts.dedup();
        for k in kusts {
            let Some(doc) = cx.ws.files[k as usize].docs.first() else {
                continue;
            };
            let entries: Vec<(String, NodeId, BTreeSet<FileId>)> = resources(doc)
                .into_iter()
                .map(|(e, n)| {
                    let files = entry_files(cx, keys, k, &e);
                    (e, n, files)
                })
                .collect();
            let index_of = |f: FileId| entries.iter().position(|(_, _, files)| files.contains(&f));
            for &(wi, ji) in &pairs {
                let (Some(wf), Some(jf)) = (file_of(wi), file_of(ji)) else {
                    continue;
                };
                let (Some(we), Some(je)) = (index_of(wf), index_of(jf)) else {
                    continue;
                };
                if je <= we {
                    continue;
                }
                let w = &cx.context.rendered[wi];
                let j = &cx.context.rendered[ji];
                let job_name = env
                    .name(cx.context, j)
                    .map(|v| v.text)
                    .unwrap_or_else(|| j.name.text.clone());
                let why = if matters {
                    "with `sortOptions: {order: fifo}` kustomize keeps this order, so `kubectl apply -k` creates the workload first; its pods then wait in their init container until the Job exists a moment later, so nothing breaks, but the Job first states the intent".to_string()
                } else if fifo && !flux {
                    "with `sortOptions: {order: fifo}` kustomize keeps this order, so `kubectl apply -k` would create the workload first; no deploy engine is evident in the repository, so this only counts if `kubectl apply` applies it (set `deploy-engine: kubectl` to make it a warning)".to_string()
                } else if fifo {
                    "this does not change what is applied: Flux sorts objects by kind before applying them (Deployments before Jobs) whatever the order of `resources:`; the init container's wait is what orders the rollout".to_string()
                } else {
                    format!(
                        "this does not change what is applied: kustomize's default (legacy) sort emits workloads before Jobs whatever the order of `resources:`{}; the init container's wait is what orders the rollout",
                        if flux {
                            ", and Flux sorts by kind again"
                        } else {
                            ""
                        }
                    )
                };
                let mut d = Diagnostic::new(
                    META.name,
                    if matters {
                        META.severity
                    } else {
                        Severity::Info
                    },
                    Loc {
                        file: k,
                        span: doc.span(entries[je].1),
                    },
                    format!(
                        "`{}` (Job `{}`) is listed after `{}` ({} `{}`, which waits for it): {why}",
                        display_value(&entries[je].0),
                        display_value(&job_name),
                        display_value(&entries[we].0),
                        w.kind,
                        display_value(&w.name.text),
                    ),
                )
                .help(HELP)
                .related(
                    Loc {
                        file: k,
                        span: doc.span(entries[we].1),
                    },
                    format!(
                        "the {} `{}` that waits for the Job comes from this entry",
                        w.kind,
                        display_value(&w.name.text)
                    ),
                );
                d.path = Some(format!("resources[{je}]"));
                d = d.fix(move_fix(cx, k, doc, entries[je].1, entries[we].1));
                out.push(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::diagnostic::{Diagnostic, Severity};
    use crate::model::config::DeployEngine;
    use crate::rules::testing::*;

    const RULE: &str = "kustomize-resource-order";
    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: myapp-migration-v1}\nspec: {backoffLimit: 0, template: {spec: {restartPolicy: Never, containers: [{name: m, image: app}]}}}\n";
    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: myapp}\nspec:\n  template:\n    spec:\n      initContainers:\n      - name: wait\n        image: groundnuty/k8s-wait-for:v2.0\n        args: [job-wr, myapp-migration-v1]\n      containers: [{name: app, image: app}]\n";

    /// `kust` over the Job and the Deployment waiting for it, under `engine`.
    fn lint_kust(kust: &str, engine: DeployEngine) -> (String, Vec<Diagnostic>) {
        let files = [
            ("k/kustomization.yaml", kust),
            ("k/job.yaml", JOB),
            ("k/deployment.yaml", DEPLOY),
        ];
        (kust.to_string(), run_under(RULE, &files, engine))
    }

    const AFTER: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- job.yaml\n";

    #[test]
    fn job_after_its_workload_is_informational_by_default() {
        let (k, d) = lint_kust(AFTER, DeployEngine::Flux);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].severity, Severity::Info);
        assert_eq!(&k[d[0].loc.span.range()], "job.yaml");
        assert_eq!(
            d[0].message,
            "`job.yaml` (Job `myapp-migration-v1`) is listed after `deployment.yaml` (Deployment `myapp`, which waits for it): this does not change what is applied: kustomize's default (legacy) sort emits workloads before Jobs whatever the order of `resources:`, and Flux sorts by kind again; the init container's wait is what orders the rollout"
        );
        assert_eq!(&k[d[0].related[0].loc.span.range()], "deployment.yaml");
        assert_eq!(d[0].path.as_deref(), Some("resources[1]"));
        let (_, d) = lint_kust(AFTER, DeployEngine::Kubectl);
        assert_eq!(d[0].severity, Severity::Info);
    }

    #[test]
    fn fifo_with_kubectl_is_a_warning_but_not_under_flux() {
        let fifo = AFTER.replace("resources:", "sortOptions: {order: fifo}\nresources:");
        let (_, d) = lint_kust(&fifo, DeployEngine::Kubectl);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].severity, Severity::Warning);
        assert_contains(&d[0].message, "kustomize keeps this order");
        let (_, d) = lint_kust(&fifo, DeployEngine::Flux);
        assert_eq!(d[0].severity, Severity::Info);
        assert_contains(&d[0].message, "Flux sorts objects by kind");
        // No engine evident: kubectl apply is only assumed, so an info naming the setting.
        let (_, d) = lint_kust(&fifo, DeployEngine::Auto);
        assert_eq!(d[0].severity, Severity::Info);
        assert_contains(&d[0].message, "set `deploy-engine: kubectl` to make it a warning");
    }

    #[test]
    fn job_first_passes_and_unrelated_jobs_do_not_count() {
        let before = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- job.yaml\n- deployment.yaml\n";
        assert!(lint_kust(before, DeployEngine::Kubectl).1.is_empty());
        // A Job nobody waits for may come anywhere.
        let deploy = DEPLOY.replace("myapp-migration-v1]", "other-job]");
        let files = [
            ("k/kustomization.yaml", AFTER),
            ("k/job.yaml", JOB),
            ("k/deployment.yaml", deploy.as_str()),
        ];
        assert_none(RULE, &files);
    }

    #[test]
    fn through_base_directories() {
        let overlay = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nsortOptions: {order: fifo}\nresources:\n- ../app\n- ../migration\n";
        let base = |r: &str| kustomization(&format!("[{r}]"), "");
        let files = [
            ("prod/kustomization.yaml", overlay.to_string()),
            ("app/kustomization.yaml", base("deployment.yaml")),
            ("app/deployment.yaml", DEPLOY.to_string()),
            ("migration/kustomization.yaml", base("job.yaml")),
            ("migration/job.yaml", JOB.to_string()),
        ];
        let d = run_under(RULE, &files, DeployEngine::Kubectl);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].severity, Severity::Warning);
        assert_starts_with(
            &d[0].message,
            "`../migration` (Job `myapp-migration-v1`) is listed after `../app`",
        );
    }
}
