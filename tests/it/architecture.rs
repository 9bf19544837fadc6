//! The crate's layers, enforced: every `crate::` path in `src/` points to the same layer or one
//! below it, no rule imports another rule, and no modules import each other in a cycle. The
//! layers are the top-level folders of `src/`, lowest first (the README's Architecture section
//! draws them). Unit tests at the end of a file (`#[cfg(test)] mod tests`) may use any layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: &[&str] = &[
    "base", "yaml", "model", "render", "analysis", "rules", "engine", "output", "app",
];

/// Modules under `src/rules/` that are the rule framework and its shared parts, not rules.
const RULES_FRAMEWORK: &[&str] = &["mod", "framework", "testing"];

/// Folders compiled only for tests (`#[cfg(test)] mod testing`): test code, like unit tests.
const TEST_ONLY: &[&str] = &["rules/testing"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/render/eval.rs` → `["render", "eval"]`; `src/render/mod.rs` → `["render"]`.
fn module_of(path: &Path) -> Vec<String> {
    let rel = path.strip_prefix("src").unwrap();
    let mut segs: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if segs.last().is_some_and(|s| s == "mod") {
        segs.pop();
    }
    segs
}

/// The code of a file without comments and without its trailing unit tests.
fn code(text: &str) -> String {
    let cut = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |i| &text[..i]);
    cut.lines()
        .map(|l| match l.find("//") {
            // Keep `://` inside strings (URLs); drop comments.
            Some(i) if !l[..i].ends_with(':') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` path in `code`, as `["a", "b"]` (at most two segments), with `crate::{a,
/// b::c}` groups expanded.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let segs: Vec<String> = item
                    .trim()
                    .split("::")
                    .map(ident)
                    .filter(|s| !s.is_empty())
                    .take(2)
                    .collect();
                if !segs.is_empty() {
                    out.push(segs);
                }
            }
        } else {
            let segs: Vec<String> = after
                .split("::")
                .map(ident)
                .take_while(|s| !s.is_empty())
                .take(2)
                .collect();
            if !segs.is_empty() {
                out.push(segs);
            }
        }
        rest = after;
    }
    out
}

struct Crate {
    /// Module (`render::eval`) → the modules it uses.
    edges: BTreeMap<String, BTreeSet<String>>,
    problems: Vec<String>,
}

fn analyse(src: &Path) -> Crate {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let rule_modules: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(f.strip_prefix(src.parent().unwrap()).unwrap()))
        .filter(|m| m.len() == 2 && m[0] == "rules" && !RULES_FRAMEWORK.contains(&m[1].as_str()))
        .map(|m| m[1].clone())
        .collect();
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(f.strip_prefix(src.parent().unwrap()).unwrap()).join("::"))
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src.parent().unwrap()).unwrap();
        if TEST_ONLY
            .iter()
            .any(|t| rel.starts_with(Path::new("src").join(t)))
        {
            continue;
        }
        let module = module_of(rel);
        let Some(layer) = module.first() else {
            continue;
        };
        if layer == "lib" || layer == "main" {
            continue; // the crate root, and the binary (the library's public surface only)
        }
        let Some(level) = LAYERS.iter().position(|l| l == layer) else {
            problems.push(format!(
                "{}: `{layer}` is not a layer (src/ holds only {LAYERS:?})",
                rel.display()
            ));
            continue;
        };
        let text = code(&std::fs::read_to_string(f).unwrap());
        let from = module[..module.len().min(2)].join("::");
        for path in crate_paths(&text) {
            let target = &path[0];
            let Some(target_level) = LAYERS.iter().position(|l| l == target) else {
                problems.push(format!(
                    "{}: uses crate::{}, which is not in a layer",
                    rel.display(),
                    path.join("::")
                ));
                continue;
            };
            if target_level > level {
                problems.push(format!(
                    "upward import: {} (layer {layer}) uses crate::{} (layer {target}, above it)",
                    rel.display(),
                    path.join("::")
                ));
            }
            // `crate::render::eval::X` is the module render::eval; `crate::render::Context`
            // an item of render.
            let joined = path.join("::");
            let to = if modules.contains(&joined) {
                joined
            } else {
                target.clone()
            };
            if to != from && !from.starts_with(&format!("{to}::")) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
        // A rule file importing another rule, by `super::other_rule` or `crate::rules::other_rule`.
        if layer == "rules" && module.len() >= 2 && rule_modules.contains(&module[1]) {
            let own = &module[1];
            let mut used = BTreeSet::new();
            for (i, _) in text.match_indices("super::") {
                used.insert(
                    text[i + "super::".len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect::<String>(),
                );
            }
            for path in crate_paths(&text) {
                if path[0] == "rules" && path.len() > 1 {
                    used.insert(path[1].clone());
                }
            }
            for other in used.intersection(&rule_modules) {
                if other != own {
                    problems.push(format!(
                        "rule imports rule: {} uses the rule `{other}`; move what they share to src/analysis",
                        rel.display()
                    ));
                }
            }
        }
    }
    Crate { edges, problems }
}

