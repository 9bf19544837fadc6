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
use std::sync::Arc;

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

/// What a node holds: a view into its document.
#[derive(Debug, Clone, Copy)]
pub enum Kind<'a> {
    Scalar {
        value: &'a str,
        style: Style,
    },
    Seq(&'a [NodeId]),
    Map(&'a [(NodeId, NodeId)]),
    /// An alias; points at the anchored node.
    Alias(NodeId),
}

/// A YAML node with its span in the source, as `Document::node` shows it.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub span: Span,
    pub kind: Kind<'a>,
    /// Tag as written, e.g. `!!str`.
    pub tag: Option<&'a str>,
    /// Whether the collection is written in flow style (`{}` / `[]`).
    pub flow: bool,
}

/// One node as stored: 20 bytes. What `a` and `b` hold depends on the kind: a scalar's text
/// (offset and length, in the file text or, for text that differs from what is written, in
/// the document's pool), a collection's children (first index and count in the document's
/// item or entry array), an alias's target (`a`).
#[derive(Debug, Clone, Copy)]
struct Raw {
    start: u32,
    end: u32,
    a: u32,
    b: u32,
    kind: u8,
    flags: u8,
}

// `Raw::kind`: the five scalar styles in `Style` order, then the rest.
const SEQ: u8 = 5;
const MAP: u8 = 6;
const ALIAS: u8 = 7;

// `Raw::flags`.
const FLOW: u8 = 1;
const TAGGED: u8 = 2;
/// The scalar's text is in the pool, not the file text.
const POOLED: u8 = 4;
/// The mapping has a `<<` key (after following an alias).
const MERGE: u8 = 8;

const STYLES: [Style; 5] = [
    Style::Plain,
    Style::SingleQuoted,
    Style::DoubleQuoted,
    Style::Literal,
    Style::Folded,
];

impl Raw {
    fn span(&self) -> Span {
        Span {
            start: self.start,
            end: self.end,
        }
    }
    fn is_scalar(&self) -> bool {
        self.kind < SEQ
    }
    fn range(&self) -> std::ops::Range<usize> {
        self.a as usize..(self.a + self.b) as usize
    }
}

/// One parsed YAML document: its nodes in an arena, addressed by `NodeId`. The children of all
/// its sequences share one array, those of all its mappings another; scalars written without
/// escapes or folding are ranges of the file text (shared by every document of the file), the
/// others are in one pool string per document, as are tags.
#[derive(Debug, Clone)]
pub struct Document {
    text: Arc<str>,
    nodes: Box<[Raw]>,
    items: Box<[NodeId]>,
    entries: Box<[(NodeId, NodeId)]>,
    pool: Box<str>,
    /// Tagged nodes by id, ascending, with their tag's range in the pool.
    tags: Box<[(NodeId, u32, u32)]>,
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

/// An open collection. Its children so far are `Builder::pending[start..]` (a mapping's as
/// key, value, key, ...), so nesting needs no vector per collection.
struct Frame {
    id: NodeId,
    start: usize,
    /// Keys by text, built once a mapping is too wide for a linear scan (a scan per key is
    /// quadratic: a 200,000-key ConfigMap took minutes).
    index: Option<std::collections::HashMap<Box<str>, NodeId>>,
}

/// Mappings up to this width are checked for duplicate keys by scanning.
const SCAN_WIDTH: usize = 16;

/// Builds one file's documents; the arrays of the document being read are reused for the next
/// one (each document keeps an exact-size copy).
struct Builder<'a> {
    text: &'a str,
    map: CharToByte,
    nodes: Vec<Raw>,
    items: Vec<NodeId>,
    entries: Vec<(NodeId, NodeId)>,
    pool: String,
    tags: Vec<(NodeId, u32, u32)>,
    pending: Vec<NodeId>,
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

    fn text_of(&self, n: &Raw) -> &str {
        if n.flags & POOLED != 0 {
            &self.pool[n.range()]
        } else {
            &self.text[n.range()]
        }
    }

