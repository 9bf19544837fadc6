//! A kustomization file kustomize refuses to read because of its `apiVersion` or `kind`.
//!
//! Checked against kustomize v5.5.0: `kind: Kustomization` (or no kind) needs
//! `kustomize.config.k8s.io/v1beta1`, `kind: Component` needs `kustomize.config.k8s.io/v1alpha1`;
//! a missing or empty `apiVersion` is accepted; any other kind is rejected.

use super::meta::KUSTOMIZE_API_VERSION as META;
use super::{Rule, diag_in_doc};
use crate::base::diagnostic::{Diagnostic, FileId, Loc};
use crate::base::mask::display_value;
use crate::model::FileRole;
use crate::render::workspace::Workspace;

pub(crate) struct KustomizeApiVersion;

const KUSTOMIZATION: &str = "kustomize.config.k8s.io/v1beta1";
const COMPONENT: &str = "kustomize.config.k8s.io/v1alpha1";


impl Rule for KustomizeApiVersion {
    fn check_workspace(&self, ws: &Workspace, out: &mut Vec<Diagnostic>) {
        for (fid, f) in ws.files.iter().enumerate() {
            if f.role != FileRole::Kustomization {
                continue;
            }
            let Some(doc) = f.docs.first() else { continue };
            if !doc.is_map(doc.root) {
                continue;
            }
            let fid = fid as FileId;
            let field = |k: &str| {
                doc.get(doc.root, k)
                    .map(|n| (n, doc.string(n).unwrap_or("")))
                    .filter(|(_, s)| !s.is_empty())
            };
            let at = |n, message: String| diag_in_doc(&META, fid, doc, n, message);
            let kind = field("kind");
            let api = field("apiVersion");
            if let Some((n, a)) = api
                && a.starts_with("kustomize.toolkit.fluxcd.io/")
            {
                out.push(
                    at(
                        n,
                        format!(
                            "this is a Flux Kustomization (`{}`), but kustomize reads every file named `{}` as its own configuration and fails with `apiVersion for Kustomization should be {KUSTOMIZATION}`",
                            display_value(a),
                            f.source.display.rsplit('/').next().unwrap_or("kustomization.yaml"),
                        ),
                    )
                    .help("rename the Flux object's file (for example `flux-kustomization.yaml`) and keep `kustomization.yaml` for kustomize"),
                );
                continue;
            }
            let expected = match kind {
                None | Some((_, "Kustomization")) => KUSTOMIZATION,
                Some((_, "Component")) => COMPONENT,
                Some((n, other)) => {
                    out.push(
                        at(
                            n,
                            format!(
                                "kind `{}` is not one kustomize reads: it fails with `kind should be Kustomization or Component`, so nothing in this directory can be built",
                                display_value(other)
                            ),
                        )
                        .help("use `kind: Kustomization` (or `kind: Component` for a component)"),
                    );
                    continue;
                }
            };
            let Some((n, a)) = api else { continue };
            if a == expected {
                continue;
            }
            let kind_name = if expected == COMPONENT {
                "Component"
            } else {
                "Kustomization"
            };
            let mut d = at(
                n,
                format!(
                    "apiVersion `{}` is rejected for kind {kind_name}: kustomize fails with `apiVersion for {kind_name} should be {expected}`, so `kubectl apply -k` and Flux cannot build this directory",
                    display_value(a)
                ),
            )
            .help(format!("set `apiVersion: {expected}`"))
            .fix(
                crate::yaml::edit::Editor::new(&f.source.text, doc, fid)
                    .set_scalar(n, expected)
                    .map(|e| crate::base::diagnostic::Fix::safe(format!("set apiVersion: {expected}"), vec![e])),
            );
            if let Some((k, _)) = kind {
                d = d.related(
                    Loc {
                        file: fid,
                        span: doc.span(k),
                    },
                    format!("kind {kind_name}"),
                );
            }
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::diagnostic::Diagnostic;
    use crate::rules::testing::*;

    /// A kustomization starting with `head`, its findings of the rule.
    fn lint_head(head: &str) -> (String, Vec<Diagnostic>) {
        let k = format!("{head}resources: [cm.yaml]\n");
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
        let files = [("k/kustomization.yaml", k.as_str()), ("k/cm.yaml", cm)];
        let d = run("kustomize-api-version", &files);
        (k, d)
    }

    #[test]
    fn v1_is_rejected_for_kustomization() {
        let (k, d) = lint_head("apiVersion: kustomize.config.k8s.io/v1\nkind: Kustomization\n");
        assert_single(&d, &k, "kustomize.config.k8s.io/v1");
        assert_eq!(
            d[0].message,
            "apiVersion `kustomize.config.k8s.io/v1` is rejected for kind Kustomization: kustomize fails with `apiVersion for Kustomization should be kustomize.config.k8s.io/v1beta1`, so `kubectl apply -k` and Flux cannot build this directory"
        );
        assert_eq!(d[0].related.len(), 1);
        assert_eq!(&k[d[0].related[0].loc.span.range()], "Kustomization");
        assert!(d[0].object.is_none());
        // Without a kind, kustomize assumes Kustomization.
        let (k, d) = lint_head("apiVersion: kustomize.config.k8s.io/v1alpha1\n");
        assert_single(&d, &k, "kustomize.config.k8s.io/v1alpha1");
        assert!(d[0].related.is_empty());
    }

    #[test]
    fn components_use_v1alpha1() {
        let (k, d) = lint_head("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Component\n");
        assert_single(&d, &k, "kustomize.config.k8s.io/v1beta1");
        assert_contains(&d[0].message, "should be kustomize.config.k8s.io/v1alpha1");
        assert!(
            lint_head("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n")
                .1
                .is_empty()
        );
    }

    #[test]
    fn unknown_kind_and_flux_objects() {
        let (k, d) =
            lint_head("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomisation\n");
        assert_single(&d, &k, "Kustomisation");
        assert_contains(&d[0].message, "kind should be Kustomization or Component");
        let (k, d) = lint_head("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n");
        assert_single(&d, &k, "kustomize.toolkit.fluxcd.io/v1");
        assert_contains(&d[0].message, "Flux Kustomization");
    }

    #[test]
    fn accepted_forms() {
        // Each checked with kubectl kustomize (v5.5.0).
        for head in [
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
            "kind: Kustomization\n",
            "apiVersion: kustomize.config.k8s.io/v1beta1\n",
            "apiVersion: \"\"\nkind: Kustomization\n",
            "",
        ] {
            assert!(lint_head(head).1.is_empty(), "{head}");
        }
    }
}
