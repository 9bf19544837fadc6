//! The pipeline: inputs → parse (parallel) → objects and contexts → rules (parallel) →
//! suppressions → configured severities → sorted, de-duplicated diagnostics.

pub(crate) mod baseline;
pub mod fingerprint;
pub mod fix;
mod rendered;
mod stream;

use crate::base::diagnostic::{Diagnostic, FileId, Loc, ObjectRef, Severity};
use crate::base::internal::{InternalError, inject, inject_with, isolate};
use crate::base::source::{SourceFile, Span, decode};
use crate::model::config::{Config, DeployEngine, RuleSetting};
use crate::model::discover::{self, Excludes};
use crate::model::{self, FileData, FileRole, Object};
use crate::render::ContextMode;
use crate::render::workspace::{Workspace, WorkspaceOptions};
use crate::rules::suppress;
use crate::rules::{self, ContextCx, ObjectCx, Rule};
use crate::yaml::{self, YamlErrorKind};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Resolved settings: what the library needs, with no trace of the CLI.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The enabled rules, with the severity configured for each; a rule absent from the map
    /// is off, and one without a configured severity keeps the severities it gives its
    /// findings. A configured severity applies to every finding of the rule, even when it
    /// equals the rule's default.
    pub(crate) rules: BTreeMap<&'static str, Option<Severity>>,
    pub(crate) deploy_engine: DeployEngine,
    /// Bounds on YAML parsing (nodes, depth, aliases).
    pub limits: yaml::Limits,
    pub(crate) max_file_size: u64,
    pub(crate) expansion_budget: u64,
    /// The most objects one kustomization context may render.
    pub(crate) max_context_objects: usize,
    pub(crate) context_mode: ContextMode,
    /// kustomize 5.8+ reads selector names as regular expressions.
    pub(crate) regex_selectors: bool,
    /// Env vars that carry the database connection.
    pub(crate) database_env: Vec<String>,
    /// How reports name files (relative to the project root).
    pub(crate) path_names: discover::PathNames,
    /// Directories the user named: a kustomization there is linted as a build of its own,
    /// even when another linted kustomization includes it.
    pub explicit_builds: Vec<PathBuf>,
    /// The repository root deploy-engine evidence is scanned from (None: the git work tree
    /// above the linted files, else the directory holding them).
    pub(crate) repo_root: Option<PathBuf>,
    /// When the root is only the working directory (no git work tree, no configuration file):
    /// the directory holding the linted paths. A sign that Flux or Argo CD is used counts only
    /// inside it there; a Flux or Argo CD object that deploys a linted build counts anywhere.
    pub(crate) marks_within: Option<PathBuf>,
    /// That root's evidence, already scanned (the language server keeps it between lints);
    /// None: scanned during the lint.
    pub(crate) repo_evidence: Option<std::sync::Arc<crate::model::evidence::RepoEvidence>>,
    /// The run's deploy-engine evidence (its marks already limited to `marks_within`), when it
    /// was decided before the run's parts were linted ([`stream`]): `Some(None)` for none.
    pub(crate) run_evidence: Option<Option<std::sync::Arc<crate::model::evidence::RepoEvidence>>>,
    /// Counts files as they are read, for a progress indicator.
    pub(crate) progress: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
    /// The process ends after this run: the parsed model is never freed (see
    /// `app::RunOptions::exit_after`). Never set for the language server.
    pub(crate) exit_after: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rules: rules::REGISTRY
                .iter()
                .map(|r| (r.meta().name, None))
                .collect(),
            deploy_engine: DeployEngine::Auto,
            limits: yaml::Limits::default(),
            max_file_size: 10 * 1024 * 1024,
            expansion_budget: model::DEFAULT_EXPANSION_BUDGET,
            max_context_objects: crate::render::DEFAULT_MAX_CONTEXT_OBJECTS,
            context_mode: ContextMode::Auto,
            regex_selectors: false,
            database_env: vec!["DATABASE_URL".into()],
            path_names: discover::PathNames::default(),
            explicit_builds: Vec::new(),
            repo_root: None,
            marks_within: None,
            repo_evidence: None,
            run_evidence: None,
            progress: None,
            exit_after: false,
        }
    }
}

impl Settings {
    /// Config first, then `--select` (only these rules) and `--ignore` (not these) on top.
    pub fn resolve(
        config: &Config,
        select: &[String],
        ignore: &[String],
    ) -> Result<Settings, String> {
        let mut s = Settings {
            deploy_engine: config.deploy_engine,
            regex_selectors: config.kustomize_version.is_some_and(|v| v >= (5, 8)),
            ..Settings::default()
        };
        if !config.database_env.is_empty() {
            s.database_env = config.database_env.clone();
        }
        let l = &config.limits;
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        if let Some(n) = l.max_file_size {
            s.max_file_size = n;
        }
        if let Some(n) = l.max_depth {
            s.limits.max_depth = size(n);
        }
        if let Some(n) = l.max_documents {
            s.limits.max_documents = size(n);
        }
        if let Some(n) = l.max_nodes {
            s.limits.max_nodes = size(n);
        }
        if let Some(n) = l.max_alias_expansion {
            s.limits.max_expanded = n;
            // Typed reading expands aliases again, object by object: the same bound applies.
            s.expansion_budget = s.expansion_budget.max(n);
        }
        if let Some(n) = l.max_objects_per_context {
            s.max_context_objects = size(n);
        }
        for (name, setting) in &config.rules {
            let meta = rules::find(name)
                .ok_or_else(|| format!("unknown rule `{name}`"))?
                .meta();
            match setting {
                RuleSetting::Off => {
                    s.rules.remove(meta.name);
                }
                RuleSetting::Severity(sev) => {
                    s.rules.insert(meta.name, Some(*sev));
                }
            }
        }
        let check = |n: &str| -> Result<&'static dyn Rule, String> {
            rules::find(n).ok_or_else(|| {
                let hint = crate::model::config::closest(n, &rules::names())
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                format!("unknown rule `{n}`{hint}; `kube-migrate-lint rules` lists them")
            })
        };
        if !select.is_empty() {
            let mut selected = BTreeMap::new();
            for n in select {
                let meta = check(n)?.meta();
                let sev = config.rules.get(meta.name).and_then(|r| match r {
                    RuleSetting::Severity(s) => Some(*s),
                    RuleSetting::Off => None,
                });
                selected.insert(meta.name, sev);
            }
            s.rules = selected;
        }
        for n in ignore {
            s.rules.remove(check(n)?.meta().name);
        }
        Ok(s)
    }

    pub(crate) fn enabled(&self, rule: &str) -> bool {
        self.rules.contains_key(rule)
    }
}

