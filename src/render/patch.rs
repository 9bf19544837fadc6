//! Kustomize patches applied to materialized objects: strategic merge (the Kubernetes list
//! merge keys for what the rules read, `$patch` directives) and JSON 6902, each failing with
//! the error text kustomize prints.
//!
//! Checked against `kubectl kustomize` (kustomize 5.x): keyed list elements of a strategic
//! merge patch come first, in the patch's order, followed by the target's other elements;
//! `$patch: delete` inside a list leaves an empty list when nothing remains; `$retainKeys` and
//! `$setElementOrder/...` are not interpreted by kustomize and stay in the output as fields.

use super::tree::{Data, Node};
use crate::base::diagnostic::Loc;

/// What wrote patched nodes, for provenance.
pub(crate) const VIA: &str = "patch";

/// The field a list is merged on, for objects Kubernetes publishes a schema for (kustomize
/// has none for custom resources, whose lists a patch replaces).
fn merge_key(field: &str, kind: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ports" if kind == "Service" => "port",
        "ports" => "containerPort",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "secrets" if kind == "ServiceAccount" => "name",
        _ => return None,
    })
}

/// Whether kustomize knows the kind's schema (built-in API groups).
pub(crate) fn has_schema(api_version: &str) -> bool {
    match api_version.split_once('/') {
        None => true,
        Some((group, _)) => !group.contains('.') || group.ends_with(".k8s.io"),
    }
}

/// The outcome of merging into a node.
enum Merged {
    Keep,
    Delete,
}

fn directive(n: &Node) -> Option<&str> {
    n.get("$patch").and_then(Node::as_str)
}

/// A patch's content as a new node: directives stripped, every node marked as the patch's.
fn fresh(patch: &Node, replaced: Option<Loc>) -> Node {
    let mut n = strip(patch);
    n = n.written_by(VIA, replaced);
    n
}

fn strip(n: &Node) -> Node {
    let mut out = n.clone();
    match &mut out.data {
        Data::Map(entries) => {
            entries.retain(|(k, _)| k != "$patch");
            for (_, v) in entries.iter_mut() {
                *v = strip(v);
            }
        }
        Data::Seq(items) => {
            items.retain(|i| directive(i).is_none());
            for i in items.iter_mut() {
                *i = strip(i);
            }
        }
        Data::Scalar(..) => {}
    }
    out
}

/// Merge a strategic merge patch into an object. `Err(())` never happens today; false when
/// the patch deletes the object.
pub(crate) fn strategic_merge(target: &mut Node, patch: &Node, kind: &str, schema: bool) -> bool {
    !matches!(merge_map(target, patch, kind, schema, 0), Merged::Delete)
}

fn merge_map(target: &mut Node, patch: &Node, kind: &str, schema: bool, depth: usize) -> Merged {
    match directive(patch) {
        Some("delete") => return Merged::Delete,
        Some("replace") => {
            let key_loc = target.key_loc;
            *target = fresh(patch, target.loc);
            target.key_loc = key_loc;
            return Merged::Keep;
        }
        _ => {}
    }
    let Data::Map(entries) = &patch.data else {
        return Merged::Keep;
    };
    if !matches!(target.data, Data::Map(_)) {
        *target = fresh(patch, target.loc);
        return Merged::Keep;
    }
    for (key, pv) in entries {
        if key == "$patch" {
            continue;
        }
        if pv.is_null() {
            target.remove(key);
            continue;
        }
        let Some(tv) = target.get_mut(key) else {
            if directive(pv) == Some("delete") {
                continue;
            }
            let mut n = fresh(pv, None);
            n.key_loc = pv.key_loc;
            target.insert(key, n);
            continue;
        };
        if depth > 200 {
            continue;
        }
        match (&tv.data, &pv.data) {
            (Data::Map(_), Data::Map(_)) => {
                if let Merged::Delete = merge_map(tv, pv, kind, schema, depth + 1) {
                    target.remove(key);
                }
            }
            (Data::Seq(_), Data::Seq(_)) => match merge_key(key, kind).filter(|_| schema) {
                Some(mk) => merge_list(tv, pv, mk, kind, schema, depth),
                None => replace(tv, pv),
            },
            _ => {
                if directive(pv) == Some("delete") {
                    target.remove(key);
                } else {
                    replace(tv, pv);
                }
            }
        }
    }
    Merged::Keep
}

fn replace(tv: &mut Node, pv: &Node) {
    let key_loc = tv.key_loc;
    *tv = fresh(pv, tv.loc);
    tv.key_loc = key_loc.or(pv.key_loc);
}

