//! A kustomize `replacements:` entry that makes `kustomize build` (and so `kubectl apply -k` and
//! Flux's kustomize-controller) fail: the evaluator's `Invalid` issues, corrected where
//! kustomize v5.5.0 accepts what looks missing, plus the structural errors kustomize reports
//! before it evaluates anything.

use super::meta::KUSTOMIZE_REPLACEMENT_INVALID as META;
use super::{Rule, diag_in_doc};
use crate::base::diagnostic::{Diagnostic, FileId, Fix, Severity};
use crate::model::FileRole;
use crate::render::kustomize::{self, Selector};
use crate::render::path::{self, Step};
use crate::render::workspace::Workspace;
use crate::render::path::PathError;
use crate::render::{Issue, IssueKind, Rendered, Source};
use crate::yaml::{Document, Kind, NodeId};

pub(crate) struct KustomizeReplacementInvalid;

const HELP: &str = "fix the replacement so `kubectl kustomize` builds: select list elements by index with a bare number (`args.1`) or by `[name=value]`, make the source select exactly one object that has the field, and set `options.create: true` for target fields that may be absent";

const MISSING_SUFFIX: &str = ": kustomize fails unless the target sets `options.create: true`";

/// The finding's words for what the evaluator found wrong with a replacement.
fn message(issue: &Issue) -> String {
    match issue {
        Issue::SourceSelectsNone => {
            "the source selects no resource: kustomize fails with `nothing selected by`".into()
        }
        Issue::SourceSelectsMany(n) => format!(
            "the source selects {n} resources, but kustomize needs exactly one (`multiple matches for selector`)"
        ),
        Issue::NoSource => "a replacement needs a `source` or a `sourceValue`".into(),
        Issue::InvalidFieldPath(why) => format!("{why}; kustomize build fails"),
        Issue::SourceFieldMissing { field_path } => {
            format!("fieldPath `{field_path}` is missing in the source: kustomize fails")
        }
        Issue::SourceIndexOutOfBounds { index, delimiter } => format!(
            "options.index {index} is out of bounds for the source value split by `{delimiter}`: kustomize fails"
        ),
        Issue::TargetPath { error, kind, name } => match error {
            PathError::Invalid(why) => format!("{why}; kustomize build fails"),
            PathError::NoField { field_path } => format!(
                "unable to find field \"{field_path}\" in replacement target ({kind} {name}){MISSING_SUFFIX}"
            ),
            PathError::NotAMapping { list, key } => format!(
                "`{list}` is a list, not a mapping with `{key}` ({kind} {name}){MISSING_SUFFIX}"
            ),
            PathError::OutOfRange { index, list, len } => format!(
                "index {index} is out of range: `{list}` has {len} element{} ({kind} {name}): kustomize fails, and `options.create` cannot add a list element by index",
                if *len == 1 { "" } else { "s" }
            ),
        },
        Issue::TargetUnmatched => {
            "this target selects no resource, so kustomize silently skips it".into()
        }
        Issue::Build(refusal) => refusal.kustomize_error(),
        Issue::TargetRegexOnly { name } => format!(
            "target name `{name}` is a regular expression: kustomize 5.8+ reads it as one, but older kustomize (kubectl ≤ 1.33 embeds 5.5-5.7) compares names exactly and this target selects nothing"
        ),
    }
}


/// `args.[1]` → `args.1`: kustomize selects a list element by a bare index; `[1]` is read as a
/// `[name=value]` match and fails.
fn bracket_fix(ws: &Workspace, file: FileId, doc: &Document, node: NodeId) -> Option<Fix> {
    let path = doc.str(node)?;
    let fixed = unbracket(path)?;
    crate::yaml::edit::Editor::new(&ws.files[file as usize].source.text, doc, file)
        .set_scalar(node, &fixed)
        .map(|e| Fix::safe("select the list element by a bare index", vec![e]))
}

fn unbracket(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    let mut changed = false;
    for (i, seg) in path.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        match seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                out.push_str(n);
                changed = true;
            }
            _ => out.push_str(seg),
        }
    }
    // Only a path that is plain text after the change (no quoting needed) is written.
    (changed
        && out
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'#' && b != b','))
    .then_some(out)
}

/// A replacement entry as written, with the nodes the checks need.
struct Entry {
    node: NodeId,
    /// `- path: file.yaml`: replacements loaded from another file, not read here.
    from_file: bool,
    targets: Vec<TargetEntry>,
}

struct TargetEntry {
    node: NodeId,
    has_select: bool,
    create: bool,
    field_paths: Vec<(String, NodeId)>,
}

