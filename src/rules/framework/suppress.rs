//! Suppressions, handled by the engine so no rule needs to know about them.
//!
//! - An object annotation `kube-migrate-lint.io/ignore: "rule-a,rule-b"` (on the object or on
//!   its pod template) silences those rules for findings on that object.
//! - A comment `# kube-migrate-lint: ignore rule-a, rule-b -- reason` silences them on its own
//!   line (after code) or on the next line of code (on a line of its own).
//!
//! Every name in a suppression that silenced nothing is reported as `unused-suppression`.

use crate::base::diagnostic::{Diagnostic, FileId, Loc, ObjectId};
use crate::base::source::Span;
use crate::model::Typed;
use crate::render::workspace::Workspace;
use crate::yaml::Kind;

pub(crate) const ANNOTATION: &str = "kube-migrate-lint.io/ignore";
const MARKER: &str = "kube-migrate-lint:";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// A 0-based line of a file.
    Line(FileId, usize),
    Object(ObjectId),
}

#[derive(Debug, Clone)]
pub(crate) struct Suppression {
    scope: Scope,
    loc: Loc,
    /// Rule names with whether each silenced something.
    rules: Vec<(String, bool)>,
    /// In a file or object the rules could not read (a syntax or type error): whether it
    /// silences anything cannot be known, so it is never called unused.
    inert: bool,
}

/// The suppression comments in a file (the engine collects them file by file, then the
/// annotations on each file's objects).
pub(crate) fn comments_in(ws: &Workspace, file: FileId) -> Vec<Suppression> {
    let mut out = Vec::new();
    collect_comments(ws, file, &mut out);
    out
}

/// The suppression annotations on some objects.
pub(crate) fn annotations_on(ws: &Workspace, objects: &[crate::model::Object]) -> Vec<Suppression> {
    let mut out = Vec::new();
    for o in objects {
        let doc = ws.doc_of(o);
        for ann in o.annotation_nodes(doc) {
            if let Some(v) = doc.get(ann, ANNOTATION) {
                out.push(Suppression {
                    scope: Scope::Object(o.id),
                    loc: Loc {
                        file: o.file,
                        span: doc.span(v),
                    },
                    rules: split_names(doc.str(v).unwrap_or("")),
                    inert: matches!(o.typed, Typed::Invalid),
                });
            }
        }
    }
    out
}

fn split_names(s: &str) -> Vec<(String, bool)> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .map(|n| (n.to_string(), false))
        .collect()
}

fn inside_scalar(ws: &Workspace, file: FileId, offset: usize) -> bool {
    ws.files[file as usize].docs.iter().any(|d| {
        d.span.start as usize <= offset
            && offset <= d.span.end as usize
            && d.iter().any(|n| {
                matches!(n.kind, Kind::Scalar { .. })
                    && (n.span.start as usize) < offset
                    && offset < n.span.end as usize
            })
    })
}

fn collect_comments(ws: &Workspace, file: FileId, out: &mut Vec<Suppression>) {
    let src = &ws.files[file as usize].source;
    let text = &src.text;
    // Every byte of every file is searched: a SIMD substring search, not `str::find`.
    for at in memchr::memmem::find_iter(text.as_bytes(), MARKER) {
        let line = src.lines.line_of(at);
        let line_start = src.lines.line_start(line);
        let before = &text[line_start..at];
        // The marker must follow `#` (and spaces) that starts a comment.
        let Some(hash) = before.rfind('#') else {
            continue;
        };
        if !before[hash + 1..].trim().is_empty() {
            continue;
        }
        if hash > 0 && !before[..hash].ends_with([' ', '\t']) {
            continue;
        }
        if inside_scalar(ws, file, line_start + hash) {
            continue;
        }
        let line_text = src.lines.line_text(text, line);
        let rest = &line_text[(at - line_start + MARKER.len()).min(line_text.len())..];
        let directive = rest.split("--").next().unwrap_or("").trim();
        let Some(names) = directive.strip_prefix("ignore") else {
            continue;
        };
        let own_line = before[..hash].trim().is_empty();
        let target = if own_line {
            next_code_line(src, line)
        } else {
            Some(line)
        };
        let span = Span::new(line_start + hash, line_start + line_text.len());
        let inert = ws.files[file as usize].error.is_some()
            || ws.objects.iter().any(|o| {
                o.file == file
                    && matches!(o.typed, Typed::Invalid)
                    && ws.doc_of(o).span.start as usize <= at
                    && at <= ws.doc_of(o).span.end as usize
            });
        out.push(Suppression {
            scope: Scope::Line(file, target.unwrap_or(usize::MAX)),
            loc: Loc { file, span },
            rules: split_names(names),
            inert,
        });
    }
}