/// Module cycles: every strongly connected set of more than one module.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's algorithm, iteratively small enough to recurse: the crate has ~100 modules.
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        let edges = t.edges;
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(lw));
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn layers_are_imported_only_downward_and_without_cycles() {
    let c = analyse(Path::new("src"));
    let mut problems = c.problems;
    for scc in cycles(&c.edges) {
        problems.push(format!("import cycle: {}", scc.join(" ↔ ")));
    }
    assert!(
        problems.is_empty(),
        "the layering is broken:\n  {}",
        problems.join("\n  ")
    );
}

/// The checker itself sees each kind of violation (so a pass above means something).
#[test]
fn the_checker_finds_upward_edges_rule_imports_and_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let write = |p: &str, t: &str| {
        let p = src.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    };
    write("lib.rs", "pub mod yaml;\n");
    write("yaml/mod.rs", "use crate::model::FileData;\n");
    write("model/mod.rs", "use crate::{yaml::Document, base::mask};\n");
    write("base/mask.rs", "// crate::engine in a comment is fine\n");
    write("rules/mod.rs", "mod a_rule;\n");
    write("rules/a_rule.rs", "use super::b_rule::helper;\n");
    write("rules/b_rule.rs", "use crate::rules::a_rule::X;\n");
    write("render/a.rs", "use crate::render::b::Y;\n");
    write("render/b.rs", "use crate::render::a::Z;\n");
    write(
        "engine/mod.rs",
        "use crate::yaml::X;\n#[cfg(test)]\nmod tests {\n    use crate::app::Y;\n}\n",
    );
    let c = analyse(&src);
    let all = c.problems.join("\n");
    assert!(
        all.contains("upward import: src/yaml/mod.rs (layer yaml) uses crate::model::FileData"),
        "{all}"
    );
    assert!(
        all.contains("rule imports rule: src/rules/a_rule.rs uses the rule `b_rule`"),
        "{all}"
    );
    assert!(
        all.contains("rule imports rule: src/rules/b_rule.rs uses the rule `a_rule`"),
        "{all}"
    );
    assert!(
        !all.contains("engine"),
        "comments and unit tests are not imports: {all}"
    );
    assert!(!all.contains("base/mask"), "{all}");
    let cyc = cycles(&c.edges);
    assert!(
        cyc.contains(&vec!["render::a".to_string(), "render::b".to_string()]),
        "{cyc:?}"
    );
    assert!(
        cyc.iter()
            .any(|s| s.contains(&"yaml".to_string()) && s.contains(&"model".to_string())),
        "{cyc:?}"
    );
}

/// `pub` fields of structs that are not `pub` themselves, as `file:line struct.field`:
/// `unreachable_pub` does not report them, so a field can stay public after its struct is
/// narrowed to the crate.
fn public_fields_of_private_structs(file: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // (indentation, name, public) of the struct whose body we are in.
    let mut current: Option<(usize, String, bool)> = None;
    for (i, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        if let Some((at, name, public)) = &current {
            if indent == *at && t.starts_with('}') {
                current = None;
            } else if !public
                && let Some(rest) = t.strip_prefix("pub ")
                && let Some((field, _)) = rest.split_once(':')
                && !field.is_empty()
                && field.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
            {
                out.push(format!("{file}:{} {name}.{field}", i + 1));
            }
            continue;
        }
        let (public, rest) = match t.strip_prefix("pub ") {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix("pub(crate) ").unwrap_or(t)),
        };
        if let Some(decl) = rest.strip_prefix("struct ")
            && t.ends_with('{')
        {
            let name: String = decl
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            current = Some((indent, name, public));
        }
    }
    out
}

#[test]
fn public_fields_belong_to_public_structs() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    files.sort();
    let mut problems = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        problems.extend(public_fields_of_private_structs(
            &f.display().to_string(),
            &text,
        ));
    }
    assert!(
        problems.is_empty(),
        "make these fields pub(crate) (their struct is not public):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_field_checker_sees_a_public_field_of_a_crate_struct() {
    let text = "pub struct Open {\n    pub a: u32,\n}\n\npub(crate) struct Narrow<'a> {\n    pub b: &'a str,\n    pub(crate) c: u8,\n    /// pub d: in a comment\n}\n\nstruct Inner {\n    pub e: u8,\n}\n";
    assert_eq!(
        public_fields_of_private_structs("x.rs", text),
        ["x.rs:6 Narrow.b", "x.rs:12 Inner.e"]
    );
}
