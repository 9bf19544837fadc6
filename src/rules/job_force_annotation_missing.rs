//! Under Flux, a migration Job needs `kustomize.toolkit.fluxcd.io/force: enabled` to be
//! replaced when its (immutable) template changes under the same name.

use super::meta::JOB_FORCE_ANNOTATION_MISSING as META;
use super::{ObjectCx, Rule, migration_job};
use crate::base::diagnostic::{Diagnostic, Fix, Severity};
use crate::model::Typed;
use crate::model::config::DeployEngine;
use crate::model::migration::{hook, label_or_annotation};
use crate::yaml::Seg;

pub(crate) struct JobForceAnnotationMissing;

pub(crate) const FORCE: &str = "kustomize.toolkit.fluxcd.io/force";

const HELP: &str = "add the annotation kustomize.toolkit.fluxcd.io/force: enabled (or set deploy-engine in .kube-migrate-lint.yaml if Flux does not apply this Job)";

impl Rule for JobForceAnnotationMissing {
    fn check_object(&self, cx: &ObjectCx<'_>, out: &mut Vec<Diagnostic>) {
        if !matches!(cx.obj.typed, Typed::Job) {
            return;
        }
        // Flux's own annotation: a warning where Flux is evident (or configured); where no
        // engine is, Flux may still apply it from a fleet repository, so an info that names
        // the setting that makes it count.
        let engine = cx.engine();
        let flux = engine.engine == DeployEngine::Flux;
        if !flux && engine.evident {
            return;
        }
        if migration_job(cx).is_none() || hook(cx.obj, cx.doc).is_some() {
            return;
        }
        let grade = |d: Diagnostic| {
            if flux {
                d
            } else {
                let message = format!("{} (if Flux applies it: no deploy engine is evident in this repository; set `deploy-engine: flux` in .kube-migrate-lint.yaml to make this a warning, or `deploy-engine: kubectl` to drop it)", d.message);
                Diagnostic { message, ..d }.severity(Severity::Info)
            }
        };
        match label_or_annotation(cx.obj, cx.doc, FORCE) {
            Some((v, _)) if v.eq_ignore_ascii_case("enabled") => {}
            Some((v, node)) => {
                let path = cx.doc.path_to(cx.obj.root, node).unwrap_or_default();
                out.push(grade(
                    cx.diag_at(
                        &META,
                        cx.loc_of(node),
                        path,
                        format!(
                            "`{FORCE}` is `{}`, but Flux only honours `enabled` (in any case), so this Job is never replaced",
                            crate::base::mask::display_value(v)
                        ),
                    )
                    .help(HELP)
                    .fix(
                        cx.editor()
                            .set_scalar(node, "enabled")
                            .map(|e| Fix::safe(format!("set {FORCE}: enabled"), vec![e])),
                    ),
                ));
            }
            None => {
                out.push(grade(
                    cx.diag(
                        &META,
                        &[Seg::Key("metadata"), Seg::Key("annotations"), Seg::Key(FORCE)],
                        "migration job lacks the Flux force annotation: when its template changes under the same name, the apply fails with `field is immutable` and blocks the whole Kustomization",
                    )
                    .help(HELP)
                    .fix(
                        cx.editor()
                            .set_path(cx.obj.root, &["metadata", "annotations", FORCE], "enabled", &[])
                            .map(|e| Fix::safe(format!("add the annotation {FORCE}: enabled"), vec![e])),
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::diagnostic::Severity;
    use crate::model::config::DeployEngine;
    use crate::rules::testing::*;

    const RULE: &str = "job-force-annotation-missing";

    fn job(meta_extra: &str) -> String {
        let containers = " [{name: m, image: app:1}]\n";
        Job::default()
            .meta(meta_extra)
            .containers(containers)
            .yaml()
    }

    #[test]
    fn missing_points_at_metadata() {
        let text = job("");
        let d = lint_with_engine(&text, DeployEngine::Flux);
        let d: Vec<_> = d.into_iter().filter(|d| d.rule == RULE).collect();
        assert_single(&d, &text, "metadata");
        assert_eq!(d[0].severity, Severity::Warning);
    }

    #[test]
    fn without_evidence_of_flux_it_is_an_info_naming_the_setting() {
        let text = job("");
        let d = lint_one(&text, RULE);
        assert_single(&d, &text, "metadata");
        assert_eq!(d[0].severity, Severity::Info);
        assert!(d[0].message.contains("`deploy-engine: flux`"), "{}", d[0].message);
    }

    #[test]
    fn a_flux_kustomization_deploying_the_directory_makes_it_a_warning() {
        let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app, namespace: flux-system}\nspec: {path: ./k8s, interval: 5m, prune: true, sourceRef: {kind: GitRepository, name: repo}}\n";
        let d = run(RULE, &[("k8s/job.yaml", job("").as_str()), ("k8s/flux.yaml", flux)]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].severity, Severity::Warning);
        // Under an evident engine that is not Flux, nothing.
        let d = run_under(RULE, &[("k8s/job.yaml", job(""))], DeployEngine::Kubectl);
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn any_case_label_or_annotation_passes() {
        for extra in [
            "  annotations:\n    kustomize.toolkit.fluxcd.io/force: Enabled\n",
            "  labels:\n    kustomize.toolkit.fluxcd.io/force: ENABLED\n",
        ] {
            assert!(
                lint_one(&job(extra), "job-force-annotation-missing").is_empty(),
                "{extra}"
            );
        }
    }

    #[test]
    fn wrong_value_points_at_the_value() {
        let text = job("  annotations:\n    kustomize.toolkit.fluxcd.io/force: \"true\"\n");
        let d = lint_one(&text, "job-force-annotation-missing");
        assert_eq!(&text[d[0].loc.span.range()], "\"true\"");
    }

    #[test]
    fn hooks_and_other_engines_are_exempt() {
        let text = job("  annotations:\n    helm.sh/hook: pre-upgrade\n");
        assert!(lint_one(&text, "job-force-annotation-missing").is_empty());
        let text = job("  annotations:\n    argocd.argoproj.io/hook: PreSync\n");
        assert!(lint_one(&text, "job-force-annotation-missing").is_empty());
        let d = lint_with_engine(&job(""), crate::model::config::DeployEngine::ArgoCd);
        assert!(!d.iter().any(|d| d.rule == "job-force-annotation-missing"));
    }
}
