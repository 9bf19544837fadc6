//! Text edits on a YAML file that keep everything else byte-for-byte: a scalar is replaced in
//! its own quoting style; a new key is inserted in the style of the mapping that receives it
//! (block or flow, the mapping's own indentation, the file's line ending). Every helper returns
//! `None` when it cannot be sure: a value reached through an alias or a merge key (editing it
//! would change every object sharing the anchor), a block scalar, a null written as nothing, a
//! tag. A rule then reports its finding without a fix.

use crate::base::diagnostic::{Edit, FileId, Loc};
use crate::base::source::Span;
use crate::yaml::{Document, Kind, NodeId, Style};

/// A value to write: a scalar (already valid as a plain YAML scalar) or a mapping.
#[derive(Debug, Clone)]
pub enum New<'a> {
    Scalar(&'a str),
    Map(Vec<(&'a str, New<'a>)>),
}

/// Edits one document of one file.
pub struct Editor<'a> {
    pub text: &'a str,
    pub doc: &'a Document,
    pub file: FileId,
}

impl<'a> Editor<'a> {
    pub fn new(text: &'a str, doc: &'a Document, file: FileId) -> Self {
        Editor { text, doc, file }
    }

    fn edit(&self, start: usize, end: usize, replacement: String) -> Edit {
        Edit {
            loc: Loc {
                file: self.file,
                span: Span::new(start, end),
            },
            replacement,
        }
    }

    /// The mapping's own entries (not those merged in with `<<`), only if it is a mapping
    /// written here (not an alias).
    fn own_entries(&self, map: NodeId) -> Option<&'a [(NodeId, NodeId)]> {
        match self.doc.node(map).kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// `Some(entry)` / `Some(None)` when the mapping certainly has / lacks `key`; `None` when
    /// it cannot be told (an alias, or a `<<` merge that may provide the key).
    fn own_get(&self, map: NodeId, key: &str) -> Option<Option<(NodeId, NodeId)>> {
        let entries = self.own_entries(map)?;
        let found = entries
            .iter()
            .copied()
            .find(|&(k, _)| self.plain_key(k) == Some(key));
        if found.is_none()
            && entries
                .iter()
                .any(|&(k, _)| self.plain_key(k) == Some("<<"))
        {
            // The key may come from a merged mapping: adding it here would shadow a shared
            // anchor's value, which is a decision for a human.
            return None;
        }
        Some(found)
    }

    /// Whether `node` is (inside) a node that an alias repeats elsewhere: editing it would
    /// change every copy.
    fn shared(&self, node: NodeId) -> bool {
        let at = self.doc.span(node);
        self.doc.iter().any(|n| match n.kind {
            Kind::Alias(t) => {
                let s = self.doc.span(t);
                s.start <= at.start && at.end <= s.end
            }
            _ => false,
        })
    }

    fn plain_key(&self, k: NodeId) -> Option<&'a str> {
        match self.doc.node(k).kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Replace a scalar's value, keeping plain, single- or double-quoted style. `value` must be
    /// safe as a plain scalar (the callers write names, numbers and enum values).
    pub fn set_scalar(&self, node: NodeId, value: &str) -> Option<Edit> {
        let n = self.doc.node(node);
        let Kind::Scalar { style, .. } = n.kind else {
            return None;
        };
        if n.tag.is_some() || n.span.is_empty() || self.shared(node) {
            return None;
        }
        let written = match style {
            Style::Plain => value.to_string(),
            Style::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
            Style::DoubleQuoted => {
                format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
            }
            Style::Literal | Style::Folded => return None,
        };
        let r = n.span.range();
        // Anchored scalars' spans cover only the value; the anchor stays in front of it.
        let old = self.text.get(r.clone())?;
        if old == written {
            return None;
        }
        Some(self.edit(r.start, r.end, written))
    }

