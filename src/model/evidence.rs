//! How the repository is deployed, from a bounded scan of its root: Flux and Argo CD objects
//! (and which directories they deploy), `flux-system` directories, Flux and Argo CD
//! annotations. The linted files alone cannot say it: a pre-commit run sees one file, and the
//! Flux Kustomization that deploys it usually lives in `clusters/<name>/`. Scanning from the
//! root every time makes the verdict the same whether the repository is linted whole or one
//! file at a time.
//!
//! The scan is cheap on purpose: file names, and the first [`PREFIX`] bytes of each YAML file
//! searched for a few fixed strings; only a file that looks like a Flux `Kustomization` or an
//! Argo CD `Application` is parsed, for its `spec.path`. It honours `.gitignore`, skips hidden
//! directories, and stops after [`MAX_FILES`] files (a verdict without evidence then says so).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Bytes of each file searched for markers.
pub(crate) const PREFIX: usize = 8 * 1024;
/// YAML files looked at before the scan stops.
pub(crate) const MAX_FILES: usize = 50_000;
/// Directory levels below the root.
pub(crate) const MAX_DEPTH: usize = 24;
/// The largest file parsed for a deployer's path.
const MAX_PARSED: u64 = 1024 * 1024;

/// An object that deploys a directory of this repository: a Flux `Kustomization` or an Argo CD
/// `Application`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deployer {
    /// The file that declares it, relative to the root, `/`-separated.
    pub(crate) file: String,
    pub(crate) name: String,
    /// The directory it deploys, relative to the root, normalised (`""` is the root).
    pub(crate) path: String,
    /// Flux only: `postBuild` substitution runs (`substitute`, `substituteFrom`).
    pub(crate) substitutes: bool,
}

