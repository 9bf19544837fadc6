//! Reading `kustomization.yaml` files: the parts the Job rules need today (replacements that
//! write into Job names, and their sources), with the node of every value for locations.

use crate::yaml::{Document, NodeId};

#[derive(Debug, Clone, Default)]
pub(crate) struct Selector {
    pub(crate) group: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) namespace: Option<String>,
    /// `labelSelector` / `annotationSelector` (Kubernetes selector syntax), matched against
    /// the labels and annotations as the build has rendered them so far.
    pub(crate) label_selector: Option<String>,
    pub(crate) annotation_selector: Option<String>,
    pub(crate) node: Option<NodeId>,
}

impl Selector {
    pub(crate) fn read(doc: &Document, id: NodeId) -> Selector {
        let s = |k: &str| doc.get_str(id, k).map(str::to_string);
        Selector {
            group: s("group"),
            version: s("version"),
            kind: s("kind"),
            name: s("name"),
            namespace: s("namespace"),
            label_selector: s("labelSelector"),
            annotation_selector: s("annotationSelector"),
            node: Some(id),
        }
    }

    /// Whether the selector picks an object. Kustomize ≤ 5.7 compares names exactly; 5.8+
    /// treats them as anchored regular expressions. `regex_names` chooses.
    pub(crate) fn matches(
        &self,
        api_version: &str,
        kind: &str,
        name: Option<&str>,
        namespace: Option<&str>,
        regex_names: bool,
    ) -> bool {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let eq = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| w.is_empty() || w == have)
        };
        if !eq(&self.group, group) || !eq(&self.version, version) || !eq(&self.kind, kind) {
            return false;
        }
        if let Some(ns) = self.namespace.as_deref().filter(|n| !n.is_empty())
            && namespace.unwrap_or("default") != ns
        {
            return false;
        }
        match self.name.as_deref().filter(|n| !n.is_empty()) {
            None => true,
            Some(want) => {
                let Some(have) = name else { return false };
                if want == have {
                    return true;
                }
                regex_names
                    && regex::Regex::new(&format!("^(?:{want})$")).is_ok_and(|re| re.is_match(have))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) selector: Selector,
    pub(crate) field_path: String,
    pub(crate) delimiter: Option<String>,
    pub(crate) index: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) select: Selector,
    pub(crate) reject: Vec<Selector>,
    /// Field paths with their nodes (`metadata.name` when none is given).
    pub(crate) field_paths: Vec<(String, Option<NodeId>)>,
    pub(crate) delimiter: Option<String>,
    pub(crate) index: i64,
    pub(crate) create: bool,
    pub(crate) node: NodeId,
}

#[derive(Debug, Clone)]
pub(crate) struct Replacement {
    pub(crate) node: NodeId,
    pub(crate) source: Option<Source>,
    /// `sourceValue: "literal"` and its node.
    pub(crate) source_value: Option<(String, NodeId)>,
    pub(crate) targets: Vec<Target>,
}

fn options(doc: &Document, id: NodeId) -> (Option<String>, i64, bool) {
    let Some(o) = doc.get(id, "options") else {
        return (None, 0, false);
    };
    let delimiter = doc
        .get(o, "delimiter")
        .and_then(|d| doc.str(d))
        .map(str::to_string);
    let index = doc
        .get_str(o, "index")
        .and_then(|i| i.parse().ok())
        .unwrap_or(0);
    let create = doc.get_str(o, "create") == Some("true");
    (delimiter, index, create)
}

/// The `replacements:` of a kustomization document.
pub(crate) fn replacements(doc: &Document) -> Vec<Replacement> {
    let Some(list) = doc.get(doc.root, "replacements") else {
        return Vec::new();
    };
    replacement_entries(doc, doc.items(list))
}

/// Replacements at these nodes (of a kustomization's list, or of a `path:` file).
pub(crate) fn replacement_entries(doc: &Document, nodes: &[NodeId]) -> Vec<Replacement> {
    let mut out = Vec::new();
    for &r in nodes {
        let source = doc.get(r, "source").filter(|&s| doc.is_map(s)).map(|s| {
            let (delimiter, index, _) = options(doc, s);
            Source {
                selector: Selector::read(doc, s),
                field_path: doc
                    .get_str(s, "fieldPath")
                    .unwrap_or("metadata.name")
                    .to_string(),
                delimiter,
                index,
            }
        });
        let source_value = doc
            .get(r, "sourceValue")
            .and_then(|v| doc.str(v).map(|s| (s.to_string(), v)));
        let mut targets = Vec::new();
        for &t in doc.get(r, "targets").map(|t| doc.items(t)).unwrap_or(&[]) {
            let (delimiter, index, create) = options(doc, t);
            let select = doc
                .get(t, "select")
                .map(|s| Selector::read(doc, s))
                .unwrap_or_default();
            let reject = doc
                .get(t, "reject")
                .map(|r| {
                    doc.items(r)
                        .iter()
                        .map(|&s| Selector::read(doc, s))
                        .collect()
                })
                .unwrap_or_default();
            let mut field_paths: Vec<(String, Option<NodeId>)> = doc
                .get(t, "fieldPaths")
                .map(|f| {
                    doc.items(f)
                        .iter()
                        .filter_map(|&p| doc.str(p).map(|s| (s.to_string(), Some(p))))
                        .collect()
                })
                .unwrap_or_default();
            if field_paths.is_empty() {
                field_paths.push(("metadata.name".into(), None));
            }
            targets.push(Target {
                select,
                reject,
                field_paths,
                delimiter,
                index,
                create,
                node: t,
            });
        }
        out.push(Replacement {
            node: r,
            source,
            source_value,
            targets,
        });
    }
    out
}

