//! A rendered object as an owned tree, every node knowing where it came from.
//!
//! Most objects are read straight from their manifest plus a few overrides (see `Env`). An
//! object a patch touches is materialized: its manifest, the overrides folded in, then the
//! patch merged, each node keeping the location of the text it was read from and, when a patch
//! wrote it, the location of the base node it replaced. `build` materializes every object to
//! print it.

use super::path::Step;
use super::{Rendered, Source, Value};
use crate::base::diagnostic::{FileId, Loc};
use crate::yaml::{Document, Kind, NodeId, Resolved, resolve_scalar};

/// How a scalar reads: as a string, or as a YAML number, boolean or null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    Int,
    Float,
    Bool,
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Scalar(String, Ty),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// One node of a rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub data: Data,
    /// Where the node's text is written (the manifest, a patch, a kustomization).
    pub loc: Option<Loc>,
    /// Where its key is written, for a mapping's value.
    pub key_loc: Option<Loc>,
    /// What wrote it when not the manifest, e.g. `patch`, and the node it replaced.
    pub via: Option<&'static str>,
    pub replaced: Option<Loc>,
}

/// A plain scalar's type as kustomize reads it (kyaml: the YAML 1.2 core schema, so `yes`,
/// `on` and `n` stay strings, unlike the YAML 1.1 typing kubectl applies).
fn core_ty(v: &str) -> Ty {
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Ty::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return Ty::Bool,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Ty::Float,
        _ => {}
    }
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    let unsigned = v.strip_prefix(['-', '+']).unwrap_or(v);
    if digits(unsigned, 10)
        || v.strip_prefix("0o").is_some_and(|d| digits(d, 8))
        || v.strip_prefix("0x").is_some_and(|d| digits(d, 16))
    {
        return Ty::Int;
    }
    let (mantissa, exp) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (digits(a, 10) || a.is_empty())
                && (b.is_empty() || digits(b, 10))
                && !(a.is_empty() && b.is_empty())
        }
        None => digits(mantissa, 10),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e), 10));
    if mantissa_ok && exp_ok && (mantissa.contains('.') || exp.is_some()) {
        return Ty::Float;
    }
    Ty::Str
}

/// Nesting past this is not materialized (the YAML layer already limits nesting; this bounds
/// recursion on anything built here).
const MAX_DEPTH: usize = 200;

impl Node {
    pub fn scalar(text: impl Into<String>, ty: Ty, loc: Option<Loc>) -> Node {
        Node {
            data: Data::Scalar(text.into(), ty),
            loc,
            key_loc: None,
            via: None,
            replaced: None,
        }
    }

    pub fn map(loc: Option<Loc>) -> Node {
        Node {
            data: Data::Map(Vec::new()),
            loc,
            key_loc: None,
            via: None,
            replaced: None,
        }
    }

    /// A node of a document, with its spans as locations in `file`.
    pub fn from_doc(doc: &Document, id: NodeId, file: FileId) -> Node {
        Self::from_doc_at(doc, id, file, 0)
    }

