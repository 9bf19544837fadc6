//! `kube-migrate-lint graph`: the link model ([`crate::analysis::graph`]) drawn as Mermaid,
//! Graphviz DOT or JSON (version 1; the schema is `schema/graph-output-v1.schema.json`).
//!
//! One subgraph per build; nodes say `Kind name`, their namespace and `file:line`; every edge
//! is labelled with what it is; a link a finding is about is drawn red and dashed and labelled
//! with the rule ids; a node that other warnings or errors are about has a red, bold border and
//! its rule ids in its label. Node ids are `n<index>` in the sorted model, so the text is the same for
//! the same tree. Only names are drawn, never values: no Secret content can reach a picture.

use super::{escape, range};
use crate::analysis::graph::{Edge, EdgeKind, Graph, Node, NodeRole, Site};
use crate::engine::Report;
use serde_json::{Value, json};

/// A graph format: `--format` of the `graph` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
    Json,
}

/// Render `graph` (drawn from `report`'s run: file ids index `report.files`).
pub(crate) fn render(format: GraphFormat, graph: &Graph, report: &Report) -> String {
    match format {
        GraphFormat::Mermaid => mermaid(graph, report),
        GraphFormat::Dot => dot(graph, report),
        GraphFormat::Json => json(graph, report),
    }
}

fn place(report: &Report, s: &Site) -> String {
    let file = report
        .files
        .get(s.loc.file as usize)
        .map(|f| f.display.as_str())
        .unwrap_or("?");
    format!("{file}:{}", s.line)
}

/// The lines of a node's label, plain text (each format escapes them).
fn node_lines(n: &Node, report: &Report) -> Vec<String> {
    let mut lines = match n.role {
        NodeRole::Transformer => vec![n.kind.clone()],
        _ if n.name.is_empty() => vec![n.kind.clone()],
        _ => vec![format!("{} {}", n.kind, n.name)],
    };
    if let Some(ns) = &n.namespace {
        lines.push(format!("namespace {ns}"));
    }
    if let Some(runs) = &n.runs {
        lines.push(runs.clone());
    }
    if let Some(pods) = &n.pods {
        lines.push(pods.clone());
    }
    if let Some(o) = &n.order {
        lines.push(format!("{} {}", o.what, o.value));
    }
    match (&n.site, n.defined) {
        (Some(s), _) => lines.push(place(report, s)),
        (None, true) => lines.push("built in".into()),
        (None, false) => lines.push("not in this build".into()),
    }
    match n.marks.as_slice() {
        [] => {}
        [one] => lines.push(format!("finding: {one}")),
        more => lines.push(format!("findings: {}", more.join(", "))),
    }
    lines
}

/// An edge's label: what it is, and the rules of the findings on it.
fn edge_label(e: &Edge) -> String {
    if e.broken.is_empty() {
        e.kind.label()
    } else {
        format!("{}: {}", e.broken.join(", "), e.kind.label())
    }
}

/// Text for a double-quoted Mermaid string: everything but plain ASCII words, spaces and a few
/// punctuation marks becomes an entity code (`#35;`), which Mermaid decodes in labels — quotes,
/// brackets and braces, pipes, `#`, `<`, `;`, backticks (Markdown strings) and non-ASCII alike.
pub fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || " .,:/_-+=@*()?!".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("#{};", c as u32));
        }
    }
    out
}

/// What a drawing with no build to show says.
const NOTHING: &str = "no migration Job, wait or migration init container in the linted builds";

fn mermaid(graph: &Graph, report: &Report) -> String {
    let mut s = String::from("flowchart LR\n");
    s.push_str("  classDef missing stroke-dasharray: 5 5\n");
    s.push_str("  classDef marked stroke:#d00,stroke-width:3px,color:#d00\n");
    if graph.builds.is_empty() {
        s.push_str(&format!("  none[\"{NOTHING}\"]\n"));
        return s;
    }
    for (b, build) in graph.builds.iter().enumerate() {
        s.push_str(&format!(
            "  subgraph b{b}[\"build {}\"]\n",
            mermaid_text(&build.name)
        ));
        s.push_str("    direction LR\n");
        for (i, n) in graph.nodes_of(b) {
            let label: Vec<String> = node_lines(n, report)
                .iter()
                .map(|l| mermaid_text(l))
                .collect();
            s.push_str(&format!("    n{i}[\"{}\"]\n", label.join("<br/>")));
        }
        s.push_str("  end\n");
    }
    let mut red = Vec::new();
    for (i, e) in graph.edges.iter().enumerate() {
        let arrow = if e.broken.is_empty() { "-->" } else { "-.->" };
        if !e.broken.is_empty() {
            red.push(i.to_string());
        }
        s.push_str(&format!(
            "  n{} {arrow}|\"{}\"| n{}\n",
            e.from,
            mermaid_text(&edge_label(e)),
            e.to
        ));
    }
    let missing: Vec<String> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.defined)
        .map(|(i, _)| format!("n{i}"))
        .collect();
    if !missing.is_empty() {
        s.push_str(&format!("  class {} missing\n", missing.join(",")));
    }
    let marked: Vec<String> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.marks.is_empty())
        .map(|(i, _)| format!("n{i}"))
        .collect();
    if !marked.is_empty() {
        s.push_str(&format!("  class {} marked\n", marked.join(",")));
    }
    if !red.is_empty() {
        s.push_str(&format!(
            "  linkStyle {} stroke:#d00,stroke-width:2px,color:#d00\n",
            red.join(",")
        ));
    }
    s
}