/// Split a kustomize field path into its elements exactly as kyaml's `SmarterPathSplitter`
/// does: split at every `.`, rejoin a piece ending in `\\` with the next (the backslash
/// dropped), drop one leading empty piece (`.a.b`), then rejoin a `[` piece with the pieces up
/// to the one ending in `]`: kept bracketed when it holds an `=` (a list match), else with
/// its brackets trimmed (a map key with dots, `[a.b/c]`). A bracketed piece without a dot
/// inside (`[a/b]`, `[1]`) stays bracketed, and kustomize then fails on it.
pub(crate) fn split_field_path(path: &str) -> Vec<String> {
    let mut pieces: Vec<&str> = path.split('.').collect();
    if pieces.len() > 1 && pieces[0].is_empty() {
        pieces.remove(0);
    }
    let mut split: Vec<String> = Vec::new();
    for piece in pieces {
        match split.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(piece);
            }
            _ => split.push(piece.to_string()),
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < split.len() {
        let el = &split[i];
        if el.starts_with('[') && !el.ends_with(']') {
            let mut joined = el.clone();
            while i + 1 < split.len() {
                i += 1;
                joined.push('.');
                joined.push_str(&split[i]);
                if split[i].ends_with(']') {
                    break;
                }
            }
            if joined.contains('=') {
                out.push(joined);
            } else {
                out.push(joined.trim_matches(|c| c == '[' || c == ']').to_string());
            }
        } else {
            out.push(el.clone());
        }
        i += 1;
    }
    out
}

/// Whether a Kubernetes label selector (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) matches
/// `labels`. A selector that does not parse matches nothing.
pub(crate) fn selector_matches(
    selector: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    terms
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .all(|t| {
            let set = |rest: &str| -> Option<Vec<String>> {
                let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
                Some(inner.split(',').map(|v| v.trim().to_string()).collect())
            };
            if let Some((k, v)) = t.split_once("!=") {
                labels.get(k.trim()).is_none_or(|l| l != v.trim())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                labels.get(k.trim()).is_some_and(|l| l == v.trim())
            } else if let Some((k, rest)) = t.split_once(" notin ") {
                set(rest).is_some_and(|vs| labels.get(k.trim()).is_none_or(|l| !vs.contains(l)))
            } else if let Some((k, rest)) = t.split_once(" in ") {
                set(rest).is_some_and(|vs| labels.get(k.trim()).is_some_and(|l| vs.contains(l)))
            } else if let Some(k) = t.strip_prefix('!') {
                !labels.contains_key(k.trim())
            } else {
                labels.contains_key(t)
            }
        })
}

/// Kustomize's delimiter/index write: replace element `index` of `current` split by
/// `delimiter`; past the end appends, negative prepends; without a delimiter, the whole value.
pub(crate) fn write_delimited(
    current: &str,
    value: &str,
    delimiter: Option<&str>,
    index: i64,
) -> String {
    let Some(d) = delimiter.filter(|d| !d.is_empty()) else {
        return value.to_string();
    };
    let mut parts: Vec<&str> = current.split(d).collect();
    if index < 0 {
        parts.insert(0, value);
    } else if index as usize >= parts.len() {
        parts.push(value);
    } else {
        parts[index as usize] = value;
    }
    parts.join(d)
}

/// Kustomize's delimiter/index read on a source value.
pub(crate) fn read_delimited(value: &str, delimiter: Option<&str>, index: i64) -> Option<String> {
    match delimiter.filter(|d| !d.is_empty()) {
        None => Some(value.to_string()),
        Some(d) => {
            let parts: Vec<&str> = value.split(d).collect();
            usize::try_from(index)
                .ok()
                .and_then(|i| parts.get(i))
                .map(|s| s.to_string())
        }
    }
}