fn entries(doc: &Document) -> Vec<Entry> {
    let Some(list) = doc.get(doc.root, "replacements") else {
        return Vec::new();
    };
    doc.items(list)
        .iter()
        .map(|&r| Entry {
            node: r,
            from_file: doc.get(r, "path").is_some()
                && doc.get(r, "source").is_none()
                && doc.get(r, "sourceValue").is_none(),
            targets: doc
                .get(r, "targets")
                .map(|t| doc.items(t))
                .unwrap_or(&[])
                .iter()
                .map(|&t| TargetEntry {
                    node: t,
                    has_select: doc.get(t, "select").is_some(),
                    create: doc.get(t, "options").and_then(|o| doc.get_str(o, "create"))
                        == Some("true"),
                    field_paths: doc
                        .get(t, "fieldPaths")
                        .map(|f| doc.items(f))
                        .unwrap_or(&[])
                        .iter()
                        .filter_map(|&p| doc.str(p).map(|s| (s.to_string(), p)))
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

/// What kustomize rejects in the shape of a replacement before evaluating it (checked with
/// kustomize v5.5.0), which the evaluator does not report.
fn structural(doc: &Document, ws: &Workspace, out: &mut Vec<(NodeId, String, Severity)>) {
    for e in entries(doc) {
        if e.from_file {
            continue;
        }
        let r = e.node;
        let source = doc.get(r, "source");
        let source_value = doc.get(r, "sourceValue");
        if let (Some(s), Some(_)) = (source, source_value) {
            out.push((
                s,
                "a replacement has both `source` and `sourceValue`; kustomize accepts only one of them and fails".into(),
                META.severity,
            ));
        } else if let Some(v) = source_value
            && !ws.options.regex_selectors
        {
            // Added in kustomize v5.7.0; older versions decode the kustomization strictly.
            out.push((
                doc.entry(r, "sourceValue").map(|e| e.0).unwrap_or(v),
                "`sourceValue` needs kustomize 5.7 or later: older kustomize (kubectl 1.32 embeds 5.5) rejects the whole kustomization with `json: unknown field \"sourceValue\"`".into(),
                Severity::Warning,
            ));
        }
        if e.targets.is_empty() && (source.is_some() || source_value.is_some()) {
            let at = doc.entry(r, "targets").map(|e| e.0).unwrap_or(r);
            out.push((
                at,
                "this replacement has no targets; kustomize fails with `replacements must specify a source and at least one target`".into(),
                META.severity,
            ));
        }
        for t in &e.targets {
            if !t.has_select {
                out.push((
                    t.node,
                    "this target has no `select` (a `reject` alone is not enough); kustomize fails with `target must specify resources to select`".into(),
                    META.severity,
                ));
            }
        }
    }
}


fn selects(sel: &Selector, r: &Rendered, regex: bool) -> bool {
    let ns = r.namespace.as_ref().map(|v| v.text.as_str());
    std::iter::once(r.name.text.as_str())
        .chain(r.previous_names.iter().map(String::as_str))
        .any(|n| sel.matches(&r.api_version, &r.kind, Some(n), ns, regex))
}

/// Whether a source field the evaluator called missing is really there: kustomize accepts an
/// empty string, and copies a mapping or a list whole when no delimiter is set. `None`: keep
/// the finding as it is; `Some(None)`: drop it; `Some(Some(message))`: replace its message.
fn recheck_source(
    ws: &Workspace,
    k: FileId,
    doc: &Document,
    node: NodeId,
) -> Option<Option<String>> {
    let rep = kustomize::replacements(doc).into_iter().find(|r| {
        r.source
            .as_ref()
            .is_some_and(|s| s.selector.node == Some(node))
    })?;
    let src = rep.source?;
    let cx = ws.build_of_kustomization(k)?;
    let env = ws.env();
    let found: Vec<&Rendered> = cx
        .rendered
        .iter()
        .filter(|r| selects(&src.selector, r, false))
        .collect();
    let [r] = found.as_slice() else { return None };
    match r.source {
        Source::Object(o) => {
            let (odoc, root, _) = env.doc_of(o);
            let at = crate::render::path::resolve_source(odoc, root, &src.field_path)
                .ok()?
                .into_iter()
                .next()?;
            let n = crate::render::path::node_at(odoc, root, &at)?;
            match odoc.node(odoc.resolve(n)).kind {
                // Present but empty: kustomize copies the empty string. A YAML null is missing
                // to kustomize too.
                Kind::Scalar { .. } => odoc.string(n).is_some().then_some(None),
                _ if src.delimiter.is_some() => Some(Some(format!(
                    "fieldPath `{}` of the source is a mapping or a list, and `options.delimiter` can only be used with scalar values: kustomize fails with `delimiter option can only be used with scalar nodes`",
                    src.field_path
                ))),
                _ => Some(None),
            }
        }
        Source::Generated(..) => {
            let p: Vec<Step> = kustomize::split_field_path(&src.field_path)
                .into_iter()
                .map(Step::Key)
                .collect();
            r.overrides.contains_key(&p).then_some(None)
        }
    }
}

/// Targets with `options.delimiter` whose field is a mapping or a list in a selected object.
fn delimiter_on_non_scalar(
    ws: &Workspace,
    k: FileId,
    doc: &Document,
    out: &mut Vec<(NodeId, String, Severity)>,
) {
    // Only a build's own kustomization: a base's replacements see the base's objects, fewer
    // than its overlay's build renders.
    let Some(cx) = ws.contexts.iter().find(|c| c.root == Some(k)) else {
        return;
    };
    let env = ws.env();
    let regex = ws.options.regex_selectors;
    for rep in kustomize::replacements(doc) {
        for t in rep.targets.iter().filter(|t| t.delimiter.is_some()) {
            if kustomize::selects_by_labels(doc, t.node) {
                continue;
            }
            for r in cx.rendered.iter().filter(|r| {
                selects(&t.select, r, regex) && !t.reject.iter().any(|s| selects(s, r, regex))
            }) {
                let Source::Object(o) = r.source else {
                    continue;
                };
                let (odoc, root, _) = env.doc_of(o);
                for (fp, fp_node) in &t.field_paths {
                    let Ok(paths) = path::resolve(odoc, root, fp, false) else {
                        continue;
                    };
                    let non_scalar = paths.iter().any(|p| {
                        path::node_at(odoc, root, p).is_some_and(|n| {
                            !matches!(odoc.node(odoc.resolve(n)).kind, Kind::Scalar { .. })
                        })
                    });
                    if non_scalar {
                        out.push((
                            fp_node.unwrap_or(t.node),
                            format!(
                                "`{fp}` is a mapping or a list in {} {}, and `options.delimiter` can only be used with scalar values: kustomize fails with `delimiter option can only be used with scalar nodes`",
                                r.kind, r.name.text
                            ),
                            META.severity,
                        ));
                    }
                }
            }
        }
    }
}

impl Rule for KustomizeReplacementInvalid {
    fn check_workspace(&self, ws: &Workspace, out: &mut Vec<Diagnostic>) {
        for i in ws
            .replacement_issues
            .iter()
            .filter(|i| i.kind() == IssueKind::Invalid)
        {
            let Some(doc) = ws.files[i.kustomization as usize].docs.first() else {
                continue;
            };
            let es = entries(doc);
            if es.iter().any(|e| e.from_file && e.node == i.node) {
                continue;
            }
            let in_target = |pred: &dyn Fn(&TargetEntry) -> bool| {
                es.iter().flat_map(|e| &e.targets).any(|t| {
                    (t.node == i.node || t.field_paths.iter().any(|(_, n)| *n == i.node)) && pred(t)
                })
            };
            // A target without `select` is reported once, as such: kustomize stops there.
            if in_target(&|t| !t.has_select) {
                continue;
            }
            let mut message = message(&i.issue);
            if matches!(
                i.issue,
                Issue::TargetPath {
                    error: PathError::NoField { .. },
                    ..
                }
            ) && in_target(&|t| {
                    t.create
                        && t.field_paths
                            .iter()
                            .any(|(fp, n)| *n == i.node && !fp.contains('*'))
                })
            {
                // With `create`, kustomize adds missing keys and `[name=value]` elements.
                continue;
            }
            if matches!(i.issue, Issue::SourceFieldMissing { .. }) {
                match recheck_source(ws, i.kustomization, doc, i.node) {
                    Some(None) => continue,
                    Some(Some(m)) => message = m,
                    None => {}
                }
            }
            let fix = bracket_fix(ws, i.kustomization, doc, i.node);
            out.push(diag_in_doc(&META, i.kustomization, doc, i.node, message)
                    .help(HELP)
                    .fix(fix));
        }
        for (fid, f) in ws.files.iter().enumerate() {
            if f.role != FileRole::Kustomization {
                continue;
            }
            let Some(doc) = f.docs.first() else { continue };
            let mut found = Vec::new();
            structural(doc, ws, &mut found);
            delimiter_on_non_scalar(ws, fid as FileId, doc, &mut found);
            for (node, message, severity) in found {
                let fix = bracket_fix(ws, fid as FileId, doc, node);
                out.push(
                    diag_in_doc(&META, fid as FileId, doc, node, message)
                        .help(HELP)
                        .severity(severity)
                        .fix(fix),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::diagnostic::{Diagnostic, Severity};
    use crate::engine::Settings;
    use crate::rules::testing::*;

    const VARS: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: vars}\ndata: {IMAGE_TAG: v1.2.3, EMPTY: \"\"}\n";
    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: app-migration-X}\nspec: {backoffLimit: 0, template: {spec: {restartPolicy: Never, containers: [{name: m, image: app}]}}}\n";
    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n      initContainers:\n      - name: wait\n        image: groundnuty/k8s-wait-for:v2.0\n        args: [job-wr, app-migration-X]\n      containers: [{name: app, image: app}]\n";

    fn kust(replacements: &str) -> String {
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [vars.yaml, job.yaml, deploy.yaml]\nreplacements:\n{replacements}"
        )
    }

    fn lint_replacements(replacements: &str) -> (String, Vec<Diagnostic>) {
        lint_replacements_with(replacements, &Settings::default())
    }

    /// The kustomization with `replacements` over the vars, Job and Deployment; its findings of
    /// the rule.
    fn lint_replacements_with(r: &str, settings: &Settings) -> (String, Vec<Diagnostic>) {
        let k = kust(r);
        let files = [
            ("k/vars.yaml", VARS),
            ("k/job.yaml", JOB),
            ("k/deploy.yaml", DEPLOY),
            ("k/kustomization.yaml", k.as_str()),
        ];
        let d = run_with("kustomize-replacement-invalid", &files, settings);
        (k, d)
    }

    /// Linting with these replacements finds nothing.
    #[track_caller]
    fn passes(text: &str) {
        let (_, d) = lint_replacements(text);
        assert!(d.is_empty(), "{text}: {d:?}");
    }

    /// Linting with these replacements finds one error, at `at` in the kustomization, whose
    /// message contains `part`.
    #[track_caller]
    fn fails_at(text: &str, at: &str, part: &str) -> Diagnostic {
        let (k, d) = lint_replacements(text);
        assert_one_saying(&d, part);
        assert_eq!(&k[d[0].loc.span.range()], at, "{d:?}");
        d.into_iter().next().expect("one finding")
    }

    #[test]
    fn a_source_kustomize_cannot_read_is_one_finding_at_the_source() {
        // (replacements, how the source is written, what the finding says)
        for (r, source, says) in [
            (
                "- source: {kind: ConfigMap, name: variables, fieldPath: data.IMAGE_TAG}\n  targets:\n  - select: {kind: Job}\n    options: {delimiter: '-', index: 2}\n",
                "{kind: ConfigMap, name: variables",
                "selects no resource: kustomize fails with `nothing selected by`",
            ),
            (
                "- source: {fieldPath: metadata.name}\n  targets:\n  - select: {kind: Job}\n",
                "{fieldPath: metadata.name}",
                "selects 3 resources",
            ),
            (
                "- source: {kind: ConfigMap, name: vars, fieldPath: data.TAG}\n  targets:\n  - select: {kind: Job}\n",
                "{kind: ConfigMap, name: vars, fieldPath: data.TAG}",
                "`data.TAG` is missing",
            ),
            (
                "- source:\n    kind: ConfigMap\n    name: vars\n    fieldPath: data.IMAGE_TAG\n    options: {delimiter: '.', index: 5}\n  targets:\n  - select: {kind: Job}\n",
                "kind: ConfigMap\n    name: vars\n",
                "out of bounds",
            ),
            (
                "- source: {kind: ConfigMap, name: vars, fieldPath: metadata, options: {delimiter: '-'}}\n  targets:\n  - select: {kind: Job}\n    fieldPaths: [metadata.labels.app]\n",
                "{kind: ConfigMap",
                "scalar",
            ),
        ] {
            let (k, d) = lint_replacements(r);
            assert_one_saying(&d, says);
            assert_starts_with(&k[d[0].loc.span.range()], source);
        }
    }

    #[test]
    fn a_target_kustomize_cannot_write_is_one_finding_where_it_is_written() {
        // (replacements, the text the finding points at, what it says)
        for (r, at, says) in [
            (
                "- source: {kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}\n  targets:\n  - select: {kind: Job}\n    fieldPaths: [metadata.labels.version]\n",
                "metadata.labels.version",
                "options.create",
            ),
            (
                "- source: {kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}\n  targets: []\n",
                "targets",
                "at least one target",
            ),
            (
                "- source: {kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}\n  targets:\n  - select: {kind: Job}\n    fieldPaths: [metadata.labels]\n    options: {delimiter: '-', index: 1}\n",
                "metadata.labels",
                "Job app-migration-X",
            ),
            (
                "- source: {kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths:\n    - spec.template.spec.initContainers.0.args.5\n    options: {create: true}\n",
                "spec.template.spec.initContainers.0.args.5",
                "has 2 elements (Deployment app): kustomize fails, and `options.create` cannot add a list element by index",
            ),
        ] {
            fails_at(r, at, says);
        }
    }

    #[test]
    fn bracketed_index_in_a_field_path() {
        let d = fails_at(
            "- source: {kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths:\n    - spec.template.spec.initContainers.[name=wait].args.[1]\n",
            "spec.template.spec.initContainers.[name=wait].args.[1]",
            "`[1]`",
        );
        assert_contains(&d.message, "bare number");
        assert_eq!(
            d.path.as_deref(),
            Some("replacements[0].targets[0].fieldPaths[0]")
        );
        assert!(d.object.is_none());
    }

    #[test]
    fn a_missing_target_field_is_created_with_create() {
        passes("- source: {kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}\n  targets:\n  - select: {kind: Job}\n    fieldPaths: [metadata.labels.version]\n    options: {create: true}\n");
    }

    #[test]
    fn structural_errors() {
        // A target without select would select everything in the evaluator; kustomize stops at
        // the missing select, so that is the only finding for it.
        let (k, d) = lint_replacements(
            "- source: {kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}\n  sourceValue: v1\n  targets:\n  - fieldPaths: [metadata.labels.app]\n",
        );
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(d.len(), 2, "{msgs:?}");
        assert!(
            msgs.iter()
                .any(|m| m.contains("both `source` and `sourceValue`"))
        );
        let t = d
            .iter()
            .find(|d| d.message.contains("no `select`"))
            .unwrap();
        assert_eq!(&k[t.loc.span.range()], "fieldPaths: [metadata.labels.app]");
    }

    #[test]
    fn source_value_needs_kustomize_5_7() {
        let r = "- sourceValue: v9\n  targets:\n  - select: {kind: Job}\n    fieldPaths: [metadata.labels.app]\n    options: {create: true}\n";
        let d = fails_at(r, "sourceValue", "unknown field");
        assert_eq!(d.severity, Severity::Warning);
        let s = Settings {
            regex_selectors: true,
            ..Settings::default()
        };
        assert!(lint_replacements_with(r, &s).1.is_empty());
    }

    #[test]
    fn what_kustomize_accepts_but_looks_missing() {
        // An empty string is a value; a mapping is copied whole; `create` adds a
        // `[name=value]` element. Each checked with kubectl kustomize (v5.5.0).
        for r in [
            "- source: {kind: ConfigMap, name: vars, fieldPath: data.EMPTY}\n  targets:\n  - select: {kind: Job}\n    fieldPaths: [metadata.labels.app]\n",
            "- source: {kind: ConfigMap, name: vars, fieldPath: data}\n  targets:\n  - select: {kind: Job}\n    fieldPaths: [metadata.labels.app]\n",
            "- source: {kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths:\n    - spec.template.spec.initContainers.[name=x].env.[name=TAG].value\n    options: {create: true}\n",
        ] {
            passes(r);
        }
    }

    #[test]
    fn label_selectors_select_on_rendered_labels() {
        // No object carries app=migration: the target selects nothing, which is not an error.
        passes("- source: {kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}\n  targets:\n  - select: {labelSelector: app=migration}\n    fieldPaths: [metadata.labels.app]\n");
    }

    #[test]
    fn valid_replacements_pass() {
        passes("- source: {kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}\n  targets:\n  - select: {kind: Job}\n    options: {delimiter: '-', index: 2}\n  - select: {kind: Deployment}\n    fieldPaths:\n    - spec.template.spec.initContainers.[name=wait].args.1\n    options: {delimiter: '-', index: 2}\n- source: {kind: Deployment, fieldPath: metadata.name}\n  targets:\n  - select: {kind: Deployment, name: nothing-here}\n");
        // Replacements loaded from a file are not read here.
        passes("- path: more-replacements.yaml\n");
    }
}
