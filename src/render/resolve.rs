//! From the paths a user (or pre-commit) gives to what must be read.
//!
//! A changed file means little alone: a Deployment's wait is only right or wrong next to its
//! Job. So each file given is resolved to every build that includes it — each kustomization
//! of the project (bounded by the project root) that includes it, directly or through bases,
//! components and patches, and that no other kustomization includes — those whole builds are
//! linted, and only findings touching the given files (at their primary or a related location)
//! are reported. A file no kustomization includes is linted with the manifests of its directory
//! that no kustomization includes either.

use crate::model::discover::is_manifest_name;
use crate::model::{FileRole, file_role};
use crate::yaml;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What to read, and which findings to keep.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Directories and files to lint.
    pub(crate) roots: Vec<PathBuf>,
    /// When files were given: the findings to keep.
    pub(crate) focus: Option<Focus>,
}

#[derive(Debug, Default)]
pub(crate) struct Focus {
    files: BTreeSet<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Focus {
    /// Whether a finding in `path` concerns what was given.
    pub(crate) fn keeps(&self, path: &Path) -> bool {
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

/// Files a kustomization includes, following directories (bases, components) recursively,
/// with the patch files each names.
pub(crate) fn closure(kustomization: &Path) -> BTreeSet<PathBuf> {
    closure_within(kustomization, None)
}

/// [`closure`], never reading or naming anything outside `bound` (canonical) when given: what
/// lies outside the project is not linted (the evaluation says so in a note).
fn closure_within(kustomization: &Path, bound: Option<&Path>) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![kustomization.to_path_buf()];
    let mut seen = BTreeSet::new();
    while let Some(k) = stack.pop() {
        let Ok(k) = k.canonicalize() else { continue };
        if bound.is_some_and(|b| !k.starts_with(b)) || !seen.insert(k.clone()) {
            continue;
        }
        out.insert(k.clone());
        for (entry, is_kustomization) in entries_of(&k, bound) {
            if is_kustomization {
                stack.push(entry);
            } else {
                out.insert(entry);
            }
        }
    }
    out
}

/// What one kustomization (canonical) names: its resources, bases, components, patches and
/// replacement files, as canonical paths (a directory as its kustomization file, flagged
/// `true`), none outside `bound` when given, remote ones left out.
fn entries_of(k: &Path, bound: Option<&Path>) -> Vec<(PathBuf, bool)> {
    let inside = |p: &Path| bound.is_none_or(|b| p.starts_with(b));
    let mut out = Vec::new();
    let Some(dir) = k.parent() else { return out };
    let Ok(text) = std::fs::read_to_string(k) else {
        return out;
    };
    let parsed = yaml::parse(&text, yaml::Limits::default());
    let Some(doc) = parsed.docs.first() else {
        return out;
    };
    let patches = crate::render::kustomize::patch_paths(doc);
    let replacements = crate::render::kustomize::replacement_paths(doc);
    for (entry, _) in crate::render::kustomize::included_paths(doc)
        .into_iter()
        .chain(patches)
        .chain(replacements)
    {
        if entry.contains("://") {
            continue;
        }
        let p = dir.join(entry);
        let found = if p.is_dir() {
            kustomization_in(&p).and_then(|s| Some((s.canonicalize().ok()?, true)))
        } else {
            p.canonicalize().ok().map(|c| (c, false))
        };
        if let Some((c, is_k)) = found.filter(|(c, _)| inside(c)) {
            out.push((c, is_k));
        }
    }
    out
}

/// A path made absolute and canonical, for a file that may not exist (an unsaved editor
/// buffer named by `--stdin-filename`): its directory is canonicalised.
pub(crate) fn canonical(file: &Path) -> Option<PathBuf> {
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
pub(crate) fn context_root(file: &Path) -> Option<PathBuf> {
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

/// Every kustomization under a project root, and who names what: scanned once, it resolves
/// any number of files (the language server keeps one per project root).
pub(crate) struct Project {
    bound: PathBuf,
    /// For each file or kustomization file (canonical), the kustomizations that name it.
    includers: std::collections::HashMap<PathBuf, Vec<PathBuf>>,
    kustomizations: BTreeSet<PathBuf>,
}

impl Project {
    /// Scan `root` for kustomizations as discovery walks it (hidden and ignored files
    /// skipped), reading each once.
    pub(crate) fn scan(root: &Path) -> Project {
        let bound = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let kustomizations: BTreeSet<PathBuf> = ignore::WalkBuilder::new(root)
            .require_git(false)
            .git_global(false)
            .build()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .filter(|e| file_role(&e.file_name().to_string_lossy()) == FileRole::Kustomization)
            .filter_map(|e| e.path().canonicalize().ok())
            .filter(|k| k.starts_with(&bound))
            .collect();
        // Read and parsed in parallel: a monorepo holds thousands.
        use rayon::prelude::*;
        let named: Vec<(&PathBuf, Vec<(PathBuf, bool)>)> = kustomizations
            .par_iter()
            .map(|k| (k, entries_of(k, Some(&bound))))
            .collect();
        let mut includers: std::collections::HashMap<PathBuf, Vec<PathBuf>> = Default::default();
        for (k, entries) in named {
            for (entry, _) in entries {
                if entry != *k {
                    includers.entry(entry).or_default().push(k.clone());
                }
            }
        }
        Project {
            bound,
            includers,
            kustomizations,
        }
    }

    /// The closures of the builds that include `file` (kustomizations no other includes);
    /// failing those, of the kustomizations that include it (a component nothing includes).
    fn builds_of(&self, file: &Path) -> Vec<BTreeSet<PathBuf>> {
        let mut including = BTreeSet::new();
        let mut stack: Vec<&Path> = vec![file];
        if self.kustomizations.contains(file) {
            including.insert(file.to_path_buf());
        }
        while let Some(f) = stack.pop() {
            for k in self.includers.get(f).into_iter().flatten() {
                if including.insert(k.clone()) {
                    stack.push(k);
                }
            }
        }
        let builds: Vec<&PathBuf> = including
            .iter()
            .filter(|k| !self.includers.contains_key(*k))
            .collect();
        let chosen: Vec<&PathBuf> = if builds.is_empty() {
            including.iter().collect()
        } else {
            builds
        };
        chosen
            .into_iter()
            .map(|k| closure_within(k, Some(&self.bound)))
            .collect()
    }

    /// The directory the scan is bounded by (canonical).
    pub(crate) fn root(&self) -> &Path {
        &self.bound
    }

    /// Whether some kustomization includes `file`.
    fn covers(&self, file: &Path) -> bool {
        self.includers.contains_key(file) || self.kustomizations.contains(file)
    }
}

/// Turn the given paths into what to lint. `stdin_name` is the file stdin stands for: it is
/// resolved to its builds like a given file. `project` bounds the search for the builds that
/// include a given file (the project root); without it, a file is resolved to the nearest
/// enclosing kustomization that includes it.
pub(crate) fn plan(paths: &[PathBuf], stdin_name: Option<&Path>, project: Option<&Path>) -> Plan {
    let given_file = stdin_name.is_some() || paths.iter().any(|p| p.is_file());
    if !given_file {
        return plan_dirs(paths, project);
    }
    plan_in(paths, stdin_name, project.map(Project::scan).as_ref())
}

/// [`plan`] with the project already scanned (or none: nearest enclosing kustomizations).
pub(crate) fn plan_in(
    paths: &[PathBuf],
    stdin_name: Option<&Path>,
    scanned: Option<&Project>,
) -> Plan {
    let is_file = |p: &PathBuf| p.is_file() || Some(p.as_path()) == stdin_name;
    let mut paths = paths.to_vec();
    if let Some(n) = stdin_name {
        paths.push(n.to_path_buf());
    }
    if !paths.iter().any(is_file) {
        return plan_dirs(&paths, scanned.map(Project::root));
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut focus = Focus::default();
    for p in &paths {
        let missing = Some(p.as_path()) == stdin_name && !p.exists();
        if !missing && !is_file(p) {
            if let Ok(c) = p.canonicalize() {
                focus.dirs.push(c);
            }
            roots.push(p.clone());
            continue;
        }
        let Some(c) = canonical(p) else { continue };
        focus.files.insert(c.clone());
        if let Some(project) = scanned {
            let builds = project.builds_of(&c);
            if !builds.is_empty() {
                // Every file each build reads, named explicitly (a base may lie outside the
                // build's directory).
                for closure in builds {
                    roots.extend(closure);
                }
                continue;
            }
            // A loose manifest: the manifests of its directory that no kustomization includes.
            if !missing {
                roots.push(p.clone());
            }
            // Beside a kustomization that does not list it, that build is read too: the file
            // is never applied, and the run must judge it as the whole-tree run does.
            if let Some(k) = c
                .parent()
                .and_then(kustomization_in)
                .filter(|k| project.kustomizations.contains(k))
            {
                roots.extend(closure_within(&k, Some(&project.bound)));
            }
            for s in siblings(p) {
                if canonical(&s).is_some_and(|sc| !project.covers(&sc)) {
                    roots.push(s);
                }
            }
            continue;
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let root = if missing {
            context_root(p)
        } else if file_role(&name) == FileRole::Kustomization {
            p.parent().map(Path::to_path_buf)
        } else {
            context_root(p)
        };
        match root {
            Some(r) => roots.push(relative_like(p, &r)),
            None if missing => {
                if let Some(dir) = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty() && d.is_dir())
                {
                    roots.push(dir.to_path_buf());
                }
            }
            None => {
                // A loose manifest: its directory's manifests form its context.
                roots.push(p.clone());
                roots.extend(siblings(p));
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

/// Directories only: linted whole, with what their kustomizations read from outside them.
fn plan_dirs(paths: &[PathBuf], project: Option<&Path>) -> Plan {
    let mut roots = paths.to_vec();
    roots.extend(outside_bases(paths, project));
    roots.sort();
    roots.dedup();
    Plan { roots, focus: None }
}

/// What the kustomizations under the given directories read from outside them (an overlay's
/// `../../base`), within the project: `kubectl kustomize overlays/prod` reads the base, so
/// linting `overlays/prod` does too.
fn outside_bases(dirs: &[PathBuf], project: Option<&Path>) -> Vec<PathBuf> {
    let bound = project.and_then(|p| p.canonicalize().ok());
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(canon) = dir.canonicalize() else {
            continue;
        };
        // Nothing within the project lies outside a directory that holds the project root (the
        // usual `.` run): skip the walk and the kustomization reads.
        if bound.as_deref().is_some_and(|b| b.starts_with(&canon)) {
            continue;
        }
        // Nor does anything under a directory outside the project lie within it (its
        // kustomizations are not followed there).
        if bound.as_deref().is_some_and(|b| !canon.starts_with(b)) {
            continue;
        }
        for e in ignore::WalkBuilder::new(dir).build().flatten() {
            let is_k = e.file_type().is_some_and(|t| t.is_file())
                && matches!(
                    e.file_name().to_str(),
                    Some("kustomization.yaml" | "kustomization.yml" | "Kustomization")
                );
            if !is_k {
                continue;
            }
            out.extend(
                closure_within(e.path(), bound.as_deref())
                    .into_iter()
                    .filter(|f| !f.starts_with(&canon)),
            );
        }
    }
    out
}

/// The manifests beside a file, in its directory.
fn siblings(p: &Path) -> Vec<PathBuf> {
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut siblings: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| is_manifest_name(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .map(|e| e.strip_prefix("./").map(Path::to_path_buf).unwrap_or(e))
        .collect();
    siblings.sort();
    siblings
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
    use crate::rules::testing::temp_tree;

    #[test]
    fn a_file_resolves_to_the_nearest_kustomization_that_includes_it() {
        let d = temp_tree(&[
            (
                "app/base/kustomization.yaml",
                "resources: [job.yaml, sub]\n",
            ),
            ("app/base/job.yaml", "kind: Job\n"),
            (
                "app/base/sub/kustomization.yaml",
                "resources: [deploy.yaml]\n",
            ),
            ("app/base/sub/deploy.yaml", "kind: Deployment\n"),
            ("app/base/stray.yaml", "kind: ConfigMap\n"),
            ("app/kustomization.yaml", "resources: [base]\n"),
        ]);
        let root = d.path();
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
        let d = temp_tree(&[
            (
                "k/kustomization.yaml",
                "resources: [job.yaml, deploy.yaml]\n",
            ),
            ("k/job.yaml", "kind: Job\n"),
            ("k/deploy.yaml", "kind: Deployment\n"),
        ]);
        let root = d.path();
        let plan = plan(&[root.join("k/deploy.yaml")], None, None);
        assert_eq!(plan.roots, vec![root.join("k").canonicalize().unwrap()]);
        let focus = plan.focus.unwrap();
        assert!(focus.keeps(&root.join("k/deploy.yaml")));
        assert!(!focus.keeps(&root.join("k/job.yaml")));
        let plan = super::plan(&[root.join("k")], None, None);
        assert!(plan.focus.is_none());
        // stdin standing for an unsaved file in the context resolves like the file itself.
        let plan = super::plan(&[], Some(&root.join("k/new.yaml")), None);
        assert_eq!(plan.roots, vec![root.join("k")]);
        let f = plan.focus.unwrap();
        assert!(
            f.keeps(&root.join("k/new.yaml")),
            "{f:?} {:?}",
            canonical(&root.join("k/new.yaml"))
        );
        let plan = super::plan(&[root.join("k")], None, None);
        assert!(plan.focus.is_none());
    }
}
