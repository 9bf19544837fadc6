//! Between the linter and LSP: byte offsets and UTF-16 positions, paths and `file:` URIs,
//! findings and LSP diagnostics, fixes and code actions.
//!
//! Byte offsets stay the truth; LSP positions are 0-based lines and columns counted in UTF-16
//! code units (the encoding every client must support), derived from the text as linted.

use crate::base::diagnostic::{Applicability, Diagnostic, FileId, Fix, Severity};
use crate::base::source::{LineIndex, SourceFile, Span};
use lsp_types as lsp;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `source` of every diagnostic.
pub(crate) const SOURCE: &str = "kube-migrate-lint";

/// A finding as published: the LSP diagnostic, and the code action that fixes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub(crate) diagnostic: lsp::Diagnostic,
    pub(crate) action: Option<lsp::CodeAction>,
}

/// Characters a path keeps unescaped in a `file:` URI (RFC 3986 unreserved, and `/`).
fn keep(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')
}

/// `file:` URI of an absolute path.
pub(crate) fn path_to_uri(path: &Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    let mut out = String::from("file://");
    // Windows drive paths (`C:/x`) become `file:///C:/x`.
    if !s.starts_with('/') {
        out.push('/');
    }
    for (i, b) in s.bytes().enumerate() {
        if keep(b) || (b == b':' && i == 1) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path a `file:` URI names; None for other schemes and malformed escapes.
pub(crate) fn uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri
        .strip_prefix("file://")
        .or_else(|| uri.strip_prefix("FILE://"))?;
    // An authority other than empty or localhost is a remote file.
    let slash = rest.find('/')?;
    let (host, path) = rest.split_at(slash);
    if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let mut bytes = Vec::with_capacity(path.len());
    let raw = path.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    let mut s = String::from_utf8(bytes).ok()?;
    // `/C:/x` on Windows.
    let b = s.as_bytes();
    if cfg!(windows) && b.len() >= 3 && b[0] == b'/' && b[1].is_ascii_alphabetic() && b[2] == b':' {
        s.remove(0);
    }
    Some(PathBuf::from(s))
}

pub(crate) fn parse_uri(s: &str) -> Option<lsp::Uri> {
    s.parse().ok()
}

/// The LSP position of a byte offset (clamped to the text, floored to a character).
pub(crate) fn position(lines: &LineIndex, text: &str, offset: usize) -> lsp::Position {
    let offset = offset.min(text.len());
    lsp::Position {
        line: lines.line_of(offset) as u32,
        character: lines.utf16_column(text, offset) as u32,
    }
}

pub(crate) fn range(file: &SourceFile, span: Span) -> lsp::Range {
    lsp::Range {
        start: position(&file.lines, &file.text, span.start as usize),
        end: position(&file.lines, &file.text, span.end as usize),
    }
}

/// The byte offset of an LSP position: a line past the end is the end of the text, a column
/// past the end of its line is the line's end, and a column inside a surrogate pair is the
/// character's start.
pub(crate) fn offset(lines: &LineIndex, text: &str, pos: lsp::Position) -> usize {
    let line = pos.line as usize;
    if line >= lines.line_count() {
        return text.len();
    }
    let start = lines.line_start(line).min(text.len());
    let line_text = lines.line_text(text, line);
    let mut units = 0usize;
    for (i, ch) in line_text.char_indices() {
        let next = units + ch.len_utf16();
        if next > pos.character as usize {
            return start + i;
        }
        units = next;
    }
    start + line_text.len()
}

/// Apply one content change from `textDocument/didChange` (a whole text, or a range).
pub(crate) fn apply_change(text: &mut String, change: lsp::TextDocumentContentChangeEvent) {
    match change.range {
        None => *text = change.text,
        Some(r) => {
            let lines = LineIndex::new(text);
            let start = offset(&lines, text, r.start);
            let end = offset(&lines, text, r.end).max(start);
            text.replace_range(start..end, &change.text);
        }
    }
}

pub(crate) fn severity(s: Severity) -> lsp::DiagnosticSeverity {
    match s {
        Severity::Error => lsp::DiagnosticSeverity::ERROR,
        Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        Severity::Info => lsp::DiagnosticSeverity::INFORMATION,
    }
}

/// Whether two ranges overlap or touch (an empty range at a finding's edge selects it).
pub(crate) fn touches(a: &lsp::Range, b: &lsp::Range) -> bool {
    let key = |p: &lsp::Position| (p.line, p.character);
    key(&a.start) <= key(&b.end) && key(&b.start) <= key(&a.end)
}

/// An LSP diagnostic for a finding, with its file's URI; None when a location has no URI.
/// `files` are the run's files by id, and `uri_of` names each (None: not a file on disk).
pub(crate) fn finding(
    files: &[&SourceFile],
    d: &Diagnostic,
    uri_of: &dyn Fn(FileId) -> Option<lsp::Uri>,
) -> Option<(lsp::Uri, Finding)> {
    let file = files.get(d.loc.file as usize)?;
    let uri = uri_of(d.loc.file)?;
    let mut message = d.message.clone();
    if let Some(h) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(h);
    }
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .related
        .iter()
        .filter_map(|r| {
            let f = files.get(r.loc.file as usize)?;
            Some(lsp::DiagnosticRelatedInformation {
                location: lsp::Location::new(uri_of(r.loc.file)?, range(f, r.loc.span)),
                message: r.message.clone(),
            })
        })
        .collect();
    let action = d.fix.as_ref().and_then(|f| code_action(files, f, uri_of));
    let data = serde_json::json!({
        "rule": d.rule,
        "fix": d.fix.as_ref().map(|f| serde_json::json!({
            "description": f.description,
            "applicability": f.applicability,
        })),
    });
    let diagnostic = lsp::Diagnostic {
        range: range(file, d.loc.span),
        severity: Some(severity(d.severity)),
        code: Some(lsp::NumberOrString::String(d.rule.to_string())),
        code_description: parse_uri(&crate::output::sarif::rule_url(d.rule))
            .map(|href| lsp::CodeDescription { href }),
        source: Some(SOURCE.to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: Some(data),
    };
    let action = action.map(|mut a| {
        a.diagnostics = Some(vec![diagnostic.clone()]);
        a
    });
    Some((uri, Finding { diagnostic, action }))
}

/// A quick fix: the fix's edits as a workspace edit (they may touch other files than the
/// finding's, e.g. a kustomization). None when an edited file has no URI.
// lsp-types' `Uri` hashes and compares by its text; the cell inside is a parse cache.
#[allow(clippy::mutable_key_type)]
pub(crate) fn code_action(
    files: &[&SourceFile],
    fix: &Fix,
    uri_of: &dyn Fn(FileId) -> Option<lsp::Uri>,
) -> Option<lsp::CodeAction> {
    let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
    for e in &fix.edits {
        let file = files.get(e.loc.file as usize)?;
        changes
            .entry(uri_of(e.loc.file)?)
            .or_default()
            .push(lsp::TextEdit {
                range: range(file, e.loc.span),
                new_text: e.replacement.clone(),
            });
    }
    for edits in changes.values_mut() {
        edits.sort_by_key(|e| (e.range.start.line, e.range.start.character));
    }
    let safe = fix.applicability == Applicability::Safe;
    Some(lsp::CodeAction {
        title: if safe {
            fix.description.clone()
        } else {
            format!("(unsafe) {}", fix.description)
        },
        kind: Some(lsp::CodeActionKind::QUICKFIX),
        diagnostics: None,
        edit: Some(lsp::WorkspaceEdit {
            changes: Some(changes),
            ..Default::default()
        }),
        command: None,
        is_preferred: Some(safe),
        disabled: None,
        data: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::diagnostic::{Edit, Loc};
    use crate::engine::Report;

    fn report(files: &[(&str, &str)]) -> Report {
        Report {
            files: files
                .iter()
                .map(|(n, t)| SourceFile::new(n.to_string(), Some(PathBuf::from(n)), t.to_string()))
                .collect(),
            ..Report::default()
        }
    }

    fn files(report: &Report) -> Vec<&SourceFile> {
        report.files.iter().collect()
    }

    fn uri_of(report: &Report) -> impl Fn(FileId) -> Option<lsp::Uri> + '_ {
        |id| parse_uri(&path_to_uri(report.files[id as usize].path.as_deref()?))
    }

    #[test]
    fn uris_round_trip_with_escapes() {
        let p = Path::new("/tmp/a b/ünï#%/job.yaml");
        let u = path_to_uri(p);
        assert_eq!(u, "file:///tmp/a%20b/%C3%BCn%C3%AF%23%25/job.yaml");
        assert!(parse_uri(&u).is_some());
        assert_eq!(uri_to_path(&u).as_deref(), Some(p));
        assert_eq!(
            uri_to_path("file://localhost/x/y.yaml"),
            Some(PathBuf::from("/x/y.yaml"))
        );
        assert_eq!(uri_to_path("untitled:Untitled-1"), None);
        assert_eq!(uri_to_path("file://server/share/x.yaml"), None);
        assert_eq!(uri_to_path("file:///x/%G1.yaml"), None);
    }

    #[test]
    fn positions_count_utf16_units_and_invert() {
        // 😀 is two UTF-16 units and four bytes; 名 one unit and three bytes.
        let text = "a: 1\n# 😀名 x: y\r\nlast";
        let lines = LineIndex::new(text);
        let x = text.find('x').unwrap();
        let p = position(&lines, text, x);
        assert_eq!((p.line, p.character), (1, 6));
        assert_eq!(offset(&lines, text, p), x);
        // Inside the surrogate pair: the emoji's start.
        let mid = lsp::Position::new(1, 3);
        assert_eq!(offset(&lines, text, mid), text.find('😀').unwrap());
        // Past the line's end: before its line break; past the last line: the end.
        assert_eq!(
            offset(&lines, text, lsp::Position::new(1, 99)),
            text.find('\r').unwrap()
        );
        assert_eq!(offset(&lines, text, lsp::Position::new(9, 0)), text.len());
        let l = text.find("last").unwrap();
        assert_eq!(position(&lines, text, l), lsp::Position::new(2, 0));
    }

    #[test]
    fn changes_apply_by_range_or_whole() {
        let mut t = String::from("name: 😀-old\nnext: 1\n");
        apply_change(
            &mut t,
            lsp::TextDocumentContentChangeEvent {
                range: Some(lsp::Range::new(
                    lsp::Position::new(0, 9),
                    lsp::Position::new(0, 12),
                )),
                range_length: None,
                text: "new".into(),
            },
        );
        assert_eq!(t, "name: 😀-new\nnext: 1\n");
        apply_change(
            &mut t,
            lsp::TextDocumentContentChangeEvent {
                range: None,
                range_length: None,
                text: "x: 1\n".into(),
            },
        );
        assert_eq!(t, "x: 1\n");
    }

    #[test]
    #[allow(clippy::mutable_key_type)] // lsp-types' `Uri`, as above
    fn a_finding_becomes_a_diagnostic_with_related_locations_and_a_quick_fix() {
        let job = "# 名前 😀\nspec: {backoffLimit: 3}\n";
        let kust = "resources: [job.yaml]\n";
        let r = report(&[("/w/job.yaml", job), ("/w/kustomization.yaml", kust)]);
        let at = job.find('3').unwrap();
        let res = kust.find("job.yaml").unwrap();
        let mut d = Diagnostic::new(
            "job-backoff-limit-nonzero",
            Severity::Error,
            Loc {
                file: 0,
                span: Span::new(at, at + 1),
            },
            "migration job retries up to 3 times",
        )
        .help("set spec.backoffLimit: 0")
        .related(
            Loc {
                file: 1,
                span: Span::new(res, res + 8),
            },
            "listed here",
        );
        d.fix = Some(Fix {
            description: "set backoffLimit: 0".into(),
            applicability: Applicability::Unsafe,
            edits: vec![
                Edit {
                    loc: Loc {
                        file: 1,
                        span: Span::new(res, res + 8),
                    },
                    replacement: "job.yml".into(),
                },
                Edit {
                    loc: Loc {
                        file: 0,
                        span: Span::new(at, at + 1),
                    },
                    replacement: "0".into(),
                },
            ],
        });
        let uri_of = uri_of(&r);
        let (uri, f) = finding(&files(&r), &d, &uri_of).unwrap();
        assert_eq!(uri.as_str(), "file:///w/job.yaml");
        let diag = &f.diagnostic;
        // Line 1 (0-based), column 21 — the same in UTF-16 and bytes here; the line before
        // holds the wide characters, which must not shift it.
        assert_eq!(
            diag.range,
            lsp::Range::new(lsp::Position::new(1, 21), lsp::Position::new(1, 22))
        );
        assert_eq!(diag.severity, Some(lsp::DiagnosticSeverity::ERROR));
        assert_eq!(
            diag.code,
            Some(lsp::NumberOrString::String(
                "job-backoff-limit-nonzero".into()
            ))
        );
        assert_eq!(diag.source.as_deref(), Some(SOURCE));
        assert!(
            diag.code_description
                .as_ref()
                .unwrap()
                .href
                .as_str()
                .ends_with("/rules/job-backoff-limit-nonzero.md")
        );
        assert_eq!(
            diag.message,
            "migration job retries up to 3 times\nhelp: set spec.backoffLimit: 0"
        );
        let rel = diag.related_information.as_ref().unwrap();
        assert_eq!(rel[0].location.uri.as_str(), "file:///w/kustomization.yaml");
        assert_eq!(rel[0].location.range.start, lsp::Position::new(0, 12));
        assert_eq!(rel[0].message, "listed here");
        assert_eq!(
            diag.data.as_ref().unwrap()["fix"]["applicability"],
            "unsafe"
        );

        let a = f.action.unwrap();
        assert_eq!(a.title, "(unsafe) set backoffLimit: 0");
        assert_eq!(a.kind, Some(lsp::CodeActionKind::QUICKFIX));
        assert_eq!(a.is_preferred, Some(false));
        assert_eq!(a.diagnostics.as_deref(), Some(&[diag.clone()][..]));
        let changes = a.edit.unwrap().changes.unwrap();
        assert_eq!(changes.len(), 2);
        let job_edits = &changes[&parse_uri("file:///w/job.yaml").unwrap()];
        assert_eq!(job_edits[0].range, diag.range);
        assert_eq!(job_edits[0].new_text, "0");
        let k_edits = &changes[&parse_uri("file:///w/kustomization.yaml").unwrap()];
        assert_eq!(k_edits[0].new_text, "job.yml");
    }

    #[test]
    fn ranges_after_wide_characters_on_the_same_line_count_utf16_units() {
        let text = "x: {a: \"😀名\", backoffLimit: 3}\n";
        let r = report(&[("/w/j.yaml", text)]);
        let at = text.find('3').unwrap();
        let d = Diagnostic::new(
            "job-backoff-limit-nonzero",
            Severity::Warning,
            Loc {
                file: 0,
                span: Span::new(at, at + 1),
            },
            "m",
        );
        let (_, f) = finding(&files(&r), &d, &uri_of(&r)).unwrap();
        // Bytes: 32; characters: 27; UTF-16 units: 28.
        assert_eq!(at, 32);
        assert_eq!(f.diagnostic.range.start, lsp::Position::new(0, 28));
        assert_eq!(
            f.diagnostic.severity,
            Some(lsp::DiagnosticSeverity::WARNING)
        );
        assert!(f.action.is_none());
        assert!(f.diagnostic.related_information.is_none());
    }

    #[test]
    fn a_safe_fix_is_preferred_and_untitled() {
        let r = report(&[("/w/j.yaml", "a: 1\n")]);
        let fix = Fix {
            description: "set a to 0".into(),
            applicability: Applicability::Safe,
            edits: vec![Edit {
                loc: Loc {
                    file: 0,
                    span: Span::new(3, 4),
                },
                replacement: "0".into(),
            }],
        };
        let a = code_action(&files(&r), &fix, &uri_of(&r)).unwrap();
        assert_eq!(a.title, "set a to 0");
        assert_eq!(a.is_preferred, Some(true));
        // A file without a URI (stdin) cannot be edited: no action.
        let none = |_: FileId| None;
        assert!(code_action(&files(&r), &fix, &none).is_none());
    }

    #[test]
    fn touching_ranges() {
        let r = |a, b, c, d| lsp::Range::new(lsp::Position::new(a, b), lsp::Position::new(c, d));
        assert!(touches(&r(1, 0, 1, 5), &r(1, 5, 1, 5)));
        assert!(touches(&r(1, 0, 1, 5), &r(0, 0, 3, 0)));
        assert!(!touches(&r(1, 0, 1, 5), &r(1, 6, 1, 7)));
        assert!(!touches(&r(1, 0, 1, 5), &r(0, 0, 0, 9)));
    }
}