fn next_code_line(src: &crate::base::source::SourceFile, line: usize) -> Option<usize> {
    (line + 1..src.lines.line_count()).find(|&l| {
        let t = src.lines.line_text(&src.text, l).trim();
        !t.is_empty() && !t.starts_with('#')
    })
}

/// Drop suppressed findings, marking which suppression names were used. (In place: should it
/// fail half-way, the findings not yet looked at are still there.)
pub(crate) fn apply(ws: &Workspace, diags: &mut Vec<Diagnostic>, sups: &mut [Suppression]) {
    diags.retain(|d| {
        let line = ws.files[d.loc.file as usize]
            .source
            .lines
            .line_of(d.loc.span.start as usize);
        let mut suppressed = false;
        for s in sups.iter_mut() {
            let applies = match s.scope {
                Scope::Line(f, l) => f == d.loc.file && l == line,
                Scope::Object(o) => d.object == Some(o),
            };
            if !applies {
                continue;
            }
            for (name, used) in s.rules.iter_mut() {
                if name == d.rule {
                    *used = true;
                    suppressed = true;
                }
            }
        }
        !suppressed
    })
}

/// `unused-suppression` findings for names that silenced nothing. Names of rules that are
/// turned off are not reported: the suppression may matter when the rule is on again.
pub(crate) fn unused(sups: &[Suppression], is_enabled: impl Fn(&str) -> bool) -> Vec<Diagnostic> {
    let meta = &crate::rules::meta::UNUSED_SUPPRESSION;
    let known = crate::rules::names();
    let mut out = Vec::new();
    for s in sups {
        if s.rules.is_empty() {
            out.push(
                Diagnostic::new(meta.name, meta.severity, s.loc, "suppression names no rule")
                    .help("name the rules to silence: `# kube-migrate-lint: ignore rule-a, rule-b -- reason`"),
            );
        }
        for (name, used) in &s.rules {
            if *used || (s.inert && known.contains(&name.as_str())) {
                continue;
            }
            let d = if !known.contains(&name.as_str()) {
                let hint = crate::model::config::closest(name, &known)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                Diagnostic::new(
                    meta.name,
                    meta.severity,
                    s.loc,
                    format!(
                        "suppression names unknown rule `{}`{hint}",
                        crate::base::mask::key_for_display(name)
                    ),
                )
            } else if !is_enabled(name) {
                continue;
            } else {
                Diagnostic::new(
                    meta.name,
                    meta.severity,
                    s.loc,
                    format!("suppression of `{name}` matched no finding"),
                )
            };
            let mut d = d.help("remove the stale suppression so it cannot hide a future finding");
            if let Scope::Object(o) = s.scope {
                d.object = Some(o);
            }
            out.push(d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::lint_files;

    #[test]
    fn suppressions_where_rules_could_not_run_are_not_called_unused() {
        let typed_wrong = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  # kube-migrate-lint: ignore job-name-unversioned -- one-off\n  name: db-migrate\nspec:\n  backoffLimit: \"0\"\n  template: {spec: {restartPolicy: Never, containers: [{name: m, image: a}]}}\n";
        let d = lint_files(&[("k/a.yaml", typed_wrong)]);
        assert_eq!(
            d.iter().map(|d| d.rule).collect::<Vec<_>>(),
            vec!["schema-invalid"]
        );
        let broken =
            "# kube-migrate-lint: ignore job-name-unversioned -- one-off\nkind: Job\n\tname: x\n";
        let d = lint_files(&[("k/b.yaml", broken)]);
        assert_eq!(
            d.iter().map(|d| d.rule).collect::<Vec<_>>(),
            vec!["yaml-syntax"]
        );
        // An unknown rule name is reported even there: it can never silence anything.
        let unknown = "# kube-migrate-lint: ignore no-such-rule\nkind: Job\n\tname: x\n";
        let d = lint_files(&[("k/c.yaml", unknown)]);
        assert!(d.iter().any(|d| d.rule == "unused-suppression"));
    }
}