impl Deployer {
    /// Whether it deploys `dir` (relative to the root): its path or below. The definition
    /// [`CoverIndex`] answers from an index (and is tested against).
    #[cfg(test)]
    pub(crate) fn covers(&self, dir: &str) -> bool {
        self.path.is_empty()
            || dir == self.path
            || dir
                .strip_prefix(self.path.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// Deployers by the directory they deploy. Which cover a directory is looked up by the
/// directory's ancestors, not by trying each deployer: a fleet repository has thousands of
/// Flux Kustomizations and as many builds, and a build-by-deployer scan grows with their
/// product.
#[derive(Debug)]
pub(crate) struct CoverIndex<'r> {
    list: &'r [Deployer],
    by_path: std::borrow::Cow<'r, ByPath>,
}

/// Deployers (indices of a list) by the directory they deploy.
pub(crate) type ByPath = std::collections::HashMap<String, Vec<usize>>;

fn by_path(list: &[Deployer]) -> ByPath {
    let mut by_path = ByPath::default();
    for (i, d) in list.iter().enumerate() {
        by_path.entry(d.path.clone()).or_default().push(i);
    }
    by_path
}

impl<'r> CoverIndex<'r> {
    pub(crate) fn new(list: &'r [Deployer]) -> CoverIndex<'r> {
        CoverIndex {
            list,
            by_path: std::borrow::Cow::Owned(by_path(list)),
        }
    }

    /// The deployers that deploy `dir` (relative to the root): whose path is `dir` or one of
    /// its ancestors, or the root; in the order the scan found them.
    pub(crate) fn covering(&self, dir: &str) -> impl Iterator<Item = &'r Deployer> + use<'r> {
        let ancestors = std::iter::once("")
            .chain(dir.match_indices('/').map(|(i, _)| &dir[..i]))
            .chain(std::iter::once(dir));
        let mut ids: Vec<usize> = ancestors
            .filter_map(|p| self.by_path.get(p))
            .flatten()
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let list = self.list;
        ids.into_iter().map(move |i| &list[i])
    }
}

/// What the scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RepoEvidence {
    /// The directory scanned (absolute, normalised).
    pub(crate) root: PathBuf,
    pub(crate) flux: Vec<Deployer>,
    pub(crate) argo: Vec<Deployer>,
    /// The first file or directory that shows Flux is used (a Flux object, a
    /// `kustomize.toolkit.fluxcd.io/` annotation, a `flux-system` directory).
    pub(crate) flux_mark: Option<String>,
    /// The first file that shows Argo CD is used (an `argoproj.io` object or annotation).
    pub(crate) argo_mark: Option<String>,
    pub(crate) files_scanned: usize,
    /// The scan stopped at [`MAX_FILES`].
    pub(crate) truncated: bool,
    /// `flux` and `argo` indexed by directory, built on first use and shared by every build
    /// and part of a run (the lists are complete when the scan returns).
    pub(crate) indexes: std::sync::OnceLock<(ByPath, ByPath)>,
}

impl RepoEvidence {
    /// The Flux and Argo CD deployers, each indexed by the directory it deploys.
    pub(crate) fn covers(&self) -> (CoverIndex<'_>, CoverIndex<'_>) {
        let (flux, argo) = self
            .indexes
            .get_or_init(|| (by_path(&self.flux), by_path(&self.argo)));
        let cover = |list, by_path| CoverIndex {
            list,
            by_path: std::borrow::Cow::Borrowed(by_path),
        };
        (cover(&self.flux, flux), cover(&self.argo, argo))
    }

    /// Forget the signs of Flux and Argo CD that lie outside `dir` (absolute): the root was
    /// only where the run started, and a tree beside the linted one says nothing of how it
    /// is deployed. The deployers stay: each says which directory it deploys.
    pub(crate) fn marks_only_under(&mut self, dir: &Path) {
        let Some(within) = self.relative(&crate::model::discover::normalize(dir)) else {
            return;
        };
        let inside = |m: &String| {
            within.is_empty()
                || m.strip_prefix(within.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if !self.flux_mark.as_ref().is_some_and(inside) {
            self.flux_mark = None;
        }
        if !self.argo_mark.as_ref().is_some_and(inside) {
            self.argo_mark = None;
        }
    }

    /// The path of `dir` relative to the root, `/`-separated (None: outside it).
    pub(crate) fn relative(&self, dir: &Path) -> Option<String> {
        let rel = dir.strip_prefix(&self.root).ok()?;
        Some(
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}

/// The root to scan for files at `paths`: the nearest directory above the deepest one holding
/// them all that is a git work tree (has `.git`), else that deepest directory. None without
/// paths (stdin, in-memory inputs).
pub(crate) fn repo_root<'p>(paths: impl Iterator<Item = &'p Path>) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok();
    let mut common: Option<PathBuf> = None;
    for p in paths {
        let abs = match (&cwd, p.is_absolute()) {
            (Some(c), false) => c.join(p),
            _ => p.to_path_buf(),
        };
        let dir = crate::model::discover::normalize(&abs)
            .parent()
            .map(Path::to_path_buf)?;
        common = Some(match common {
            None => dir,
            Some(mut c) => {
                while !dir.starts_with(&c) {
                    if !c.pop() {
                        break;
                    }
                }
                c
            }
        });
    }
    let common = common?;
    let mut d = Some(common.as_path());
    while let Some(dir) = d {
        if dir.join(".git").exists() {
            return Some(dir.to_path_buf());
        }
        d = dir.parent();
    }
    Some(common)
}

/// Scan `root` (a directory) for deploy-engine evidence.
pub(crate) fn scan(root: &Path) -> RepoEvidence {
    scan_with(root, &std::collections::HashMap::new())
}

/// [`scan`], taking the text of the files in `known` (absolute, normalised paths) from memory
/// rather than reading them again: a whole-repository lint has just read them all.
pub(crate) fn scan_with(
    root: &Path,
    known: &std::collections::HashMap<PathBuf, &str>,
) -> RepoEvidence {
    scan_by(root, &|path| known.get(path).map(|text| looked_at(text)))
}

/// What one file shows the scan, found while its text was at hand ([`Looked::at`]).
#[derive(Clone)]
pub(crate) struct Looked(Option<Seen>);

impl Looked {
    /// What `text` shows.
    pub(crate) fn at(text: &str) -> Looked {
        Looked(looked_at(text))
    }
}

/// [`scan`], with what some files (absolute, normalised paths) show already known: a run
/// that has read every file once does not read them again for the scan.
pub(crate) fn scan_looked(
    root: &Path,
    looked: &std::collections::HashMap<PathBuf, Looked>,
) -> RepoEvidence {
    scan_by(root, &|path| looked.get(path).map(|l| l.0.clone()))
}

fn looked_at(text: &str) -> Option<Seen> {
    look(head_of(text), || {
        (text.len() as u64 <= MAX_PARSED).then_some(Cow::Borrowed(text))
    })
}

/// [`scan`], asking `known` first what a file shows (None: unknown, read it).
fn scan_by(root: &Path, known: &(dyn Fn(&Path) -> Option<Option<Seen>> + Sync)) -> RepoEvidence {
    let absolute = match std::env::current_dir() {
        Ok(cwd) if root.is_relative() => cwd.join(root),
        _ => root.to_path_buf(),
    };
    let mut ev = RepoEvidence {
        root: crate::model::discover::normalize(&absolute),
        ..RepoEvidence::default()
    };
    // Walked in parallel (the cost is one open and read per file); results are put in path
    // order afterwards, so the verdict does not depend on the threads.
    let walk = ignore::WalkBuilder::new(&ev.root)
        .hidden(true)
        .git_ignore(true)
        .git_exclude(false)
        .git_global(false)
        .require_git(false)
        .max_depth(Some(MAX_DEPTH))
        .follow_links(false)
        .build_parallel();
    let scanned = std::sync::atomic::AtomicUsize::new(0);
    let truncated = std::sync::atomic::AtomicBool::new(false);
    let found: std::sync::Mutex<Vec<(PathBuf, Seen)>> = Default::default();
    walk.run(|| {
        let mut buf = vec![0u8; PREFIX];
        let (scanned, truncated, found) = (&scanned, &truncated, &found);
        Box::new(move |entry| {
            use ignore::WalkState;
            use std::sync::atomic::Ordering;
            let Ok(entry) = entry else {
                return WalkState::Continue;
            };
            let Some(ft) = entry.file_type() else {
                return WalkState::Continue;
            };
            let seen = if ft.is_dir() {
                if entry.file_name() != "flux-system" {
                    return WalkState::Continue;
                }
                Seen::FluxSystem
            } else if ft.is_file() && is_yaml(entry.path()) {
                if scanned.fetch_add(1, Ordering::Relaxed) >= MAX_FILES {
                    truncated.store(true, Ordering::Relaxed);
                    return WalkState::Quit;
                }
                let seen = match known(entry.path()) {
                    Some(seen) => seen,
                    None => read_prefix(entry.path(), &mut buf)
                        .and_then(|head| look(head, || read_parsed(entry.path()).map(Cow::Owned))),
                };
                match seen {
                    Some(seen) => seen,
                    None => return WalkState::Continue,
                }
            } else {
                return WalkState::Continue;
            };
            if let Ok(mut f) = found.lock() {
                f.push((entry.into_path(), seen));
            }
            WalkState::Continue
        })
    });
    ev.files_scanned = scanned.into_inner().min(MAX_FILES);
    ev.truncated = truncated.into_inner();
    let mut found = found.into_inner().unwrap_or_default();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, seen) in found {
        let rel = ev.relative(&path).unwrap_or_default();
        match seen {
            Seen::FluxSystem => {
                ev.flux_mark.get_or_insert(format!("{rel}/"));
            }
            Seen::Marks {
                flux,
                argo,
                deployers,
            } => {
                if flux {
                    ev.flux_mark.get_or_insert(rel.clone());
                }
                if argo {
                    ev.argo_mark.get_or_insert(rel.clone());
                }
                for (is_flux, mut d) in deployers {
                    d.file = rel.clone();
                    if is_flux {
                        ev.flux.push(d);
                    } else {
                        ev.argo.push(d);
                    }
                }
            }
        }
    }
    ev.flux
        .sort_by(|a, b| (&a.path, &a.file).cmp(&(&b.path, &b.file)));
    ev.argo
        .sort_by(|a, b| (&a.path, &a.file).cmp(&(&b.path, &b.file)));
    ev
}

/// Whether the scan reads a file: a `.yaml` or `.yml` one.
pub(crate) fn is_yaml(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

fn read_prefix<'b>(path: &Path, buf: &'b mut [u8]) -> Option<&'b str> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    // A prefix may end inside a multi-byte character: keep the valid part.
    Some(match std::str::from_utf8(&buf[..n]) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or(""),
    })
}

/// What one file or directory shows.
#[derive(Clone)]
enum Seen {
    /// A directory named `flux-system`.
    FluxSystem,
    /// A file with Flux or Argo CD markers, and the deployers it declares (`true`: Flux).
    Marks {
        flux: bool,
        argo: bool,
        deployers: Vec<(bool, Deployer)>,
    },
}

/// The first [`PREFIX`] bytes of `text`, cut at a character boundary.
fn head_of(text: &str) -> &str {
    let mut end = text.len().min(PREFIX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A deployer's whole file, when it is not over [`MAX_PARSED`].
fn read_parsed(path: &Path) -> Option<String> {
    std::fs::metadata(path)
        .is_ok_and(|m| m.len() <= MAX_PARSED)
        .then(|| std::fs::read_to_string(path).ok())
        .flatten()
}

/// What one file's prefix shows (None: nothing); `whole` gives the file's text when it may
/// declare a deployer.
fn look<'t>(head: &str, whole: impl FnOnce() -> Option<Cow<'t, str>>) -> Option<Seen> {
    let flux = head.contains("toolkit.fluxcd.io");
    let argo = head.contains("argoproj.io");
    if !flux && !argo {
        return None;
    }
    let mut deployers = Vec::new();
    let flux_kustomization = flux && head.contains("kustomize.toolkit.fluxcd.io/v");
    let application = argo && head.contains("Application");
    if (flux_kustomization || application)
        && let Some(text) = whole()
    {
        deployers = deployers_in(&text);
    }
    Some(Seen::Marks {
        flux,
        argo,
        deployers,
    })
}

/// The Flux Kustomizations (`true`) and Argo CD Applications a file declares, with the
/// directories they deploy (their `file` is filled in by the caller).
fn deployers_in(text: &str) -> Vec<(bool, Deployer)> {
    let mut out = Vec::new();
    let parsed = crate::yaml::parse(text, crate::yaml::Limits::default());
    for doc in &parsed.docs {
        let root = doc.root;
        let api = doc.get_str(root, "apiVersion").unwrap_or("");
        let kind = doc.get_str(root, "kind").unwrap_or("");
        let name = doc
            .get(root, "metadata")
            .and_then(|m| doc.get_str(m, "name"))
            .unwrap_or("")
            .to_string();
        let Some(spec) = doc.get(root, "spec") else {
            continue;
        };
        if kind == "Kustomization" && api.starts_with("kustomize.toolkit.fluxcd.io/") {
            let Some(path) = doc.get_str(spec, "path").and_then(clean) else {
                continue;
            };
            let substitutes = doc.get(spec, "postBuild").is_some_and(|pb| {
                doc.get(pb, "substitute").is_some() || doc.get(pb, "substituteFrom").is_some()
            });
            out.push((
                true,
                Deployer {
                    file: String::new(),
                    name,
                    path,
                    substitutes,
                },
            ));
        } else if kind == "Application" && api.starts_with("argoproj.io/") {
            let mut sources: Vec<_> = doc.get(spec, "source").into_iter().collect();
            if let Some(list) = doc.get(spec, "sources") {
                sources.extend(doc.items(list).iter().copied());
            }
            for s in sources {
                if let Some(path) = doc.get_str(s, "path").and_then(clean) {
                    out.push((
                        false,
                        Deployer {
                            file: String::new(),
                            name: name.clone(),
                            path,
                            substitutes: false,
                        },
                    ));
                }
            }
        }
    }
    out
}

/// A deployer's path relative to the repository root: `./apps/x/` → `apps/x`, `./` → `""`;
/// None for one that climbs out (`../x`) or is templated.
fn clean(p: &str) -> Option<String> {
    let p = p.trim();
    if p.contains("..") || p.contains("${") || p.contains("{{") {
        return None;
    }
    let parts: Vec<&str> = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::temp_tree;

    /// Files the run has read are taken from memory: what is in `known` is what the scan
    /// sees, not the file on disk; the other files are read.
    #[test]
    fn known_texts_stand_for_the_files_on_disk() {
        let d = temp_tree(&[
            ("clusters/apps.yaml", "# emptied since it was read\n"),
            (
                "argo/app.yaml",
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec: {source: {path: deploy/web}}\n",
            ),
        ]);
        let root = crate::model::discover::normalize(&d.path().canonicalize().unwrap());
        let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps}\nspec: {path: ./apps}\n";
        let known = std::collections::HashMap::from([(root.join("clusters/apps.yaml"), flux)]);
        let ev = scan_with(&root, &known);
        assert_eq!(ev.flux.len(), 1);
        assert_eq!(
            (ev.flux[0].name.as_str(), ev.flux[0].path.as_str()),
            ("apps", "apps")
        );
        assert_eq!(ev.flux[0].file, "clusters/apps.yaml");
        assert_eq!(ev.argo.len(), 1);
        assert_eq!(ev.argo[0].path, "deploy/web");
        assert!(scan(&root).flux.is_empty());
    }

    /// The index finds exactly the deployers [`Deployer::covers`] accepts, in scan order.
    #[test]
    fn the_cover_index_agrees_with_covers() {
        let paths = [
            "apps/prod",
            "",
            "apps",
            "apps/production",
            "infra",
            "apps/prod",
        ];
        let list: Vec<Deployer> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| Deployer {
                file: format!("clusters/{i}.yaml"),
                name: format!("d{i}"),
                path: p.to_string(),
                substitutes: false,
            })
            .collect();
        let index = CoverIndex::new(&list);
        for dir in [
            "",
            "apps",
            "apps/prod",
            "apps/prod/db",
            "apps/production",
            "app",
            "infra/x",
            "other",
            "apps/pro",
        ] {
            let want: Vec<&str> = list
                .iter()
                .filter(|d| d.covers(dir))
                .map(|d| d.name.as_str())
                .collect();
            let got: Vec<&str> = index.covering(dir).map(|d| d.name.as_str()).collect();
            assert_eq!(got, want, "{dir}");
        }
    }