fn merge_list(tv: &mut Node, pv: &Node, mk: &str, kind: &str, schema: bool, depth: usize) {
    let patch_items = pv.items();
    if patch_items
        .iter()
        .any(|i| directive(i) == Some("replace") && i.get(mk).is_none())
    {
        replace(tv, pv);
        return;
    }
    let Data::Seq(old) = std::mem::replace(&mut tv.data, Data::Seq(Vec::new())) else {
        return;
    };
    let key_of = |n: &Node| n.get(mk).and_then(Node::as_str).map(str::to_string);
    let mut old: Vec<Option<Node>> = old.into_iter().map(Some).collect();
    let mut out = Vec::new();
    for p in patch_items {
        let k = key_of(p);
        let found = k.as_ref().and_then(|k| {
            old.iter()
                .position(|o| o.as_ref().is_some_and(|o| key_of(o).as_ref() == Some(k)))
        });
        if directive(p) == Some("delete") {
            if let Some(i) = found {
                old[i] = None;
            }
            continue;
        }
        match found {
            Some(i) => {
                let mut o = old[i].take().unwrap_or_else(|| Node::map(None));
                if let Merged::Keep = merge_map(&mut o, p, kind, schema, depth + 1) {
                    out.push(o);
                }
            }
            None => out.push(fresh(p, None)),
        }
    }
    out.extend(old.into_iter().flatten());
    tv.data = Data::Seq(out);
}

/// One JSON 6902 operation.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub(crate) op: String,
    pub(crate) path: String,
    pub(crate) from: Option<String>,
    pub(crate) value: Option<Node>,
    /// Where the operation is written.
    pub(crate) loc: Option<Loc>,
}

/// RFC 6901 pointer tokens, `~1` → `/` and `~0` → `~`.
fn tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

fn index_of(tok: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if tok == "-" && allow_end {
        return Ok(len);
    }
    match tok.parse::<usize>() {
        Ok(i) if (allow_end && i <= len) || i < len => Ok(i),
        _ => Err(format!(
            "Unable to access invalid index: {tok}: invalid index referenced"
        )),
    }
}

fn parent_mut<'n>(root: &'n mut Node, toks: &[String]) -> Option<&'n mut Node> {
    let mut cur = root;
    for t in toks {
        cur = match &mut cur.data {
            Data::Map(entries) => entries.iter_mut().find(|(k, _)| k == t).map(|(_, v)| v)?,
            Data::Seq(items) => {
                let i: usize = t.parse().ok()?;
                items.get_mut(i)?
            }
            Data::Scalar(..) => return None,
        };
    }
    Some(cur)
}

fn get<'n>(root: &'n Node, toks: &[String]) -> Option<&'n Node> {
    let mut cur = root;
    for t in toks {
        cur = match &cur.data {
            Data::Map(_) => cur.get(t)?,
            Data::Seq(items) => items.get(t.parse::<usize>().ok()?)?,
            Data::Scalar(..) => return None,
        };
    }
    Some(cur)
}

fn add(root: &mut Node, path: &str, value: Node) -> Result<(), String> {
    let missing =
        || format!("add operation does not apply: doc is missing path: \"{path}\": missing value");
    let toks = tokens(path).ok_or_else(missing)?;
    let Some((last, parents)) = toks.split_last() else {
        *root = value;
        return Ok(());
    };
    let parent = parent_mut(root, parents).ok_or_else(missing)?;
    match &mut parent.data {
        Data::Map(_) => {
            parent.insert(last, value);
            Ok(())
        }
        Data::Seq(items) => {
            let i = index_of(last, items.len(), true)
                .map_err(|e| format!("error in add for path: '{path}': {e}"))?;
            items.insert(i, value);
            Ok(())
        }
        Data::Scalar(..) => Err(missing()),
    }
}

fn remove(root: &mut Node, path: &str) -> Result<Node, String> {
    let fail = |why: String| format!("error in remove for path: '{path}': {why}");
    let toks = tokens(path).ok_or_else(|| fail("missing value".into()))?;
    let Some((last, parents)) = toks.split_last() else {
        return Err(fail("missing value".into()));
    };
    let parent = parent_mut(root, parents).ok_or_else(|| fail("missing value".into()))?;
    match &mut parent.data {
        Data::Map(_) => parent.remove(last).ok_or_else(|| {
            fail(format!(
                "Unable to remove nonexistent key: {last}: missing value"
            ))
        }),
        Data::Seq(items) => {
            let i = index_of(last, items.len(), false).map_err(fail)?;
            Ok(items.remove(i))
        }
        Data::Scalar(..) => Err(fail("missing value".into())),
    }
}

