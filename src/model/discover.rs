//! Finding the files to lint: paths given, directories walked in parallel with the `ignore`
//! crate (`.gitignore` and hidden-file rules honoured), excludes applied, and symlinks followed
//! only to files inside the given roots (so there are no loops and nothing outside is read).

use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
/// A file found to lint.
pub struct Candidate {
    /// Displayed path: as given, joined with what was found under it, `/` separated.
    pub display: String,
    /// The path to read it from.
    pub path: PathBuf,
}

#[derive(Debug, Default)]
/// What discovery found under the given paths.
pub struct Discovered {
    /// The files to lint, sorted by displayed name.
    pub files: Vec<Candidate>,
    /// Paths that could not be read (exit code 2).
    pub(crate) errors: Vec<String>,
    /// Things skipped on purpose, for the summary.
    pub(crate) notes: Vec<String>,
}

/// Exclude patterns: a pattern without `/` matches a file or directory name anywhere; one with
/// `/` matches the path relative to its base (the config file's directory, or the working
/// directory for `--exclude`).
#[derive(Debug, Default)]
pub struct Excludes {
    sets: Vec<(PathBuf, GlobSet, GlobSet)>,
}

impl Excludes {
    pub(crate) fn add(&mut self, base: &Path, patterns: &[String]) -> Result<(), String> {
        if patterns.is_empty() {
            return Ok(());
        }
        let mut names = GlobSetBuilder::new();
        let mut paths = GlobSetBuilder::new();
        for p in patterns {
            let p = p.trim_start_matches("./");
            let glob = |s: &str| {
                Glob::new(s).map_err(|e| format!("invalid exclude pattern `{p}`: {}", e.kind()))
            };
            if p.contains('/') {
                let p = p.trim_end_matches('/');
                paths.add(glob(p)?);
                paths.add(glob(&format!("{p}/**"))?);
            } else {
                names.add(glob(p)?);
            }
        }
        let base = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
        self.sets.push((
            base,
            names.build().map_err(|e| e.to_string())?,
            paths.build().map_err(|e| e.to_string())?,
        ));
        Ok(())
    }

    pub(crate) fn is_excluded(&self, path: &Path) -> bool {
        if self.sets.is_empty() {
            return false;
        }
        let abs = absolute(path);
        for (base, names, paths) in &self.sets {
            if let Some(name) = abs.file_name()
                && names.is_match(Path::new(name))
            {
                return true;
            }
            if let Ok(rel) = abs.strip_prefix(base)
                && paths.is_match(rel)
            {
                return true;
            }
        }
        false
    }
}

fn absolute(path: &Path) -> PathBuf {
    absolute_from(std::env::current_dir().ok().as_deref(), path)
}

/// `path` made absolute against `cwd` (when known), `.` and `..` resolved lexically.
fn absolute_from(cwd: Option<&Path>, path: &Path) -> PathBuf {
    match cwd {
        _ if path.is_absolute() => normalize(path),
        Some(d) => normalize(&d.join(path)),
        None => path.to_path_buf(),
    }
}

/// Lexically remove `.` and `..` components.
pub(crate) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::with_capacity(p.as_os_str().len());
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

pub(crate) fn is_manifest_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml") || name == "Kustomization"
}

/// How paths are shown in reports: relative to the project root, so the same file has the same
/// name (and so the same fingerprint) whether the run was started at the root, in a
/// subdirectory or with an absolute path. Without a root, paths are shown as given.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathNames {
    /// The root, made absolute lexically and canonically (the two differ under a symlink).
    root: Option<(PathBuf, PathBuf)>,
    /// The working directory relative paths are read from, asked once, not once per file.
    cwd: Option<PathBuf>,
    /// The root is only where the run started, not a project's (no configuration file, no
    /// git work tree): it names paths, but the repository is not searched from it.
    not_a_project: bool,
    /// The real path of each directory a file outside the root was named in, asked once per
    /// directory (a tree outside the project has thousands of files per few directories).
    real_dirs: std::sync::Arc<Mutex<std::collections::HashMap<PathBuf, Option<PathBuf>>>>,
}

impl PathNames {
    pub(crate) fn relative_to(root: &Path) -> PathNames {
        let cwd = std::env::current_dir().ok();
        let lexical = absolute_from(cwd.as_deref(), root);
        let canonical = root.canonicalize().unwrap_or_else(|_| lexical.clone());
        PathNames {
            root: Some((lexical, canonical)),
            cwd,
            not_a_project: false,
            real_dirs: Default::default(),
        }
    }

    /// The same names, from a root that is only where the run started.
    pub(crate) fn not_a_project(self) -> PathNames {
        PathNames {
            not_a_project: true,
            ..self
        }
    }

    /// The root (its real path), when there is one.
    pub(crate) fn root(&self) -> Option<&Path> {
        self.root.as_ref().map(|(_, canonical)| canonical.as_path())
    }

    /// The root when it is a project's (a configuration file's directory or a git work
    /// tree), which the repository's deploy-engine evidence is searched from.
    pub(crate) fn project_root(&self) -> Option<&Path> {
        self.root().filter(|_| !self.not_a_project)
    }