/// One input: a file read from disk, or stdin.
#[derive(Debug, Clone)]
pub struct Input {
    /// The name reports show for the input.
    pub display: String,
    /// The file on disk, when the input is one (none for standard input).
    pub path: Option<PathBuf>,
    /// The content, or why it could not be read.
    pub bytes: Result<Vec<u8>, ReadError>,
}

/// Why an input could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Could not be read: exit code 2.
    Io(String),
    /// Over the size limit: a finding, and the file is skipped.
    TooLarge(u64),
}

impl Input {
    /// An input given as bytes (stdin, an editor buffer), shown as `display`.
    pub fn from_bytes(display: impl Into<String>, bytes: Vec<u8>) -> Input {
        Input {
            display: display.into(),
            path: None,
            bytes: Ok(bytes),
        }
    }
}

/// The result of a run, independent of the output format: files, objects and sorted findings.
#[derive(Debug, Default)]
pub struct Report {
    /// The directory the files' displayed names are relative to (the project root), when known.
    pub(crate) root: Option<PathBuf>,
    /// Every input file, indexed by `Loc::file`.
    pub files: Vec<SourceFile>,
    /// The objects as written (fingerprints are computed from these, so baselines hold).
    pub objects: Vec<ObjectRef>,
    /// Per object, the namespace its builds render it into, when they agree and set one.
    pub(crate) rendered_namespaces: Vec<Option<String>>,
    /// The findings, sorted by file, position and rule.
    pub diagnostics: Vec<Diagnostic>,
    /// Things skipped on purpose (Helm templates, symlinks leaving the tree).
    pub(crate) notes: Vec<String>,
    /// Paths that could not be read: exit code 2.
    pub(crate) errors: Vec<String>,
    /// Bugs that no file can carry (a context, a workspace rule, an emitter): exit code 2, as
    /// is any `internal-error` finding.
    pub internal: Vec<InternalError>,
    /// Secret values in the sources, masked wherever source text is shown.
    pub redactions: Vec<Loc>,
    /// Internal errors met while finding the secret values, file by file as they are read:
    /// reported as they are, never attributed to builds, suppressed or re-graded.
    pub(crate) redaction_errors: Vec<Diagnostic>,
    /// The engine assumed for each build (context) and why, sorted by build.
    pub(crate) engines: Vec<BuildEngine>,
    pub(crate) elapsed: Duration,
}

/// Which engine a build is taken to be applied by, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BuildEngine {
    /// The build's directory, as displayed.
    pub(crate) build: String,
    /// `flux`, `argocd`, `helm` or `kubectl` (the `deploy-engine` setting's words).
    pub(crate) engine: &'static str,
    /// Configured or shown by the repository (false: the `kubectl` fallback).
    pub(crate) evident: bool,
    pub(crate) why: String,
}

impl Report {
    pub(crate) fn count(&self, sev: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == sev)
            .count()
    }

    /// Whether the linter failed on a bug anywhere in this run.
    pub(crate) fn has_internal_error(&self) -> bool {
        !self.internal.is_empty()
            || self
                .diagnostics
                .iter()
                .any(|d| d.rule == rules::meta::INTERNAL_ERROR.name)
    }
}

/// Read the files under `paths` (and stdin, if given) and lint them.
pub(crate) fn lint_paths(
    paths: &[PathBuf],
    stdin: Option<Input>,
    excludes: &Excludes,
    settings: &Settings,
) -> Report {
    let start = Instant::now();
    if stdin.is_none() && settings.context_mode != ContextMode::All {
        return stream::lint(paths, excludes, settings, start);
    }
    lint_read(
        read_paths(paths, stdin, excludes, settings),
        settings,
        start,
    )
}

/// Lint what was read; its errors and notes join the report's.
fn lint_read(mut read: Read, settings: &Settings, start: Instant) -> Report {
    let mut report = lint_inputs(std::mem::take(&mut read.inputs), settings);
    joined(&mut report, read, start);
    report
}

/// The read's errors and notes joined to a report's, and the time since `start`.
fn joined(report: &mut Report, read: Read, start: Instant) {
    report.errors.extend(read.errors);
    report.errors.sort();
    report.notes.extend(read.notes);
    report.notes.sort();
    report.elapsed = start.elapsed();
}

/// Lint the files under `paths`, with `overlays` (unsaved editor buffers) standing for the
/// files they name, on disk or not yet; with the model the findings were computed from (the
/// files, objects and rendered builds), which the language server answers navigation
/// requests from. The report's `files` are left empty: they are the workspace's.
pub(crate) fn lint_paths_overlaid(
    paths: &[PathBuf],
    overlays: Vec<Input>,
    excludes: &Excludes,
    settings: &Settings,
) -> (Report, Workspace) {
    let start = Instant::now();
    let mut read = read_paths(paths, None, excludes, settings);
    let replaced: Vec<PathBuf> = overlays
        .iter()
        .filter_map(|o| {
            o.path
                .as_deref()
                .and_then(crate::render::resolve::canonical)
        })
        .collect();
    read.inputs.retain(|i| {
        i.path
            .as_deref()
            .and_then(crate::render::resolve::canonical)
            .is_none_or(|p| !replaced.contains(&p))
    });
    read.inputs.extend(overlays);
    let (mut report, ws) = lint_model(
        std::mem::take(&mut read.inputs),
        settings,
        rules::REGISTRY,
        &mut |_, _| {},
    );
    joined(&mut report, read, start);
    (report, ws)
}

