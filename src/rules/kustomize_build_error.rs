//! A kustomization kustomize refuses to build for a reason outside its replacements: the
//! evaluator's refusals (patches that do not apply, generator behaviours, generator sources,
//! the load restrictor), each with kustomize's own error text.

use super::Rule;
use super::meta::KUSTOMIZE_BUILD_ERROR as META;
use crate::base::diagnostic::{Diagnostic, Loc};
use crate::render::refusal::Refusal;
use crate::render::workspace::Workspace;
use crate::render::{Issue, IssueKind};

pub(crate) struct KustomizeBuildError;

/// What the refusal means, in the words of the user's file.
fn message(refusal: &Refusal) -> String {
    match refusal {
        Refusal::GeneratorWithoutBase { kind, name, .. } => format!(
            "this generator merges into {kind} `{name}`, which no base defines: kustomize refuses the build, and nothing in it is applied"
        ),
        Refusal::GeneratorExists { kind, name, .. } => format!(
            "a base already defines {kind} `{name}`: a generator without `behavior: merge` or `replace` makes kustomize refuse the build, and nothing in it is applied"
        ),
        Refusal::GeneratorSource { kind, name, why } => format!(
            "kustomize cannot read the data of {kind} generator `{name}` ({why}): the build fails, and nothing in it is applied"
        ),
        Refusal::NotAString { key, read_as, .. } => format!(
            "kustomize reads the value of `{key}` as a {read_as}, but label and annotation values must be strings: the kustomization does not load, the build fails and nothing in it is applied (quote the value)"
        ),
        Refusal::Patch { .. } => "kustomize cannot apply this patch, so the whole build fails and nothing in it is applied".into(),
        Refusal::ResourceOutsideRoot { entry, root, .. } => format!(
            "`{entry}` is a file outside the kustomization's directory `{root}`: kustomize's load restrictor refuses it, the build fails and nothing in it is applied"
        ),
    }
}

impl Rule for KustomizeBuildError {
    fn check_workspace(&self, ws: &Workspace, out: &mut Vec<Diagnostic>) {
        for i in &ws.replacement_issues {
            let Issue::Build(refusal) = &i.issue else {
                continue;
            };
            debug_assert_eq!(i.kind(), IssueKind::BuildError);
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
                message(refusal),
            )
            .help(match refusal {
                Refusal::Patch { error } => format!(
                    "kustomize says: {error}; make the patch match what the build renders (`kube-migrate-lint build DIR` prints it)"
                ),
                _ => format!("kustomize says: {}", refusal.kustomize_error()),
            });
            d.path = doc.path_to(doc.root, i.node).filter(|p| !p.is_empty());
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::run;

    #[test]
    fn merge_without_base_and_repeated_keys() {
        let found = run(
            "kustomize-build-error",
            &[
            (
                "o/kustomization.yaml",
                "resources: [../b]\nconfigMapGenerator:\n- name: other\n  behavior: merge\n  literals: [a=1]\n- name: dup\n  literals: [a=1, a=2]\n",
            ),
            (
                "b/kustomization.yaml",
                "configMapGenerator:\n- name: cm\n  literals: [a=1]\n",
            ),
            ],
        );
        let ours: Vec<_> = found.iter().collect();
        assert_eq!(ours.len(), 2, "{ours:?}");
        assert!(ours[0].message.contains("`other`"));
        assert!(
            ours[0]
                .help
                .as_deref()
                .unwrap_or_default()
                .contains("does not exist; cannot merge or replace")
        );
        assert!(
            ours[1]
                .help
                .as_deref()
                .unwrap_or_default()
                .contains("configmap dup illegally repeats the key `a`")
        );
    }

    #[test]
    fn merge_into_the_base_is_fine() {
        let found = run(
            "kustomize-build-error",
            &[
            (
                "o/kustomization.yaml",
                "resources: [../b]\nnamePrefix: p-\nconfigMapGenerator:\n- name: cm\n  behavior: merge\n  literals: [b=1]\n",
            ),
            (
                "b/kustomization.yaml",
                "configMapGenerator:\n- name: cm\n  literals: [a=1]\n",
            ),
            ],
        );
        assert!(found.is_empty(), "{found:?}");
        // The base's `namespace:` moved it; kustomize still matches the id it was generated
        // with (a corpus overlay that kubectl builds).
        let found = run(
            "kustomize-build-error",
            &[
                (
                    "o/kustomization.yaml",
                    "resources: [../b]\nconfigMapGenerator:\n- name: cm\n  behavior: merge\n  literals: [b=1]\n",
                ),
                (
                    "b/kustomization.yaml",
                    "namespace: app\nconfigMapGenerator:\n- name: cm\n  literals: [a=1]\n",
                ),
            ],
        );
        assert!(found.is_empty(), "{found:?}");
    }
}

#[cfg(test)]
mod patch_tests {
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