    /// The path as reports show it: `/` separated, relative to the root when under it
    /// (`.` and `..` spellings resolved), absolute otherwise.
    pub(crate) fn show(&self, p: &Path) -> String {
        let Some((lexical, canonical)) = &self.root else {
            return display_path(p);
        };
        let abs = absolute_from(self.cwd.as_deref(), p);
        if let Ok(rel) = abs.strip_prefix(lexical) {
            return display_path(rel);
        }
        // Spelled through a symlink to the root (or the root through one): compare the
        // directory's real path, keeping the file's own name (a symlinked file keeps its name).
        let real = match (abs.parent(), abs.file_name()) {
            (Some(dir), Some(name)) => self.real_dir(dir).map(|d| d.join(name)),
            _ => abs.canonicalize().ok(),
        };
        if let Some(rel) = real.as_deref().and_then(|r| r.strip_prefix(canonical).ok()) {
            return display_path(rel);
        }
        display_path(&abs)
    }
}

impl PathNames {
    fn real_dir(&self, dir: &Path) -> Option<PathBuf> {
        let known = self.real_dirs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(real) = known.get(dir) {
            return real.clone();
        }
        drop(known);
        let real = dir.canonicalize().ok();
        self.real_dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(dir.to_path_buf(), real.clone());
        real
    }
}

pub(crate) fn display_path(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    let s = s.strip_prefix("./").unwrap_or(&s).to_string();
    if s.is_empty() { ".".into() } else { s }
}

/// Walk `roots` and return the manifest files under them, sorted by displayed path.
pub fn discover(roots: &[PathBuf], excludes: &Excludes) -> Discovered {
    discover_named(roots, excludes, &PathNames::default())
}

/// [`discover`], with paths shown as `names` shows them.
pub(crate) fn discover_named(
    roots: &[PathBuf],
    excludes: &Excludes,
    names: &PathNames,
) -> Discovered {
    let display_path = |p: &Path| names.show(p);
    let mut out = Discovered::default();
    let canonical_roots: Vec<PathBuf> =
        roots.iter().filter_map(|r| r.canonicalize().ok()).collect();
    let found = Mutex::new(Vec::<Candidate>::new());
    let errors = Mutex::new(Vec::<String>::new());
    let notes = Mutex::new(Vec::<String>::new());
    let mut walk_roots = Vec::new();
    for root in roots {
        match std::fs::metadata(root) {
            Err(e) => out
                .errors
                .push(format!("{}: {}", display_path(root), io_message(&e))),
            Ok(m) if m.is_dir() => walk_roots.push(root.clone()),
            Ok(_) => {
                // A file named explicitly is linted whatever its name, unless excluded.
                if !excludes.is_excluded(root) {
                    out.files.push(Candidate {
                        display: display_path(root),
                        path: root.clone(),
                    });
                }
            }
        }
    }
    if let Some((first, rest)) = walk_roots.split_first() {
        let mut builder = ignore::WalkBuilder::new(first);
        for r in rest {
            builder.add(r);
        }
        builder
            .follow_links(false)
            .require_git(false)
            .git_global(false)
            .hidden(true)
            .parents(true);
        let ex = excludes;
        builder.build_parallel().run(|| {
            let found = &found;
            let errors = &errors;
            let notes = &notes;
            let roots = &canonical_roots;
            Box::new(move |entry| {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        let msg = e.to_string();
                        if msg.contains("File system loop") {
                            notes.lock().unwrap().push(msg);
                        } else {
                            errors.lock().unwrap().push(msg);
                        }
                        return ignore::WalkState::Continue;
                    }
                };
                let path = entry.path();
                if entry.depth() > 0 && ex.is_excluded(path) {
                    return ignore::WalkState::Skip;
                }
                let Some(ft) = entry.file_type() else {
                    return ignore::WalkState::Continue;
                };
                let name = entry.file_name().to_string_lossy();
                if ft.is_dir() || !is_manifest_name(&name) {
                    return ignore::WalkState::Continue;
                }
                if ft.is_symlink() {
                    match path.canonicalize() {
                        Ok(target)
                            if target.is_file() && roots.iter().any(|r| target.starts_with(r)) => {}
                        Ok(target) if target.is_dir() => return ignore::WalkState::Continue,
                        Ok(_) => {
                            notes.lock().unwrap().push(format!(
                                "{}: symlink to a file outside the linted paths, skipped",
                                display_path(path)
                            ));
                            return ignore::WalkState::Continue;
                        }
                        Err(e) => {
                            notes.lock().unwrap().push(format!(
                                "{}: broken symlink skipped ({})",
                                display_path(path),
                                io_message(&e)
                            ));
                            return ignore::WalkState::Continue;
                        }
                    }
                } else if !ft.is_file() {
                    notes.lock().unwrap().push(format!(
                        "{}: not a regular file, skipped",
                        display_path(path)
                    ));
                    return ignore::WalkState::Continue;
                }
                found.lock().unwrap().push(Candidate {
                    display: display_path(path),
                    path: path.to_path_buf(),
                });
                ignore::WalkState::Continue
            })
        });
    }
    out.files.extend(found.into_inner().unwrap());
    out.files.sort();
    out.files.dedup_by(|a, b| a.display == b.display);
    out.errors.extend(errors.into_inner().unwrap());
    out.errors.sort();
    out.notes.extend(notes.into_inner().unwrap());
    out.notes.sort();
    out
}

