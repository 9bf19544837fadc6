//! The spanned YAML layer: every node of every document with its byte range.
//!
//! Built from `saphyr-parser` events into an arena per document. The builder is iterative (no
//! recursion, so deep input cannot overflow a worker thread's stack), enforces a nesting limit,
//! rejects duplicate keys at the second key (k8s-openapi would silently keep the last one), and
//! never expands aliases: an alias is a node that points at its anchor.

mod de;
pub(crate) mod edit;
mod resolve;

pub use de::{DeError, TypeMismatch, from_node};
pub(crate) use resolve::resolve_plain;
pub(crate) use resolve::{Resolved, resolve_scalar};

use crate::base::source::{CharToByte, Span};
use saphyr_parser::{Event, Parser, ScalarStyle as PStyle};

pub(crate) type NodeId = u32;

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// What a node holds.
#[derive(Debug, Clone)]
pub enum Kind {
    Scalar {
        value: String,
        style: Style,
    },
    Seq(Vec<NodeId>),
    Map(Vec<(NodeId, NodeId)>),
    /// An alias; points at the anchored node.
    Alias(NodeId),
}

/// A YAML node with its span in the source.
#[derive(Debug, Clone)]
pub struct Node {
    pub span: Span,
    pub kind: Kind,
    /// Tag as written, e.g. `!!str`.
    pub tag: Option<Box<str>>,
    /// Whether the collection is written in flow style (`{}` / `[]`).
    pub flow: bool,
}

/// One parsed YAML document: its nodes in an arena, addressed by `NodeId`.
#[derive(Debug, Clone)]
pub struct Document {
    pub nodes: Vec<Node>,
    pub root: NodeId,
    pub span: Span,
}

/// Why a file or document could not be (completely) read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
    /// A second location (the first of two duplicate keys).
    pub related: Option<(Span, String)>,
    pub kind: YamlErrorKind,
}

/// Why a file could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamlErrorKind {
    Syntax,
    DuplicateKey,
    /// A limit was hit; the config key (under `limits:`) that raises it.
    Limit(&'static str),
}

/// Bounds on what one file may make the parser build.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_documents: usize,
    pub max_nodes: usize,
    /// How many nodes a document may expand to through aliases (an alias bomb is refused, as
    /// kubectl's YAML decoder refuses excessive aliasing).
    pub max_expanded: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_documents: 10_000,
            max_nodes: 5_000_000,
            max_expanded: 1_000_000,
        }
    }
}

/// Documents read before any error, and the error that stopped reading, if any.
#[derive(Debug, Default)]
pub struct Parsed {
    pub docs: Vec<Document>,
    pub error: Option<YamlError>,
}

enum Frame {
    Seq {
        id: NodeId,
        items: Vec<NodeId>,
    },
    Map {
        id: NodeId,
        entries: Vec<(NodeId, NodeId)>,
        key: Option<NodeId>,
        /// Keys by text, built once the mapping is too wide for a linear scan (a scan per key
        /// is quadratic: a 200,000-key ConfigMap took minutes).
        index: Option<std::collections::HashMap<Box<str>, NodeId>>,
    },
}

/// Mappings up to this width are checked for duplicate keys by scanning.
const SCAN_WIDTH: usize = 16;

struct Builder<'a> {
    text: &'a str,
    map: CharToByte,
    nodes: Vec<Node>,
    /// Each node's size once aliases are expanded (saturating).
    expanded: Vec<u64>,
    stack: Vec<Frame>,
    anchors: Vec<(usize, NodeId)>,
    total_nodes: usize,
    limits: Limits,
}

impl<'a> Builder<'a> {
    fn span(&self, s: &saphyr_parser::Span) -> Span {
        Span::new(self.map.byte(s.start.index()), self.map.byte(s.end.index()))
    }

    fn push(&mut self, node: Node, anchor: usize) -> Result<NodeId, YamlError> {
        self.total_nodes += 1;
        if self.total_nodes > self.limits.max_nodes {
            return Err(YamlError {
                span: node.span,
                message: format!(
                    "file has more than {} YAML nodes; skipped",
                    self.limits.max_nodes
                ),
                related: None,
                kind: YamlErrorKind::Limit("max-nodes"),
            });
        }
        let id = self.nodes.len() as NodeId;
        let size = match node.kind {
            Kind::Alias(t) => self.expanded[t as usize],
            _ => 1,
        };
        self.expanded.push(size);
        self.nodes.push(node);
        if anchor > 0 {
            self.anchors.push((anchor, id));
        }
        Ok(id)
    }

