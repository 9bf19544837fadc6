//! A migration Job in a file beside a kustomization that does not list it: `kubectl apply -k`
//! and Flux apply only what the kustomization lists, so the Job is never created.

use super::meta::JOB_NOT_IN_KUSTOMIZATION as META;
use super::{ObjectCx, Rule, paths};
use crate::base::diagnostic::{Diagnostic, Loc};
use crate::base::mask::display_value;
use crate::render::workspace::Workspace;

pub(crate) struct JobNotInKustomization;

impl Rule for JobNotInKustomization {
    fn check_workspace(&self, ws: &Workspace, out: &mut Vec<Diagnostic>) {
        let mut seen = std::collections::BTreeSet::new();
        for (o, k) in ws.contexts.iter().flat_map(|c| c.unlisted.iter().copied()) {
            if !seen.insert(o) {
                continue; // listed again by the `all` context
            }
            let ocx = ObjectCx::new(ws, &ws.objects[o as usize]);
            let kust = &ws.files[k as usize];
            let file = ocx.file.source.display.as_str();
            let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
            let kname = kust.source.display.as_str();
            let name = ocx
                .obj
                .name
                .as_deref()
                .or(ocx.obj.generate_name.as_deref())
                .unwrap_or("");
            let mut d = ocx
                .diag(
                    &META,
                    paths::NAME,
                    format!(
                        "migration job `{}` is in `{file}`, which the kustomization beside it (`{kname}`) does not list and no other linted kustomization includes: `kubectl apply -k` and Flux apply only what a kustomization lists, so this Job is never created and the migration never runs",
                        display_value(name)
                    ),
                )
                .help(format!(
                    "add `{base}` to `resources:` in `{kname}` if this migration should run on deploy, or delete the file if it is no longer used"
                ));
            if let Some(doc) = kust.docs.first() {
                let node = doc
                    .entry(doc.root, "resources")
                    .or_else(|| doc.entry(doc.root, "kind"))
                    .map(|e| e.0)
                    .unwrap_or(doc.root);
                d = d.related(
                    Loc {
                        file: k,
                        span: doc.span(node),
                    },
                    format!("the kustomization's resources do not include `{base}`"),
                );
            }
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    const RULE: &str = "job-not-in-kustomization";
    const K: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - app.yaml\n# - job.yaml\n";
    const APP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n";

    fn job() -> String {
        Job::default().containers(APP_MIGRATION).yaml()
    }

    #[test]
    fn unlisted_job_beside_a_kustomization() {
        let j = job();
        let found = run(
            RULE,
            &[
                ("k/kustomization.yaml", K.to_string()),
                ("k/app.yaml", APP.to_string()),
                ("k/job.yaml", j.clone()),
            ],
        );
        assert_single(&found, &j, "myapp-migration-v1");
        assert!(found[0].help.as_deref().unwrap().contains("add `job.yaml`"));
        // The other Job rules do not judge a Job that is never applied.
        for other in ["job-name-unversioned", "job-force-annotation-missing", "job-ttl-missing"] {
            let f = run(
                other,
                &[
                    ("k/kustomization.yaml", K.to_string()),
                    ("k/app.yaml", APP.to_string()),
                    ("k/job.yaml", j.replace("myapp-migration-v1", "myapp-migration")),
                ],
            );
            assert!(f.is_empty(), "{other}: {f:?}");
        }
    }

    #[test]
    fn included_by_another_kustomization_or_loose_passes() {
        let parent = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - k/job.yaml\n";
        let found = run(
            RULE,
            &[
                ("kustomization.yaml", parent.to_string()),
                ("k/kustomization.yaml", K.to_string()),
                ("k/app.yaml", APP.to_string()),
                ("k/job.yaml", job()),
            ],
        );
        assert!(found.is_empty(), "{found:?}");
        // No kustomization in the directory: a loose manifest, applied with `kubectl apply -f`.
        let found = run(RULE, &[("k/app.yaml", APP.to_string()), ("k/job.yaml", job())]);
        assert!(found.is_empty(), "{found:?}");
        // Still judged by the other Job rules there.
        let unversioned = job().replace("myapp-migration-v1", "myapp-migration");
        let found = run("job-name-unversioned", &[("k/job.yaml", unversioned)]);
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