    /// A scalar's text, or an alias's target's, as a key is compared.
    fn key_text(&self, id: NodeId) -> Option<&str> {
        let n = &self.nodes[id as usize];
        let n = if n.kind == ALIAS {
            &self.nodes[n.a as usize]
        } else {
            n
        };
        n.is_scalar().then(|| self.text_of(n))
    }

    fn pool_push(&mut self, s: &str) -> (u32, u32) {
        let at = self.pool.len() as u32;
        self.pool.push_str(s);
        (at, s.len() as u32)
    }

    fn push(
        &mut self,
        mut node: Raw,
        anchor: usize,
        tag: Option<std::borrow::Cow<'_, saphyr_parser::Tag>>,
    ) -> Result<NodeId, YamlError> {
        self.total_nodes += 1;
        if self.total_nodes > self.limits.max_nodes {
            return Err(YamlError {
                span: node.span(),
                message: format!(
                    "file has more than {} YAML nodes; skipped",
                    self.limits.max_nodes
                ),
                related: None,
                kind: YamlErrorKind::Limit("max-nodes"),
            });
        }
        let id = self.nodes.len() as NodeId;
        if let Some(t) = tag {
            let at = self.pool.len() as u32;
            if t.handle == "tag:yaml.org,2002:" {
                self.pool.push_str("!!");
            } else {
                self.pool.push_str(&t.handle);
            }
            self.pool.push_str(&t.suffix);
            self.tags.push((id, at, self.pool.len() as u32 - at));
            node.flags |= TAGGED;
        }
        let size = match node.kind {
            ALIAS => self.expanded[node.a as usize],
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
        let Some(top) = self.stack.last() else {
            return Ok(Some(id));
        };
        let (parent, start) = (top.id, top.start);
        let is_key = self.nodes[parent as usize].kind == MAP
            && (self.pending.len() - start).is_multiple_of(2);
        if is_key {
            if let Some(first) = self.find_duplicate(id) {
                let name = self.scalar_text(id).unwrap_or_default();
                return Err(YamlError {
                    span: self.nodes[id as usize].span(),
                    message: format!(
                        "duplicate key `{}`: Kubernetes tools either reject the file or silently keep only one value",
                        crate::base::mask::key_for_display(name)
                    ),
                    related: Some((
                        self.nodes[first as usize].span(),
                        "first defined here".into(),
                    )),
                    kind: YamlErrorKind::DuplicateKey,
                });
            }
            if self.key_text(id) == Some("<<") {
                self.nodes[parent as usize].flags |= MERGE;
            }
        }
        self.pending.push(id);
        Ok(None)
    }

    fn scalar_text(&self, id: NodeId) -> Option<&str> {
        let n = &self.nodes[id as usize];
        n.is_scalar().then(|| self.text_of(n))
    }

    /// The earlier key of the open mapping with the same text as `key`, if any (`<<` may
    /// repeat). Narrow mappings are scanned; from `SCAN_WIDTH` keys on, an index by text
    /// answers in constant time.
    fn find_duplicate(&mut self, key: NodeId) -> Option<NodeId> {
        let text = self.scalar_text(key)?;
        if text == "<<" {
            return None;
        }
        let frame = self.stack.last()?;
        let keys = self.pending[frame.start..].iter().step_by(2).copied();
        if frame.index.is_none() && self.pending.len() - frame.start < 2 * SCAN_WIDTH {
            let len = text.len() as u32;
            return keys
                .filter(|&k| {
                    let n = &self.nodes[k as usize];
                    n.is_scalar() && n.b == len
                })
                .find(|&k| self.scalar_text(k) == Some(text));
        }
        let index = match &frame.index {
            Some(_) => None,
            None => Some(
                keys.filter_map(|k| Some((self.scalar_text(k)?, k)))
                    .filter(|(t, _)| *t != "<<")
                    .map(|(t, k)| (Box::from(t), k))
                    .collect(),
            ),
        };
        let text: Box<str> = Box::from(text);
        let frame = self.stack.last_mut()?;
        let index = frame.index.get_or_insert_with(|| index.unwrap_or_default());
        if let Some(&first) = index.get(&text) {
            return Some(first);
        }
        index.insert(text, key);
        None
    }

    fn open(&mut self, id: NodeId, at: Span) -> Result<(), YamlError> {
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
        self.stack.push(Frame {
            id,
            start: self.pending.len(),
            index: None,
        });
        Ok(())
    }

    /// Close the innermost collection: move its children into the document's arrays, check
    /// its expanded size, end its span. `span` is the closing event's.
    fn close(&mut self, span: Span) -> Result<NodeId, YamlError> {
        let frame = self.stack.pop().expect("parser balances collections");
        let id = frame.id;
        let children = &self.pending[frame.start..];
        let last = children.last().copied();
        let mut size: u64 = 1;
        for &c in children {
            size = size.saturating_add(self.expanded[c as usize]);
        }
        let node = &mut self.nodes[id as usize];
        if node.kind == MAP {
            node.a = self.entries.len() as u32;
            self.entries
                .extend(children.chunks_exact(2).map(|kv| (kv[0], kv[1])));
            node.b = self.entries.len() as u32 - node.a;
        } else {
            node.a = self.items.len() as u32;
            self.items.extend_from_slice(children);
            node.b = children.len() as u32;
        }
        self.pending.truncate(frame.start);
        let last_end = last.map(|l| self.nodes[l as usize].end);
        self.expanded[id as usize] = size;
        if size > self.limits.max_expanded {
            return Err(YamlError {
                span: Span::new(
                    self.nodes[id as usize].start as usize,
                    last_end.unwrap_or(span.end) as usize,
                ),
                message: format!(
                    "aliases would expand this YAML to more than {} nodes (an alias bomb); kubectl refuses such excessive aliasing; document skipped",
                    self.limits.max_expanded
                ),
                related: None,
                kind: YamlErrorKind::Limit("max-alias-expansion"),
            });
        }
        let node = &mut self.nodes[id as usize];
        node.end = if node.flags & FLOW != 0 {
            span.end
        } else {
            last_end.unwrap_or(node.end)
        };
        Ok(id)
    }

    /// The finished document, in exact-size arrays; the builder's are emptied for the next.
    fn finish(&mut self, text: &Arc<str>, root: NodeId, span: Span) -> Document {
        let doc = Document {
            text: Arc::clone(text),
            nodes: self.nodes.as_slice().into(),
            items: self.items.as_slice().into(),
            entries: self.entries.as_slice().into(),
            pool: self.pool.as_str().into(),
            tags: self.tags.as_slice().into(),
            root,
            span,
        };
        self.reset();
        doc
    }

    fn reset(&mut self) {
        self.nodes.clear();
        self.items.clear();
        self.entries.clear();
        self.pool.clear();
        self.tags.clear();
        self.expanded.clear();
        self.anchors.clear();
    }
}

fn kind_of(s: PStyle) -> u8 {
    match s {
        PStyle::Plain => 0,
        PStyle::SingleQuoted => 1,
        PStyle::DoubleQuoted => 2,
        PStyle::Literal => 3,
        PStyle::Folded => 4,
    }
}

/// Parse a whole YAML stream (the documents keep a copy of `text`; `parse_shared` shares it).
pub fn parse(text: &str, limits: Limits) -> Parsed {
    parse_shared(&Arc::from(text), limits)
}

/// Parse a whole YAML stream; the documents refer to `text` for the scalars written as they
/// read.
pub fn parse_shared(shared: &Arc<str>, limits: Limits) -> Parsed {
    let text: &str = shared;
    let mut out = Parsed::default();
    let mut b = Builder {
        text,
        map: CharToByte::new(text),
        nodes: Vec::new(),
        items: Vec::new(),
        entries: Vec::new(),
        pool: String::new(),
        tags: Vec::new(),
        pending: Vec::new(),
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
        let seq = matches!(event, Event::SequenceStart(..));
        let result: Result<(), YamlError> = (|| {
            let finished = match event {
                Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
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
                    b.reset();
                    root = None;
                    None
                }
                Event::DocumentEnd => {
                    if let Some(r) = root.take() {
                        let end = b.nodes[r as usize].end.max(doc_start as u32);
                        let doc = b.finish(shared, r, Span::new(doc_start, end as usize));
                        out.docs.push(doc);
                    } else {
                        b.reset();
                    }
                    None
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
                    let raw = Raw {
                        start: span.start,
                        end: span.end,
                        a: target,
                        b: 0,
                        kind: ALIAS,
                        flags: 0,
                    };
                    Some(b.push(raw, 0, None)?)
                }
                Event::Scalar(value, style, anchor, tag) => {
                    let kind = kind_of(style);
                    let span = quoted_end(b.text, span, STYLES[kind as usize]);
                    // Written as it reads (no escape, no folding): a range of the file text,
                    // at the end of the span (a tag is in front of a plain scalar's text).
                    let inner = match STYLES[kind as usize] {
                        Style::Plain => Some(span),
                        Style::SingleQuoted | Style::DoubleQuoted if span.len() >= 2 => {
                            Some(Span::new(span.start as usize + 1, span.end as usize - 1))
                        }
                        _ => None,
                    };
                    let (a, len, flags) = match inner {
                        Some(s) if b.text.get(s.range()).is_some_and(|t| t.ends_with(&*value)) => {
                            (s.end - value.len() as u32, value.len() as u32, 0)
                        }
                        _ => {
                            let (a, len) = b.pool_push(&value);
                            (a, len, POOLED)
                        }
                    };
                    let raw = Raw {
                        start: span.start,
                        end: span.end,
                        a,
                        b: len,
                        kind,
                        flags,
                    };
                    Some(b.push(raw, anchor, tag)?)
                }
                Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                    let (kind, open) = if seq { (SEQ, b'[') } else { (MAP, b'{') };
                    let flow = ends_with(b.text, span, open);
                    let raw = Raw {
                        start: span.start,
                        end: span.end,
                        a: 0,
                        b: 0,
                        kind,
                        flags: if flow { FLOW } else { 0 },
                    };
                    let id = b.push(raw, anchor, tag)?;
                    b.open(id, span)?;
                    None
                }
                Event::SequenceEnd | Event::MappingEnd => Some(b.close(span)?),
            };
            if let Some(id) = finished
                && let Some(r) = b.attach(id)?
            {
                root = Some(r);
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
    /// A node as written (an alias is not followed).
    pub fn node(&self, id: NodeId) -> Node<'_> {
        let n = &self.nodes[id as usize];
        let kind = match n.kind {
            SEQ => Kind::Seq(&self.items[n.range()]),
            MAP => Kind::Map(&self.entries[n.range()]),
            ALIAS => Kind::Alias(n.a),
            k => Kind::Scalar {
                value: self.text_of(n),
                style: STYLES[k as usize],
            },
        };
        Node {
            span: n.span(),
            kind,
            tag: self.tag(id),
            flow: n.flags & FLOW != 0,
        }
    }

    /// How many nodes the document has (ids are `0..len()`).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the document has no node (never true of a parsed one: it has a root).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node, in the order written.
    pub fn iter(&self) -> impl Iterator<Item = Node<'_>> {
        (0..self.nodes.len() as NodeId).map(|id| self.node(id))
    }

    /// The tag of a node as written, e.g. `!!str`.
    pub fn tag(&self, id: NodeId) -> Option<&str> {
        if self.nodes[id as usize].flags & TAGGED == 0 {
            return None;
        }
        let i = self.tags.binary_search_by_key(&id, |t| t.0).ok()?;
        let (_, at, len) = self.tags[i];
        self.pool.get(at as usize..(at + len) as usize)
    }

    /// The whole file's text the document was read from.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn text_of(&self, n: &Raw) -> &str {
        if n.flags & POOLED != 0 {
            &self.pool[n.range()]
        } else {
            &self.text[n.range()]
        }
    }