    /// Attach a finished node to the open collection (or return it as the document root).
    fn attach(&mut self, id: NodeId) -> Result<Option<NodeId>, YamlError> {
        let Some(top) = self.stack.last_mut() else {
            return Ok(Some(id));
        };
        match top {
            Frame::Seq { items, .. } => items.push(id),
            Frame::Map {
                entries,
                key,
                index,
                ..
            } => match key.take() {
                None => {
                    if let Some(first) = find_duplicate(&self.nodes, entries, index, id) {
                        let name = scalar_text(&self.nodes, id).unwrap_or_default();
                        return Err(YamlError {
                            span: self.nodes[id as usize].span,
                            message: format!(
                                "duplicate key `{}`: Kubernetes tools either reject the file or silently keep only one value",
                                crate::base::mask::key_for_display(name)
                            ),
                            related: Some((
                                self.nodes[first as usize].span,
                                "first defined here".into(),
                            )),
                            kind: YamlErrorKind::DuplicateKey,
                        });
                    }
                    *key = Some(id);
                }
                Some(k) => entries.push((k, id)),
            },
        }
        Ok(None)
    }

    fn open(&mut self, frame: Frame, at: Span) -> Result<(), YamlError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError {
                span: at,
                message: format!(
                    "YAML nesting is deeper than {} levels; document skipped",
                    self.limits.max_depth
                ),
                related: None,
                kind: YamlErrorKind::Limit("max-depth"),
            });
        }
        self.stack.push(frame);
        Ok(())
    }
}

fn scalar_text(nodes: &[Node], id: NodeId) -> Option<&str> {
    match &nodes[id as usize].kind {
        Kind::Scalar { value, .. } => Some(value),
        _ => None,
    }
}

/// The earlier key with the same text as `key`, if any (`<<` may repeat). Narrow mappings are
/// scanned; from `SCAN_WIDTH` keys on, an index by text answers in constant time.
fn find_duplicate(
    nodes: &[Node],
    entries: &[(NodeId, NodeId)],
    index: &mut Option<std::collections::HashMap<Box<str>, NodeId>>,
    key: NodeId,
) -> Option<NodeId> {
    let text = scalar_text(nodes, key)?;
    if text == "<<" {
        return None;
    }
    if index.is_none() && entries.len() < SCAN_WIDTH {
        return entries
            .iter()
            .map(|&(k, _)| k)
            .find(|&k| scalar_text(nodes, k) == Some(text));
    }
    let index = index.get_or_insert_with(|| {
        entries
            .iter()
            .filter_map(|&(k, _)| Some((scalar_text(nodes, k)?, k)))
            .filter(|(t, _)| *t != "<<")
            .map(|(t, k)| (Box::from(t), k))
            .collect()
    });
    if let Some(&first) = index.get(text) {
        return Some(first);
    }
    index.insert(Box::from(text), key);
    None
}

fn convert_style(s: PStyle) -> Style {
    match s {
        PStyle::Plain => Style::Plain,
        PStyle::SingleQuoted => Style::SingleQuoted,
        PStyle::DoubleQuoted => Style::DoubleQuoted,
        PStyle::Literal => Style::Literal,
        PStyle::Folded => Style::Folded,
    }
}

fn tag_text(tag: Option<std::borrow::Cow<'_, saphyr_parser::Tag>>) -> Option<Box<str>> {
    tag.map(|t| {
        let s = if t.handle == "tag:yaml.org,2002:" {
            format!("!!{}", t.suffix)
        } else {
            format!("{}{}", t.handle, t.suffix)
        };
        s.into_boxed_str()
    })
}

