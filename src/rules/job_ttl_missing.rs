//! A migration Job that nothing waits for by name and that nothing deletes: without
//! `ttlSecondsAfterFinished`, every finished Job and its pods stay in the cluster.

use super::meta::JOB_TTL_MISSING as META;
use super::job_not_awaited::{Waits, app_in_view, migration_jobs, status};
use super::job_ttl_breaks_wait::TTL;
use super::{Rule, RuleMeta};
use crate::base::diagnostic::Diagnostic;
use crate::base::mask::display_value;
use crate::model::config::DeployEngine;
use crate::render::workspace::Workspace;

pub struct JobTtlMissing;

impl Rule for JobTtlMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_workspace(&self, ws: &Workspace, out: &mut Vec<Diagnostic>) {
        // Without the app in view, an init container elsewhere may wait for the Job by name,
        // and a TTL would then break it.
        if !app_in_view(ws) {
            return;
        }
        let waits = Waits::collect(ws);
        for ocx in migration_jobs(ws) {
            if ocx.doc.at(ocx.obj.root, TTL).is_some() {
                continue;
            }
            let st = status(ws, &waits, ocx.obj);
            // Waited for by name (or maybe): a TTL would break the wait (job-ttl-breaks-wait).
            if !st.by.is_empty() || st.maybe || st.flux_staged || st.flux_managed {
                continue;
            }
            match &st.hook {
                // The tool deletes it (policy), or replaces the one named hook Job on the next
                // run (Helm's default `before-hook-creation`; Argo CD keeps one named hook).
                Some(h) if h.delete_policy || !st.generated => continue,
                Some(_) => {}
                // Argo CD re-creates a deleted non-hook Job and re-runs it.
                None if ocx.deploy_engine() == DeployEngine::ArgoCd => continue,
                None => {}
            }
            let what = if st.generated {
                "each run creates a new Job (generateName) and nothing deletes the finished ones or their pods"
            } else {
                "each release leaves its finished Job and pods in the cluster until someone deletes them"
            };
            out.push(
                ocx.diag(
                    &META,
                    TTL,
                    format!(
                        "migration job `{}` has no ttlSecondsAfterFinished and nothing waits for it by name: {what}",
                        display_value(&st.name)
                    ),
                )
                .help("set spec.ttlSecondsAfterFinished (e.g. 86400) so the TTL controller deletes the Job and its pods a day after it finishes; not on a Job that an init container waits for by name, nor one Flux or Argo CD re-applies (they re-create it and run the migration again)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::diagnostic::Diagnostic;
    use crate::rules::testing::{lint_files, lint_with_engine};

    fn job(meta: &str, spec: &str) -> String {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n{meta}spec:\n  backoffLimit: 0\n{spec}  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: m, image: \"app:v1\", command: [npx, prisma, migrate, deploy]}}]\n"
        )
    }

    const NAME: &str = "  name: myapp-migration-v1\n";
    const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: myapp}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: \"app:v1\"}]\n";

    /// Lint with the app in view.
    fn run(files: &[(&str, String)]) -> Vec<Diagnostic> {
        let mut files = files.to_vec();
        files.push(("k/app.yaml", APP.to_string()));
        lint_files(&files)
            .into_iter()
            .filter(|d| d.rule == "job-ttl-missing")
            .collect()
    }

    #[test]
    fn unawaited_job_without_ttl_points_at_spec() {
        let j = job(NAME, "");
        let found = run(&[("k/job.yaml", j.clone())]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(&j[found[0].loc.span.range()], "spec");
        assert_eq!(found[0].severity, crate::base::diagnostic::Severity::Info);
        assert!(
            run(&[(
                "k/job.yaml",
                job(NAME, "  ttlSecondsAfterFinished: 86400\n")
            )])
            .is_empty()
        );
    }

    #[test]
    fn awaited_flux_managed_and_argocd_jobs_pass() {
        let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: myapp}\nspec:\n  template:\n    spec:\n      initContainers: [{name: w, image: \"groundnuty/k8s-wait-for:v2.0\", args: [job-wr, myapp-migration-v1]}]\n      containers: [{name: a, image: \"app:v1\"}]\n";
        assert!(
            run(&[
                ("k/job.yaml", job(NAME, "")),
                ("k/deploy.yaml", deploy.to_string())
            ])
            .is_empty()
        );
        let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app}\nspec:\n  path: ./k\n  prune: true\n";
        assert!(
            run(&[
                ("k/job.yaml", job(NAME, "")),
                ("flux/app.yaml", flux.to_string())
            ])
            .is_empty()
        );
        let both = format!("{}---\n{APP}", job(NAME, ""));
        let d = lint_with_engine(&both, crate::model::config::DeployEngine::ArgoCd);
        assert!(!d.iter().any(|d| d.rule == "job-ttl-missing"));
        let d = lint_with_engine(&both, crate::model::config::DeployEngine::Kubectl);
        assert!(d.iter().any(|d| d.rule == "job-ttl-missing"));
        // No app in view: an init container elsewhere may wait for it by name.
        let d = lint_files(&[("k/job.yaml", job(NAME, ""))]);
        assert!(!d.iter().any(|d| d.rule == "job-ttl-missing"));
    }

    #[test]
    fn hooks() {
        // Named hook without a policy: Helm's default before-hook-creation replaces it.
        let named = job(
            &format!("{NAME}  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n"),
            "",
        );
        assert!(run(&[("k/job.yaml", named)]).is_empty());
        // A delete policy cleans up.
        let policy = job(
            "  generateName: myapp-migration-\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/hook-delete-policy: HookSucceeded\n",
            "",
        );
        assert!(run(&[("k/job.yaml", policy)]).is_empty());
        // generateName hooks without a policy pile up.
        let piling = job(
            "  generateName: myapp-migration-\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n",
            "",
        );
        let found = run(&[("k/job.yaml", piling)]);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("generateName"));
    }
}