    fn raw(&self, id: NodeId) -> &Raw {
        &self.nodes[id as usize]
    }

    /// Follow an alias to its anchored node.
    pub(crate) fn resolve(&self, id: NodeId) -> NodeId {
        let n = self.raw(id);
        if n.kind == ALIAS { n.a } else { id }
    }

    pub(crate) fn span(&self, id: NodeId) -> Span {
        self.raw(id).span()
    }

    /// Scalar text (after following an alias).
    pub fn str(&self, id: NodeId) -> Option<&str> {
        let n = self.raw(self.resolve(id));
        n.is_scalar().then(|| self.text_of(n))
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
        self.raw(self.resolve(id)).kind == MAP
    }

    /// The items of a sequence (empty for any other node).
    pub fn items(&self, id: NodeId) -> &[NodeId] {
        let n = self.raw(self.resolve(id));
        if n.kind == SEQ {
            &self.items[n.range()]
        } else {
            &[]
        }
    }

    /// A mapping's own entries, as written (empty for any other node; an alias is followed).
    fn own_entries(&self, id: NodeId) -> &[(NodeId, NodeId)] {
        let n = self.raw(id);
        if n.kind == MAP {
            &self.entries[n.range()]
        } else {
            &[]
        }
    }

    /// Whether key node `k` reads `key`: lengths are compared before any text.
    fn key_is(&self, k: NodeId, key: &str) -> bool {
        let n = self.raw(self.resolve(k));
        n.is_scalar() && n.b as usize == key.len() && self.text_of(n) == key
    }