/// Parse a whole YAML stream.
pub fn parse(text: &str, limits: Limits) -> Parsed {
    let mut out = Parsed::default();
    let mut b = Builder {
        text,
        map: CharToByte::new(text),
        nodes: Vec::new(),
        expanded: Vec::new(),
        stack: Vec::new(),
        anchors: Vec::new(),
        total_nodes: 0,
        limits,
    };
    let mut parser = Parser::new_from_str(text).keep_tags(true);
    let mut doc_start = 0usize;
    let mut root: Option<NodeId> = None;
    while let Some(ev) = parser.next_event() {
        let (event, pspan) = match ev {
            Ok(e) => e,
            Err(e) => {
                let m = e.marker();
                let mut at = b.map.byte(m.index()).min(text.len());
                // The scanner reports a tab error at the start of the token it was reading;
                // the tab itself is what the user must see.
                if e.info().contains("tab") {
                    let line_start = text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
                    if let Some(t) = text[line_start..].find('\t') {
                        at = line_start + t;
                    }
                }
                out.error = Some(YamlError {
                    span: Span::new(at, next_char_end(text, at)),
                    message: e.info().to_string(),
                    related: None,
                    kind: YamlErrorKind::Syntax,
                });
                return out;
            }
        };
        let span = b.span(&pspan);
        let result: Result<(), YamlError> = (|| {
            match event {
                Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
                Event::DocumentStart(_) => {
                    if out.docs.len() >= b.limits.max_documents {
                        return Err(YamlError {
                            span,
                            message: format!(
                                "file has more than {} YAML documents; the rest is skipped",
                                b.limits.max_documents
                            ),
                            related: None,
                            kind: YamlErrorKind::Limit("max-documents"),
                        });
                    }
                    doc_start = span.start as usize;
                    b.nodes = Vec::new();
                    b.expanded = Vec::new();
                    b.anchors.clear();
                    root = None;
                }
                Event::DocumentEnd => {
                    let nodes = std::mem::take(&mut b.nodes);
                    if let Some(r) = root.take() {
                        let end = nodes[r as usize].span.end.max(doc_start as u32);
                        out.docs.push(Document {
                            nodes,
                            root: r,
                            span: Span::new(doc_start, end as usize),
                        });
                    }
                }
                Event::Alias(anchor) => {
                    let target = b
                        .anchors
                        .iter()
                        .rev()
                        .find(|(a, _)| *a == anchor)
                        .map(|(_, id)| *id);
                    let Some(target) = target else {
                        return Err(YamlError {
                            span,
                            message: "alias refers to an unknown anchor".into(),
                            related: None,
                            kind: YamlErrorKind::Syntax,
                        });
                    };
                    let id = b.push(
                        Node {
                            span,
                            kind: Kind::Alias(target),
                            tag: None,
                            flow: false,
                        },
                        0,
                    )?;
                    if let Some(r) = b.attach(id)? {
                        root = Some(r);
                    }
                }
                Event::Scalar(value, style, anchor, tag) => {
                    let style = convert_style(style);
                    let span = quoted_end(b.text, span, style);
                    let id = b.push(
                        Node {
                            span,
                            kind: Kind::Scalar {
                                value: value.into_owned(),
                                style,
                            },
                            tag: tag_text(tag),
                            flow: false,
                        },
                        anchor,
                    )?;
                    if let Some(r) = b.attach(id)? {
                        root = Some(r);
                    }
                }
                Event::SequenceStart(anchor, tag) => {
                    let flow = ends_with(b.text, span, b'[');
                    let id = b.push(
                        Node {
                            span,
                            kind: Kind::Seq(Vec::new()),
                            tag: tag_text(tag),
                            flow,
                        },
                        anchor,
                    )?;
                    b.open(
                        Frame::Seq {
                            id,
                            items: Vec::new(),
                        },
                        span,
                    )?;
                }
                Event::MappingStart(anchor, tag) => {
                    let flow = ends_with(b.text, span, b'{');
                    let id = b.push(
                        Node {
                            span,
                            kind: Kind::Map(Vec::new()),
                            tag: tag_text(tag),
                            flow,
                        },
                        anchor,
                    )?;
                    b.open(
                        Frame::Map {
                            id,
                            entries: Vec::new(),
                            key: None,
                            index: None,
                        },
                        span,
                    )?;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let frame = b.stack.pop().expect("parser balances collections");
                    let (id, kind, last) = match frame {
                        Frame::Seq { id, items } => {
                            let last = items.last().copied();
                            (id, Kind::Seq(items), last)
                        }
                        Frame::Map { id, entries, .. } => {
                            let last = entries.last().map(|e| e.1);
                            (id, Kind::Map(entries), last)
                        }
                    };
                    let last_end = last.map(|l| b.nodes[l as usize].span.end);
                    let children: u64 = match &kind {
                        Kind::Seq(items) => items
                            .iter()
                            .map(|&i| b.expanded[i as usize])
                            .fold(0u64, u64::saturating_add),
                        Kind::Map(entries) => entries
                            .iter()
                            .map(|&(k, v)| {
                                b.expanded[k as usize].saturating_add(b.expanded[v as usize])
                            })
                            .fold(0u64, u64::saturating_add),
                        _ => 0,
                    };
                    let size = children.saturating_add(1);
                    b.expanded[id as usize] = size;
                    if size > b.limits.max_expanded {
                        return Err(YamlError {
                            span: Span::new(
                                b.nodes[id as usize].span.start as usize,
                                last_end.unwrap_or(span.end) as usize,
                            ),
                            message: format!(
                                "aliases would expand this YAML to more than {} nodes (an alias bomb); kubectl refuses such excessive aliasing; document skipped",
                                b.limits.max_expanded
                            ),
                            related: None,
                            kind: YamlErrorKind::Limit("max-alias-expansion"),
                        });
                    }
                    let node = &mut b.nodes[id as usize];
                    node.span.end = if node.flow {
                        span.end
                    } else {
                        last_end.unwrap_or(node.span.end)
                    };
                    node.kind = kind;
                    if let Some(r) = b.attach(id)? {
                        root = Some(r);
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            out.error = Some(e);
            return out;
        }
    }
    out
}

/// The parser's span of a quoted scalar can run on over the spaces and comment after it (at
/// the end of a block collection); end it at its closing quote.
fn quoted_end(text: &str, span: Span, style: Style) -> Span {
    let q = match style {
        Style::DoubleQuoted => b'"',
        Style::SingleQuoted => b'\'',
        _ => return span,
    };
    let bytes = text.as_bytes();
    let (start, end) = (span.start as usize, (span.end as usize).min(bytes.len()));
    if bytes.get(start) != Some(&q) {
        return span;
    }
    let mut i = start + 1;
    while i < end {
        match bytes[i] {
            b'\\' if q == b'"' => i += 2,
            c if c == q => {
                if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                return Span::new(start, i + 1);
            }
            _ => i += 1,
        }
    }
    span
}

fn ends_with(text: &str, span: Span, byte: u8) -> bool {
    !span.is_empty() && text.as_bytes().get(span.end as usize - 1) == Some(&byte)
}

fn next_char_end(text: &str, at: usize) -> usize {
    text[at..]
        .chars()
        .next()
        .map(|c| at + c.len_utf8())
        .unwrap_or(at)
}

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl Document {
    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// Follow an alias to its anchored node.
    pub(crate) fn resolve(&self, id: NodeId) -> NodeId {
        match self.nodes[id as usize].kind {
            Kind::Alias(t) => t,
            _ => id,
        }
    }

    pub(crate) fn span(&self, id: NodeId) -> Span {
        self.nodes[id as usize].span
    }

    /// Scalar text (after following an alias).
    pub fn str(&self, id: NodeId) -> Option<&str> {
        match &self.node(self.resolve(id)).kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Scalar text of a string-typed value: a plain scalar that YAML would read as null is None.
    pub(crate) fn string(&self, id: NodeId) -> Option<&str> {
        let r = self.resolve(id);
        match resolve_scalar(self, r)? {
            Resolved::Null => None,
            _ => self.str(r),
        }
    }

    pub(crate) fn is_map(&self, id: NodeId) -> bool {
        matches!(self.node(self.resolve(id)).kind, Kind::Map(_))
    }

    /// The items of a sequence (empty for any other node).
    pub fn items(&self, id: NodeId) -> &[NodeId] {
        match &self.node(self.resolve(id)).kind {
            Kind::Seq(items) => items,
            _ => &[],
        }
    }

    /// Entries of a mapping, with `<<` merge keys expanded (explicit keys win, as in YAML 1.1).
    pub(crate) fn entries(&self, id: NodeId) -> Vec<(NodeId, NodeId)> {
        let mut out = Vec::new();
        self.collect_entries(self.resolve(id), &mut out, 0);
        out
    }

    fn collect_entries(&self, id: NodeId, out: &mut Vec<(NodeId, NodeId)>, depth: usize) {
        let Kind::Map(entries) = &self.node(id).kind else {
            return;
        };
        let mut merges = Vec::new();
        for &(k, v) in entries {
            if self.node(k).tag.is_none() && self.str(k) == Some("<<") {
                merges.push(v);
            } else {
                out.push((k, v));
            }
        }
        if depth > 8 {
            return;
        }
        for m in merges {
            let m = self.resolve(m);
            let sources: Vec<NodeId> = match &self.node(m).kind {
                Kind::Map(_) => vec![m],
                Kind::Seq(items) => items.iter().map(|&i| self.resolve(i)).collect(),
                _ => vec![],
            };
            for s in sources {
                let mut merged = Vec::new();
                self.collect_entries(s, &mut merged, depth + 1);
                for (k, v) in merged {
                    let key = self.str(k);
                    if !out
                        .iter()
                        .any(|&(ok, _)| self.str(ok) == key && key.is_some())
                    {
                        out.push((k, v));
                    }
                }
            }
        }
    }

    /// The key node and value node for `key` in mapping `id`.
    pub(crate) fn entry(&self, id: NodeId, key: &str) -> Option<(NodeId, NodeId)> {
        let r = self.resolve(id);
        if let Kind::Map(entries) = &self.node(r).kind {
            if let Some(&e) = entries.iter().find(|&&(k, _)| self.str(k) == Some(key)) {
                return Some(e);
            }
            if !entries.iter().any(|&(k, _)| self.str(k) == Some("<<")) {
                return None;
            }
            return self
                .entries(r)
                .into_iter()
                .find(|&(k, _)| self.str(k) == Some(key));
        }
        None
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, id: NodeId, key: &str) -> Option<NodeId> {
        self.entry(id, key).map(|e| e.1)
    }

    /// The string value of `key` in a mapping.
    pub fn get_str(&self, id: NodeId, key: &str) -> Option<&str> {
        self.get(id, key).and_then(|v| self.string(v))
    }

    /// Follow a path; `None` when any step is missing.
    pub fn at(&self, root: NodeId, path: &[Seg]) -> Option<NodeId> {
        let mut cur = root;
        for seg in path {
            cur = match seg {
                Seg::Key(k) => self.get(cur, k)?,
                Seg::Index(i) => *self.items(cur).get(*i)?,
            };
        }
        Some(cur)
    }

    /// The node at `path`, or for a missing field the key of the deepest ancestor that exists
    /// (that is where a reader looks and where a fix inserts the field).
    pub(crate) fn locate(&self, root: NodeId, path: &[Seg]) -> Located {
        let mut cur = root;
        let mut key_node = None;
        for (i, seg) in path.iter().enumerate() {
            let next = match seg {
                Seg::Key(k) => self.entry(cur, k).map(|(kn, v)| {
                    key_node = Some(kn);
                    v
                }),
                Seg::Index(ix) => self.items(cur).get(*ix).copied().inspect(|_| {
                    key_node = None;
                }),
            };
            match next {
                Some(n) => cur = n,
                None => {
                    return Located {
                        node: key_node.unwrap_or(cur),
                        found: false,
                        depth: i,
                    };
                }
            }
        }
        Located {
            node: cur,
            found: true,
            depth: path.len(),
        }
    }

    /// The nodes from `from` down to the innermost one whose text holds the byte `offset`
    /// (empty when `from` does not hold it). When the offset is in a mapping's key, the chain
    /// ends at the key node; an alias is not followed (its anchor is written elsewhere).
    pub(crate) fn chain_at(&self, from: NodeId, offset: usize) -> Vec<NodeId> {
        let holds = |id: NodeId| {
            let s = self.span(id);
            (s.start as usize) <= offset && offset < (s.end as usize).max(s.start as usize + 1)
        };
        let mut chain = Vec::new();
        if (from as usize) >= self.nodes.len() || !holds(from) {
            return chain;
        }
        let mut cur = from;
        // Bounded by the arena's size, whatever the nodes point at.
        while chain.len() <= self.nodes.len() {
            chain.push(cur);
            let next = match &self.node(cur).kind {
                Kind::Map(entries) => entries.iter().find_map(|&(k, v)| {
                    if holds(k) {
                        Some((k, true))
                    } else {
                        holds(v).then_some((v, false))
                    }
                }),
                Kind::Seq(items) => items.iter().find(|&&i| holds(i)).map(|&i| (i, false)),
                _ => None,
            };
            match next {
                Some((k, true)) => {
                    chain.push(k);
                    return chain;
                }
                // Each step goes to a child, inside its parent's text: the chain ends.
                Some((v, false)) if v != cur => cur = v,
                _ => return chain,
            }
        }
        chain
    }

    /// Find the path from `root` to `target` (used for messages; not on a hot path).
    pub(crate) fn path_to(&self, root: NodeId, target: NodeId) -> Option<String> {
        let mut stack: Vec<(NodeId, String, usize)> = vec![(root, String::new(), 0)];
        while let Some((id, path, depth)) = stack.pop() {
            if id == target {
                return Some(path);
            }
            if depth > 64 {
                continue;
            }
            match &self.node(id).kind {
                Kind::Map(entries) => {
                    for &(k, v) in entries {
                        let key = self.str(k).unwrap_or("?");
                        let p = if path.is_empty() {
                            key.to_string()
                        } else {
                            format!("{path}.{key}")
                        };
                        if k == target {
                            return Some(p);
                        }
                        stack.push((v, p, depth + 1));
                    }
                }
                Kind::Seq(items) => {
                    for (i, &v) in items.iter().enumerate() {
                        stack.push((v, format!("{path}[{i}]"), depth + 1));
                    }
                }
                _ => {}
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Located {
    pub node: NodeId,
    /// Whether the whole path exists.
    pub found: bool,
    /// How many path steps exist.
    pub depth: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_scalar_ends_at_its_closing_quote() {
        let t = "args:\n  - \"job-wr\"\n  - \"x \\\" y\"  # c \"q\"\n  - 'it''s'   # c\n";
        let d = one(t);
        let seq = d.get(d.root, "args").unwrap();
        let got: Vec<&str> = d
            .items(seq)
            .iter()
            .map(|&i| &t[d.span(i).range()])
            .collect();
        assert_eq!(got, vec!["\"job-wr\"", "\"x \\\" y\"", "'it''s'"]);
    }

    fn one(text: &str) -> Document {
        let p = parse(text, Limits::default());
        assert!(p.error.is_none(), "{:?}", p.error);
        p.docs.into_iter().next().unwrap()
    }

    #[test]
    fn the_chain_at_an_offset_ends_at_the_innermost_node_or_key() {
        let t = "f: &x 1\na:\n  b: [x, {c: d}]\n  e: *x\n";
        let d = one(t);
        let text = |c: &[NodeId]| -> Vec<&str> {
            c.iter().map(|&n| t[d.span(n).range()].trim_end()).collect()
        };
        let at = |needle: &str| t.find(needle).unwrap();
        assert_eq!(
            text(&d.chain_at(d.root, at("d}")))[1..],
            ["b: [x, {c: d}]\n  e: *x", "[x, {c: d}]", "{c: d}", "d"]
        );
        // On a key: the chain ends at the key.
        assert_eq!(
            text(&d.chain_at(d.root, at("b:")))[1..],
            ["b: [x, {c: d}]\n  e: *x", "b"]
        );
        // An alias is not followed to its anchor.
        assert_eq!(text(&d.chain_at(d.root, at("*x"))).last(), Some(&"*x"));
        // Outside the document's text, or from a node that does not hold the offset: nothing.
        assert!(d.chain_at(d.root, t.len() + 5).is_empty());
        let f = d.get(d.root, "f").unwrap();
        assert!(d.chain_at(f, at("d}")).is_empty());
    }

    #[test]
    fn spans_are_byte_ranges() {
        let text = "a: é\nb:\n  c: [1, 2]\n";
        let d = one(text);
        let b = d.get(d.root, "b").unwrap();
        let c = d.get(b, "c").unwrap();
        assert_eq!(&text[d.span(c).range()], "[1, 2]");
        assert_eq!(&text[d.span(b).range()], "c: [1, 2]");
        let a = d.get(d.root, "a").unwrap();
        assert_eq!(&text[d.span(a).range()], "é");
    }

    #[test]
    fn duplicate_keys_point_at_the_second() {
        let text = "a: 1\nb: 2\na: 3\n";
        let p = parse(text, Limits::default());
        let e = p.error.unwrap();
        assert_eq!(e.kind, YamlErrorKind::DuplicateKey);
        assert_eq!(e.span.start as usize, text.rfind('a').unwrap());
        assert_eq!(e.related.unwrap().0.start, 0);
    }

    #[test]
    fn duplicate_keys_are_found_in_wide_mappings_too() {
        // Every width around the switch from scanning to the index, and the duplicate of each
        // position: the first key, one in the scanned part, one in the indexed part.
        for width in [SCAN_WIDTH - 1, SCAN_WIDTH, SCAN_WIDTH + 1, 1000] {
            let keys: String = (0..width).map(|i| format!("k{i}: v\n")).collect();
            assert!(parse(&keys, Limits::default()).error.is_none(), "{width}");
            for dup in [0, SCAN_WIDTH / 2, width - 1] {
                let text = format!("{keys}<<: {{}}\n<<: {{}}\nk{dup}: again\n");
                let e = parse(&text, Limits::default()).error.unwrap();
                assert_eq!(e.kind, YamlErrorKind::DuplicateKey, "{width} {dup}");
                assert_eq!(
                    e.span.start as usize,
                    text.rfind(&format!("k{dup}:")).unwrap()
                );
                let first = e.related.unwrap().0.start as usize;
                assert!(
                    text[first..].starts_with(&format!("k{dup}:")),
                    "{width} {dup}"
                );
            }
        }
    }

    #[test]
    fn depth_limit_is_enforced_without_recursion() {
        let text = format!("{}{}", "[".repeat(300), "]".repeat(300));
        let p = parse(
            &text,
            Limits {
                max_depth: 100,
                ..Limits::default()
            },
        );
        let e = p.error.unwrap();
        assert!(
            matches!(e.kind, YamlErrorKind::Limit(_) | YamlErrorKind::Syntax),
            "{e:?}"
        );
        let deep_block: String = (0..200).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        let p = parse(
            &deep_block,
            Limits {
                max_depth: 50,
                ..Limits::default()
            },
        );
        assert!(matches!(p.error.unwrap().kind, YamlErrorKind::Limit(_)));
    }

    #[test]
    fn multi_document_streams_and_empty_documents() {
        let p = parse("a: 1\n---\n---\nb: 2\n...\n", Limits::default());
        assert!(p.error.is_none());
        let non_empty: Vec<_> = p.docs.iter().filter(|d| d.is_map(d.root)).collect();
        assert_eq!(non_empty.len(), 2);
    }

    #[test]
    fn merge_keys_and_aliases_are_followed_not_copied() {
        let text = "base: &b {x: 1, y: 2}\nobj:\n  <<: *b\n  y: 3\n";
        let d = one(text);
        let obj = d.get(d.root, "obj").unwrap();
        assert_eq!(d.get_str(obj, "x"), Some("1"));
        assert_eq!(d.get_str(obj, "y"), Some("3"));
        assert_eq!(d.entries(obj).len(), 2);
    }

    #[test]
    fn locate_falls_back_to_the_nearest_key() {
        let text = "spec:\n  template: {}\n";
        let d = one(text);
        let l = d.locate(d.root, &[Seg::Key("spec"), Seg::Key("backoffLimit")]);
        assert!(!l.found);
        assert_eq!(&text[d.span(l.node).range()], "spec");
        assert_eq!(
            d.path_to(d.root, d.get(d.root, "spec").unwrap()).unwrap(),
            "spec"
        );
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let text = "a: b\n\tc: d\n";
        let p = parse(text, Limits::default());
        let e = p.error.unwrap();
        assert_eq!(e.kind, YamlErrorKind::Syntax);
        assert_eq!(e.span.start, 5, "{e:?}");
        let text = "kind: ConfigMap\nmetadata:\n\tname: x\n";
        let e = parse(text, Limits::default()).error.unwrap();
        assert_eq!(e.span.start as usize, text.find('\t').unwrap(), "{e:?}");
    }

    #[test]
    fn alias_bomb_is_refused_without_expanding() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![p; 10].join(", ")));
        }
        let start = std::time::Instant::now();
        let e = parse(&text, Limits::default()).error.unwrap();
        assert!(matches!(e.kind, YamlErrorKind::Limit(_)));
        assert!(e.message.contains("alias bomb"));
        assert!(start.elapsed().as_secs() < 5);
    }

    #[test]
    fn alias_bomb_is_not_expanded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..5 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let d = one(&text);
        assert!(d.nodes.len() < 200);
    }
}
