//! A kustomize replacement target whose `select` matches nothing. Kustomize skips such a target
//! without a word, so the value it should copy (the image tag into a Job name or a wait-for
//! argument) is silently never written. Selector names are read as regular expressions only
//! since kustomize v5.8; before that they are compared exactly.

use super::meta::KUSTOMIZE_REPLACEMENT_UNMATCHED as META;
use super::{Rule};
use crate::base::diagnostic::{Diagnostic, Loc};
use crate::base::mask::display_value;
use crate::base::text::edit_distance;
use crate::render::kustomize::{self, Selector, Target};
use crate::render::workspace::Workspace;
use crate::render::{Context, IssueKind, Rendered};
use crate::yaml::{Document, NodeId};

pub(crate) struct KustomizeReplacementUnmatched;

const HELP_UNMATCHED: &str = "select the object by its kind (and exact name as it is at this point of the build), or remove the target";
const HELP_REGEX: &str = "select by kind alone (`select: {kind: Job}`) or by the exact name; or set `kustomize-version: \"5.8\"` in .kube-migrate-lint.yaml if every build (CI, kubectl, Flux) uses kustomize 5.8+";

fn describe(sel: &Selector) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("group", &sel.group),
        ("version", &sel.version),
        ("kind", &sel.kind),
        ("name", &sel.name),
        ("namespace", &sel.namespace),
        ("labelSelector", &sel.label_selector),
        ("annotationSelector", &sel.annotation_selector),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}: {}", display_value(v)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

fn selects(sel: &Selector, r: &Rendered, name: &str, regex: bool) -> bool {
    let ns = r.namespace.as_ref().map(|v| v.text.as_str());
    sel.matches(&r.api_version, &r.kind, Some(name), ns, regex)
}

/// Names an object had during the build (the evaluator compares against all of them).
fn names(r: &Rendered) -> impl Iterator<Item = &str> {
    std::iter::once(r.name.text.as_str()).chain(r.previous_names.iter().map(String::as_str))
}

fn object_loc(ws: &Workspace, r: &Rendered) -> Option<Loc> {
    r.name.origin.or_else(|| {
        let o = &ws.objects[r.object()? as usize];
        let doc = ws.doc_of(o);
        Some(Loc {
            file: o.file,
            span: doc.span(doc.get(o.root, "kind").unwrap_or(o.root)),
        })
    })
}

fn find_target(doc: &Document, node: NodeId) -> Option<Target> {
    kustomize::replacements(doc)
        .into_iter()
        .flat_map(|r| r.targets)
        .find(|t| t.select.node == Some(node) || t.node == node)
}

fn field_list(t: &Target) -> String {
    t.field_paths
        .iter()
        .map(|(p, _)| format!("`{}`", display_value(p)))
        .collect::<Vec<_>>()
        .join(", ")
}


fn unmatched(ws: &Workspace, cx: Option<&Context>, t: &Target, loc: Loc) -> Diagnostic {
    let mut d = Diagnostic::new(
        META.name,
        META.severity,
        loc,
        format!(
            "replacement target {}{} selects no resource: kustomize skips it without an error, so {} is never written",
            describe(&t.select),
            if t.reject.is_empty() {
                String::new()
            } else {
                format!(
                    " with reject {}",
                    t.reject.iter().map(describe).collect::<Vec<_>>().join(", ")
                )
            },
            field_list(t)
        ),
    )
    .help(HELP_UNMATCHED);
    // The closest object of the selected kind, by name: usually a typo or a stale name.
    if let (Some(cx), Some(want)) = (cx, t.select.name.as_deref()) {
        let same_kind = Selector {
            name: None,
            namespace: None,
            ..t.select.clone()
        };
        let best = cx
            .rendered
            .iter()
            .filter(|r| selects(&same_kind, r, &r.name.text, false))
            .filter_map(|r| {
                names(r)
                    .map(|n| (edit_distance(n, want), n.to_string()))
                    .min()
                    .map(|(dist, n)| (dist, n, r))
            })
            .min_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        if let Some((_, n, r)) = best
            && let Some(at) = object_loc(ws, r)
        {
            d = d.related(
                at,
                format!(
                    "the closest is {} `{}`; names are compared exactly",
                    r.kind,
                    display_value(&n)
                ),
            );
        }
    }
    d
}

