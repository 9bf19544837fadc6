//! A migration Job that nothing waits for by name and that nothing deletes: without
//! `ttlSecondsAfterFinished`, every finished Job and its pods stay in the cluster.

use super::meta::JOB_TTL_MISSING as META;
use super::{ObjectCx, Rule};
use crate::analysis::waits::{TTL, app_in_view, migration_jobs};
use crate::base::diagnostic::{Diagnostic};
use crate::base::mask::display_value;
use crate::model::config::DeployEngine;
use crate::render::workspace::Workspace;

pub(crate) struct JobTtlMissing;

impl Rule for JobTtlMissing {
    fn check_workspace(&self, ws: &Workspace, out: &mut Vec<Diagnostic>) {
        // Without the app in view, an init container elsewhere may wait for the Job by name,
        // and a TTL would then break it.
        for obj in migration_jobs(ws).filter(|o| app_in_view(ws, o)) {
            let ocx = ObjectCx::new(ws, obj);
            if ocx.doc.at(ocx.obj.root, TTL).is_some() {
                continue;
            }
            let st = crate::analysis::job_status(ws, ocx.obj);
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
    use crate::rules::testing::*;

    const RULE: &str = "job-ttl-missing";

    fn job(meta: &str, spec: &str) -> String {
        Job::default().name("").meta(meta).spec(spec).yaml()
    }

    const NAME: &str = "  name: myapp-migration-v1\n";
    const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: myapp}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: \"app:v1\"}]\n";

    /// The findings for the Job, with the app and `text` (file `name`) in view.
    fn beside(name: &str, text: &str) -> Vec<crate::base::diagnostic::Diagnostic> {
        let files = [("k/job.yaml", job(NAME, "")), (name, text.to_string())];
        run(RULE, &with_app(&files))
    }

    /// `files` with the app in view.
    fn with_app<'a>(files: &[(&'a str, String)]) -> Vec<(&'a str, String)> {
        let mut files = files.to_vec();
        files.push(("k/app.yaml", APP.to_string()));
        files
    }

    #[test]
    fn unawaited_job_without_ttl_points_at_spec() {
        let j = job(NAME, "");
        let found = run(RULE, &with_app(&[("k/job.yaml", j.clone())]));
        assert_single(&found, &j, "spec");
        assert_eq!(found[0].severity, crate::base::diagnostic::Severity::Info);
        assert!(
            run(
                RULE,
                &with_app(&[(
                    "k/job.yaml",
                    job(NAME, "  ttlSecondsAfterFinished: 86400\n")
                )])
            )
            .is_empty()
        );
    }

    #[test]
    fn awaited_flux_managed_and_argocd_jobs_pass() {
        let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: myapp}\nspec:\n  template:\n    spec:\n      initContainers: [{name: w, image: \"groundnuty/k8s-wait-for:v2.0\", args: [job-wr, myapp-migration-v1]}]\n      containers: [{name: a, image: \"app:v1\"}]\n";
        assert!(beside("k/deploy.yaml", deploy).is_empty());
        let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app}\nspec:\n  path: ./k\n  prune: true\n";
        assert!(beside("flux/app.yaml", flux).is_empty());
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
        assert_none(RULE, &with_app(&[("k/job.yaml", named)]));
        // A delete policy cleans up.
        let policy = job(
            "  generateName: myapp-migration-\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/hook-delete-policy: HookSucceeded\n",
            "",
        );
        assert_none(RULE, &with_app(&[("k/job.yaml", policy)]));
        // generateName hooks without a policy pile up.
        let piling = job(
            "  generateName: myapp-migration-\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n",
            "",
        );
        let found = run(RULE, &with_app(&[("k/job.yaml", piling)]));
        assert_one_saying(&found, "generateName");
    }
}