/// The files found under some paths, read; what could not be found or was skipped.
#[derive(Debug, Default)]
pub(crate) struct Read {
    pub(crate) inputs: Vec<Input>,
    pub(crate) errors: Vec<String>,
    pub(crate) notes: Vec<String>,
}

/// Find and read the files under `paths` (stdin, if given, replaces the file it stands for).
pub(crate) fn read_paths(
    paths: &[PathBuf],
    stdin: Option<Input>,
    excludes: &Excludes,
    settings: &Settings,
) -> Read {
    let found = discover::discover_named(paths, excludes, &settings.path_names);
    let max = settings.max_file_size;
    // Stdin standing for a file on disk replaces it.
    let replaced = stdin
        .as_ref()
        .and_then(|s| s.path.as_deref())
        .and_then(crate::render::resolve::canonical);
    let mut inputs: Vec<Input> = found
        .files
        .par_iter()
        .filter(|c| replaced.is_none() || c.path.canonicalize().ok() != replaced)
        .map(|c| Input {
            display: c.display.clone(),
            path: Some(c.path.clone()),
            bytes: read_bounded(&c.path, max),
        })
        .collect();
    if let Some(s) = stdin {
        inputs.push(s);
    }
    Read {
        inputs,
        errors: found.errors,
        notes: found.notes,
    }
}

/// Read a file, refusing what is not a regular file (a FIFO would block) or is over `max`.
pub fn read_bounded(path: &std::path::Path, max: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let io = |e: std::io::Error| ReadError::Io(discover::io_message(&e));
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(ReadError::Io("not a regular file".into()));
    }
    if meta.len() > max {
        return Err(ReadError::TooLarge(meta.len()));
    }
    let f = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(max + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > max {
        return Err(ReadError::TooLarge(buf.len() as u64));
    }
    Ok(buf)
}

struct Loaded {
    file: Option<FileData>,
    diags: Vec<Diagnostic>,
    /// Where the file's secret values are (file id 0 until ids are assigned).
    redactions: Vec<Loc>,
    /// The internal error met finding them, if any.
    redaction_errors: Vec<Diagnostic>,
    note: Option<String>,
    error: Option<String>,
}

fn file_diag(rule: &'static rules::RuleMeta, span: Span, message: String) -> Diagnostic {
    Diagnostic::new(rule.name, rule.severity, Loc { file: 0, span }, message)
}

fn load(input: Input, settings: &Settings) -> Loaded {
    let syntax = &rules::meta::YAML_SYNTAX;
    let name = input
        .display
        .rsplit('/')
        .next()
        .unwrap_or(&input.display)
        .to_string();
    let role = model::file_role(&name);
    let mut loaded = Loaded {
        file: None,
        diags: Vec::new(),
        redactions: Vec::new(),
        redaction_errors: Vec::new(),
        note: None,
        error: None,
    };
    let bytes = match input.bytes {
        Ok(b) => b,
        Err(ReadError::TooLarge(size)) => {
            loaded.file = Some(empty_file(&input, role));
            loaded.diags.push(
                file_diag(
                    &rules::meta::LIMIT_EXCEEDED,
                    Span::default(),
                    format!(
                        "file is {size} bytes, over the {} byte limit; skipped",
                        settings.max_file_size
                    ),
                )
                .help(
                    "if this file really is a manifest, raise `limits.max-file-size` in .kube-migrate-lint.yaml (or pass --max-file-size)",
                ),
            );
            return loaded;
        }
        Err(ReadError::Io(e)) => {
            loaded.error = Some(format!("{}: {e}", input.display));
            return loaded;
        }
    };
    let text = match decode(bytes) {
        Ok(t) => t,
        Err(e) => {
            let (at, msg, text) = (e.at, e.message, e.shown);
            let at = at.min(text.len());
            loaded.file = Some(FileData {
                source: SourceFile::new(input.display, input.path, text),
                docs: Vec::new(),
                error: None,
                role,
            });
            loaded.diags.push(file_diag(syntax, Span::new(at, at), msg));
            return loaded;
        }
    };
    if discover::is_helm_template(input.path.as_deref(), &text) {
        loaded.note = Some(format!(
            "{}: Helm template skipped; lint the rendered output instead: helm template <chart> | kube-migrate-lint - --stdin-filename rendered.yaml",
            input.display
        ));
        return loaded;
    }
    // One copy of the text, shared by the source and the documents (their scalars are ranges
    // of it).
    let text: std::sync::Arc<str> = text.into();
    let parsed = yaml::parse_shared(&text, settings.limits);
    if let Some(e) = &parsed.error {
        let rule = match e.kind {
            YamlErrorKind::Limit(_) => &rules::meta::LIMIT_EXCEEDED,
            _ => syntax,
        };
        let mut d = file_diag(
            rule,
            e.span,
            match e.kind {
                YamlErrorKind::Syntax => format!("invalid YAML: {}", e.message),
                _ => e.message.clone(),
            },
        );
        if let Some((span, msg)) = &e.related {
            d = d.related(
                Loc {
                    file: 0,
                    span: *span,
                },
                msg.clone(),
            );
        }
        loaded.diags.push(d.help(match e.kind {
            YamlErrorKind::DuplicateKey => "remove one of the two keys".to_string(),
            YamlErrorKind::Limit(key) => format!(
                "split the file; if it is legitimate, raise `limits.{key}` in .kube-migrate-lint.yaml"
            ),
            YamlErrorKind::Syntax => {
                "fix the YAML syntax; `kubectl apply` would reject this file".to_string()
            }
        }));
    }
    loaded.file = Some(FileData {
        source: SourceFile::new(input.display, input.path, text),
        docs: parsed.docs,
        error: parsed.error,
        role,
    });
    loaded
}

fn empty_file(input: &Input, role: FileRole) -> FileData {
    FileData {
        source: SourceFile::new(input.display.clone(), input.path.clone(), String::new()),
        docs: Vec::new(),
        error: None,
        role,
    }
}