/// Apply JSON 6902 operations; the error is kustomize's text for the first that fails.
pub(crate) fn json6902(root: &mut Node, ops: &[Op]) -> Result<(), String> {
    for op in ops {
        let path = op.path.as_str();
        let value = || {
            op.value
                .clone()
                .map(|v| v.written_by(VIA, None))
                .ok_or_else(|| format!("Unexpected kind: {}", op.op))
        };
        let toks = tokens(path).unwrap_or_default();
        match op.op.as_str() {
            "add" => {
                let mut v = value()?;
                v.replaced = get(root, &toks).and_then(|n| n.loc);
                v.key_loc = get(root, &toks).and_then(|n| n.key_loc);
                add(root, path, v)?;
            }
            "remove" => {
                remove(root, path)?;
            }
            "replace" => {
                // A missing key of an existing mapping is set (kustomize's JSON patch library
                // does so); a missing parent or list element fails.
                let fail = |what: &str| {
                    format!(
                        "replace operation does not apply: doc is missing {what}: {path}: missing value"
                    )
                };
                let mut v = value()?;
                let Some((last, parents)) = toks.split_last() else {
                    *root = v;
                    continue;
                };
                let parent = parent_mut(root, parents).ok_or_else(|| fail("path"))?;
                match &mut parent.data {
                    Data::Map(_) => {
                        if let Some(old) = parent.get(last) {
                            v.replaced = old.loc;
                            v.key_loc = old.key_loc;
                        }
                        parent.insert(last, v);
                    }
                    Data::Seq(items) => {
                        let slot = last
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| items.get_mut(i))
                            .ok_or_else(|| fail("key"))?;
                        v.replaced = slot.loc;
                        *slot = v;
                    }
                    Data::Scalar(..) => return Err(fail("path")),
                }
            }
            "move" | "copy" => {
                let from = op.from.clone().unwrap_or_default();
                let ftoks = tokens(&from).unwrap_or_default();
                let word = op.op.as_str();
                let v = if word == "move" {
                    remove(root, &from).map_err(|_| {
                        let key = ftoks.last().map(String::as_str).unwrap_or("");
                        format!("error in move for path: '{key}': Unable to remove nonexistent key: {key}: missing value")
                    })?
                } else {
                    // Copying what is not there copies a null.
                    get(root, &ftoks)
                        .cloned()
                        .unwrap_or_else(|| Node::scalar("null", super::tree::Ty::Null, None))
                };
                let mut v = v.written_by(VIA, None);
                v.loc = op.loc;
                add(root, path, v).map_err(|e| e.replacen("add", word, 1))?;
            }
            "test" => {
                let want = value()?;
                if !get(root, &toks).is_some_and(|n| n.same_value(&want)) {
                    return Err(format!("testing value {path} failed: test failed"));
                }
            }
            other => return Err(format!("Unexpected kind: {other}")),
        }
    }
    Ok(())
}

