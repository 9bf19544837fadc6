//! A migration Job's name must change with every release, or the new release's Job is never
//! created (same name, unchanged: nothing to do) or cannot be applied (same name, new
//! template: Job templates are immutable).

use super::meta::JOB_NAME_UNVERSIONED as META;
use super::{ContextCx, Rule, migration_job, paths};
use crate::base::diagnostic::Diagnostic;
use crate::model::Typed;
use crate::model::config::DeployEngine;
use crate::model::migration::hook;

pub(crate) struct JobNameUnversioned;

/// Whether a literal name already carries a version: a `-`/`.` separated word that is a number,
/// `v` followed by a number, or a commit hash.
pub(crate) fn has_literal_version(name: &str) -> bool {
    name.split(['-', '.', '_']).any(|w| {
        let digits = w.strip_prefix('v').unwrap_or(w);
        (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
            || (w.len() >= 7
                && w.chars().all(|c| c.is_ascii_hexdigit())
                && w.chars().any(|c| c.is_ascii_digit()))
    })
}

impl Rule for JobNameUnversioned {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        for (r, ocx) in cx.rendered() {
            if !matches!(ocx.obj.typed, Typed::Job) || migration_job(&ocx).is_none() {
                continue;
            }
            if hook(ocx.obj, ocx.doc).is_some() {
                continue;
            }
            let Some(name) = ocx.obj.name.as_deref() else {
                continue; // generateName: a new name on every create
            };
            // A placeholder, a literal version, or a replacement writing the name.
            // (Any template token: CI or Flux writes the name.)
            if crate::model::template::is_templated(name)
                || has_literal_version(name)
                || r.name_replaced
            {
                continue;
            }
            // What applying the next release's Job does, by the engine that applies it.
            let apply = match ocx.deploy_engine() {
                DeployEngine::ArgoCd => {
                    "Argo CD's sync of a changed one fails with `field is immutable` and the application stays OutOfSync"
                }
                DeployEngine::Flux => {
                    "a changed one fails to apply (Job templates are immutable) unless Flux's force annotation re-creates it"
                }
                DeployEngine::Helm => "a changed one fails the upgrade (Job templates are immutable)",
                _ => "`kubectl apply` of a changed one fails with `field is immutable`",
            };
            out.push(
                ocx.diag(
                    &META,
                    paths::NAME,
                    format!(
                        "migration job name `{}` carries no version, so the next release cannot create a new Job: an unchanged Job never runs again and {apply}",
                        crate::base::mask::display_value(name)
                    ),
                )
                .help(format!(
                    "put the release version in the name, e.g. `{}-${{IMAGE_TAG}}`, filled by Flux postBuild substitution or a kustomize replacement",
                    crate::base::mask::display_value(name)
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::has_literal_version;
    use crate::model::config::DeployEngine;
    use crate::rules::testing::*;

    #[test]
    fn plain_name_fails_at_the_name() {
        let text = job("db-migrate", BODY);
        let d = lint_one(&text, "job-name-unversioned");
        assert_single(&d, &text, "db-migrate");
        // No engine evident: kubectl apply's failure is the one named.
        assert!(d[0].message.ends_with("`kubectl apply` of a changed one fails with `field is immutable`"), "{}", d[0].message);
        let d = crate::rules::testing::run_under(
            "job-name-unversioned",
            &[("k8s/job.yaml", text.as_str())],
            DeployEngine::ArgoCd,
        );
        assert!(d[0].message.contains("Argo CD's sync"), "{}", d[0].message);
    }

    #[test]
    fn placeholders_versions_and_generate_name_pass() {
        assert!(
            lint_one(
                &job("db-migrate-${IMAGE_TAG}", BODY),
                "job-name-unversioned"
            )
            .is_empty()
        );
        assert!(lint_one(&job("db-migrate-v12", BODY), "job-name-unversioned").is_empty());
        let generated = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: db-migrate-\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: app:1}]\n";
        assert!(lint_one(generated, "job-name-unversioned").is_empty());
    }

    fn with_select(select: &str) -> Vec<crate::base::diagnostic::Diagnostic> {
        let files = tagged_job("myapp-migration-placeholder", "v1.2.3", select);
        run("job-name-unversioned", &files)
    }

    #[test]
    fn a_replacement_writing_the_name_passes() {
        assert!(with_select("{kind: Job}").is_empty());
        assert!(with_select("{kind: Job, name: myapp-migration-placeholder}").is_empty());
    }

    #[test]
    fn a_regex_select_writes_nothing_before_kustomize_5_8() {
        assert_eq!(
            with_select("{kind: Job, name: myapp-migration-.*}").len(),
            1
        );
    }

    #[test]
    fn literal_versions() {
        for yes in ["app-migrate-v3", "app-migrate-20240101", "app-migrate-1a2b3c4d"] {
            assert!(has_literal_version(yes), "{yes}");
        }
        for no in ["app-migrate", "app2-migrate"] {
            assert!(!has_literal_version(no), "{no}");
        }
    }
}
