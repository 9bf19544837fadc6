//! A patch kustomize fails to apply, which fails the whole build: the evaluator applies every
//! patch natively and records kustomize's own error text when kustomize would stop.

use super::Rule;
use super::meta::KUSTOMIZE_BUILD_ERROR as META;
use crate::base::diagnostic::{Diagnostic, Loc};
use crate::render::workspace::Workspace;
use crate::render::{Issue, IssueKind};

pub struct KustomizeBuildError;

impl Rule for KustomizeBuildError {
    fn check_workspace(&self, ws: &Workspace, out: &mut Vec<Diagnostic>) {
        for i in ws
            .replacement_issues
            .iter()
            .filter(|i| i.kind() == IssueKind::BuildFailed)
        {
            let Issue::BuildFailed(error) = &i.issue else {
                continue;
            };
            let Some(doc) = ws.files[i.kustomization as usize].docs.first() else {
                continue;
            };
            let mut d = Diagnostic::new(
                META.name,
                META.severity,
                Loc {
                    file: i.kustomization,
                    span: doc.span(i.node),
                },
                "kustomize cannot apply this patch, so the whole build fails and nothing in it is applied",
            )
            .help(format!(
                "kustomize says: {error}; make the patch match what the build renders (`kube-migrate-lint build DIR` prints it)"
            ));
            d.path = doc.path_to(doc.root, i.node).filter(|p| !p.is_empty());
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::run;

    const BASE: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: app, image: app:1}]\n";

    fn lint(patches: &str) -> Vec<crate::base::diagnostic::Diagnostic> {
        let k = format!("resources: [dep.yaml]\npatches:\n{patches}");
        run("kustomize-build-error", &[("k/kustomization.yaml", k.as_str()), ("k/dep.yaml", BASE)])
    }

    #[test]
    fn a_json_patch_on_a_missing_path_fails_the_build() {
        let d = lint("- target: {kind: Deployment}\n  patch: |-\n    - {op: replace, path: /spec/nope/x, value: 1}\n");
        assert_eq!(d.len(), 1);
        let help = d[0].help.as_deref().unwrap_or("");
        assert!(help.contains("replace operation does not apply: doc is missing path: /spec/nope/x"), "{help}");
    }

    #[test]
    fn a_strategic_merge_patch_that_matches_nothing_fails_the_build() {
        let d = lint("- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: other}\n    spec: {replicas: 2}\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].help.as_deref().unwrap_or("").contains("no resource matches strategic merge patch"));
    }

    #[test]
    fn patches_that_apply_pass() {
        let d = lint("- target: {kind: Deployment}\n  patch: |-\n    - {op: test, path: /kind, value: Deployment}\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: web}\n    spec: {replicas: 2}\n");
        assert!(d.is_empty(), "{d:?}");
    }
}