    /// Quote a plain scalar as written, making it a string with the same text.
    pub fn quote(&self, node: NodeId) -> Option<Edit> {
        let n = self.doc.node(node);
        let Kind::Scalar {
            style: Style::Plain,
            ..
        } = n.kind
        else {
            return None;
        };
        if n.tag.is_some() || n.span.is_empty() || self.shared(node) {
            return None;
        }
        let raw = self.text.get(n.span.range())?;
        if raw.contains(['\n', '\r', '"', '\\', '#']) {
            return None;
        }
        let r = n.span.range();
        Some(self.edit(r.start, r.end, format!("\"{raw}\"")))
    }

    /// Make `path` (mapping keys from `root`) hold `value`: replace it when it is a scalar,
    /// else insert the missing keys below the deepest mapping that exists. A new key goes in
    /// front of the first of `before` present in its mapping, else after the last entry.
    pub fn set_path(
        &self,
        root: NodeId,
        path: &[&str],
        value: &str,
        before: &[&str],
    ) -> Option<Edit> {
        let mut cur = root;
        for (i, key) in path.iter().enumerate() {
            match self.own_get(cur, key)? {
                Some((_, v)) => {
                    if i + 1 == path.len() {
                        return self.set_scalar(v, value);
                    }
                    if !matches!(self.doc.node(v).kind, Kind::Map(_)) {
                        return None;
                    }
                    cur = v;
                }
                None => {
                    let mut new = New::Scalar(value);
                    for k in path[i + 1..].iter().rev() {
                        new = New::Map(vec![(k, new)]);
                    }
                    return self.insert(cur, key, &new, before);
                }
            }
        }
        None
    }

    /// Insert `key: value` into mapping `map`.
    pub fn insert(&self, map: NodeId, key: &str, value: &New<'_>, before: &[&str]) -> Option<Edit> {
        let node = self.doc.node(map);
        let entries = self.own_entries(map)?;
        if node.tag.is_some() || self.shared(map) {
            return None;
        }
        if node.flow {
            return self.insert_flow(map, entries, key, value);
        }
        let &(first_key, _) = entries.first()?;
        let text = self.text;
        let eol = eol_at(text, self.doc.span(first_key).start as usize);
        let first_start = self.doc.span(first_key).start as usize;
        let col = first_start - line_start(text, first_start);
        let indent = " ".repeat(col);
        let step = self.step(map, col);
        let rendered = render_block(key, value, &indent, step, eol);
        // In front of a named sibling, together with the comments directly above it.
        if let Some(&(k, _)) = before
            .iter()
            .find_map(|b| entries.iter().find(|&&(k, _)| self.plain_key(k) == Some(b)))
        {
            let ks = self.doc.span(k).start as usize;
            let ls = line_start(text, ks);
            if text[ls..ks].bytes().all(|b| b == b' ') {
                let at = comments_above(text, ls, col);
                return Some(self.edit(at, at, format!("{indent}{rendered}{eol}")));
            }
            // The key shares its line with a `- ` indicator: insert right at the key.
            return Some(self.edit(ks, ks, format!("{rendered}{eol}{indent}")));
        }
        // After the last entry, at the end of the line it ends on.
        let &(_, last) = entries.last()?;
        let end = self.doc.span(last).end as usize;
        if end > 0 && text.as_bytes()[end - 1] == b'\n' {
            // A block scalar ends after its line break.
            return Some(self.edit(end, end, format!("{indent}{rendered}{eol}")));
        }
        let at = line_end(text, end);
        Some(self.edit(at, at, format!("{eol}{indent}{rendered}")))
    }

    fn insert_flow(
        &self,
        map: NodeId,
        entries: &[(NodeId, NodeId)],
        key: &str,
        value: &New<'_>,
    ) -> Option<Edit> {
        let rendered = format!("{key}: {}", render_flow(value));
        match entries.last() {
            None => {
                let span = self.doc.span(map);
                let open = span.start as usize;
                if self.text.as_bytes().get(open) != Some(&b'{') {
                    return None;
                }
                Some(self.edit(open + 1, open + 1, rendered))
            }
            Some(&(_, last)) => {
                let end = self.doc.span(last).end as usize;
                Some(self.edit(end, end, format!(", {rendered}")))
            }
        }
    }