/// Read JSON 6902 operations from a patch document (a list of mappings).
pub(crate) fn read_ops(list: &Node) -> Result<Vec<Op>, String> {
    let Data::Seq(items) = &list.data else {
        return Err("a JSON patch must be a list of operations".into());
    };
    items
        .iter()
        .map(|i| {
            let s = |k: &str| i.get(k).and_then(Node::as_str).map(str::to_string);
            Ok(Op {
                op: s("op").ok_or("a JSON patch operation needs `op`")?,
                path: s("path").unwrap_or_default(),
                from: s("from"),
                value: i.get("value").cloned(),
                loc: i.loc,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::path::keys;
    use crate::render::tree::tests::tree;

    fn names(n: &Node, path: &[&str]) -> Vec<String> {
        n.at(&keys(path))
            .unwrap()
            .items()
            .iter()
            .map(|c| {
                c.get("name")
                    .and_then(Node::as_str)
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    const DEP: &str = "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - {name: app, image: a, env: [{name: A, value: '1'}, {name: B, value: '2'}], args: [x, y]}\n      - {name: side, image: s}\n      initContainers: [{name: wait, args: [job, m]}]\n";

    #[test]
    fn keyed_lists_merge_patch_elements_first() {
        let mut t = tree(DEP);
        let p = tree(
            "spec:\n  template:\n    spec:\n      containers:\n      - {name: new, image: n}\n      - name: app\n        env: [{name: C, value: '3'}, {name: A, value: x}]\n        args: [z]\n",
        );
        assert!(strategic_merge(&mut t, &p, "Deployment", true));
        let c = &["spec", "template", "spec", "containers"];
        assert_eq!(names(&t, c), ["new", "app", "side"]);
        let app = &t.at(&keys(c)).unwrap().items()[1];
        let env: Vec<_> = app
            .get("env")
            .unwrap()
            .items()
            .iter()
            .map(|e| e.get("value").unwrap().as_str().unwrap().to_string())
            .collect();
        assert_eq!(env, ["3", "x", "2"]);
        // args has no merge key: replaced.
        assert_eq!(app.get("args").unwrap().items().len(), 1);
        assert_eq!(app.get("image").unwrap().as_str(), Some("a"));
        assert_eq!(app.get("args").unwrap().via, Some(VIA));
        assert_eq!(app.get("image").unwrap().via, None);
    }

    #[test]
    fn directives_delete_and_replace() {
        let mut t = tree(DEP);
        let p = tree(
            "spec:\n  template:\n    spec:\n      initContainers: [{name: wait, $patch: delete}]\n      containers: [{$patch: replace}, {name: only, image: o}]\n",
        );
        strategic_merge(&mut t, &p, "Deployment", true);
        assert_eq!(
            names(&t, &["spec", "template", "spec", "initContainers"]),
            Vec::<String>::new()
        );
        assert_eq!(
            names(&t, &["spec", "template", "spec", "containers"]),
            ["only"]
        );
        let mut t = tree(DEP);
        let p =
            tree("spec:\n  template:\n    $patch: replace\n    spec: {containers: [{name: x}]}\n");
        strategic_merge(&mut t, &p, "Deployment", true);
        assert_eq!(
            names(&t, &["spec", "template", "spec", "containers"]),
            ["x"]
        );
        assert!(
            t.at(&keys(&["spec", "template", "spec", "initContainers"]))
                .is_none()
        );
        let mut t = tree(DEP);
        assert!(!strategic_merge(
            &mut t,
            &tree("$patch: delete\n"),
            "Deployment",
            true
        ));
    }

    #[test]
    fn null_deletes_and_custom_resources_replace_lists() {
        let mut t =
            tree("metadata: {labels: {a: b, z: y}}\nspec: {containers: [{name: a, x: 1}]}\n");
        let p = tree("metadata: {labels: {z: null}}\nspec: {containers: [{name: a}]}\n");
        strategic_merge(&mut t, &p, "Thing", false);
        assert!(t.at(&keys(&["metadata", "labels", "z"])).is_none());
        let c = &t.at(&keys(&["spec", "containers"])).unwrap().items()[0];
        assert!(c.get("x").is_none());
    }

    fn ops(text: &str) -> Vec<Op> {
        read_ops(&tree(text)).unwrap()
    }

    #[test]
    fn json_patch_operations() {
        let mut t = tree(DEP);
        let o = ops(
            "- {op: replace, path: /spec/template/spec/initContainers/0/args/1, value: other}\n- {op: add, path: /spec/template/spec/containers/-, value: {name: z}}\n- {op: add, path: /metadata, value: {annotations: {}}}\n- {op: add, path: /metadata/annotations/a~1b, value: v}\n- {op: copy, from: /metadata/annotations/a~1b, path: /metadata/annotations/c}\n- {op: move, from: /metadata/annotations/c, path: /metadata/annotations/d~0}\n- {op: remove, path: /spec/template/spec/containers/1}\n- {op: test, path: /metadata/annotations/d~0, value: v}\n",
        );
        json6902(&mut t, &o).unwrap();
        let args = t
            .at(&keys(&["spec", "template", "spec", "initContainers"]))
            .unwrap()
            .items()[0]
            .get("args")
            .unwrap();
        assert_eq!(args.items()[1].as_str(), Some("other"));
        assert_eq!(args.items()[1].via, Some(VIA));
        assert_eq!(
            names(&t, &["spec", "template", "spec", "containers"]),
            ["app", "z"]
        );
        let ann = t.at(&keys(&["metadata", "annotations"])).unwrap();
        assert_eq!(ann.get("a/b").and_then(Node::as_str), Some("v"));
        assert_eq!(ann.get("d~").and_then(Node::as_str), Some("v"));
        assert!(ann.get("c").is_none());
    }

    #[test]
    fn json_patch_failures_use_kustomize_words() {
        let fail = |text: &str| json6902(&mut tree(DEP), &ops(text)).unwrap_err();
        assert_eq!(
            fail("- {op: replace, path: /spec/nope/x, value: 1}\n"),
            "replace operation does not apply: doc is missing path: /spec/nope/x: missing value"
        );
        assert_eq!(
            fail("- {op: remove, path: /spec/nope}\n"),
            "error in remove for path: '/spec/nope': Unable to remove nonexistent key: nope: missing value"
        );
        assert_eq!(
            fail("- {op: test, path: /kind, value: Job}\n"),
            "testing value /kind failed: test failed"
        );
        assert_eq!(
            fail("- {op: add, path: /spec/template/spec/containers/5, value: {}}\n"),
            "error in add for path: '/spec/template/spec/containers/5': Unable to access invalid index: 5: invalid index referenced"
        );
    }
}
