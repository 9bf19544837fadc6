//! Navigation along the migration path, answered from the model of the last lint: hover
//! (a value as each build renders it, and the steps that wrote it), and the locations the
//! other requests return. Nothing here reads a file or parses: a unit's last run kept its
//! workspace, and byte offsets in it are the truth, converted to UTF-16 positions at the edge.

use super::convert;
use crate::analysis::inspect::{self, Cursor, Rendering};
use crate::base::diagnostic::{FileId, Loc};
use crate::base::mask::display_value;
use crate::render::path::Step;
use crate::render::workspace::Workspace;
use lsp_types as lsp;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The model a unit's last run computed its findings from.
pub(crate) struct Model {
    pub ws: Workspace,
    /// Each file's URI, by file id (None: no file on disk).
    uris: Vec<Option<lsp::Uri>>,
    by_path: HashMap<PathBuf, FileId>,
    /// Secret values in the sources: never shown.
    redactions: Vec<Loc>,
}

impl Model {
    /// `paths`: each file's canonical path, by file id.
    pub fn new(
        ws: Workspace,
        paths: &[Option<PathBuf>],
        uris: Vec<Option<lsp::Uri>>,
        redactions: Vec<Loc>,
    ) -> Model {
        let by_path = paths
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((p.clone()?, i as FileId)))
            .collect();
        Model {
            ws,
            uris,
            by_path,
            redactions,
        }
    }

    pub fn file(&self, path: &Path) -> Option<FileId> {
        self.by_path.get(path).copied()
    }

    /// The byte offset of an LSP position in a file as it was linted.
    pub fn offset(&self, file: FileId, pos: lsp::Position) -> usize {
        let src = &self.ws.files[file as usize].source;
        convert::offset(&src.lines, &src.text, pos)
    }

    pub fn range(&self, loc: Loc) -> Option<lsp::Range> {
        let f = self.ws.files.get(loc.file as usize)?;
        Some(convert::range(&f.source, loc.span))
    }

    #[allow(dead_code)] // definition and references (next commit)
    pub fn location(&self, loc: Loc) -> Option<lsp::Location> {
        let uri = self.uris.get(loc.file as usize)?.clone()?;
        Some(lsp::Location::new(uri, self.range(loc)?))
    }

    /// `file:line:column` (1-based), as people read it, linked to the place.
    fn link(&self, loc: Loc) -> String {
        let Some(f) = self.ws.files.get(loc.file as usize) else {
            return String::new();
        };
        let p = f
            .source
            .lines
            .position(&f.source.text, loc.span.start as usize);
        let shown = format!("{}:{}:{}", f.source.display, p.line, p.column);
        match self.uris.get(loc.file as usize).cloned().flatten() {
            Some(uri) => format!("[{shown}]({}#L{})", uri.as_str(), p.line),
            None => format!("`{shown}`"),
        }
    }

    fn secret(&self, loc: Loc) -> bool {
        self.redactions.iter().any(|r| {
            r.file == loc.file
                && r.span.start < loc.span.end.max(loc.span.start + 1)
                && loc.span.start < r.span.end.max(r.span.start + 1)
        })
    }

    /// The cursor at `pos` of `file`.
    pub fn cursor(&self, file: FileId, pos: lsp::Position) -> Option<Cursor> {
        inspect::cursor(&self.ws, file, self.offset(file, pos))
    }
}

/// A hover's text and the range it is about.
pub(crate) struct HoverText {
    pub markdown: String,
    pub range: lsp::Range,
}

/// Fields whose rendered value is shown even when no build changes it: names, images, the
/// words of init containers (k8s-wait-for and `kubectl wait` arguments), and anything with a
/// Flux placeholder.
fn always_shown(path: &[Step], text: &str) -> bool {
    fn key(s: &Step) -> Option<&str> {
        match s {
            Step::Key(k) => Some(k),
            Step::Index(_) => None,
        }
    }
    let last_key = path.iter().rev().find_map(key);
    let parent_key = path
        .iter()
        .rev()
        .skip_while(|s| matches!(s, Step::Index(_)))
        .nth(1)
        .and_then(key);
    path == [Step::Key("metadata".into()), Step::Key("name".into())]
        || last_key == Some("image")
        || (matches!(last_key, Some("args" | "command"))
            && path.iter().any(|s| key(s) == Some("initContainers"))
            && parent_key.is_some())
        || text.contains("${")
}