/// Whether a target selects (or rejects) by labels or annotations, which the evaluator does
/// not model (`labelSelector`, `annotationSelector`): what it selects is then unknown.
pub(crate) fn selects_by_labels(doc: &Document, target: NodeId) -> bool {
    let sel = |n: NodeId| {
        doc.get(n, "labelSelector").is_some() || doc.get(n, "annotationSelector").is_some()
    };
    doc.get(target, "select").is_some_and(sel)
        || doc
            .get(target, "reject")
            .is_some_and(|r| doc.items(r).iter().any(|&n| sel(n)))
}

/// The files a kustomization (or component) names as patches, with the node naming each:
/// `patches[].path`, `patchesJson6902[].path`, and `patchesStrategicMerge` entries that are
/// one-line strings (a multi-line entry is an inline patch). Whether an entry is a file is up
/// to the caller (kustomize reads a `patchesStrategicMerge` string as a path when it is one).
pub(crate) fn patch_paths(doc: &Document) -> Vec<(&str, NodeId)> {
    let mut out = Vec::new();
    for key in ["patches", "patchesJson6902"] {
        for &item in doc.get(doc.root, key).map(|l| doc.items(l)).unwrap_or(&[]) {
            if let Some(n) = doc.get(item, "path")
                && let Some(p) = doc.str(n)
            {
                out.push((p, n));
            }
        }
    }
    let smp = doc.get(doc.root, "patchesStrategicMerge");
    for &item in smp.map(|l| doc.items(l)).unwrap_or(&[]) {
        if let Some(p) = doc
            .str(item)
            .filter(|p| !p.contains('\n') && !p.trim().is_empty())
        {
            out.push((p.trim(), item));
        }
    }
    out
}

/// The `replacements[].path` entries of a kustomization (files of replacements), with their
/// nodes.
pub(crate) fn replacement_paths(doc: &Document) -> Vec<(&str, NodeId)> {
    doc.get(doc.root, "replacements")
        .map(|l| doc.items(l))
        .unwrap_or(&[])
        .iter()
        .filter_map(|&item| {
            let n = doc.get(item, "path")?;
            Some((doc.str(n)?, n))
        })
        .collect()
}

/// The `resources`, `bases` and `components` entries of a kustomization, with their nodes.
pub(crate) fn included_paths(doc: &Document) -> Vec<(&str, NodeId)> {
    let mut out = Vec::new();
    for key in ["resources", "bases", "components"] {
        for &item in doc.get(doc.root, key).map(|l| doc.items(l)).unwrap_or(&[]) {
            if let Some(p) = doc.str(item) {
                out.push((p, item));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimited_writes_follow_kustomize() {
        assert_eq!(
            write_delimited("myapp-migration-X", "v1.2.3", Some("-"), 2),
            "myapp-migration-v1.2.3"
        );
        assert_eq!(
            write_delimited("my-app-migration-X", "v1", Some("-"), 2),
            "my-app-v1-X"
        );
        assert_eq!(
            write_delimited("myapp-migration", "v1", Some("-"), 2),
            "myapp-migration-v1"
        );
        assert_eq!(write_delimited("a-b", "v1", Some("-"), -1), "v1-a-b");
        assert_eq!(write_delimited("anything", "v1", None, 2), "v1");
        assert_eq!(read_delimited("a-b-c", Some("-"), 1).as_deref(), Some("b"));
        assert_eq!(read_delimited("a-b-c", Some("-"), 5), None);
    }

    #[test]
    fn field_paths() {
        assert_eq!(
            split_field_path("metadata.annotations.[a.b/c]"),
            vec!["metadata", "annotations", "a.b/c"]
        );
        assert_eq!(split_field_path(r"a\.b.c"), vec!["a.b", "c"]);
        assert_eq!(split_field_path(".metadata.name"), vec!["metadata", "name"]);
        assert_eq!(
            split_field_path("a.[name=x.y].b"),
            vec!["a", "[name=x.y]", "b"]
        );
        assert_eq!(split_field_path("a.[b/c]"), vec!["a", "[b/c]"]);
        assert_eq!(split_field_path("a.[=x/db?s=d]"), vec!["a", "[=x/db?s=d]"]);
    }

    #[test]
    fn label_selectors() {
        let labels: std::collections::BTreeMap<String, String> = [("app", "web"), ("tier", "db")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(selector_matches("app=web", &labels));
        assert!(selector_matches("app==web,tier in (db, cache)", &labels));
        assert!(!selector_matches("app=web,tier notin (db)", &labels));
        assert!(selector_matches("app,!missing", &labels));
        assert!(!selector_matches("app!=web", &labels));
    }

    #[test]
    fn selectors() {
        let s = Selector {
            kind: Some("Job".into()),
            name: Some("myapp-migration-.*".into()),
            ..Default::default()
        };
        assert!(!s.matches("batch/v1", "Job", Some("myapp-migration-x"), None, false));
        assert!(s.matches("batch/v1", "Job", Some("myapp-migration-x"), None, true));
        assert!(!s.matches(
            "apps/v1",
            "Deployment",
            Some("myapp-migration-x"),
            None,
            true
        ));
    }
}