/// Lint already-read inputs. Inputs are sorted by displayed path so file ids are stable.
pub fn lint_inputs(inputs: Vec<Input>, settings: &Settings) -> Report {
    lint_inputs_with(inputs, settings, rules::REGISTRY)
}

/// Read, parse and model inputs: the workspace, the findings met on the way, and a report
/// holding the notes and errors so far.
pub fn load_workspace(
    mut inputs: Vec<Input>,
    settings: &Settings,
) -> (Workspace, Vec<Diagnostic>, Report) {
    inputs.sort_by(|a, b| a.display.cmp(&b.display));
    inputs.dedup_by(|a, b| a.display == b.display);
    // How the repository is deployed, scanned from its root after the files are read.
    let scan_root = scan_root(settings, inputs.iter().filter_map(|i| i.path.as_deref()));
    let loaded = load_all(inputs, settings);
    let mut files = Vec::new();
    let mut diags = Vec::new();
    let mut report = Report::default();
    let mut redacted = Vec::new();
    for l in loaded {
        report.notes.extend(l.note);
        report.errors.extend(l.error);
        if let Some(f) = l.file {
            let id = files.len() as FileId;
            redacted.extend(l.redactions.into_iter().map(|r| Loc { file: id, ..r }));
            report
                .redaction_errors
                .extend(l.redaction_errors.into_iter().map(|mut d| {
                    d.loc.file = id;
                    d
                }));
            for mut d in l.diags {
                d.loc.file = id;
                for r in &mut d.related {
                    r.loc.file = id;
                }
                diags.push(d);
            }
            files.push(f);
        }
    }

    let keys = crate::render::file_keys(&files);
    // Scanned after reading: the linted files are taken from memory (by their keys), not read
    // again.
    let repo = match &settings.run_evidence {
        Some(decided) => decided.clone(),
        None => scan_root.as_deref().and_then(|r| {
            let known = files
                .iter()
                .zip(&keys)
                .filter(|(f, _)| f.source.path.is_some())
                .map(|(f, k)| (k.clone(), &*f.source.text))
                .collect();
            let ev = evidence(settings, || crate::model::evidence::scan_with(r, &known))?;
            Some(std::sync::Arc::new(marked_within(settings, ev)))
        }),
    };
    // Files a kustomization names as patches are edits, not objects.
    let patches = isolate(|| crate::render::patch_files(&files, &keys)).unwrap_or_default();
    for f in patches {
        let file = &mut files[f as usize];
        let was = std::mem::replace(&mut file.role, FileRole::Patch);
        if was == FileRole::Kustomization {
            // Its secret generators are no longer read as such: scanned again in its role.
            redacted.retain(|r| r.file != f);
            redacted.extend(redactions_in(f, file, &mut report.redaction_errors));
        }
    }
    redacted.sort();
    redacted.dedup();
    report.redactions = redacted;
    // Objects, per file in parallel; ids assigned in file order.
    let per_file: Vec<(Vec<Object>, Vec<Diagnostic>)> = files
        .par_iter()
        .enumerate()
        .map(|(i, f)| {
            isolate(|| {
                inject("objects", &f.source.display);
                model::objects_of(i as FileId, f, settings.expansion_budget)
            })
            .unwrap_or_else(|c| {
                let e = c.error(
                    "objects",
                    "reading the objects of this file",
                    Some(&f.source.display),
                );
                (Vec::new(), vec![e.finding(file_start(i as FileId))])
            })
        })
        .collect();
    let mut objects = Vec::new();
    for (objs, ds) in per_file {
        let base = objects.len() as u32;
        for mut d in ds {
            d.object = d.object.map(|o| o + base);
            diags.push(d);
        }
        for mut o in objs {
            o.id = objects.len() as u32;
            objects.push(o);
        }
    }
    let mut ws = Workspace::with_keys(
        files,
        objects,
        WorkspaceOptions {
            deploy_engine: settings.deploy_engine,
            context_mode: settings.context_mode,
            regex_selectors: settings.regex_selectors,
            database_env: settings.database_env.clone(),
            max_context_objects: Some(settings.max_context_objects),
            explicit_builds: settings
                .explicit_builds
                .iter()
                .map(|d| crate::render::normalize(&std::path::absolute(d).unwrap_or(d.clone())))
                .collect(),
            repo,
        },
        keys,
    );
    for cx in &ws.contexts {
        if let (Some(limit), Some(root)) = (cx.over_limit, cx.root) {
            diags.push(
                Diagnostic::new(
                    rules::meta::LIMIT_EXCEEDED.name,
                    rules::meta::LIMIT_EXCEEDED.severity,
                    Loc {
                        file: root,
                        span: Span::default(),
                    },
                    format!(
                        "this kustomization renders more than {limit} objects (a base included many times over?); its cross-resource checks are skipped"
                    ),
                )
                .help(
                    "kustomize refuses the same object twice; if the tree is legitimate, raise `limits.max-objects-per-context` in .kube-migrate-lint.yaml",
                ),
            );
        }
    }
    // What the evaluation could not know is said, not guessed.
    for cx in &ws.contexts {
        for u in &cx.unknown {
            report.notes.push(format!(
                "{}: {u}; findings that depend on it are not reported",
                cx.name
            ));
        }
    }
    report.notes.sort();
    report.notes.dedup();
    report.internal.append(&mut ws.internal);
    (ws, diags, report)
}

/// Where deploy-engine evidence is scanned from for a run reading `paths`: the configured
/// root, else the git work tree above them; none when the engine is configured.
fn scan_root<'p>(
    settings: &Settings,
    paths: impl Iterator<Item = &'p std::path::Path>,
) -> Option<PathBuf> {
    (settings.deploy_engine == DeployEngine::Auto)
        .then(|| {
            settings
                .repo_root
                .clone()
                .or_else(|| crate::model::evidence::repo_root(paths))
        })
        .flatten()
}