/// What the builds make of the scalar under the cursor, across the models that read the file
/// (the file's own unit first); None where there is nothing to say.
pub(crate) fn hover(models: &[(&Model, FileId)], pos: lsp::Position) -> Option<HoverText> {
    let (first, file) = *models.first()?;
    let cursor = first.cursor(file, pos)?;
    if cursor.on_key {
        return None;
    }
    let written = cursor.text(&first.ws)?.to_string();
    let offset = first.offset(file, pos);
    let src = &first.ws.files[file as usize].source;
    let placeholder = inspect::placeholder_at(&src.text, cursor.span, offset);
    // The same node in each model (object ids differ between models).
    let cursors: Vec<(&Model, FileId, Cursor)> = models
        .iter()
        .filter_map(|&(m, f)| Some((m, f, m.cursor(f, pos)?)))
        .filter(|(_, _, c)| c.span == cursor.span)
        .collect();
    let mut md = String::new();
    let mut seen: Vec<String> = Vec::new();
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (m, _, c) in &cursors {
        let renderings: Vec<Rendering> = match &c.object {
            Some((o, p)) => inspect::renderings(&m.ws, *o, p),
            None => inspect::patched_renderings(&m.ws, c.loc())
                .into_iter()
                .map(|(_, _, r)| r)
                .collect(),
        };
        let path = c.object.as_ref().map_or(&c.path, |(_, p)| p);
        let interesting = always_shown(path, &written)
            || renderings
                .iter()
                .any(|r| r.value.as_deref() != Some(&written) || r.steps.len() > 1);
        if !interesting {
            continue;
        }
        for r in &renderings {
            let build = m.ws.contexts[r.context].name.clone();
            if seen.contains(&build) {
                continue;
            }
            seen.push(build.clone());
            let text = describe(m, r);
            match groups.iter_mut().find(|(t, _)| *t == text) {
                Some((_, builds)) => builds.push(build),
                None => groups.push((text, vec![build])),
            }
        }
    }
    if !groups.is_empty() {
        md.push_str(&format!(
            "**{}** as each build renders it:\n\n",
            code(&display_value(&written))
        ));
        for (text, builds) in &groups {
            let names: Vec<String> = builds.iter().map(|b| code(b)).collect();
            md.push_str(&format!("- {}: {text}\n", names.join(", ")));
        }
    }
    let mut range = first.range(cursor.loc())?;
    if let Some((var, span)) = &placeholder {
        let vars = variable(&cursors, var);
        if !vars.is_empty() {
            if !md.is_empty() {
                md.push('\n');
            }
            md.push_str(&vars);
            range = first.range(Loc { file, span: *span })?;
        }
    }
    (!md.is_empty()).then(|| HoverText {
        markdown: md.trim_end().to_string(),
        range,
    })
}

/// A rendering as a list item's text: the value, then each step that wrote it.
fn describe(m: &Model, r: &Rendering) -> String {
    let secret = r
        .steps
        .iter()
        .flat_map(|s| [s.at, s.reads])
        .flatten()
        .any(|l| m.secret(l));
    let shown = |t: &str| {
        if secret {
            "`***`".to_string()
        } else {
            code(&display_value(t))
        }
    };
    let mut out = match &r.value {
        Some(v) => shown(v),
        None => "not known here (a Flux `substituteFrom` source that was not read)".to_string(),
    };
    for s in &r.steps {
        let mut line = match s.by {
            "manifest" => format!("written {}", shown(&s.text)),
            by => format!("{by} → {}", shown(&s.text)),
        };
        if let Some(at) = s.at {
            line.push_str(&format!(" at {}", m.link(at)));
        }
        if let Some(from) = s.reads {
            line.push_str(&format!(", reading {}", m.link(from)));
        }
        out.push_str(&format!("\n  - {line}"));
    }
    out
}

/// What each build's Flux post-build substitution makes of `${var}`.
fn variable(cursors: &[(&Model, FileId, Cursor)], var: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (m, f, c) in cursors {
        let contexts: Vec<&crate::render::Context> = match &c.object {
            Some((o, _)) => m.ws.contexts_of(*o).collect(),
            None => {
                m.ws.contexts
                    .iter()
                    .filter(|cx| cx.files.contains(f))
                    .collect()
            }
        };
        for cx in contexts {
            if seen.contains(&cx.name) {
                continue;
            }
            seen.push(cx.name.clone());
            let what = match cx.substitutions.get(var) {
                _ if !cx.substitute => {
                    "not substituted: no Flux Kustomization with `postBuild` deploys this build"
                        .to_string()
                }
                Some(s) if m.secret(s.loc) => format!("`***`, from {}", m.link(s.loc)),
                Some(s) => format!("{}, from {}", code(&display_value(&s.value)), m.link(s.loc)),
                None if cx.unknown.iter().any(|u| u.starts_with("substituteFrom")) => {
                    "not known here (a `substituteFrom` source that was not read)".to_string()
                }
                None => {
                    let flux = cx
                        .flux
                        .map(|o| format!(" ({})", m.link(inspect::object_loc(&m.ws, o))))
                        .unwrap_or_default();
                    format!("not defined{flux}: Flux writes its default, or the empty string")
                }
            };
            lines.push(format!("- {}: {what}", code(&cx.name)));
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "**{}** (Flux post-build substitution):\n\n{}\n",
        code(&format!("${{{var}}}")),
        lines.join("\n")
    )
}

/// Inline code, with a fence long enough for backticks in the text.
fn code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}