    /// The indentation step of this file around `map`: how far its keys sit to the right of
    /// its parent's key, else of any nested block mapping in the document; 2 when unknown.
    fn step(&self, map: NodeId, col: usize) -> usize {
        let parent_col = self.doc.iter().find_map(|n| match n.kind {
            Kind::Map(es) => es
                .iter()
                .find(|&&(_, v)| v == map)
                .map(|&(k, _)| self.column(k)),
            _ => None,
        });
        if let Some(p) = parent_col
            && col > p
        {
            return col - p;
        }
        for n in self.doc.iter() {
            if let Kind::Map(es) = n.kind
                && !n.flow
            {
                for &(k, v) in es {
                    let vn = self.doc.node(v);
                    if let Kind::Map(inner) = vn.kind
                        && !vn.flow
                        && let Some(&(ik, _)) = inner.first()
                    {
                        let (a, b) = (self.column(k), self.column(ik));
                        if b > a && self.line_of(ik) > self.line_of(k) {
                            return b - a;
                        }
                    }
                }
            }
        }
        2
    }

    fn column(&self, node: NodeId) -> usize {
        let s = self.doc.span(node).start as usize;
        s - line_start(self.text, s)
    }

    fn line_of(&self, node: NodeId) -> usize {
        let s = self.doc.span(node).start as usize;
        self.text[..s].bytes().filter(|&b| b == b'\n').count()
    }

    /// Find the scalar node written exactly at `span` in this document.
    pub fn scalar_at(&self, span: Span) -> Option<NodeId> {
        self.doc
            .iter()
            .position(|n| n.span == span && matches!(n.kind, Kind::Scalar { .. }))
            .map(|i| i as NodeId)
    }

    /// Move block-sequence item `from` so that it sits in front of item `to`, carrying the
    /// comment lines directly above it. Two edits: a deletion and an insertion.
    pub fn move_item(&self, seq: NodeId, from: usize, to: usize) -> Option<Vec<Edit>> {
        let n = self.doc.node(seq);
        let Kind::Seq(items) = n.kind else {
            return None;
        };
        if n.flow || from >= items.len() || to >= items.len() || to >= from || self.shared(seq) {
            return None;
        }
        let text = self.text;
        let block = |i: usize| -> Option<(usize, usize, usize)> {
            let s = self.doc.span(items[i]).start as usize;
            let ls = line_start(text, s);
            let dash = text[ls..s].rfind('-')? + ls;
            let col = dash - ls;
            if !text[ls..dash].bytes().all(|b| b == b' ') {
                return None;
            }
            let start = comments_above(text, ls, col);
            let e = self.doc.span(items[i]).end as usize;
            let end = if e > 0 && text.as_bytes()[e - 1] == b'\n' {
                e
            } else {
                next_line(text, e)
            };
            Some((start, end, col))
        };
        let (fs, fe, fcol) = block(from)?;
        let (ts, _, tcol) = block(to)?;
        if fcol != tcol {
            return None;
        }
        let mut moved = text[fs..fe].to_string();
        if !moved.ends_with('\n') {
            // The last item of a file without a final newline.
            moved.push_str(eol_at(text, ts));
        }
        let mut del_start = fs;
        let mut del_end = fe;
        if fe == text.len() && !text[fs..fe].ends_with('\n') {
            // Removing the file's last line: take the line break before it instead.
            del_start = prev_line_break(text, fs);
            del_end = fe;
        }
        Some(vec![
            self.edit(ts, ts, moved),
            self.edit(del_start, del_end, String::new()),
        ])
    }
}

