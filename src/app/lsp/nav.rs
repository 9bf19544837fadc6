//! Navigation along the migration path, answered from the model of the last lint: hover
//! (a value as each build renders it, and the steps that wrote it), and the locations the
//! other requests return. Nothing here reads a file or parses: a unit's last run kept its
//! workspace, and byte offsets in it are the truth, converted to UTF-16 positions at the edge.

use super::convert;
use crate::analysis::graph::{EdgeKind, Graph, NodeRole, WaitTool};
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
    pub(crate) ws: Workspace,
    /// The links of every build (who waits for which Job, RBAC, what wrote a version).
    pub(crate) graph: Graph,
    /// Each file's URI, by file id (None: no file on disk).
    uris: Vec<Option<lsp::Uri>>,
    by_path: HashMap<PathBuf, FileId>,
    /// Secret values in the sources: never shown.
    redactions: Vec<Loc>,
}

impl Model {
    /// `paths`: each file's canonical path, by file id.
    pub(crate) fn new(
        ws: Workspace,
        graph: Graph,
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
            graph,
            uris,
            by_path,
            redactions,
        }
    }

    pub(crate) fn file(&self, path: &Path) -> Option<FileId> {
        self.by_path.get(path).copied()
    }

    /// The byte offset of an LSP position in a file as it was linted.
    pub(crate) fn offset(&self, file: FileId, pos: lsp::Position) -> usize {
        let src = &self.ws.files[file as usize].source;
        convert::offset(&src.lines, &src.text, pos)
    }

    pub(crate) fn range(&self, loc: Loc) -> Option<lsp::Range> {
        let f = self.ws.files.get(loc.file as usize)?;
        Some(convert::range(&f.source, loc.span))
    }

    pub(crate) fn location(&self, loc: Loc) -> Option<lsp::Location> {
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
    pub(crate) fn cursor(&self, file: FileId, pos: lsp::Position) -> Option<Cursor> {
        inspect::cursor(&self.ws, file, self.offset(file, pos))
    }
}