    /// What [`scan`] finds in a repository holding `files`.
    fn scan_files(files: &[(&str, &str)]) -> RepoEvidence {
        scan(temp_tree(files).path())
    }

    #[test]
    fn finds_flux_kustomizations_and_what_they_deploy() {
        let ev = scan_files(&[
            (
                "clusters/prod/apps.yaml",
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps}\nspec:\n  path: ./apps/prod/\n  postBuild:\n    substitute: {TAG: v1}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: infra}\nspec: {path: ./infra}\n",
            ),
            ("apps/prod/job.yaml", "apiVersion: batch/v1\nkind: Job\n"),
        ]);
        assert_eq!(ev.flux.len(), 2);
        assert_eq!(ev.flux[0].path, "apps/prod");
        assert!(ev.flux[0].substitutes);
        assert!(!ev.flux[1].substitutes);
        assert!(ev.flux[0].covers("apps/prod"));
        assert!(ev.flux[0].covers("apps/prod/db"));
        assert!(!ev.flux[0].covers("apps/production"));
        assert_eq!(ev.flux_mark.as_deref(), Some("clusters/prod/apps.yaml"));
        assert_eq!(ev.files_scanned, 2);
        assert!(ev.argo.is_empty() && ev.argo_mark.is_none());
    }

    #[test]
    fn finds_argo_applications_and_flux_system_directories() {
        let ev = scan_files(&[
            (
                "argocd/app.yaml",
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web}\nspec:\n  sources:\n    - repoURL: https://example.com/r.git\n      path: deploy/overlays/prod\n",
            ),
            ("flux-system/empty.txt", ""),
        ]);
        assert_eq!(ev.argo.len(), 1);
        assert!(ev.argo[0].covers("deploy/overlays/prod"));
        assert_eq!(ev.flux_mark.as_deref(), Some("flux-system/"));
    }

    #[test]
    fn a_plain_repository_has_no_evidence_and_gitignored_files_are_skipped() {
        let ev = scan_files(&[
            ("k8s/job.yaml", "apiVersion: batch/v1\nkind: Job\n"),
            (".gitignore", "vendor/\n"),
            (
                "vendor/flux.yaml",
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nspec: {path: ./}\n",
            ),
            ("broken.yaml", "\u{1F600}: [\n"),
        ]);
        assert_eq!(ev.flux_mark, None);
        assert!(ev.flux.is_empty());
        assert_eq!(ev.files_scanned, 2);
    }

    #[test]
    fn paths_are_cleaned() {
        assert_eq!(clean("./").as_deref(), Some(""));
        assert_eq!(clean("./apps//x/").as_deref(), Some("apps/x"));
        assert_eq!(clean("../other"), None);
        assert_eq!(clean("./apps/${CLUSTER}"), None);
    }
}