fn render_block(key: &str, value: &New<'_>, indent: &str, step: usize, eol: &str) -> String {
    match value {
        New::Scalar(s) => format!("{key}: {s}"),
        New::Map(entries) => {
            let inner = format!("{indent}{}", " ".repeat(step));
            let mut out = format!("{key}:");
            for (k, v) in entries {
                out.push_str(eol);
                out.push_str(&inner);
                out.push_str(&render_block(k, v, &inner, step, eol));
            }
            out
        }
    }
}

fn render_flow(value: &New<'_>) -> String {
    match value {
        New::Scalar(s) => s.to_string(),
        New::Map(entries) => {
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k}: {}", render_flow(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// The line ending used around `at` (CRLF files keep CRLF).
pub fn eol_at(text: &str, at: usize) -> &'static str {
    let nl = text[at.min(text.len())..]
        .find('\n')
        .map(|i| at + i)
        .or_else(|| text[..at.min(text.len())].rfind('\n'));
    match nl {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1)
}

/// The offset of the line break ending the line `at` is on (before `\r\n`), or the end.
fn line_end(text: &str, at: usize) -> usize {
    match text[at..].find(['\n', '\r']) {
        Some(i) => at + i,
        None => text.len(),
    }
}

/// The start of the line after the one `at` is on.
fn next_line(text: &str, at: usize) -> usize {
    match text[at..].find('\n') {
        Some(i) => at + i + 1,
        None => text.len(),
    }
}

fn prev_line_break(text: &str, line_start: usize) -> usize {
    let mut s = line_start;
    if s > 0 && text.as_bytes()[s - 1] == b'\n' {
        s -= 1;
        if s > 0 && text.as_bytes()[s - 1] == b'\r' {
            s -= 1;
        }
    }
    s
}

/// Extend a line start upwards over comment lines indented exactly `col` directly above it.
fn comments_above(text: &str, mut ls: usize, col: usize) -> usize {
    while ls > 0 {
        let prev = line_start(text, ls - 1);
        let line = text[prev..ls].trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start_matches(' ');
        if trimmed.starts_with('#') && line.len() - trimmed.len() == col {
            ls = prev;
        } else {
            break;
        }
    }
    ls
}

/// Apply edits (non-overlapping; insertions at the same offset keep their order).
pub fn apply(text: &str, edits: &[&Edit]) -> Option<String> {
    let mut sorted: Vec<&&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.loc.span.start, e.loc.span.end));
    let mut out = String::with_capacity(text.len() + 64);
    let mut pos = 0usize;
    for e in sorted {
        let r = e.loc.span.range();
        if r.start < pos
            || r.end > text.len()
            || !text.is_char_boundary(r.start)
            || !text.is_char_boundary(r.end)
        {
            return None;
        }
        out.push_str(&text[pos..r.start]);
        out.push_str(&e.replacement);
        pos = r.end;
    }
    out.push_str(&text[pos..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Limits, parse};

    /// `f` on an editor of the first document of `text`, which must parse.
    fn editor<R>(text: &str, f: impl FnOnce(&Editor<'_>) -> R) -> R {
        let p = parse(text, Limits::default());
        assert!(p.error.is_none(), "{:?}", p.error);
        f(&Editor::new(text, &p.docs[0], 0))
    }

    /// `text` after the edit `f` makes.
    fn with_doc(text: &str, f: impl FnOnce(&Editor<'_>) -> Option<Edit>) -> String {
        let e = editor(text, f).expect("an edit");
        apply(text, &[&e]).unwrap()
    }

    /// `text` after `set_path` at the root (inserting before `before` keys).
    fn set(text: &str, path: &[&str], value: &str, before: &[&str]) -> String {
        with_doc(text, |e| e.set_path(e.doc.root, path, value, before))
    }

    #[test]
    fn scalars_keep_their_quoting() {
        let t = "a: 3\nb: 'x'\nc: \"y\"\n";
        assert_eq!(set(t, &["a"], "0", &[]), "a: 0\nb: 'x'\nc: \"y\"\n");
        assert_eq!(set(t, &["b"], "Never", &[]), "a: 3\nb: 'Never'\nc: \"y\"\n");
        assert_eq!(set(t, &["c"], "z", &[]), "a: 3\nb: 'x'\nc: \"z\"\n");
    }

    #[test]
    fn insert_in_front_of_a_sibling_keeps_its_comment_together() {
        let t = "spec:\n    # the pod\n    template: {}\n";
        assert_eq!(
            set(t, &["spec", "backoffLimit"], "0", &["template"]),
            "spec:\n    backoffLimit: 0\n    # the pod\n    template: {}\n"
        );
    }

    #[test]
    fn nested_insert_uses_the_files_indentation_and_line_ending() {
        let t = "metadata:\r\n    name: x # keep\r\nspec: {}\r\n";
        assert_eq!(
            set(
                t,
                &["metadata", "annotations", "a.io/force"],
                "enabled",
                &[]
            ),
            "metadata:\r\n    name: x # keep\r\n    annotations:\r\n        a.io/force: enabled\r\nspec: {}\r\n"
        );
    }

    #[test]
    fn flow_mappings_get_flow_entries() {
        let t = "metadata: {name: x}\n";
        assert_eq!(
            set(t, &["metadata", "annotations", "k"], "v", &[]),
            "metadata: {name: x, annotations: {k: v}}\n"
        );
        let t = "metadata: {name: x, annotations: {}}\n";
        assert_eq!(
            set(t, &["metadata", "annotations", "k"], "v", &[]),
            "metadata: {name: x, annotations: {k: v}}\n"
        );
    }

    #[test]
    fn a_key_on_a_dash_line_gets_the_new_key_in_front() {
        let t = "items:\n- name: a\n  image: b\n";
        let edited = with_doc(t, |ed| {
            let item = ed.doc.items(ed.doc.get(ed.doc.root, "items").unwrap())[0];
            ed.insert(item, "x", &New::Scalar("1"), &["name"])
        });
        assert_eq!(edited, "items:\n- x: 1\n  name: a\n  image: b\n");
    }

    #[test]
    fn aliases_merges_block_scalars_and_nulls_are_left_alone() {
        for (t, path) in [
            ("base: &b {x: 1}\nobj: *b\n", &["obj", "y"][..]),
            (
                "base: &b {x: 1}\nobj:\n  <<: *b\n  z: 2\n",
                &["obj", "x"][..],
            ),
            ("a: |\n  text\n", &["a"][..]),
            ("a:\n", &["a", "b"][..]),
            ("a: !!str 3\n", &["a"][..]),
            ("a: &x {k: 1}\nb: *x\n", &["a", "k"][..]),
            ("a: &x {k: 1}\nb: *x\n", &["a", "j"][..]),
        ] {
            let edit = editor(t, |ed| ed.set_path(ed.doc.root, path, "0", &[]));
            assert!(edit.is_none(), "{t}");
        }
    }

    #[test]
    fn after_a_block_scalar_the_key_goes_on_the_next_line() {
        let t = "a:\n  s: |\n    text\nb: 1\n";
        assert_eq!(
            set(t, &["a", "t"], "2", &[]),
            "a:\n  s: |\n    text\n  t: 2\nb: 1\n"
        );
    }

    #[test]
    fn moving_an_item_carries_its_comment() {
        let t = "resources:\n- deployment.yaml\n# the migration\n- job.yaml\n- rbac.yaml";
        let moved = |from, to| {
            editor(t, |ed| {
                let seq = ed.doc.get(ed.doc.root, "resources").unwrap();
                let edits = ed.move_item(seq, from, to).unwrap();
                apply(t, &edits.iter().collect::<Vec<&Edit>>()).unwrap()
            })
        };
        assert_eq!(
            moved(1, 0),
            "resources:\n# the migration\n- job.yaml\n- deployment.yaml\n- rbac.yaml"
        );
        assert_eq!(
            moved(2, 0),
            "resources:\n- rbac.yaml\n- deployment.yaml\n# the migration\n- job.yaml"
        );
    }
}
