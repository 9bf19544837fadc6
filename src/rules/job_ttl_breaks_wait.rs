//! `ttlSecondsAfterFinished` on a Job that an init container waits for by name: once the TTL
//! controller deletes it, `kubectl describe` (or `kubectl wait`) gets NotFound and every new pod
//! crash-loops in Init, or a GitOps reconciler re-creates the Job and the migration runs again.

use super::meta::JOB_TTL_BREAKS_WAIT as META;
use super::{ObjectCx, Rule};
use crate::analysis::waits::TTL;
use crate::base::diagnostic::{Diagnostic};
use crate::base::mask::display_value;
use crate::render::workspace::Workspace;

pub(crate) struct JobTtlBreaksWait;


impl Rule for JobTtlBreaksWait {
    fn check_workspace(&self, ws: &Workspace, out: &mut Vec<Diagnostic>) {
        for obj in ws.objects.iter().filter(|o| o.is("batch/v1", "Job")) {
            let ocx = ObjectCx::new(ws, obj);
            let Some(ttl) = ocx.doc.at(obj.root, TTL) else {
                continue;
            };
            let st = crate::analysis::job_status(ws, obj);
            if st.by.is_empty() {
                continue;
            }
            let ttl_text = ocx.doc.str(ttl).unwrap_or("").trim().to_string();
            let when = match ttl_text.parse::<u64>() {
                Ok(0) => "as soon as it finishes".to_string(),
                Ok(n) => format!("{n} s after it finishes"),
                Err(_) => format!("`{}` seconds after it finishes", display_value(&ttl_text)),
            };
            let mut waiters: Vec<String> = st.by.iter().map(|w| w.describe()).collect();
            waiters.sort();
            waiters.dedup();
            let who = if waiters.len() == 1 {
                waiters[0].clone()
            } else {
                format!("{} and {} more", waiters[0], waiters.len() - 1)
            };
            let mut d = ocx
                .diag(
                    &META,
                    TTL,
                    format!(
                        "job `{}` is deleted {when} (ttlSecondsAfterFinished), but {who} waits for it by name: once it is gone, every new pod (scale-up, reschedule, node drain) gets NotFound, exits 1 and crash-loops in Init (k8s-wait-for#50), unless a GitOps reconciler (Flux, Argo CD) re-creates the Job, which runs the migration again",
                        display_value(&st.name)
                    ),
                )
                .help("remove ttlSecondsAfterFinished from Jobs that pods wait for by name: with a versioned Job name, Flux `prune: true` (or Argo CD pruning) deletes the previous release's Job when the tag changes; without a GitOps tool, delete old migration Jobs in the next release");
            let mut seen = Vec::new();
            for w in &st.by {
                if let Some(l) = w.loc
                    && !seen.contains(&l)
                {
                    seen.push(l);
                    d = d.related(
                        l,
                        format!(
                            "{} waits for `{}` here",
                            w.describe(),
                            display_value(&w.target)
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
    use crate::rules::testing::app_waiting as deploy;

    const RULE: &str = "job-ttl-breaks-wait";

    fn job(meta: &str, spec: &str) -> String {
        Job::default().meta(meta).spec(spec).yaml()
    }

    /// The Job with `spec` lines and the Deployment with `init`.
    fn files(spec: &str, init: &str) -> [(&'static str, String); 2] {
        [("k/job.yaml", job("", spec)), ("k/deploy.yaml", deploy(init))]
    }

    /// The findings for [`files`].
    fn awaited(spec: &str, init: &str) -> Vec<crate::base::diagnostic::Diagnostic> {
        run(RULE, &files(spec, init))
    }

    fn wait() -> String {
        wait_for("wait", "[job-wr, myapp-migration-v1]")
    }

    #[test]
    fn ttl_on_an_awaited_job_points_at_the_ttl_and_the_wait() {
        let files = files("  ttlSecondsAfterFinished: 180\n", &wait());
        let d = one(RULE, &files)
            .at("180")
            .says("180 s after it finishes")
            .says("Deployment `myapp`")
            .related_at(0, "myapp-migration-v1")
            .d;
        assert_eq!(d.related.len(), 1);
        assert_eq!(d.related[0].loc.file, 0, "files are sorted: deploy.yaml first");
    }

    #[test]
    fn kubectl_wait_counts_and_zero_is_immediate() {
        let init = "        - name: wait\n          image: bitnami/kubectl:1.30\n          args: [wait, --for=condition=complete, job/myapp-migration-v1]\n          command: [kubectl]\n";
        let found = awaited("  ttlSecondsAfterFinished: 0\n", init);
        assert_one_saying(&found, "as soon as it finishes");
        assert_contains(&found[0].message, "`kubectl wait`");
    }

    #[test]
    fn a_selector_wait_nearby_does_not_hide_an_exact_one() {
        let selector = "        - name: wait-seed\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, -lapp=seed]\n";
        let found = awaited(
            "  ttlSecondsAfterFinished: 600\n",
            &format!("{}{selector}", wait()),
        );
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn no_ttl_or_no_wait_passes() {
        assert!(awaited("", &wait()).is_empty());
        assert_none(RULE, &[("k/job.yaml", job("", "  ttlSecondsAfterFinished: 60\n"))]);
    }
}