/// The evidence with only the signs of Flux and Argo CD a run may count (see
/// [`Settings::marks_within`]).
fn marked_within(
    settings: &Settings,
    mut ev: crate::model::evidence::RepoEvidence,
) -> crate::model::evidence::RepoEvidence {
    if let Some(within) = &settings.marks_within {
        ev.marks_only_under(within);
    }
    ev
}

/// The repository's evidence: kept from an earlier scan, else scanned by `scan` (isolated: a
/// bug there leaves the run without evidence).
fn evidence(
    settings: &Settings,
    scan: impl FnOnce() -> crate::model::evidence::RepoEvidence,
) -> Option<crate::model::evidence::RepoEvidence> {
    let scanned = settings.repo_evidence.as_deref().cloned();
    scanned.or_else(|| isolate(scan).ok())
}

/// The workspace of in-memory files (name, text), for the unit tests of the layers that read
/// one.
#[cfg(test)]
pub(crate) fn workspace_of(files: &[(&str, &str)]) -> Workspace {
    let inputs = files
        .iter()
        .map(|(name, text)| Input::from_bytes(*name, text.as_bytes().to_vec()))
        .collect();
    load_workspace(inputs, &Settings::default()).0
}

/// Read and parse every input, in parallel, each isolated.
fn load_all(inputs: Vec<Input>, settings: &Settings) -> Vec<Loaded> {
    inputs
        .into_par_iter()
        .map(|input| {
            let (display, path) = (input.display.clone(), input.path.clone());
            if let Some(p) = &settings.progress {
                p.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let mut loaded = isolate(|| {
                inject("parse", &input.display);
                load(input, settings)
            })
            .unwrap_or_else(|c| Loaded {
                diags: vec![
                    c.error("parse", "parsing this file", Some(&display))
                        .finding(file_start(0)),
                ],
                file: Some(FileData {
                    source: SourceFile::new(display, path, String::new()),
                    docs: Vec::new(),
                    error: None,
                    role: FileRole::Manifest,
                }),
                redactions: Vec::new(),
                redaction_errors: Vec::new(),
                note: None,
                error: None,
            });
            // Secret values are found while the file is at hand, not in a pass over the
            // workspace after the rules.
            if let Some(f) = &loaded.file {
                loaded.redactions = redactions_in(0, f, &mut loaded.redaction_errors);
            }
            loaded
        })
        .collect()
}

/// The start of a file: where a finding about the whole file goes.
fn file_start(file: FileId) -> Loc {
    Loc {
        file,
        span: Span::default(),
    }
}

/// Lint with a given rule list (the registry, or a test's own rules).
pub(crate) fn lint_inputs_with(
    inputs: Vec<Input>,
    settings: &Settings,
    registry: &[&'static dyn Rule],
) -> Report {
    lint_observed(inputs, settings, registry, &mut |_, _| {})
}

/// Lint, and draw the link model of every build ([`crate::analysis::graph`]) from the same
/// workspace, its links marked broken by the run's findings (after suppressions: a silenced
/// finding breaks nothing).
pub(crate) fn lint_with_graph(
    inputs: Vec<Input>,
    settings: &Settings,
) -> (Report, crate::analysis::graph::Graph) {
    let mut graph = None;
    let report = lint_observed(inputs, settings, rules::REGISTRY, &mut |ws, diags| {
        let built = isolate(|| crate::analysis::graph::Graph::of_run(ws, diags));
        graph = Some(built);
    });
    let mut report = report;
    let graph = match graph {
        Some(Ok(g)) => g,
        Some(Err(c)) => {
            report
                .internal
                .push(c.error("graph", "drawing the link graph", None));
            crate::analysis::graph::Graph::default()
        }
        None => crate::analysis::graph::Graph::default(),
    };
    (report, graph)
}

/// [`lint_inputs_with`], showing `observe` the workspace and the final findings before the
/// workspace is dropped.
fn lint_observed(
    inputs: Vec<Input>,
    settings: &Settings,
    registry: &[&'static dyn Rule],
    observe: &mut dyn FnMut(&Workspace, &[Diagnostic]),
) -> Report {
    let (mut report, mut ws) = lint_model(inputs, settings, registry, observe);
    let files = std::mem::take(&mut ws.files);
    if settings.exit_after {
        // The process ends after the report: freeing the trees, typed views and builds one
        // allocation at a time would be a serial tail of its own.
        let mut docs = Vec::with_capacity(files.len());
        report.files = files
            .into_iter()
            .map(|f| {
                docs.push(f.docs);
                f.source
            })
            .collect();
        std::mem::forget(docs);
        std::mem::forget(ws);
    } else {
        report.files = files.into_iter().map(|f| f.source).collect();
    }
    report
}

/// Lint, showing `observe` the workspace and the final findings, and keep the workspace the
/// findings were computed from; the report's `files` are left for the caller to fill (moved
/// out of the workspace, or read from it).
fn lint_model(
    inputs: Vec<Input>,
    settings: &Settings,
    registry: &[&'static dyn Rule],
    observe: &mut dyn FnMut(&Workspace, &[Diagnostic]),
) -> (Report, Workspace) {
    let start = Instant::now();
    let (ws, mut diags, mut report) = load_workspace(inputs, settings);
    report.engines = ws
        .contexts
        .iter()
        .map(|c| {
            let v = ws.engine(c);
            BuildEngine {
                build: c.name.clone(),
                engine: crate::render::engine::setting(v.engine),
                evident: v.evident,
                why: v.why.clone(),
            }
        })
        .collect();
    report.engines.sort();
    report.engines.dedup();
    let enabled: Vec<&'static dyn Rule> = registry
        .iter()
        .copied()
        .filter(|r| settings.enabled(r.meta().name))
        .collect();
    // Objects a patch changed are judged as their builds render them; from their manifest
    // only when some build (or none) renders them unpatched.
    let patched = rendered::patched_objects(&ws);
    let object_diags: Vec<Diagnostic> = ws
        .objects
        .par_iter()
        .flat_map_iter(|o| {
            let cx = ObjectCx::new(&ws, o);
            let mut out = Vec::new();
            let (plain, trees) = match patched.get(&o.id) {
                Some((plain, trees)) => (*plain, trees.as_slice()),
                None => (true, &[][..]),
            };
            for r in enabled.iter().filter(|_| plain) {
                let checked = isolate(|| {
                    inject_with("rule", || {
                        format!("{} {}", cx.file.source.display, r.meta().name)
                    });
                    r.check_object(&cx, &mut out)
                });
                if let Err(c) = checked {
                    let doing = format!("running {} on {}", r.meta().name, object_name(o));
                    let mut d = c
                        .error("rule", doing, Some(&cx.file.source.display))
                        .finding(cx.loc_of(o.root));
                    d.object = Some(o.id);
                    out.push(d);
                }
            }
            for d in rendered::check(&ws, o, trees, &enabled, settings.expansion_budget) {
                let same =
                    |e: &Diagnostic| e.rule == d.rule && e.loc == d.loc && e.message == d.message;
                if !out.iter().any(same) {
                    out.push(d);
                }
            }
            out
        })
        .collect();
    // A context or the workspace is no one file: what fails there is a report-level error.
    let context_checks: Vec<(Vec<Diagnostic>, Vec<InternalError>)> = ws
        .contexts
        .par_iter()
        .map(|c| {
            let cx = ContextCx {
                ws: &ws,
                context: c,
            };
            let (mut out, mut failed) = (Vec::new(), Vec::new());
            for r in &enabled {
                let checked = isolate(|| {
                    inject_with("context-rule", || format!("{} {}", c.name, r.meta().name));
                    r.check_context(&cx, &mut out)
                });
                if let Err(e) = checked {
                    let doing = format!("running {} on the context {}", r.meta().name, c.name);
                    failed.push(e.error("rule", doing, Some(&c.name)));
                }
            }
            (out, failed)
        })
        .collect();
    let workspace_checks: Vec<(Vec<Diagnostic>, Option<InternalError>)> = enabled
        .par_iter()
        .map(|r| {
            let mut out = Vec::new();
            let checked = isolate(|| {
                inject("workspace-rule", r.meta().name);
                r.check_workspace(&ws, &mut out)
            });
            let failed = checked.err().map(|e| {
                let doing = format!("running {} across all contexts", r.meta().name);
                e.error("rule", doing, None)
            });
            (out, failed)
        })
        .collect();
    diags.extend(object_diags);
    let mut per_build = Vec::new();
    for (ci, (ds, failed)) in context_checks.into_iter().enumerate() {
        per_build.extend(ds.into_iter().map(|d| (d, ci)));
        report.internal.extend(failed);
    }
    for (ds, failed) in workspace_checks {
        diags.extend(ds);
        report.internal.extend(failed);
    }
    let mut diags = attribute_builds(&ws, diags, per_build);
    diags.retain(|d| settings.enabled(d.rule) || d.rule == rules::meta::INTERNAL_ERROR.name);

    // Internal errors are never suppressed, re-graded or hidden.
    let (mut internal, mut diags): (Vec<Diagnostic>, Vec<Diagnostic>) = diags
        .into_iter()
        .partition(|d| d.rule == rules::meta::INTERNAL_ERROR.name);
    suppressions(&ws, &mut diags, &mut internal, settings, &mut report);
    internal.append(&mut report.redaction_errors);
    for d in &mut diags {
        if let Some(&Some(sev)) = settings.rules.get(d.rule) {
            d.severity = sev;
        }
    }
    diags.extend(internal);
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diags.dedup();

    // A fix that would write over a secret is not offered: its replacement would be shown.
    for d in &mut diags {
        let touches_secret = d.fix.as_ref().is_some_and(|f| {
            f.edits.iter().any(|e| {
                report.redactions.iter().any(|r| {
                    r.file == e.loc.file
                        && r.span.start <= e.loc.span.end
                        && e.loc.span.start <= r.span.end
                })
            })
        });
        if touches_secret {
            d.fix = None;
        }
    }
    observe(&ws, &diags);
    report.objects = ws.objects.par_iter().map(Object::reference).collect();
    report.rendered_namespaces = ws
        .objects
        .par_iter()
        .map(|o| rendered_namespace(&ws, o))
        .collect();
    report.diagnostics = diags;
    report.notes.sort();
    report.errors.sort();
    report.internal.sort();
    report.elapsed = start.elapsed();
    (report, ws)
}

/// One finding per issue, saying which builds show it. A file several builds share is checked
/// in each: the same finding from several builds is reported once, and when some builds that
/// include its file do not show it, its message ends with the builds that do ("in
/// overlays/prod only"). `per_build` holds the findings of each build's checks with the
/// build's index; `diags` those about files and objects as written, which every build shares.
fn attribute_builds(
    ws: &Workspace,
    diags: Vec<Diagnostic>,
    mut per_build: Vec<(Diagnostic, usize)>,
) -> Vec<Diagnostic> {
    use crate::base::diagnostic::Builds;
    let mut builds_of_file: Vec<Vec<usize>> = vec![Vec::new(); ws.files.len()];
    for (ci, c) in ws.contexts.iter().enumerate() {
        for &f in &c.files {
            if let Some(v) = builds_of_file.get_mut(f as usize) {
                v.push(ci);
            }
        }
    }
    let names = |ids: &[usize]| -> Vec<String> {
        let mut v: Vec<String> = ids.iter().map(|&c| ws.contexts[c].name.clone()).collect();
        v.sort();
        v.dedup();
        v
    };
    let including = |d: &Diagnostic| -> &[usize] {
        builds_of_file
            .get(d.loc.file as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    let mut out = Vec::with_capacity(diags.len() + per_build.len());
    for mut d in diags {
        let all = including(&d);
        if let Some(b) = &d.builds {
            // A rule that judges build by build said which builds show it.
            if b.only {
                d.message = format!("{} (in {} only)", d.message, and_list(&b.shown));
            }
        } else if all.len() > 1 {
            d.builds = Some(Builds {
                shown: names(all),
                only: false,
            });
        }
        out.push(d);
    }
    per_build.sort_by(|(a, ai), (b, bi)| (a.sort_key(), ai).cmp(&(b.sort_key(), bi)));
    // Equal findings share a sort key: each run of one key (a handful at most) is grouped by
    // equality.
    let mut groups: Vec<(Diagnostic, Vec<usize>)> = Vec::new();
    let mut run_start = 0;
    for (d, ci) in per_build {
        if groups
            .get(run_start)
            .is_some_and(|(first, _)| first.sort_key() != d.sort_key())
        {
            run_start = groups.len();
        }
        match groups[run_start..].iter_mut().find(|(g, _)| *g == d) {
            Some((_, cs)) => cs.push(ci),
            None => groups.push((d, vec![ci])),
        }
    }
    for (mut d, shown) in groups {
        let all = including(&d);
        if all.len() > 1 || shown.len() > 1 {
            let only = all.iter().any(|c| !shown.contains(c));
            let shown = names(&shown);
            if only {
                d.message = format!("{} (in {} only)", d.message, and_list(&shown));
            }
            d.builds = Some(Builds { shown, only });
        }
        out.push(d);
    }
    out
}

/// The namespace every build that includes `o` renders it into, when they agree and one is set
/// (a namespace transformer, a Flux targetNamespace, a replacement): what reports show as the
/// object's namespace, rather than the one written in the source.
fn rendered_namespace(ws: &Workspace, o: &Object) -> Option<String> {
    let env = ws.env();
    let mut found: Option<String> = None;
    for c in ws.contexts_of(o.id) {
        let r = c.rendered_of(o.id)?;
        let ns = r
            .namespace
            .clone()
            .and_then(|v| env.substituted(c, r, v))?
            .text;
        match &found {
            Some(f) if *f != ns => return None,
            _ => found = Some(ns),
        }
    }
    found.filter(|ns| !ns.is_empty() && !ns.contains("${"))
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `Kind/name` of an object, for messages.
fn object_name(o: &Object) -> String {
    let name = o.name.as_deref().map(crate::base::mask::display_value);
    let kind = crate::base::mask::key_for_display(&o.kind);
    format!("{kind}/{}", name.as_deref().unwrap_or("(unnamed)"))
}

/// Apply suppressions, collected file by file: a file whose suppressions cannot be read (a
/// bug) gets an internal error, and its findings are reported unsuppressed.
fn suppressions(
    ws: &Workspace,
    diags: &mut Vec<Diagnostic>,
    internal: &mut Vec<Diagnostic>,
    settings: &Settings,
    report: &mut Report,
) {
    let failed = |c: crate::base::internal::Caught, file: FileId| {
        let display = &ws.files[file as usize].source.display;
        c.error(
            "suppressions",
            "reading the suppressions in this file",
            Some(display),
        )
        .finding(file_start(file))
    };
    let mut sups = Vec::new();
    // Read file by file in parallel, gathered in file order.
    let comments: Vec<_> = ws
        .files
        .par_iter()
        .enumerate()
        .map(|(fid, f)| {
            isolate(|| {
                inject("suppressions", &f.source.display);
                suppress::comments_in(ws, fid as FileId)
            })
        })
        .collect();
    for (fid, found) in comments.into_iter().enumerate() {
        match found {
            Ok(s) => sups.extend(s),
            Err(c) => internal.push(failed(c, fid as FileId)),
        }
    }
    let annotations: Vec<_> = ws
        .objects
        .chunk_by(|a, b| a.file == b.file)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|objects| {
            (
                objects[0].file,
                isolate(|| suppress::annotations_on(ws, objects)),
            )
        })
        .collect();
    for (file, found) in annotations {
        match found {
            Ok(s) => sups.extend(s),
            Err(c) => internal.push(failed(c, file)),
        }
    }
    let applied = isolate(|| {
        suppress::apply(ws, diags, &mut sups);
        if settings.enabled(rules::meta::UNUSED_SUPPRESSION.name) {
            diags.extend(suppress::unused(&sups, |r| settings.enabled(r)));
        }
    });
    if let Err(c) = applied {
        report
            .internal
            .push(c.error("suppressions", "applying suppressions", None));
    }
}

/// Where secret values are in one file. A file that cannot be scanned (a bug) gets an
/// internal error (pushed to `internal`) and is masked whole: nothing of it is quoted.
fn redactions_in(file: FileId, f: &FileData, internal: &mut Vec<Diagnostic>) -> Vec<Loc> {
    match isolate(|| {
        inject("redaction", &f.source.display);
        crate::model::secrets::sensitive_spans_in(file, f)
    }) {
        Ok(spans) => spans,
        Err(c) => {
            let doing = "finding the secret values in this file, which is masked whole";
            let e = c.error("redaction", doing, Some(&f.source.display));
            internal.push(e.finding(file_start(file)));
            // Every line, its end left alone (positions are counted in lines).
            let mut out = Vec::new();
            let mut at = 0;
            for line in f.source.text.split_inclusive('\n') {
                let text = line.trim_end_matches(['\n', '\r']);
                out.push(Loc {
                    file,
                    span: Span::new(at, at + text.len()),
                });
                at += line.len();
            }
            out
        }
    }
}

/// An internal error as an `internal-error` finding on a file (or an object's node).
trait AsFinding {
    fn finding(&self, loc: Loc) -> Diagnostic;
}

impl AsFinding for crate::base::internal::InternalError {
    fn finding(&self, loc: Loc) -> Diagnostic {
        let meta = &rules::meta::INTERNAL_ERROR;
        Diagnostic::new(meta.name, meta.severity, loc, self.message()).help(
            "the rest of the run went on; please include the command line, the linter version and this file (secrets removed) in the report",
        )
    }
}

/// `kube-migrate-lint build DIR`: the YAML stream kustomize renders for the kustomization in
/// `dir`, or kustomize's own error texts when kustomize refuses the build.
pub fn build(dir: &std::path::Path, provenance: bool) -> Result<String, Vec<String>> {
    let kustomization = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| vec![format!("no kustomization file in {}", dir.display())])?;
    let files: Vec<PathBuf> = crate::render::resolve::closure(&kustomization)
        .into_iter()
        .collect();
    let root = kustomization
        .canonicalize()
        .map_err(|e| vec![format!("{}: {e}", kustomization.display())])?;
    let settings = Settings {
        path_names: std::env::current_dir()
            .map(|d| discover::PathNames::relative_to(&d))
            .unwrap_or_default(),
        ..Settings::default()
    };
    let read = read_paths(&files, None, &Excludes::default(), &settings);
    if !read.errors.is_empty() {
        return Err(read.errors);
    }
    let (ws, _, _) = load_workspace(read.inputs, &settings);
    let cx = ws
        .contexts
        .iter()
        .find(|c| {
            c.root.is_some_and(|f| {
                ws.files[f as usize]
                    .source
                    .path
                    .as_deref()
                    .and_then(|p| p.canonicalize().ok())
                    .as_deref()
                    == Some(root.as_path())
            })
        })
        .ok_or_else(|| vec![format!("{} is not a build", dir.display())])?;
    let errors: Vec<String> = ws
        .replacement_issues
        .iter()
        .filter(|i| cx.kustomizations.contains(&i.kustomization))
        .filter_map(|i| match &i.issue {
            crate::render::Issue::Build(refusal) => Some(refusal.kustomize_error()),
            other if i.kind() == crate::render::IssueKind::Invalid => {
                Some(format!("replacement: {other:?}"))
            }
            _ => None,
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(crate::render::build::print(&ws, cx, provenance))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Category, Declared, FixAvailability, ObjectCx, RuleId, RuleMeta};

    struct Panics;
    static PANICS: RuleMeta = RuleMeta {
        id: RuleId::JobBackoffLimitNonzero,
        name: RuleId::JobBackoffLimitNonzero.name(),
        severity: Severity::Error,
        category: Category::Job,
        summary: "test rule that panics on one object",
        evidence: "none",
        fix: FixAvailability::Never,
        page: "",
    };
    impl Declared for Panics {
        fn declared(&self) -> &'static RuleMeta {
            &PANICS
        }
    }
    impl Rule for Panics {
        fn check_object(&self, cx: &ObjectCx<'_>, out: &mut Vec<Diagnostic>) {
            if cx.obj.name.as_deref() == Some("boom") {
                panic!("rule bug");
            }
            out.push(cx.diag(&PANICS, &[], "reached"));
        }
    }

    #[test]
    fn a_panicking_rule_is_an_internal_error_and_the_run_goes_on() {
        let inputs = vec![
            Input::from_bytes(
                "a.yaml",
                b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: boom}\n".to_vec(),
            ),
            Input::from_bytes(
                "b.yaml",
                b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n".to_vec(),
            ),
        ];
        let report = lint_inputs_with(inputs, &Settings::default(), &[&Panics]);
        let rules: Vec<_> = report
            .diagnostics
            .iter()
            .map(|d| (d.loc.file, d.rule))
            .collect();
        assert_eq!(
            rules,
            vec![(0, "internal-error"), (1, "job-backoff-limit-nonzero")]
        );
        assert!(
            report.diagnostics[0]
                .message
                .contains("running job-backoff-limit-nonzero")
        );
    }

    #[test]
    fn sensitive_spans_are_found_and_masked() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  anything: hunter2\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    env:\n    - {name: API_TOKEN, value: \"tok123\"}\n    - {name: DATABASE_URL, value: \"postgres://u:pw9@db/x\"}\n    - {name: LOG_LEVEL, value: debug}\n";
        let r = load_workspace(
            vec![Input::from_bytes("k/a.yaml", text.as_bytes().to_vec())],
            &Settings::default(),
        );
        let spans: Vec<_> = r.2.redactions.iter().map(|l| l.span).collect();
        let masked = crate::base::mask::mask(text, &spans);
        for secret in ["hunter2", "tok123", "pw9"] {
            assert!(!masked.contains(secret), "{secret}: {masked}");
        }
        assert!(
            masked.contains("debug")
                && masked.contains("postgres://u:")
                && masked.contains("@db/x")
        );
        assert_eq!(masked.len(), text.len());
    }

    #[test]
    fn a_configured_severity_applies_even_when_it_is_the_default() {
        // job-restart-policy-not-never defaults to warning but reports an absent
        // restartPolicy as an error: configured as warning, every finding is a warning.
        let job = |name: &str, policy: &str| {
            format!(
                "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations:\n    kustomize.toolkit.fluxcd.io/force: enabled\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n{policy}      containers:\n        - name: migrate\n          image: registry.example.com/app:v1.4.2\n          command: [\"npx\", \"prisma\", \"migrate\", \"deploy\"]\n"
            )
        };
        let text = format!(
            "{}---\n{}",
            job("db-migrate-v1", ""),
            job("db-migrate-v2", "      restartPolicy: OnFailure\n")
        );
        let rule = RuleId::JobRestartPolicyNotNever;
        let severities = |settings: &Settings| {
            let inputs = vec![Input::from_bytes("k/job.yaml", text.clone().into_bytes())];
            let mut sev: Vec<Severity> = lint_inputs(inputs, settings)
                .diagnostics
                .iter()
                .filter(|d| d.rule == rule.name())
                .map(|d| d.severity)
                .collect();
            sev.sort();
            sev
        };
        assert_eq!(rule.meta().severity, Severity::Warning);
        assert_eq!(
            severities(&Settings::default()),
            [Severity::Warning, Severity::Error]
        );
        let config = crate::model::config::parse(
            "rules:\n  job-restart-policy-not-never: warning\n",
            "c.yaml",
            &rules::names(),
        )
        .unwrap();
        let settings = Settings::resolve(&config, &[], &[]).unwrap();
        assert_eq!(
            severities(&settings),
            [Severity::Warning, Severity::Warning]
        );
    }
}
