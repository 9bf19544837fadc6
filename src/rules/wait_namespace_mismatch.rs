//! The Job a k8s-wait-for init container waits for exists, but only in another namespace than
//! the one kubectl looks in (the pod's, unless the arguments carry `-n`).

use super::meta::WAIT_NAMESPACE_MISMATCH as META;
use super::{ContextCx, ObjectCx, Rule};
use crate::analysis::wait_target::{Lookup, arg_path, judged_target, lookup};
use crate::base::diagnostic::{Diagnostic};
use crate::base::mask::display_value;

pub(crate) struct WaitNamespaceMismatch;

impl Rule for WaitNamespaceMismatch {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        for w in cx.ws.wait_fors(cx.context) {
            let Some(target) = judged_target(cx.context, w) else {
                continue;
            };
            let Lookup::OtherNamespace(jobs) = lookup(cx.ws, cx.context, w, target) else {
                continue;
            };
            let r = &cx.context.rendered[w.rendered];
            let Some(o) = r.object() else { continue };
            let ocx = ObjectCx::new(cx.ws, &cx.ws.objects[o as usize]);
            let mut namespaces: Vec<&str> = jobs.iter().map(|j| j.job.namespace.as_str()).collect();
            namespaces.sort();
            namespaces.dedup();
            let job_ns = namespaces.join("`, `");
            let ns = &w.namespace;
            let shown = display_value(target);
            // Point at the `-n` value when the arguments set one, else at the job name.
            let (path, value, looked) = match &w.namespace_arg {
                Some(v) => {
                    let i = w
                        .container
                        .args
                        .iter()
                        .rposition(|a| {
                            a.text == v.text
                                || a.text.ends_with(&format!("={}", v.text))
                                || a.text == format!("-n{}", v.text)
                        })
                        .unwrap_or(1);
                    (
                        arg_path(w, i),
                        Some(v),
                        format!("namespace `{ns}` (its `-n` argument)"),
                    )
                }
                None => (
                    arg_path(w, 1),
                    w.target.as_ref(),
                    format!("namespace `{ns}`, the pod's own (the arguments carry no `-n`)"),
                ),
            };
            let mut d = cx
                .diag_value(
                    &META,
                    &ocx,
                    r,
                    &path,
                    value,
                    format!(
                        "k8s-wait-for looks for job `{shown}` in {looked}, but that job is rendered in namespace `{job_ns}`: `kubectl describe jobs` fails with NotFound, the init container exits 1 and the pod crash-loops in Init (Init:CrashLoopBackOff)"
                    ),
                )
                .help(format!(
                    "add the Job's namespace to the arguments (`args: [{}, {shown}, -n, {}]`) and give the pod's service account `{}` get and list on jobs in `{}` (a Role and RoleBinding in that namespace); or deploy the Job into `{ns}`",
                    w.mode().unwrap_or("job-wr"),
                    namespaces[0],
                    w.service_account,
                    namespaces[0],
                ));
            for j in &jobs {
                let loc = j.namespace_loc(&cx.env()).or_else(|| j.name_loc(&cx.env()));
                if let Some(l) = loc {
                    d = d.related(
                        l,
                        format!(
                            "job `{}` is in namespace `{}`",
                            display_value(&j.job.name),
                            j.job.namespace
                        ),
                    );
                }
            }
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    const RULE: &str = "wait-namespace-mismatch";

    fn deploy(ns: &str, args: &str) -> String {
        let init = wait_for("wait-for-migration", args);
        let pod = "      serviceAccountName: myapp\n";
        Deploy::default().meta(ns).pod(pod).init(&init).yaml()
    }

    fn job(ns: &str) -> String {
        Job::default().meta(ns).containers(APP_MIGRATION).yaml()
    }

    #[test]
    fn job_in_another_namespace_without_n() {
        let d = deploy("  namespace: app\n", "[job-wr, myapp-migration-v1]");
        let j = job("  namespace: migrations\n");
        let found = run(
            RULE,
            &[("k/deploy.yaml", d.clone()), ("k/job.yaml", j.clone())],
        );
        assert_single(&found, &d, "myapp-migration-v1");
        assert_contains(&found[0].message, "namespace `app`, the pod's own");
        assert!(
            found[0]
                .message
                .contains("rendered in namespace `migrations`")
        );
        assert_eq!(&j[found[0].related[0].loc.span.range()], "migrations");
        let help = found[0].help.as_deref().unwrap();
        assert!(help.contains("-n, migrations]"), "{help}");
        assert!(help.contains("`myapp`"), "{help}");
    }

    #[test]
    fn a_wrong_n_argument_is_pointed_at() {
        let d = deploy(
            "  namespace: app\n",
            "[job-wr, myapp-migration-v1, -n, migration]",
        );
        let found = run(
            RULE,
            &[
                ("k/deploy.yaml", d.clone()),
                ("k/job.yaml", job("  namespace: migrations\n")),
            ],
        );
        assert_single(&found, &d, "migration");
        assert_contains(&found[0].message, "its `-n` argument");
    }

    #[test]
    fn kustomize_namespace_is_the_job_side_location() {
        let k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: migrations\nresources: [job.yaml]\n";
        let found = run(
            RULE,
            &[
                (
                    "app/deploy.yaml",
                    deploy("  namespace: app\n", "[job-wr, myapp-migration-v1]"),
                ),
                ("pre/job.yaml", job("")),
                ("pre/kustomization.yaml", k.to_string()),
            ],
        );
        // Different contexts: nothing rendered in one context to compare with; no finding here,
        // wait-target-missing reports it.
        assert!(found.is_empty());
        let app_k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deploy.yaml, ../pre]\n";
        let d = deploy("  namespace: app\n", "[job-wr, myapp-migration-v1]");
        let found = run(
            RULE,
            &[
                ("app/deploy.yaml", d),
                ("app/kustomization.yaml", app_k.to_string()),
                ("pre/job.yaml", job("")),
                ("pre/kustomization.yaml", k.to_string()),
            ],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].related[0].loc.file, 3);
        assert_eq!(&k[found[0].related[0].loc.span.range()], "migrations");
    }

    #[test]
    fn same_namespace_passes() {
        let found = run(
            RULE,
            &[
                (
                    "k/deploy.yaml",
                    deploy("  namespace: app\n", "[job-wr, myapp-migration-v1]"),
                ),
                ("k/job.yaml", job("  namespace: app\n")),
            ],
        );
        assert!(found.is_empty());
    }
}