    /// Entries of a mapping, with `<<` merge keys expanded (explicit keys win, as in YAML 1.1).
    /// Only a mapping with a merge key allocates.
    pub(crate) fn entries(&self, id: NodeId) -> Entries<'_> {
        let r = self.resolve(id);
        if self.raw(r).flags & MERGE == 0 {
            return Entries::Own(self.own_entries(r).iter());
        }
        let mut out = Vec::new();
        self.collect_entries(r, &mut out, 0);
        Entries::Merged(out.into_iter())
    }

    fn collect_entries(&self, id: NodeId, out: &mut Vec<(NodeId, NodeId)>, depth: usize) {
        let mut merges = Vec::new();
        for &(k, v) in self.own_entries(id) {
            if self.raw(k).flags & TAGGED == 0 && self.key_is(k, "<<") {
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
            let sources: Vec<NodeId> = match self.raw(m).kind {
                MAP => vec![m],
                SEQ => self.items(m).iter().map(|&i| self.resolve(i)).collect(),
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
        let own = self.own_entries(r);
        if let Some(&e) = own.iter().find(|&&(k, _)| self.key_is(k, key)) {
            return Some(e);
        }
        if self.raw(r).flags & MERGE == 0 {
            return None;
        }
        self.entries(r)
            .into_iter()
            .find(|&(k, _)| self.str(k) == Some(key))
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
        self.at_segs(root, path.iter().cloned())
    }

    /// [`Document::at`] for segments made on the way (from an owned path, say).
    pub fn at_segs<'s>(
        &self,
        root: NodeId,
        path: impl IntoIterator<Item = Seg<'s>>,
    ) -> Option<NodeId> {
        let mut cur = root;
        for seg in path {
            cur = match seg {
                Seg::Key(k) => self.get(cur, k)?,
                Seg::Index(i) => *self.items(cur).get(i)?,
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
            match self.node(id).kind {
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

/// The entries of a mapping (`Document::entries`): its own, or with merged ones.
#[derive(Debug, Clone)]
pub(crate) enum Entries<'a> {
    Own(std::slice::Iter<'a, (NodeId, NodeId)>),
    Merged(std::vec::IntoIter<(NodeId, NodeId)>),
}

impl Iterator for Entries<'_> {
    type Item = (NodeId, NodeId);

    fn next(&mut self) -> Option<(NodeId, NodeId)> {
        match self {
            Entries::Own(it) => it.next().copied(),
            Entries::Merged(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Entries::Own(it) => it.size_hint(),
            Entries::Merged(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for Entries<'_> {}

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

    /// The error parsing `text` with the default limits stops at.
    fn error(text: &str) -> YamlError {
        parse(text, Limits::default()).error.expect(text)
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
        let e = error(text);
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
                let e = error(&text);
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
        let e = error(text);
        assert_eq!(e.kind, YamlErrorKind::Syntax);
        assert_eq!(e.span.start, 5, "{e:?}");
        let text = "kind: ConfigMap\nmetadata:\n\tname: x\n";
        let e = error(text);
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
        let e = error(&text);
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
        assert!(d.len() < 200);
    }

    /// Every scalar of `text` as saphyr-parser reports it, in order.
    fn parser_scalars(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut p = Parser::new_from_str(text);
        while let Some(Ok((ev, _))) = p.next_event() {
            if let Event::Scalar(v, ..) = ev {
                out.push(v.into_owned());
            }
        }
        out
    }

    const TRICKY: &[&str] = &[
        "a: b\nc: 'it''s'\nd: \"tab\\there\"\ne: \"plain\"\nf: ''\ng:\nh: ~\n",
        "k: one\n  two\n\n  three\nl: 'fold\n  ed'\nm: \"x\\\n  y\"\n",
        "lit: |\n  line one\n  line two\nfold: >-\n  a\n  b\nkeep: |+\n  z\n\n",
        "é: \"ü\\u00e9\"\nname: naïve  # comment\nq: 'çà'\n",
        "- [a, 'b', \"c\", {d: e}]\n- {f: [g, [h]], i: {}}\n- []\n",
        "x: !!str 5\ny: !custom [1]\n? complex\n: value\n",
        "a: 1\n---\nb: &x [2, *x]\n...\n--- plain top\n",
        "\u{feff}bom: yes\n",
    ];

    #[test]
    fn scalars_read_as_the_parser_reads_them() {
        for text in TRICKY {
            let p = parse(text, Limits::default());
            let mut ours = Vec::new();
            for d in &p.docs {
                for n in d.iter() {
                    if let Kind::Scalar { value, .. } = n.kind {
                        ours.push(value.to_string());
                    }
                }
            }
            // An alias refers to its anchor (an alias to a scalar is no scalar event).
            assert_eq!(ours, parser_scalars(text), "{text:?}");
        }
    }

    #[test]
    fn scalars_written_as_they_read_are_not_copied() {
        let d = one("a: b\nc: 'd'\ne: \"f g\"\nh: é\n");
        assert!(d.pool.is_empty(), "{:?}", d.pool);
        let d = one("a: \"x\\ty\"\nb: |\n  z\nc: 'it''s'\nd: !!str w\n");
        assert_eq!(&*d.pool, "x\tyz\nit's!!str");
        assert_eq!(d.get_str(d.root, "d"), Some("w"));
        assert_eq!(d.get_str(d.root, "a"), Some("x\ty"));
        assert_eq!(d.get_str(d.root, "b"), Some("z\n"));
        assert_eq!(d.get_str(d.root, "c"), Some("it's"));
        assert_eq!(d.tag(d.get(d.root, "d").unwrap()), Some("!!str"));
        // Documents of one file share its text.
        let text: Arc<str> = Arc::from("a: 1\n---\nb: 2\n");
        let p = parse_shared(&text, Limits::default());
        assert!(p.docs.iter().all(|d| std::ptr::eq(d.text(), &*text)));
    }

    #[test]
    fn a_node_is_twenty_bytes() {
        assert!(
            std::mem::size_of::<Raw>() <= 20,
            "{}",
            std::mem::size_of::<Raw>()
        );
    }

    /// The document written back compactly, to check the child arrays.
    fn show(d: &Document, id: NodeId) -> String {
        let n = d.node(id);
        let tag = n.tag.map(|t| format!("{t} ")).unwrap_or_default();
        let body = match n.kind {
            Kind::Scalar { value, .. } => value.to_string(),
            Kind::Alias(t) => format!("*{}", show(d, t)),
            Kind::Seq(items) => {
                let items: Vec<String> = items.iter().map(|&i| show(d, i)).collect();
                format!("[{}]", items.join(","))
            }
            Kind::Map(entries) => {
                let es: Vec<String> = entries
                    .iter()
                    .map(|&(k, v)| format!("{}:{}", show(d, k), show(d, v)))
                    .collect();
                format!("{{{}}}", es.join(","))
            }
        };
        format!("{tag}{body}")
    }

    #[test]
    fn nested_collections_keep_their_children() {
        let cases = [
            (
                "{a: [1, {b: [2, 3]}, []], c: {}}",
                "{a:[1,{b:[2,3]},[]],c:{}}",
            ),
            (
                "a:\n  - x: [1]\n    y:\n      - - deep\n  - z\nb: !t {k: v}\n",
                "{a:[{x:[1],y:[[deep]]},z],b:!t {k:v}}",
            ),
            ("- &a {k: v}\n- *a\n- !!seq []\n", "[{k:v},*{k:v},!!seq []]"),
        ];
        for (text, want) in cases {
            let d = one(text);
            assert_eq!(show(&d, d.root), want, "{text:?}");
            let flow: Vec<bool> = d.iter().map(|n| n.flow).collect();
            assert_eq!(
                flow.iter().filter(|&&f| f).count(),
                text.matches(['[', '{']).count(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn keys_are_found_by_their_text_only() {
        let text = "k: &k name\nmap:\n  nam: 1\n  namf: 2\n  *k : 3\n  !!str <<: 4\n  n: 5\n";
        let d = one(text);
        let map = d.get(d.root, "map").unwrap();
        assert_eq!(
            d.get_str(map, "name"),
            Some("3"),
            "an alias key reads as its anchor"
        );
        assert_eq!(d.get_str(map, "nam"), Some("1"));
        assert_eq!(d.get_str(map, "namf"), Some("2"));
        assert_eq!(
            d.get_str(map, "<<"),
            Some("4"),
            "a tagged << is a plain key"
        );
        assert_eq!(d.get(map, "nams"), None);
        assert_eq!(d.get(map, ""), None);
        assert_eq!(d.get(d.get(d.root, "k").unwrap(), "name"), None);
        assert_eq!(d.entries(map).count(), 5);
        // A merge key adds what the mapping does not say itself, and only then.
        let d = one("b: &b {x: 1, y: 2}\no:\n  y: 3\n  <<: [*b, {z: 4}]\n");
        let o = d.get(d.root, "o").unwrap();
        let keys: Vec<&str> = d.entries(o).map(|(k, _)| d.str(k).unwrap()).collect();
        assert_eq!(keys, ["y", "x", "z"]);
        assert_eq!(d.get_str(o, "y"), Some("3"));
        assert_eq!(d.get_str(o, "z"), Some("4"));
        assert_eq!(d.get(o, "w"), None);
    }

    #[test]
    fn wide_mappings_are_looked_up_by_text() {
        let keys: String = (0..300).map(|i| format!("key{i}: v{i}\n")).collect();
        let d = one(&keys);
        for i in (0..300).step_by(7) {
            assert_eq!(
                d.get_str(d.root, &format!("key{i}")),
                Some(&*format!("v{i}"))
            );
        }
        assert_eq!(d.get(d.root, "key300"), None);
        assert_eq!(d.get(d.root, "key"), None);
    }
}