    fn from_doc_at(doc: &Document, id: NodeId, file: FileId, depth: usize) -> Node {
        let loc = Some(Loc {
            file,
            span: doc.span(id),
        });
        let r = doc.resolve(id);
        let data = match doc.node(r).kind {
            Kind::Scalar { value, style } => {
                let ty = if doc.node(r).tag.is_none() && style == crate::yaml::Style::Plain {
                    core_ty(value)
                } else {
                    match resolve_scalar(doc, r) {
                        Some(Resolved::Null) => Ty::Null,
                        Some(Resolved::Bool(_)) => Ty::Bool,
                        Some(Resolved::Int(_)) => Ty::Int,
                        Some(Resolved::Float(_)) => Ty::Float,
                        _ => Ty::Str,
                    }
                };
                Data::Scalar(value.to_string(), ty)
            }
            _ if depth > MAX_DEPTH => Data::Map(Vec::new()),
            Kind::Seq(items) => Data::Seq(
                items
                    .iter()
                    .map(|&i| Self::from_doc_at(doc, i, file, depth + 1))
                    .collect(),
            ),
            Kind::Map(_) => Data::Map(
                doc.entries(r)
                    .filter_map(|(k, v)| {
                        let key = doc.str(k)?.to_string();
                        let mut n = Self::from_doc_at(doc, v, file, depth + 1);
                        n.key_loc = Some(Loc {
                            file,
                            span: doc.span(k),
                        });
                        Some((key, n))
                    })
                    .collect(),
            ),
            Kind::Alias(_) => Data::Scalar(String::new(), Ty::Null),
        };
        Node {
            data,
            loc,
            key_loc: None,
            via: None,
            replaced: None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.data, Data::Scalar(_, Ty::Null))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.data {
            Data::Scalar(s, ty) if *ty != Ty::Null => Some(s),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.data {
            Data::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.data {
            Data::Map(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.data {
            Data::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn at(&self, path: &[Step]) -> Option<&Node> {
        let mut cur = self;
        for step in path {
            cur = match step {
                Step::Key(k) => cur.get(k)?,
                Step::Index(i) => cur.items().get(*i)?,
            };
        }
        Some(cur)
    }

    /// Set `key` in a mapping (inserted last when new), keeping the key's location.
    pub fn insert(&mut self, key: &str, mut value: Node) {
        if let Data::Map(entries) = &mut self.data {
            if let Some((_, v)) = entries.iter_mut().find(|(k, _)| k == key) {
                if value.key_loc.is_none() {
                    value.key_loc = v.key_loc;
                }
                *v = value;
            } else {
                entries.push((key.to_string(), value));
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Node> {
        if let Data::Map(entries) = &mut self.data {
            let i = entries.iter().position(|(k, _)| k == key)?;
            return Some(entries.remove(i).1);
        }
        None
    }

    /// Write a scalar at `path`, creating mappings on the way (as kustomize's transformers
    /// create the fields they set); an index past a list's end is left alone.
    pub fn set(&mut self, path: &[Step], value: Node) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut cur = self;
        for step in parents {
            cur = match step {
                Step::Key(k) => {
                    if !matches!(cur.data, Data::Map(_)) {
                        return;
                    }
                    if cur.get(k).is_none_or(|n| n.is_null()) {
                        cur.insert(k, Node::map(None));
                    }
                    match cur.get_mut(k) {
                        Some(n) => n,
                        None => return,
                    }
                }
                Step::Index(i) => match &mut cur.data {
                    Data::Seq(items) if *i < items.len() => &mut items[*i],
                    _ => return,
                },
            };
        }
        match last {
            Step::Key(k) => cur.insert(k, value),
            Step::Index(i) => {
                if let Data::Seq(items) = &mut cur.data
                    && let Some(slot) = items.get_mut(*i)
                {
                    *slot = value;
                }
            }
        }
    }

    /// The value of a scalar node as rules read it.
    pub fn value(&self) -> Option<Value> {
        let text = self.as_str()?;
        Some(Value {
            text: text.to_string(),
            origin: self.loc,
            writer: self.via.and(self.loc),
            via: self.via,
        })
    }

    /// Mark every node of a subtree as written by `via` (a patch), remembering what it replaced.
    pub fn written_by(mut self, via: &'static str, replaced: Option<Loc>) -> Node {
        self.mark(via, 0);
        self.replaced = replaced.or(self.replaced);
        self
    }

    fn mark(&mut self, via: &'static str, depth: usize) {
        self.via = Some(via);
        if depth > MAX_DEPTH {
            return;
        }
        match &mut self.data {
            Data::Seq(items) => items.iter_mut().for_each(|n| n.mark(via, depth + 1)),
            Data::Map(entries) => entries.iter_mut().for_each(|(_, n)| n.mark(via, depth + 1)),
            Data::Scalar(..) => {}
        }
    }

    /// Structural equality of values, ignoring locations (JSON patch `test`).
    pub fn same_value(&self, other: &Node) -> bool {
        match (&self.data, &other.data) {
            (Data::Scalar(a, ta), Data::Scalar(b, tb)) => {
                if ta == tb && (a == b || *ta == Ty::Null) {
                    return true;
                }
                // 1 and 1.0, or "1" quoted and plain, are different JSON values.
                false
            }
            (Data::Seq(a), Data::Seq(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_value(y))
            }
            (Data::Map(a), Data::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| other.get(k).is_some_and(|w| v.same_value(w)))
            }
            _ => false,
        }
    }
}

/// Whether a string must be quoted to read back as the same string.
fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || crate::yaml::resolve_plain(s).is_some() {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    s.trim() != s
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control())
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn scalar_text(s: &str, ty: Ty) -> String {
    match ty {
        Ty::Null => "null".into(),
        Ty::Str if needs_quotes(s) => quote(s),
        _ => s.to_string(),
    }
}

impl Node {
    /// YAML as kustomize prints it: mapping keys sorted, lists at their key's indentation.
    /// `comment` adds a trailing comment to a scalar line (provenance).
    pub fn to_yaml(&self, comment: &dyn Fn(&Node) -> Option<String>) -> String {
        let mut out = String::new();
        self.emit_block(&mut out, 0, comment);
        out
    }

    fn inline(&self) -> Option<String> {
        match &self.data {
            Data::Scalar(s, ty) => Some(scalar_text(s, *ty)),
            Data::Seq(items) if items.is_empty() => Some("[]".into()),
            Data::Map(entries) if entries.is_empty() => Some("{}".into()),
            _ => None,
        }
    }

    /// ` value # comment` and the newline, after a key or a dash, for a node written on one
    /// line; false, writing nothing, for a node that needs a block.
    fn emit_inline(&self, out: &mut String, comment: &dyn Fn(&Node) -> Option<String>) -> bool {
        let Some(t) = self.inline() else {
            return false;
        };
        out.push(' ');
        out.push_str(&t);
        self.line_end(out, comment);
        true
    }

    fn line_end(&self, out: &mut String, comment: &dyn Fn(&Node) -> Option<String>) {
        if let Some(c) = comment(self) {
            out.push_str(" # ");
            out.push_str(&c);
        }
        out.push('\n');
    }

    fn emit_block(
        &self,
        out: &mut String,
        indent: usize,
        comment: &dyn Fn(&Node) -> Option<String>,
    ) {
        let pad = " ".repeat(indent);
        match &self.data {
            Data::Map(entries) => {
                let mut sorted: Vec<&(String, Node)> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                for (k, v) in sorted {
                    let key = if needs_quotes(k) { quote(k) } else { k.clone() };
                    out.push_str(&pad);
                    out.push_str(&key);
                    out.push(':');
                    if !v.emit_inline(out, comment) {
                        v.line_end(out, comment);
                        let child = if matches!(v.data, Data::Seq(_)) {
                            indent
                        } else {
                            indent + 2
                        };
                        v.emit_block(out, child, comment);
                    }
                }
            }
            Data::Seq(items) => {
                for it in items {
                    out.push_str(&pad);
                    out.push('-');
                    if !it.emit_inline(out, comment) {
                        let mut inner = String::new();
                        it.emit_block(&mut inner, indent + 2, comment);
                        // The first line goes after the dash.
                        out.push(' ');
                        out.push_str(inner.get(indent + 2..).unwrap_or(&inner));
                    }
                }
            }
            Data::Scalar(..) => {
                out.push_str(&pad);
                out.push_str(&self.inline().unwrap_or_default());
                self.line_end(out, comment);
            }
        }
    }
}

/// The whole object as the build renders it: the materialized tree or the manifest, the
/// overrides folded in, and the rendered name and namespace written into `metadata`.
pub fn materialize(env: &super::Env<'_>, r: &Rendered) -> Node {
    let mut tree = match (&r.tree, r.source) {
        (Some(t), _) => (**t).clone(),
        (None, Source::Object(o)) => {
            let (doc, root, file) = env.doc_of(o);
            Node::from_doc(doc, root, file)
        }
        (None, Source::Generated(..)) => {
            let mut t = Node::map(None);
            t.insert("apiVersion", Node::scalar(&r.api_version, Ty::Str, None));
            t.insert("kind", Node::scalar(&r.kind, Ty::Str, None));
            t
        }
    };
    // A generated Secret holds its values base64-encoded, as kustomize stores them (the
    // overrides keep them plain, which is what the rules judge).
    let generated_secret = matches!(r.source, Source::Generated(..)) && r.kind == "Secret";
    for (p, v) in &r.overrides {
        let encoded;
        let text = match p.as_slice() {
            [super::path::Step::Key(f), _] if generated_secret && f == "data" => {
                encoded = super::generate::secret_value(&v.text);
                &encoded
            }
            _ => &v.text,
        };
        let mut n = Node::scalar(text, override_ty(p, text), v.writer.or(v.origin));
        n.via = v.via;
        n.replaced = tree.at(p).and_then(|o| o.loc).or(v.origin);
        tree.set(p, n);
    }
    let name = Node {
        via: r.name.via,
        ..Node::scalar(&r.name.text, Ty::Str, r.name.writer.or(r.name.origin))
    };
    if !r.name.text.is_empty() || tree.at(&super::path::keys(&["metadata", "name"])).is_some() {
        tree.set(&super::path::keys(&["metadata", "name"]), name);
    }
    if let Some(ns) = &r.namespace {
        let n = Node {
            via: ns.via,
            ..Node::scalar(&ns.text, Ty::Str, ns.writer.or(ns.origin))
        };
        tree.set(&super::path::keys(&["metadata", "namespace"]), n);
    }
    tree
}

/// The YAML type an override is written with: kustomize writes replica counts as integers and
/// everything else it sets (names, images, replacements of strings) as strings.
fn override_ty(p: &[Step], text: &str) -> Ty {
    let is_count = matches!(p.last(), Some(Step::Key(k)) if k == "replicas");
    if is_count && text.parse::<i64>().is_ok() {
        Ty::Int
    } else {
        Ty::Str
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::render::path::keys;
    use crate::yaml::{Limits, parse};

    pub(crate) fn tree(text: &str) -> Node {
        let p = parse(text, Limits::default());
        let d = &p.docs[0];
        Node::from_doc(d, d.root, 0)
    }

    #[test]
    fn reads_scalars_with_their_types_and_locations() {
        let t = tree("a: 1\nb: \"1\"\nc: [x, null]\nd: {e: true}\n");
        assert_eq!(t.get("a").unwrap().data, Data::Scalar("1".into(), Ty::Int));
        assert_eq!(t.get("b").unwrap().data, Data::Scalar("1".into(), Ty::Str));
        assert!(
            t.at(&[Step::Key("c".into()), Step::Index(1)])
                .unwrap()
                .is_null()
        );
        assert_eq!(
            t.at(&keys(&["d", "e"])).unwrap().data,
            Data::Scalar("true".into(), Ty::Bool)
        );
        let a = t.get("a").unwrap();
        assert_eq!(a.loc.unwrap().span.start, 3);
        assert_eq!(a.key_loc.unwrap().span.start, 0);
    }

    #[test]
    fn set_creates_mappings_but_not_list_items() {
        let mut t = tree("a: {}\nl: [x]\n");
        t.set(&keys(&["a", "b", "c"]), Node::scalar("v", Ty::Str, None));
        assert_eq!(t.at(&keys(&["a", "b", "c"])).unwrap().as_str(), Some("v"));
        t.set(
            &[Step::Key("l".into()), Step::Index(3)],
            Node::scalar("v", Ty::Str, None),
        );
        assert_eq!(t.get("l").unwrap().items().len(), 1);
    }

    #[test]
    fn same_value_ignores_locations_and_key_order() {
        let a = tree("x: {a: 1, b: [s]}\n");
        let b = tree("x: {b: [s], a: 1}\n");
        assert!(a.same_value(&b));
        assert!(!a.same_value(&tree("x: {a: \"1\", b: [s]}\n")));
    }
}