/// Text for a double-quoted DOT string: backslashes (DOT's own escapes, `\N`, `\l`) and quotes
/// escaped, line breaks as `\n`. Unicode passes through: DOT files are UTF-8.
pub fn dot_text(s: &str) -> String {
    let table = [('\\', "\\\\"), ('"', "\\\""), ('\n', "\\n"), ('\r', "")];
    escape(s, &table, |_| true)
}

fn dot(graph: &Graph, report: &Report) -> String {
    let mut s = String::from("digraph \"kube-migrate-lint\" {\n");
    s.push_str("  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n");
    s.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    if graph.builds.is_empty() {
        s.push_str(&format!("  none [label=\"{NOTHING}\"];\n}}\n"));
        return s;
    }
    for (b, build) in graph.builds.iter().enumerate() {
        s.push_str(&format!(
            "  subgraph cluster_{b} {{\n    label=\"build {}\";\n",
            dot_text(&build.name)
        ));
        for (i, n) in graph.nodes_of(b) {
            let label = dot_text(&node_lines(n, report).join("\n"));
            let style = match (n.defined, n.marks.is_empty()) {
                (true, true) => "",
                (false, true) => ", style=dashed",
                (true, false) => ", style=bold, color=red, fontcolor=red, penwidth=3",
                (false, false) => ", style=\"dashed,bold\", color=red, fontcolor=red, penwidth=3",
            };
            s.push_str(&format!("    n{i} [label=\"{label}\"{style}];\n"));
        }
        s.push_str("  }\n");
    }
    for e in &graph.edges {
        let attrs = if e.broken.is_empty() {
            String::new()
        } else {
            ", color=red, fontcolor=red, style=dashed, penwidth=2".into()
        };
        s.push_str(&format!(
            "  n{} -> n{} [label=\"{}\"{attrs}];\n",
            e.from,
            e.to,
            dot_text(&edge_label(e))
        ));
    }
    s.push_str("}\n");
    s
}

fn site_json(report: &Report, site: Option<&Site>) -> Value {
    match site {
        None => Value::Null,
        Some(s) => {
            let (a, b) = range(report, s.loc);
            json!({
                "file": report.files.get(s.loc.file as usize).map(|f| f.display.as_str()),
                "range": {
                    "start": {"line": a.line, "column": a.column, "offset": a.offset},
                    "end": {"line": b.line, "column": b.column, "offset": b.offset},
                },
            })
        }
    }
}

fn edge_json(report: &Report, e: &Edge) -> Value {
    let mut v = json!({
        "from": format!("n{}", e.from),
        "to": format!("n{}", e.to),
        "kind": e.kind.name(),
        "label": e.kind.label(),
        "at": site_json(report, e.site.as_ref()),
        "broken": e.broken,
    });
    match &e.kind {
        EdgeKind::WaitsFor { tool, mode } => {
            v["tool"] = json!(tool.as_str());
            v["mode"] = json!(mode);
        }
        EdgeKind::Grants { reads_jobs } => v["readsJobs"] = json!(reads_jobs),
        EdgeKind::VersionFrom { field } => v["field"] = json!(field),
        EdgeKind::DbUrlFrom { var, key } => {
            v["var"] = json!(var);
            v["key"] = json!(key);
        }
        EdgeKind::RunsAs | EdgeKind::BoundBy | EdgeKind::Reads | EdgeKind::RunsMigration => {}
    }
    v
}

fn json(graph: &Graph, report: &Report) -> String {
    let builds: Vec<Value> = graph
        .builds
        .iter()
        .enumerate()
        .map(|(b, build)| {
            let nodes: Vec<Value> = graph
                .nodes_of(b)
                .map(|(i, n)| {
                    let mut v = json!({
                        "id": format!("n{i}"),
                        "role": n.role.as_str(),
                        "kind": n.kind,
                        "name": n.name,
                        "namespace": n.namespace,
                        "defined": n.defined,
                        "at": site_json(report, n.site.as_ref()),
                        "marks": n.marks,
                    });
                    if let Some(runs) = &n.runs {
                        v["runs"] = json!(runs);
                    }
                    if let Some(pods) = &n.pods {
                        v["pods"] = json!(pods);
                    }
                    if let Some(o) = &n.order {
                        v["order"] = json!({"what": o.what, "value": o.value});
                    }
                    v
                })
                .collect();
            let edges: Vec<Value> = graph
                .edges
                .iter()
                .filter(|e| graph.nodes[e.from].build == b)
                .map(|e| edge_json(report, e))
                .collect();
            json!({"name": build.name, "nodes": nodes, "edges": edges})
        })
        .collect();
    let v = json!({
        "version": 1,
        "tool": {"name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")},
        "builds": builds,
    });
    let mut s = serde_json::to_string_pretty(&v).expect("JSON values serialise");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_text_escapes_what_the_grammar_reads() {
        assert_eq!(mermaid_text("my-app_v1.2"), "my-app_v1.2");
        assert_eq!(mermaid_text("a\"b"), "a#34;b");
        assert_eq!(mermaid_text("[x](y)|z"), "#91;x#93;(y)#124;z");
        assert_eq!(mermaid_text("#;<>`"), "#35;#59;#60;#62;#96;");
        assert_eq!(mermaid_text("é☃"), "#233;#9731;");
    }

    #[test]
    fn dot_text_escapes_quotes_backslashes_and_lines() {
        assert_eq!(dot_text("a\"b"), "a\\\"b");
        assert_eq!(dot_text("\\N"), "\\\\N");
        assert_eq!(dot_text("a\r\nb"), "a\\nb");
        assert_eq!(dot_text("é[]{}<>"), "é[]{}<>");
    }
}
