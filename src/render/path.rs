//! Kustomize field paths (`spec.template.spec.initContainers.[name=wait].args.1`) resolved
//! against a document to concrete paths, with kustomize's own rules for what is invalid.

use crate::render::kustomize::split_field_path;
use crate::yaml::{Document, Kind, NodeId, Seg, Style};

/// One step of a concrete path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    /// The step as a borrowed path segment.
    pub(crate) fn seg(&self) -> Seg<'_> {
        match self {
            Step::Key(k) => Seg::Key(k),
            Step::Index(i) => Seg::Index(*i),
        }
    }
}

pub(crate) type Concrete = Vec<Step>;

pub(crate) fn keys(path: &[&str]) -> Concrete {
    path.iter().map(|k| Step::Key(k.to_string())).collect()
}

/// A concrete path as users read it: `spec.containers[0].image`.
pub(crate) fn display(path: &[Step]) -> String {
    display_segs(path.iter().map(Step::seg))
}

/// [`display`] for borrowed segments.
pub(crate) fn display_segs<'a>(segs: impl IntoIterator<Item = Seg<'a>>) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The node at a concrete path.
pub(crate) fn node_at(doc: &Document, root: NodeId, path: &[Step]) -> Option<NodeId> {
    doc.at_segs(root, path.iter().map(Step::seg))
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

/// Why kustomize rejects a field path element (as [`split_field_path`] left it), if it does:
/// a bracketed element without `=` is read as a list match and fails.
pub(crate) fn invalid_element(el: &str) -> Option<String> {
    if let Some(inner) = el.strip_prefix('[').and_then(|e| e.strip_suffix(']'))
        && !inner.contains('=')
    {
        if inner.parse::<i64>().is_ok() {
            return Some(format!(
                "`{el}` is not a valid field path element: kustomize selects a list index with a bare number (`{inner}`), and `[...]` only with `[name=value]` (kustomize: `list path element must contain fieldName=fieldValue for element to match`)"
            ));
        }
        return Some(format!(
            "`{el}` is not a valid field path element: a list element is selected with `[name=value]`, and a map key is bracketed only when it holds a dot (kustomize: `list path element must contain fieldName=fieldValue for element to match`)"
        ));
    }
    if el.is_empty() {
        return Some("the field path has an empty element (two dots in a row?)".into());
    }
    None
}

/// A scalar as kyaml prints it before matching a target's `[name=value]` against it: quoted
/// as the manifest quoted it, and a plain YAML 1.1 boolean word (`y`, `on`, ...) in double
/// quotes, as go-yaml writes it.
fn printed_scalar(doc: &Document, n: NodeId) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let Kind::Scalar { value, style } = doc.node(doc.resolve(n)).kind else {
        return None;
    };
    let text = match style {
        Style::DoubleQuoted => format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")),
        Style::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
        Style::Plain if is_yaml11_bool_word(value) => format!("\"{value}\""),
        _ if value.trim() == value => return Some(Cow::Borrowed(value)),
        _ => value.to_string(),
    };
    Some(Cow::Owned(text.trim().to_string()))
}