/// A hover's text and the range it is about.
pub(crate) struct HoverText {
    pub(crate) markdown: String,
    pub(crate) range: lsp::Range,
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
    let word = matches!(path.last(), Some(Step::Index(_)))
        && matches!(last_key, Some("args" | "command"))
        && path.iter().any(|s| key(s) == Some("initContainers"));
    path == [Step::Key("metadata".into()), Step::Key("name".into())]
        || last_key == Some("image")
        || word
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
        let shown = if first.secret(cursor.loc()) {
            "***".to_string()
        } else {
            display_value(&written)
        };
        md.push_str(&format!(
            "**{}** as each build renders it:\n\n",
            code(&shown)
        ));
        // Sorted by build, whichever unit's model told of it first.
        for (_, builds) in &mut groups {
            builds.sort();
        }
        groups.sort_by(|a, b| a.1.cmp(&b.1));
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
    let mut lines: Vec<(String, String)> = Vec::new();
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
            lines.push((cx.name.clone(), format!("- {}: {what}", code(&cx.name))));
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    lines.sort();
    let lines: Vec<String> = lines.into_iter().map(|(_, l)| l).collect();
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

/// Locations, each once, in order.
fn push_unique(out: &mut Vec<lsp::Location>, l: Option<lsp::Location>) {
    if let Some(l) = l
        && !out.contains(&l)
    {
        out.push(l);
    }
}

/// Where a graph node is: its name in the manifest (the object's), else its site.
fn node_loc(m: &Model, n: usize) -> Option<Loc> {
    let node = &m.graph.nodes[n];
    if !node.defined {
        return None;
    }
    match node.object {
        Some(o) => Some(inspect::name_loc(&m.ws, o)),
        None => node.site.map(|s| s.loc),
    }
}

/// Go to definition: a wait argument to the Job it names (in every build that renders the
/// wait), `serviceAccountName` to the ServiceAccount, a binding's subject to it, `roleRef` to
/// the Role, a replacement to the field it reads, a patch to the objects it changes.
pub(crate) fn definition(models: &[(&Model, FileId)], pos: lsp::Position) -> Vec<lsp::Location> {
    let mut out = Vec::new();
    for &(m, f) in models {
        let Some(c) = m.cursor(f, pos).map(|c| c.on_value(&m.ws)) else {
            continue;
        };
        let offset = c.span.start as usize;
        for (_, e) in m.graph.edges_at(f, offset as u32) {
            let target = match e.kind {
                EdgeKind::WaitsFor { .. } | EdgeKind::RunsAs | EdgeKind::Grants { .. } => e.to,
                EdgeKind::BoundBy => e.from,
                _ => continue,
            };
            push_unique(&mut out, node_loc(m, target).and_then(|l| m.location(l)));
        }
        for l in inspect::replacement_sources(&m.ws, &c) {
            push_unique(&mut out, m.location(l));
        }
        for (_, o) in inspect::patch_targets(&m.ws, &c) {
            push_unique(&mut out, m.location(inspect::name_loc(&m.ws, o)));
        }
    }
    out
}

/// The graph nodes the cursor stands for: what the link under it names (a wait argument's
/// Job), else the objects whose text holds it.
fn nodes_under(m: &Model, f: FileId, offset: usize) -> Vec<usize> {
    let mut nodes: Vec<usize> = m
        .graph
        .edges_at(f, offset as u32)
        .filter_map(|(_, e)| match e.kind {
            EdgeKind::WaitsFor { .. } | EdgeKind::RunsAs => Some(e.to),
            EdgeKind::BoundBy => Some(e.from),
            _ => None,
        })
        .collect();
    if nodes.is_empty() {
        nodes = m
            .graph
            .nodes_at(f, offset as u32)
            .filter(|(_, n)| n.object.is_some())
            .map(|(i, _)| i)
            .collect();
    }
    nodes
}

/// Find references: to a Job, the workloads (and Flux stages) that wait for it; to a
/// ServiceAccount, the bindings that bind it and the pods that run as it.
pub(crate) fn references(
    models: &[(&Model, FileId)],
    pos: lsp::Position,
    declaration: bool,
) -> Vec<lsp::Location> {
    let mut out = Vec::new();
    for &(m, f) in models {
        let offset = match m.cursor(f, pos) {
            Some(c) => c.on_value(&m.ws).span.start as usize,
            None => m.offset(f, pos),
        };
        for n in nodes_under(m, f, offset) {
            let node = &m.graph.nodes[n];
            if declaration {
                push_unique(&mut out, node_loc(m, n).and_then(|l| m.location(l)));
            }
            let here = node.span.map(|s| s.loc);
            let edges: Vec<(usize, &crate::analysis::graph::Edge)> = match node.role {
                NodeRole::Job => m
                    .graph
                    .incoming(n)
                    .filter(|e| matches!(e.kind, EdgeKind::WaitsFor { .. }))
                    .map(|e| (e.from, e))
                    .collect(),
                NodeRole::ServiceAccount => m
                    .graph
                    .outgoing(n)
                    .filter(|e| e.kind == EdgeKind::BoundBy)
                    .map(|e| (e.to, e))
                    .chain(
                        m.graph
                            .incoming(n)
                            .filter(|e| e.kind == EdgeKind::RunsAs)
                            .map(|e| (e.from, e)),
                    )
                    .collect(),
                _ => Vec::new(),
            };
            for (other, e) in edges {
                // The link's own node (the wait argument, the subject), unless it is written
                // in the referenced object itself (a hook's annotation): then the referrer.
                let site = e.site.map(|s| s.loc).filter(|s| {
                    here.is_none_or(|h| {
                        h.file != s.file || s.span.start < h.span.start || h.span.end < s.span.end
                    })
                });
                let loc = site.or_else(|| node_loc(m, other));
                push_unique(&mut out, loc.and_then(|l| m.location(l)));
            }
        }
    }
    out
}

/// The command a code lens runs to show a place: the server asks the client to show it
/// (`window/showDocument`).
pub(crate) const SHOW_COMMAND: &str = "kube-migrate-lint.show";

/// How a waiter holds the app back, as a lens says it: the k8s-wait-for mode, or the tool.
fn wait_label(kind: &EdgeKind) -> String {
    match kind {
        EdgeKind::WaitsFor {
            tool: WaitTool::K8sWaitFor,
            mode,
        } => mode.clone(),
        EdgeKind::WaitsFor { tool, mode } if mode.is_empty() => tool.as_str().to_string(),
        EdgeKind::WaitsFor { tool, mode } => format!("{} {mode}", tool.as_str()),
        other => other.label(),
    }
}

/// A code lens above each migration Job of the file: who waits for it (clickable to the
/// waiter), or that nothing does. Waiters that only some builds have say which. And one above
/// each migration init container: the pods that run it.
pub(crate) fn code_lenses(models: &[(&Model, FileId)]) -> Vec<lsp::CodeLens> {
    // Per Job (by where it is named): the builds rendering it, and each waiter with its builds.
    struct Lens {
        range: lsp::Range,
        builds: Vec<String>,
        waiters: Vec<(String, Option<lsp::Location>, Vec<String>)>,
    }
    let mut lenses: Vec<Lens> = Vec::new();
    for &(m, f) in models {
        for (n, node) in m.graph.nodes.iter().enumerate() {
            let Some(o) = node.object.filter(|_| node.role == NodeRole::Job) else {
                continue;
            };
            if m.ws.objects[o as usize].file != f {
                continue;
            }
            let Some(range) = m.range(inspect::name_loc(&m.ws, o)) else {
                continue;
            };
            let build = m.graph.builds[node.build].name.clone();
            let i = match lenses.iter().position(|l| l.range == range) {
                Some(i) => i,
                None => {
                    lenses.push(Lens {
                        range,
                        builds: Vec::new(),
                        waiters: Vec::new(),
                    });
                    lenses.len() - 1
                }
            };
            let lens = &mut lenses[i];
            if !lens.builds.contains(&build) {
                lens.builds.push(build.clone());
            }
            for e in m
                .graph
                .incoming(n)
                .filter(|e| matches!(e.kind, EdgeKind::WaitsFor { .. }))
            {
                let w = &m.graph.nodes[e.from];
                let title = format!("{} {} ({})", w.kind, code(&w.name), wait_label(&e.kind));
                let target = node_loc(m, e.from).and_then(|l| m.location(l));
                match lens.waiters.iter_mut().find(|(t, _, _)| *t == title) {
                    Some((_, _, bs)) => {
                        if !bs.contains(&build) {
                            bs.push(build.clone());
                        }
                    }
                    None => lens.waiters.push((title, target, vec![build.clone()])),
                }
            }
        }
    }
    let mut out = Vec::new();
    for l in lenses {
        if l.waiters.is_empty() {
            out.push(lens(l.range, "nothing waits for this Job".into(), None));
        }
        for (title, target, mut builds) in l.waiters {
            builds.sort();
            let only = if builds.len() < l.builds.len() {
                let names: Vec<String> = builds.iter().map(|b| code(b)).collect();
                format!(" in {} only", names.join(", "))
            } else {
                String::new()
            };
            out.push(lens(l.range, format!("awaited by {title}{only}"), target));
        }
    }
    out.extend(init_migration_lenses(models));
    out.sort_by(|a, b| {
        let key = |l: &lsp::CodeLens| {
            (
                l.range.start.line,
                l.range.start.character,
                l.command.as_ref().map(|c| c.title.clone()),
            )
        };
        key(a).cmp(&key(b))
    });
    out
}

/// A lens titled `title` that shows `target` when clicked (none: a lens that only says).
fn lens(range: lsp::Range, title: String, target: Option<lsp::Location>) -> lsp::CodeLens {
    lsp::CodeLens {
        range,
        command: Some(lsp::Command {
            title,
            command: if target.is_some() {
                SHOW_COMMAND.into()
            } else {
                String::new()
            },
            arguments: target.map(|t| vec![serde_json::json!(t)]),
        }),
        data: None,
    }
}

/// A code lens above each migration init container of the file: the pods that run it (every
/// pod of its workload, before the app containers start), clickable to the workload, with
/// `init-migration-race` when several pods can run it at once.
fn init_migration_lenses(models: &[(&Model, FileId)]) -> Vec<lsp::CodeLens> {
    let mut out: Vec<lsp::CodeLens> = Vec::new();
    for &(m, f) in models {
        for e in m
            .graph
            .edges
            .iter()
            .filter(|e| e.kind == EdgeKind::RunsMigration)
        {
            let node = &m.graph.nodes[e.to];
            let Some(site) = node.site.filter(|s| s.loc.file == f) else {
                continue;
            };
            let Some(range) = m.range(site.loc) else {
                continue;
            };
            let w = &m.graph.nodes[e.from];
            let race = if e.broken.is_empty() {
                String::new()
            } else {
                format!(" ({})", e.broken.join(", "))
            };
            let title = format!(
                "runs in every pod of {} {} before its app containers{race}",
                w.kind,
                code(&w.name)
            );
            let target = node_loc(m, e.from).and_then(|l| m.location(l));
            let new = lens(range, title, target);
            // Every build that renders the workload draws it: one lens per wording.
            if !out
                .iter()
                .any(|l| l.range == new.range && l.command == new.command)
            {
                out.push(new);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::path::keys;

    #[test]
    fn names_images_wait_words_and_placeholders_are_always_shown() {
        let arg = |list: &str| {
            let mut p = keys(&["spec", "template", "spec", list]);
            p.extend([Step::Index(0), Step::Key("args".into()), Step::Index(1)]);
            p
        };
        assert!(always_shown(&arg("initContainers"), "job-v1"));
        assert!(!always_shown(&arg("containers"), "--port"));
        assert!(always_shown(&keys(&["metadata", "name"]), "x"));
        assert!(always_shown(
            &keys(&["spec", "template", "spec", "image"]),
            "x"
        ));
        assert!(always_shown(&keys(&["data", "URL"]), "http://${HOST}"));
        assert!(!always_shown(&keys(&["spec", "replicas"]), "2"));
        assert!(!always_shown(&keys(&["metadata", "labels", "name"]), "x"));
    }
}
