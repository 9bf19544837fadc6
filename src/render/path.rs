//! Kustomize field paths (`spec.template.spec.initContainers.[name=wait].args.1`) resolved
//! against a document to concrete paths, with kustomize's own rules for what is invalid.

use crate::render::kustomize::split_field_path;
use crate::yaml::{Document, Kind, NodeId};

/// One step of a concrete path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Key(String),
    Index(usize),
}

pub(crate) type Concrete = Vec<Step>;

pub(crate) fn keys(path: &[&str]) -> Concrete {
    path.iter().map(|k| Step::Key(k.to_string())).collect()
}

pub(crate) fn display(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The node at a concrete path.
pub(crate) fn node_at(doc: &Document, root: NodeId, path: &[Step]) -> Option<NodeId> {
    let mut cur = root;
    for step in path {
        cur = match step {
            Step::Key(k) => doc.get(cur, k)?,
            Step::Index(i) => *doc.items(cur).get(*i)?,
        };
    }
    Some(cur)
}

/// Why a kustomize field path cannot be applied to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// Kustomize rejects the path itself (exits 1).
    Invalid(String),
    /// No field of the target matches the path (kustomize's `unable to find field`; an error
    /// unless `create: true`).
    NoField { field_path: String },
    /// The path names a key of a list (an error unless `create: true`).
    NotAMapping { list: String, key: String },
    /// A list index past the end (an error even with `create: true`).
    OutOfRange {
        index: usize,
        list: String,
        len: usize,
    },
}

/// Why kustomize rejects a field path element, if it does.
pub(crate) fn invalid_element(el: &str) -> Option<String> {
    if let Some(inner) = el.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
        if !inner.contains('=') && inner.parse::<i64>().is_ok() {
            return Some(format!(
                "`{el}` is not a valid field path element: kustomize selects a list index with a bare number (`{inner}`), and `[...]` only with `[name=value]`"
            ));
        }
        if !inner.contains('=') && !inner.contains('.') && !inner.contains('/') {
            return Some(format!(
                "`{el}` is not a valid field path element: a list element is selected with `[name=value]`"
            ));
        }
    }
    if el.is_empty() {
        return Some("the field path has an empty element (two dots in a row?)".into());
    }
    None
}

/// A map key element, with `[key.with.dots]` brackets removed.
fn plain_key(el: &str) -> &str {
    el.strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .filter(|e| !e.contains('='))
        .unwrap_or(el)
}

/// Resolve a kustomize field path to the concrete paths it names. With `create`, missing map
/// keys are allowed and the path to create is returned.
pub(crate) fn resolve(
    doc: &Document,
    root: NodeId,
    field_path: &str,
    create: bool,
) -> Result<Vec<Concrete>, PathError> {
    let elements = split_field_path(field_path);
    for el in &elements {
        if let Some(e) = invalid_element(el) {
            return Err(PathError::Invalid(e));
        }
    }
    // Each candidate: (node if it exists, concrete path so far).
    let mut current: Vec<(Option<NodeId>, Concrete)> = vec![(Some(root), Vec::new())];
    for el in &elements {
        let mut next = Vec::new();
        for (node, path) in current {
            let Some(node) = node else {
                // Below a path being created: only plain keys can be created.
                let mut p = path.clone();
                p.push(Step::Key(plain_key(el).to_string()));
                next.push((None, p));
                continue;
            };
            let resolved = doc.resolve(node);
            match &doc.node(resolved).kind {
                Kind::Seq(items) => {
                    if el == "*" {
                        for (i, &it) in items.iter().enumerate() {
                            let mut p = path.clone();
                            p.push(Step::Index(i));
                            next.push((Some(it), p));
                        }
                    } else if let Ok(i) = el.parse::<usize>() {
                        match items.get(i) {
                            Some(&it) => {
                                let mut p = path.clone();
                                p.push(Step::Index(i));
                                next.push((Some(it), p));
                            }
                            None => {
                                return Err(PathError::OutOfRange {
                                    index: i,
                                    list: display(&path),
                                    len: items.len(),
                                });
                            }
                        }
                    } else if let Some((k, v)) = el
                        .strip_prefix('[')
                        .and_then(|e| e.strip_suffix(']'))
                        .and_then(|e| e.split_once('='))
                    {
                        for (i, &it) in items.iter().enumerate() {
                            let hit = if k.is_empty() {
                                doc.str(it) == Some(v)
                            } else {
                                doc.get_str(it, k) == Some(v)
                            };
                            if hit {
                                let mut p = path.clone();
                                p.push(Step::Index(i));
                                next.push((Some(it), p));
                            }
                        }
                    } else {
                        return Err(PathError::NotAMapping {
                            list: display(&path),
                            key: el.to_string(),
                        });
                    }
                }
                Kind::Map(_) => {
                    let key = plain_key(el);
                    let mut p = path.clone();
                    p.push(Step::Key(key.to_string()));
                    match doc.get(resolved, key) {
                        Some(v) => next.push((Some(v), p)),
                        None if create => next.push((None, p)),
                        None => {}
                    }
                }
                _ => {
                    if create {
                        let mut p = path.clone();
                        p.push(Step::Key(plain_key(el).to_string()));
                        next.push((None, p));
                    }
                }
            }
        }
        if next.is_empty() {
            return Err(PathError::NoField {
                field_path: field_path.to_string(),
            });
        }
        current = next;
    }
    Ok(current.into_iter().map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn doc(t: &str) -> Document {
        parse(t, Default::default()).docs.remove(0)
    }

    #[test]
    fn resolves_selectors_indexes_and_wildcards() {
        let d = doc(
            "spec:\n  initContainers:\n  - name: a\n    args: [x, y]\n  - name: wait\n    args: [job-wr, j]\n",
        );
        let p = resolve(&d, d.root, "spec.initContainers.[name=wait].args.1", false).unwrap();
        assert_eq!(display(&p[0]), "spec.initContainers[1].args[1]");
        let p = resolve(&d, d.root, "spec.initContainers.*.name", false).unwrap();
        assert_eq!(p.len(), 2);
        let p = resolve(&d, d.root, "spec.initContainers.[name=a].args.[=y]", false).unwrap();
        assert_eq!(display(&p[0]), "spec.initContainers[0].args[1]");
    }

    #[test]
    fn bracketed_index_is_invalid_as_in_kustomize() {
        let d = doc("a: [1]\n");
        assert!(matches!(
            resolve(&d, d.root, "a.[0]", false),
            Err(PathError::Invalid(_))
        ));
    }

    #[test]
    fn missing_fields_and_create() {
        let d = doc("metadata: {name: x}\n");
        assert!(matches!(
            resolve(&d, d.root, "metadata.labels.app", false),
            Err(PathError::NoField { .. })
        ));
        let p = resolve(&d, d.root, "metadata.labels.app", true).unwrap();
        assert_eq!(display(&p[0]), "metadata.labels.app");
        let p = resolve(&d, d.root, "metadata.annotations.[a.b/c]", true).unwrap();
        assert_eq!(p[0], keys(&["metadata", "annotations", "a.b/c"]));
    }
}