pub(crate) fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Whether a file is a Helm template rather than YAML: it holds `{{ }}` actions and either sits
/// in a chart's `templates/` directory or uses Helm's objects and functions.
pub(crate) fn is_helm_template(path: Option<&Path>, text: &str) -> bool {
    if !text.contains("{{") {
        return false;
    }
    if let Some(p) = path
        && p.components().any(|c| c.as_os_str() == "templates")
    {
        let mut dir = p.parent();
        while let Some(d) = dir {
            if d.join("Chart.yaml").is_file() {
                return true;
            }
            dir = d.parent();
        }
    }
    const MARKERS: &[&str] = &[
        ".Values",
        ".Release",
        ".Chart.",
        "{{-",
        "-}}",
        "include \"",
        "{{ include",
        "{{ template",
        "toYaml",
        "nindent",
    ];
    MARKERS.iter().any(|m| text.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_detection() {
        assert!(is_helm_template(None, "name: {{ .Values.name }}\n"));
        assert!(is_helm_template(
            None,
            "{{- if .Values.x }}\na: b\n{{- end }}\n"
        ));
        assert!(!is_helm_template(None, "a: b\n"));
        // Alertmanager-style templates inside a ConfigMap are YAML, not Helm.
        assert!(!is_helm_template(
            None,
            "data:\n  msg: \"{{ $labels.instance }} is down\"\n"
        ));
    }

    #[test]
    fn manifest_names() {
        for yes in ["job.yaml", "JOB.YML", "Kustomization"] {
            assert!(is_manifest_name(yes), "{yes}");
        }
        assert!(!is_manifest_name("README.md"));
    }

    #[test]
    fn walks_respecting_gitignore_hidden_and_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::create_dir_all(d.join(".hidden")).unwrap();
        std::fs::create_dir_all(d.join("vendor")).unwrap();
        for f in [
            "a/x.yaml",
            "a/b/y.yml",
            ".hidden/h.yaml",
            "vendor/v.yaml",
            "a/ignored.yaml",
            "a/readme.md",
        ] {
            std::fs::write(d.join(f), "a: b\n").unwrap();
        }
        std::fs::write(d.join(".gitignore"), "ignored.yaml\n").unwrap();
        let mut ex = Excludes::default();
        ex.add(d, &["vendor".to_string()]).unwrap();
        let got = discover(&[d.to_path_buf()], &ex);
        let names: Vec<_> = got
            .files
            .iter()
            .map(|c| {
                c.path
                    .strip_prefix(d)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, vec!["a/b/y.yml", "a/x.yaml"]);
        assert!(got.errors.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_stay_inside_and_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("k")).unwrap();
        std::fs::write(d.join("k/job.yaml"), "a: b\n").unwrap();
        std::fs::write(outside.path().join("secret.yaml"), "a: b\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.yaml"), d.join("k/out.yaml"))
            .unwrap();
        std::os::unix::fs::symlink(d.join("k/job.yaml"), d.join("k/in.yaml")).unwrap();
        std::os::unix::fs::symlink(d, d.join("k/loop")).unwrap();
        let got = discover(&[d.to_path_buf()], &Excludes::default());
        let names: Vec<_> = got
            .files
            .iter()
            .map(|c| c.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["in.yaml", "job.yaml"]);
        assert!(
            got.notes.iter().any(|n| n.contains("outside")),
            "{:?}",
            got.notes
        );
    }

    #[test]
    fn paths_are_named_from_the_root_however_spelled() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("repo/k8s")).unwrap();
        let names = PathNames::relative_to(&d.join("repo"));
        for spelling in [
            d.join("repo/k8s/job.yaml"),
            d.join("repo/./k8s/../k8s/job.yaml"),
            d.join("repo/k8s/./job.yaml"),
        ] {
            assert_eq!(names.show(&spelling), "k8s/job.yaml", "{spelling:?}");
        }
        assert_eq!(names.show(&d.join("repo")), ".");
        // Outside the root: absolute, never a path that climbs out of it.
        let outside = names.show(&d.join("elsewhere/job.yaml"));
        assert!(outside.starts_with('/') && outside.ends_with("elsewhere/job.yaml"));
        #[cfg(unix)]
        {
            // The root reached through a symlink.
            std::os::unix::fs::symlink(d.join("repo"), d.join("link")).unwrap();
            assert_eq!(names.show(&d.join("link/k8s/job.yaml")), "k8s/job.yaml");
        }
        // Without a root, a path is shown as given.
        assert_eq!(
            PathNames::default().show(Path::new("./a/b.yaml")),
            "a/b.yaml"
        );
    }

    #[test]
    fn missing_path_is_an_error() {
        let got = discover(&[PathBuf::from("/nonexistent/kml")], &Excludes::default());
        assert_eq!(got.errors.len(), 1);
        assert!(got.errors[0].contains("no such file"));
    }
}
