//! From the paths a user (or pre-commit) gives to what must be read.
//!
//! A changed file means little alone: a Deployment's wait is only right or wrong next to its
//! Job. So each file given is resolved to its context — the nearest enclosing kustomization
//! that includes it, directly or through bases and components — that whole context is linted,
//! and only findings touching the given files (at their primary or a related location) are
//! reported. A file no kustomization includes is linted with the manifests of its directory.

use crate::model::discover::is_manifest_name;
use crate::model::{FileRole, file_role};
use crate::yaml;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What to read, and which findings to keep.
#[derive(Debug, Default)]
pub struct Plan {
    /// Directories and files to lint.
    pub roots: Vec<PathBuf>,
    /// When files were given: the findings to keep.
    pub focus: Option<Focus>,
}

#[derive(Debug, Default)]
pub struct Focus {
    files: BTreeSet<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Focus {
    /// Whether a finding in `path` concerns what was given.
    pub fn keeps(&self, path: &Path) -> bool {
        let Some(p) = canonical(path) else {
            return false;
        };
        self.files.contains(&p) || self.dirs.iter().any(|d| p.starts_with(d))
    }
}

fn kustomization_in(dir: &Path) -> Option<PathBuf> {
    ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Files a kustomization includes, following directories (bases, components) recursively.
pub fn closure(kustomization: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![kustomization.to_path_buf()];
    let mut seen = BTreeSet::new();
    while let Some(k) = stack.pop() {
        let Ok(k) = k.canonicalize() else { continue };
        if !seen.insert(k.clone()) {
            continue;
        }
        out.insert(k.clone());
        let Some(dir) = k.parent() else { continue };
        let Ok(text) = std::fs::read_to_string(&k) else {
            continue;
        };
        let parsed = yaml::parse(&text, yaml::Limits::default());
        let Some(doc) = parsed.docs.first() else {
            continue;
        };
        // Patch files are read by the build too (a path entry, never an inline patch).
        let mut patch_paths: Vec<&str> = Vec::new();
        for key in ["patches", "patchesJson6902"] {
            for &item in doc.get(doc.root, key).map(|l| doc.items(l)).unwrap_or(&[]) {
                patch_paths.extend(doc.get_str(item, "path"));
            }
        }
        for &item in doc
            .get(doc.root, "patchesStrategicMerge")
            .map(|l| doc.items(l))
            .unwrap_or(&[])
        {
            patch_paths.extend(doc.str(item).filter(|s| !s.contains('\n')));
        }
        for entry in patch_paths {
            if let Ok(c) = dir.join(entry).canonicalize() {
                out.insert(c);
            }
        }
        for key in ["resources", "bases", "components"] {
            let Some(list) = doc.get(doc.root, key) else {
                continue;
            };
            for &item in doc.items(list) {
                let Some(entry) = doc.str(item) else { continue };
                if entry.contains("://") {
                    continue;
                }
                let p = dir.join(entry);
                if p.is_dir() {
                    if let Some(sub) = kustomization_in(&p) {
                        stack.push(sub);
                    }
                } else if let Ok(c) = p.canonicalize() {
                    out.insert(c);
                }
            }
        }
    }
    out
}

/// A path made absolute and canonical, for a file that may not exist (an unsaved editor
/// buffer named by `--stdin-filename`): its directory is canonicalised.
pub fn canonical(file: &Path) -> Option<PathBuf> {
    if let Ok(c) = file.canonicalize() {
        return Some(c);
    }
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Some(parent.canonicalize().ok()?.join(file.file_name()?))
}

/// The directory whose kustomization is the nearest one including `file`, if any.
pub fn context_root(file: &Path) -> Option<PathBuf> {
    let file = canonical(file)?;
    let mut dir = file.parent();
    while let Some(d) = dir {
        if let Some(k) = kustomization_in(d)
            && (k == file || closure(&k).contains(&file))
        {
            return Some(d.to_path_buf());
        }
        if d.join(".git").exists() {
            break;
        }
        dir = d.parent();
    }
    None
}

/// Turn the given paths into what to lint. `stdin_name` is the file stdin stands for: it is
/// resolved to its context like a given file.
pub fn plan(paths: &[PathBuf], stdin_name: Option<&Path>) -> Plan {
    let is_file = |p: &PathBuf| p.is_file() || Some(p.as_path()) == stdin_name;
    let mut paths = paths.to_vec();
    if let Some(n) = stdin_name {
        paths.push(n.to_path_buf());
    }
    let files: Vec<&PathBuf> = paths.iter().filter(|p| is_file(p)).collect();
    if files.is_empty() {
        return Plan {
            roots: paths.to_vec(),
            focus: None,
        };
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut focus = Focus::default();
    for p in &paths {
        if Some(p.as_path()) == stdin_name && !p.exists() {
            if let Some(c) = canonical(p) {
                focus.files.insert(c);
            }
            if let Some(root) = context_root(p) {
                roots.push(relative_like(p, &root));
            } else if let Some(dir) = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty() && d.is_dir())
            {
                roots.push(dir.to_path_buf());
            }
            continue;
        }
        if !is_file(p) {
            if let Ok(c) = p.canonicalize() {
                focus.dirs.push(c);
            }
            roots.push(p.clone());
            continue;
        }
        if let Ok(c) = p.canonicalize() {
            focus.files.insert(c);
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let root = if file_role(&name) == FileRole::Kustomization {
            p.parent().map(Path::to_path_buf)
        } else {
            context_root(p)
        };
        match root {
            Some(r) => roots.push(relative_like(p, &r)),
            None => {
                // A loose manifest: its directory's manifests form its context.
                roots.push(p.clone());
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if let Ok(entries) = std::fs::read_dir(dir) {
                    let mut siblings: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok())
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                        .filter(|e| is_manifest_name(&e.file_name().to_string_lossy()))
                        .map(|e| e.path())
                        .map(|e| e.strip_prefix("./").map(Path::to_path_buf).unwrap_or(e))
                        .collect();
                    siblings.sort();
                    roots.extend(siblings);
                }
            }
        }
    }
    roots.sort();
    roots.dedup();
    Plan {
        roots,
        focus: Some(focus),
    }
}

/// Express `root` (absolute) the way `given` was written, so displayed paths stay relative
/// when the user gave relative ones.
fn relative_like(given: &Path, root: &Path) -> PathBuf {
    if given.is_absolute() {
        return root.to_path_buf();
    }
    let Ok(cwd) = std::env::current_dir().and_then(|d| d.canonicalize()) else {
        return root.to_path_buf();
    };
    match root.strip_prefix(&cwd) {
        Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rel) => rel.to_path_buf(),
        Err(_) => root.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn a_file_resolves_to_the_nearest_kustomization_that_includes_it() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        write(
            &root.join("app/base/kustomization.yaml"),
            "resources: [job.yaml, sub]\n",
        );
        write(&root.join("app/base/job.yaml"), "kind: Job\n");
        write(
            &root.join("app/base/sub/kustomization.yaml"),
            "resources: [deploy.yaml]\n",
        );
        write(&root.join("app/base/sub/deploy.yaml"), "kind: Deployment\n");
        write(&root.join("app/base/stray.yaml"), "kind: ConfigMap\n");
        write(&root.join("app/kustomization.yaml"), "resources: [base]\n");
        let canon = |p: &str| root.join(p).canonicalize().unwrap();
        assert_eq!(
            context_root(&root.join("app/base/job.yaml")),
            Some(canon("app/base"))
        );
        // Listed by the nested kustomization itself.
        assert_eq!(
            context_root(&root.join("app/base/sub/deploy.yaml")),
            Some(canon("app/base/sub"))
        );
        // Not listed by base, nor through app: no kustomization context.
        assert_eq!(context_root(&root.join("app/base/stray.yaml")), None);
        let c = closure(&root.join("app/kustomization.yaml"));
        assert!(c.contains(&canon("app/base/sub/deploy.yaml")));
        assert!(!c.contains(&canon("app/base/stray.yaml")));
    }

    #[test]
    fn plan_keeps_findings_on_given_files_only() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        write(
            &root.join("k/kustomization.yaml"),
            "resources: [job.yaml, deploy.yaml]\n",
        );
        write(&root.join("k/job.yaml"), "kind: Job\n");
        write(&root.join("k/deploy.yaml"), "kind: Deployment\n");
        let plan = plan(&[root.join("k/deploy.yaml")], None);
        assert_eq!(plan.roots, vec![root.join("k").canonicalize().unwrap()]);
        let focus = plan.focus.unwrap();
        assert!(focus.keeps(&root.join("k/deploy.yaml")));
        assert!(!focus.keeps(&root.join("k/job.yaml")));
        let plan = super::plan(&[root.join("k")], None);
        assert!(plan.focus.is_none());
        // stdin standing for an unsaved file in the context resolves like the file itself.
        let plan = super::plan(&[], Some(&root.join("k/new.yaml")));
        assert_eq!(plan.roots, vec![root.join("k")]);
        let f = plan.focus.unwrap();
        assert!(
            f.keeps(&root.join("k/new.yaml")),
            "{f:?} {:?}",
            canonical(&root.join("k/new.yaml"))
        );
        let plan = super::plan(&[root.join("k")], None);
        assert!(plan.focus.is_none());
    }
}