fn regex_only(ws: &Workspace, cx: Option<&Context>, t: &Target, loc: Loc) -> Diagnostic {
    let name = t.select.name.clone().unwrap_or_default();
    let mut d = Diagnostic::new(
        META.name,
        META.severity,
        loc,
        format!(
            "replacement target name `{}` only matches as a regular expression, which kustomize reads so only since v5.8: older kustomize (kubectl 1.32 embeds v5.5) compares names exactly, selects nothing and silently skips the target, so {} is never written",
            display_value(&name),
            field_list(t)
        ),
    )
    .help(HELP_REGEX);
    if let Some(cx) = cx {
        for r in cx
            .rendered
            .iter()
            .filter(|r| names(r).any(|n| selects(&t.select, r, n, true)))
            .take(3)
        {
            if let Some(at) = object_loc(ws, r) {
                d = d.related(
                    at,
                    format!(
                        "the {} `{}` matches only as a regular expression",
                        r.kind,
                        display_value(&r.name.text)
                    ),
                );
            }
        }
    }
    d
}

impl Rule for KustomizeReplacementUnmatched {
    fn check_workspace(&self, ws: &Workspace, out: &mut Vec<Diagnostic>) {
        for i in &ws.replacement_issues {
            if i.kind() != IssueKind::Unmatched && i.kind() != IssueKind::RegexOnly {
                continue;
            }
            let Some(doc) = ws.files[i.kustomization as usize].docs.first() else {
                continue;
            };
            let Some(t) = find_target(doc, i.node) else {
                continue;
            };
            let loc = Loc {
                file: i.kustomization,
                span: doc.span(i.node),
            };
            let cx = ws.build_of_kustomization(i.kustomization);
            // Only a name that matches as a regex, on an object no `reject` excludes, is a
            // regex-only match; otherwise the target simply selects nothing.
            let regex_only_match = i.kind() == IssueKind::RegexOnly
                && t.select.name.as_deref().is_some_and(|n| !n.is_empty())
                && cx.is_none_or(|cx| {
                    cx.rendered.iter().any(|r| {
                        names(r).any(|n| selects(&t.select, r, n, true))
                            && !t
                                .reject
                                .iter()
                                .any(|s| names(r).any(|n| selects(s, r, n, true)))
                    })
                });
            let mut d = if regex_only_match {
                regex_only(ws, cx, &t, loc)
            } else {
                unmatched(ws, cx, &t, loc)
            };
            d.path = doc.path_to(doc.root, i.node).filter(|p| !p.is_empty());
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::diagnostic::Diagnostic;
    use crate::engine::Settings;
    use crate::rules::testing::*;

    const VARS: &str =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: vars}\ndata: {IMAGE_TAG: v1.2.3}\n";
    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: myapp-migration-TAG\nspec: {backoffLimit: 0, template: {spec: {restartPolicy: Never, containers: [{name: m, image: app}]}}}\n";

    fn lint_targets(targets: &str, settings: &Settings) -> (String, Vec<Diagnostic>) {
        let k = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [vars.yaml, job.yaml]\nreplacements:\n- source: {{kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}}\n  targets:\n{targets}"
        );
        let files = [
            ("k/vars.yaml", VARS),
            ("k/job.yaml", JOB),
            ("k/kustomization.yaml", k.as_str()),
        ];
        let d = run_with("kustomize-replacement-unmatched", &files, settings);
        (k, d)
    }

    /// [`lint_targets`] with default settings.
    fn lint(targets: &str) -> (String, Vec<Diagnostic>) {
        lint_targets(targets, &Settings::default())
    }

    /// Linting with these targets finds nothing.
    #[track_caller]
    fn passes(text: &str) {
        let (_, d) = lint(text);
        assert!(d.is_empty(), "{d:?}");
    }

    /// The message of a target that selects nothing.
    fn selects_nothing(select: &str, field: &str) -> String {
        format!(
            "replacement target {select} selects no resource: kustomize skips it without an error, so `{field}` is never written"
        )
    }