/// A word YAML 1.1 reads as a bool but YAML 1.2 as a string: go-yaml quotes it.
fn is_yaml11_bool_word(value: &str) -> bool {
    matches!(
        value,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// How a `[name=value]` element matches list elements.
enum ElementMatch {
    /// Sources (kyaml `Lookup`): the value exactly.
    Exact,
    /// Targets (kyaml `PathMatcher`): the value is an unanchored regular expression, matched
    /// against the element's field as printed.
    Regex,
}

/// Resolve a replacement **source** field path (kyaml `Lookup`: `[name=value]` compares
/// exactly).
pub(crate) fn resolve_source(
    doc: &Document,
    root: NodeId,
    field_path: &str,
) -> Result<Vec<Concrete>, PathError> {
    resolve_with(doc, root, field_path, false, ElementMatch::Exact)
}

/// Resolve a kustomize field path to the concrete paths it names. With `create`, missing map
/// keys are allowed and the path to create is returned.
/// This is how a replacement **target** is resolved (kyaml `PathMatcher`): `[name=value]`
/// is an unanchored regular expression, so `[name=wait]` also selects `await`, and
/// `[=x/db?s=d]` does not select `x/db?s=d` (the `?` makes the `b` optional).
pub(crate) fn resolve(
    doc: &Document,
    root: NodeId,
    field_path: &str,
    create: bool,
) -> Result<Vec<Concrete>, PathError> {
    resolve_with(doc, root, field_path, create, ElementMatch::Regex)
}

fn resolve_with(
    doc: &Document,
    root: NodeId,
    field_path: &str,
    create: bool,
    how: ElementMatch,
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
                p.push(Step::Key(el.clone()));
                next.push((None, p));
                continue;
            };
            let resolved = doc.resolve(node);
            match doc.node(resolved).kind {
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
                        // A value without metacharacters matches as a substring: no need to
                        // compile it (this runs for every target of every replacement).
                        let literal = !v.chars().any(|c| r"\.+*?()|[]{}^$".contains(c));
                        let regex_mode = matches!(how, ElementMatch::Regex);
                        let re = match how {
                            ElementMatch::Exact => None,
                            ElementMatch::Regex if literal => None,
                            ElementMatch::Regex => Some(regex::Regex::new(v).map_err(|e| {
                                PathError::Invalid(format!(
                                    "`{el}`: kustomize reads `{v}` as a regular expression, and it does not parse (kustomize: `error parsing regexp`): {}",
                                    e.to_string().lines().last().unwrap_or_default().trim()
                                ))
                            })?),
                        };
                        let before = next.len();
                        for (i, &it) in items.iter().enumerate() {
                            let field = if k.is_empty() {
                                Some(it)
                            } else if doc.is_map(it) {
                                doc.get(it, k)
                            } else {
                                None
                            };
                            let hit = field.is_some_and(|f| match &re {
                                None if !regex_mode => doc.str(f) == Some(v),
                                None => printed_scalar(doc, f).is_some_and(|t| t.contains(v)),
                                Some(re) => printed_scalar(doc, f).is_some_and(|t| re.is_match(&t)),
                            });
                            if hit {
                                let mut p = path.clone();
                                p.push(Step::Index(i));
                                next.push((Some(it), p));
                            }
                        }
                        // Read as a regular expression, a value with `?`, `.`, `+` ... may
                        // miss the very element it names: say so, since the text looks right.
                        let literal_only = regex_mode
                            && next.len() == before
                            && items.iter().any(|&it| {
                                let field = if k.is_empty() {
                                    Some(it)
                                } else {
                                    doc.get(it, k)
                                };
                                field.and_then(|f| doc.str(f)) == Some(v)
                            });
                        if literal_only {
                            return Err(PathError::Invalid(format!(
                                "`{el}`: kustomize reads `{v}` as a regular expression (unanchored), which does not match the element `{v}` itself, so kustomize fails with `unable to find field`; escape the special characters (`\\?`, `\\.`) or select the element by index"
                            )));
                        }
                    } else {
                        return Err(PathError::NotAMapping {
                            list: display(&path),
                            key: el.to_string(),
                        });
                    }
                }
                Kind::Map(_) => {
                    let key = el.as_str();
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
                        p.push(Step::Key(el.clone()));
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

    /// How resolving `path` below the root (without `create`) fails, by variant; None: it resolves.
    fn failure(d: &Document, path: &str) -> Option<&'static str> {
        resolve(d, d.root, path, false).err().map(|e| match e {
            PathError::Invalid(_) => "Invalid",
            PathError::NoField { .. } => "NoField",
            PathError::NotAMapping { .. } => "NotAMapping",
            PathError::OutOfRange { .. } => "OutOfRange",
        })
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

    /// What `kubectl kustomize` (v5.5) did with these target paths.
    #[test]
    fn target_elements_match_as_kyaml_matches_them() {
        let d =
            doc("c:\n- name: wait-for\n  command: [\"x/db?s=d\", y, \"true\"]\n- name: await\n");
        let p = resolve(&d, d.root, "c.[name=wait].name", false).unwrap();
        assert_eq!(p.len(), 2, "an unanchored expression selects both");
        let p = resolve(&d, d.root, "c.0.command.[=x/db]", false).unwrap();
        assert_eq!(display(&p[0]), "c[0].command[0]");
        let p = resolve_source(&d, d.root, "c.0.command.[=x/db?s=d]").unwrap();
        assert_eq!(display(&p[0]), "c[0].command[0]");
        assert!(resolve_source(&d, d.root, "c.[name=wait].name").is_err());
        let a = doc("metadata:\n  annotations: {a/b: x}\n");
        for (d, path, want) in [
            (&d, "c.[name=^wait$].name", Some("NoField")),
            (&d, "c.0.command.[=x/db?s=d]", Some("Invalid")),
            (&d, "c.0.command.[=^tr]", Some("NoField")),
            (&d, "c.0.command.[=(]", Some("Invalid")),
            (&a, "metadata.annotations.[a/b]", Some("Invalid")),
            (&a, "metadata.annotations.a/b", None),
            (&a, ".metadata.annotations", None),
        ] {
            assert_eq!(failure(d, path), want, "{path}");
        }
    }

    #[test]
    fn bracketed_index_is_invalid_as_in_kustomize() {
        assert_eq!(failure(&doc("a: [1]\n"), "a.[0]"), Some("Invalid"));
    }

    #[test]
    fn missing_fields_and_create() {
        let d = doc("metadata: {name: x}\n");
        assert_eq!(failure(&d, "metadata.labels.app"), Some("NoField"));
        let p = resolve(&d, d.root, "metadata.labels.app", true).unwrap();
        assert_eq!(display(&p[0]), "metadata.labels.app");
        let p = resolve(&d, d.root, "metadata.annotations.[a.b/c]", true).unwrap();
        assert_eq!(p[0], keys(&["metadata", "annotations", "a.b/c"]));
    }
}