    #[test]
    fn a_regex_name_selects_nothing_before_kustomize_5_8() {
        let (k, d) = lint(
            "  - select:\n      kind: Job\n      name: myapp-migration-.*\n    fieldPaths: [metadata.name]\n    options: {delimiter: '-', index: 2}\n",
        );
        assert_single(&d, &k, "kind: Job\n      name: myapp-migration-.*");
        assert_starts_with(
            &d[0].message,
            "replacement target name `myapp-migration-.*` only matches as a regular expression",
        );
        assert_contains(&d[0].message, "`metadata.name` is never written");
        assert_eq!(d[0].related.len(), 1);
        assert_eq!(
            d[0].related[0].message,
            "the Job `myapp-migration-TAG` matches only as a regular expression"
        );
        assert_eq!(
            d[0].path.as_deref(),
            Some("replacements[0].targets[0].select")
        );
        // With kustomize 5.8+ the regex matches.
        let s = Settings {
            regex_selectors: true,
            ..Settings::default()
        };
        let (_, d) = lint_targets("  - select:\n      kind: Job\n      name: myapp-migration-.*\n", &s);
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn a_select_matching_nothing_names_the_closest_object() {
        // The second: kustomize records no previous name for a replacement's write to
        // metadata.name, so the Job is only known by its new one.
        for (targets, select, field, closest) in [
            (
                "  - select: {kind: Job, name: myapp-migrate-TAG}\n    fieldPaths: [metadata.name]\n",
                "{kind: Job, name: myapp-migrate-TAG}",
                "metadata.name",
                "myapp-migration-TAG",
            ),
            (
                "  - select: {kind: Job}\n    options: {delimiter: '-', index: 2}\n  - select: {kind: Job, name: myapp-migration-TAG}\n    fieldPaths: [metadata.labels.version]\n    options: {create: true}\n",
                "{kind: Job, name: myapp-migration-TAG}",
                "metadata.labels.version",
                "myapp-migration-v1.2.3",
            ),
        ] {
            let (k, d) = lint(targets);
            assert_single(&d, &k, select);
            assert_eq!(d[0].message, selects_nothing(select, field));
            assert_eq!(
                d[0].related[0].message,
                format!("the closest is Job `{closest}`; names are compared exactly")
            );
        }
    }

    #[test]
    fn selects_nothing_without_a_closest_object() {
        // A kind the build does not have; everything the select matches rejected, regex or
        // not.
        for (targets, select, field) in [
            (
                "  - select: {kind: Deployment}\n    fieldPaths: [spec.replicas]\n",
                "{kind: Deployment}",
                "spec.replicas",
            ),
            (
                "  - select: {kind: Job}\n    reject: [{name: myapp-migration-TAG}]\n    fieldPaths: [metadata.labels.v]\n    options: {create: true}\n",
                "{kind: Job} with reject {name: myapp-migration-TAG}",
                "metadata.labels.v",
            ),
            // Label and annotation selectors are evaluated on what the build rendered, and
            // the message names them (a selector shown as `{}` would say "everything").
            (
                "  - select: {labelSelector: app=none}\n    fieldPaths: [metadata.labels.v]\n    options: {create: true}\n",
                "{labelSelector: app=none}",
                "metadata.labels.v",
            ),
            (
                "  - select: {kind: Job, annotationSelector: team=none}\n    fieldPaths: [metadata.labels.v]\n    options: {create: true}\n",
                "{kind: Job, annotationSelector: team=none}",
                "metadata.labels.v",
            ),
        ] {
            let (_, d) = lint(targets);
            assert_eq!(d.len(), 1, "{d:?}");
            assert_eq!(d[0].message, selects_nothing(select, field));
            assert!(d[0].related.is_empty(), "{d:?}");
        }
    }

    #[test]
    fn matching_selects_pass() {
        passes("  - select: {kind: Job, name: myapp-migration-TAG}\n    fieldPaths: [metadata.labels.version]\n    options: {create: true}\n  - select: {kind: Job}\n    options: {delimiter: '-', index: 2}\n");
        passes("  - select: {kind: Job, labelSelector: '!app'}\n    reject: [{annotationSelector: x=y}]\n    fieldPaths: [metadata.labels.v]\n    options: {create: true}\n");
    }
}
