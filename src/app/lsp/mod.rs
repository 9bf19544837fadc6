//! `kube-migrate-lint server`: the linter as a language server, over stdio.
//!
//! The transport is rust-analyzer's `lsp-server` (synchronous, channels, no async runtime);
//! messages are `lsp-types`. One thread handles everything in order: editor buffers are kept
//! as overlays (full text sync), and a change re-lints the **unit** the file belongs to — what
//! the CLI reads for that file given alone (`render::resolve`): every build of the project that
//! includes it, or, for a manifest no kustomization includes, the manifests of its directory.
//! Buffers resolving to the same builds share a unit; every open buffer stands for its file on
//! disk. Units whose last run read a changed file (with other text than it read) are re-linted
//! too, so editing a Job updates the Deployment that waits for it, wherever that Deployment's
//! unit is. The project scan and the deploy-engine evidence are kept per root between lints.
//!
//! Diagnostics are published for every file a run read, an empty list included, so findings
//! that disappear are cleared; an open file's come from its own unit, so they are what the CLI
//! prints for it. Queued changes are coalesced: notifications only mark files dirty, and
//! linting waits for a short quiet moment (or a request, which always sees the latest text).

pub(crate) mod convert;
mod nav;

use crate::analysis::graph::Graph;
use crate::app::session::{self, Session};
use crate::base::diagnostic::FileId;
use crate::base::internal::isolate;
use crate::base::source::SourceFile;
use crate::engine::{self, Input, ReadError};
use crate::model::discover::is_manifest_name;
use crate::model::{FileRole, file_role};
use crate::render::resolve;
use convert::Finding;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types as lsp;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Lint once no message has arrived for this long…
const QUIET: Duration = Duration::from_millis(40);
/// …or once a change has waited this long, however fast changes keep coming.
const MAX_DELAY: Duration = Duration::from_millis(300);

/// Serve on stdin and stdout until `exit`; the process's exit code (0 after `shutdown`).
pub fn run() -> i32 {
    let (conn, io) = Connection::stdio();
    let code = serve(&conn);
    drop(conn);
    // The reader stops after `exit` or at the end of input, the writer once the connection is
    // dropped.
    let _ = io.join();
    code
}

/// The protocol over any connection (stdio, or memory in tests).
pub(crate) fn serve(conn: &Connection) -> i32 {
    let (id, params) = match conn.initialize_start() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("kube-migrate-lint server: {e}");
            return 1;
        }
    };
    let params: lsp::InitializeParams = serde_json::from_value(params).unwrap_or_default();
    let result = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": {"name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")},
    });
    if let Err(e) = conn.initialize_finish(id, result) {
        eprintln!("kube-migrate-lint server: {e}");
        return 1;
    }
    let mut server = Server::new(conn.sender.clone(), folders(&params));
    server.show_document = params
        .capabilities
        .window
        .as_ref()
        .and_then(|w| w.show_document.as_ref())
        .is_some_and(|s| s.support);
    server.run(&conn.receiver)
}

fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        position_encoding: Some(lsp::PositionEncodingKind::UTF16),
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(
            lsp::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lsp::TextDocumentSyncKind::FULL),
                save: Some(lsp::TextDocumentSyncSaveOptions::SaveOptions(
                    lsp::SaveOptions {
                        include_text: Some(false),
                    },
                )),
                ..Default::default()
            },
        )),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        code_lens_provider: Some(lsp::CodeLensOptions {
            resolve_provider: Some(false),
        }),
        execute_command_provider: Some(lsp::ExecuteCommandOptions {
            commands: vec![nav::SHOW_COMMAND.to_string()],
            ..Default::default()
        }),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(
            lsp::CodeActionOptions {
                code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
                resolve_provider: Some(false),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// The workspace folders, canonical (only used to tell hidden directories in them).
#[allow(deprecated)] // `root_uri`: older clients send only that.
fn folders(params: &lsp::InitializeParams) -> Vec<PathBuf> {
    let mut uris: Vec<&lsp::Uri> = params
        .workspace_folders
        .iter()
        .flatten()
        .map(|f| &f.uri)
        .collect();
    if uris.is_empty() {
        uris.extend(params.root_uri.iter());
    }
    uris.iter()
        .filter_map(|u| convert::uri_to_path(u.as_str()))
        .filter_map(|p| p.canonicalize().ok())
        .collect()
}

/// What is linted together: what the CLI reads for a file given alone — every build of the
/// project that includes it (`render::resolve`), or the manifests beside a file no
/// kustomization includes. Buffers that resolve to the same builds share a unit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Unit {
    /// The files (and, without a project, directories) to read, sorted.
    roots: Vec<PathBuf>,
}

impl Unit {
    /// A name for the unit in messages: its first root.
    fn name(&self) -> String {
        self.roots
            .first()
            .map(|r| r.display().to_string())
            .unwrap_or_default()
    }

    /// Whether the run reads the file at `path` (an open buffer then stands for it).
    fn reads(&self, path: &Path) -> bool {
        self.roots.iter().any(|r| path.starts_with(r))
    }
}

struct Doc {
    uri: lsp::Uri,
    version: i32,
    text: String,
    /// None: not a manifest the linter reads (another extension, a hidden file).
    unit: Option<Unit>,
}

/// The last run of a unit: findings per file it read (an empty list for a clean file), and
/// the model they were computed from, which navigation requests are answered from.
struct UnitState {
    files: BTreeMap<PathBuf, Vec<Finding>>,
    /// How many of the run's builds include each file it read: a file not open takes its
    /// findings from the unit where the most builds include it.
    reach: BTreeMap<PathBuf, usize>,
    model: nav::Model,
}

/// Parameters of a notification about one document.
trait AboutDoc: serde::de::DeserializeOwned {
    fn uri(&self) -> &lsp::Uri;
}

macro_rules! about_doc {
    ($($params:ident),*) => {$(
        impl AboutDoc for lsp::$params {
            fn uri(&self) -> &lsp::Uri {
                &self.text_document.uri
            }
        }
    )*};
}

about_doc!(
    DidOpenTextDocumentParams,
    DidChangeTextDocumentParams,
    DidSaveTextDocumentParams,
    DidCloseTextDocumentParams
);

struct Server {
    sender: Sender<Message>,
    folders: Vec<PathBuf>,
    /// Open buffers by canonical path.
    docs: BTreeMap<PathBuf, Doc>,
    units: BTreeMap<Unit, UnitState>,
    /// The kustomizations of each project root and who includes what, scanned once (again
    /// after a kustomization or the configuration is saved).
    projects: BTreeMap<PathBuf, resolve::Project>,
    /// The deploy-engine evidence of each repository root, scanned once (again after a
    /// kustomization, the configuration or a Flux or Argo CD file is saved).
    evidence: BTreeMap<PathBuf, std::sync::Arc<crate::model::evidence::RepoEvidence>>,
    /// Files changed since the last run, and since when.
    dirty: BTreeSet<PathBuf>,
    dirty_since: Option<Instant>,
    /// The configuration or a kustomization was saved: units are resolved and linted anew.
    everything_dirty: bool,
    /// URIs to publish even when their diagnostics did not change (just opened).
    forced: BTreeSet<String>,
    /// What the client was last sent, by URI.
    published: BTreeMap<String, Vec<lsp::Diagnostic>>,
    /// Current findings per file: what hover and code actions look at.
    current: BTreeMap<PathBuf, Vec<Finding>>,
    shutdown: bool,
    /// Requests sent to the client so far (their ids).
    requests: u64,
    /// The client can be asked to show a place (`window/showDocument`, LSP 3.16).
    show_document: bool,
    /// Messages already shown or logged (notes repeat on every run).
    said: BTreeSet<String>,
}

impl Server {
    fn new(sender: Sender<Message>, folders: Vec<PathBuf>) -> Server {
        Server {
            sender,
            folders,
            docs: BTreeMap::new(),
            units: BTreeMap::new(),
            projects: BTreeMap::new(),
            evidence: BTreeMap::new(),
            dirty: BTreeSet::new(),
            dirty_since: None,
            everything_dirty: false,
            forced: BTreeSet::new(),
            published: BTreeMap::new(),
            current: BTreeMap::new(),
            shutdown: false,
            requests: 0,
            show_document: false,
            said: BTreeSet::new(),
        }
    }

    fn run(&mut self, receiver: &Receiver<Message>) -> i32 {
        loop {
            let msg = match self.dirty_since {
                None => match receiver.recv() {
                    Ok(m) => m,
                    // End of input without `exit`.
                    Err(_) => return if self.shutdown { 0 } else { 1 },
                },
                Some(since) => {
                    let waited = since.elapsed();
                    if waited >= MAX_DELAY {
                        self.flush();
                        continue;
                    }
                    match receiver.recv_timeout(QUIET.min(MAX_DELAY - waited)) {
                        Ok(m) => m,
                        Err(RecvTimeoutError::Timeout) => {
                            self.flush();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => {
                            return if self.shutdown { 0 } else { 1 };
                        }
                    }
                }
            };
            if let Some(code) = self.handle(msg) {
                return code;
            }
        }
    }

    /// Handle one message; Some(exit code) on `exit`.
    fn handle(&mut self, msg: Message) -> Option<i32> {
        match msg {
            Message::Request(req) => {
                let id = req.id.clone();
                let method = req.method.clone();
                let resp = isolate(|| self.request(req)).unwrap_or_else(|c| {
                    let e = c.error("server", format!("handling {method}"), None);
                    self.log(lsp::MessageType::ERROR, e.message());
                    Response::new_err(id, ErrorCode::InternalError as i32, e.summary())
                });
                self.send(resp.into());
                None
            }
            Message::Notification(n) if n.method == "exit" => {
                Some(if self.shutdown { 0 } else { 1 })
            }
            Message::Notification(n) => {
                let method = n.method.clone();
                if let Err(c) = isolate(|| self.notification(n)) {
                    let e = c.error("server", format!("handling {method}"), None);
                    self.log(lsp::MessageType::ERROR, e.message());
                }
                None
            }
            Message::Response(_) => None,
        }
    }

    fn request(&mut self, req: Request) -> Response {
        fn params<P: serde::de::DeserializeOwned>(req: Request) -> Result<P, Response> {
            serde_json::from_value(req.params).map_err(|e| {
                Response::new_err(
                    req.id,
                    ErrorCode::InvalidParams as i32,
                    format!("invalid parameters: {e}"),
                )
            })
        }
        if self.shutdown {
            return Response::new_err(
                req.id,
                ErrorCode::InvalidRequest as i32,
                "the server is shutting down".into(),
            );
        }
        let id = req.id.clone();
        match req.method.as_str() {
            "shutdown" => {
                self.shutdown = true;
                Response::new_ok(id, ())
            }
            "textDocument/hover" => match params::<lsp::HoverParams>(req) {
                Ok(p) => {
                    self.flush();
                    Response::new_ok(id, self.hover(&p))
                }
                Err(r) => r,
            },
            "textDocument/codeAction" => match params::<lsp::CodeActionParams>(req) {
                Ok(p) => {
                    self.flush();
                    Response::new_ok(id, self.code_actions(&p))
                }
                Err(r) => r,
            },
            "textDocument/definition" => match params::<lsp::GotoDefinitionParams>(req) {
                Ok(p) => {
                    self.flush();
                    let at = &p.text_document_position_params;
                    let found =
                        nav::definition(&self.models_of(&at.text_document.uri), at.position);
                    Response::new_ok(id, (!found.is_empty()).then_some(found))
                }
                Err(r) => r,
            },
            "textDocument/references" => match params::<lsp::ReferenceParams>(req) {
                Ok(p) => {
                    self.flush();
                    let at = &p.text_document_position;
                    let models = self.models_of(&at.text_document.uri);
                    let found =
                        nav::references(&models, at.position, p.context.include_declaration);
                    Response::new_ok(id, found)
                }
                Err(r) => r,
            },
            "textDocument/codeLens" => match params::<lsp::CodeLensParams>(req) {
                Ok(p) => {
                    self.flush();
                    Response::new_ok(id, nav::code_lenses(&self.models_of(&p.text_document.uri)))
                }
                Err(r) => r,
            },
            "workspace/executeCommand" => match params::<lsp::ExecuteCommandParams>(req) {
                Ok(p) => self.execute(id, p),
                Err(r) => r,
            },
            m => Response::new_err(
                id,
                ErrorCode::MethodNotFound as i32,
                format!("method not handled: {m}"),
            ),
        }
    }

    fn notification(&mut self, n: Notification) {
        if self.shutdown {
            return;
        }
        match n.method.as_str() {
            "textDocument/didOpen" => {
                let Some((p, path)) = self.about_doc::<lsp::DidOpenTextDocumentParams>(n) else {
                    return;
                };
                let item = p.text_document;
                let unit = if self.lintable(&path) {
                    self.unit_of(&path)
                } else {
                    None
                };
                self.forced.insert(item.uri.as_str().to_string());
                self.docs.insert(
                    path.clone(),
                    Doc {
                        uri: item.uri,
                        version: item.version,
                        text: item.text,
                        unit,
                    },
                );
                self.mark(path);
            }
            "textDocument/didChange" => {
                let Some((p, path)) = self.about_doc::<lsp::DidChangeTextDocumentParams>(n) else {
                    return;
                };
                let Some(doc) = self.docs.get_mut(&path) else {
                    return;
                };
                for change in p.content_changes {
                    convert::apply_change(&mut doc.text, change);
                }
                doc.version = p.text_document.version;
                self.mark(path);
            }
            "textDocument/didSave" => {
                let Some((p, path)) = self.about_doc::<lsp::DidSaveTextDocumentParams>(n) else {
                    return;
                };
                if let (Some(doc), Some(text)) = (self.docs.get_mut(&path), p.text) {
                    doc.text = text;
                }
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // Which files form a unit (the kustomizations, and the Flux Kustomizations that
                // deploy them), the settings and how the repository is deployed are read from
                // disk: after one of those files, every unit is resolved again.
                let deployer =
                    |t: &str| t.contains("toolkit.fluxcd.io") || t.contains("argoproj.io");
                if name.starts_with(".kube-migrate-lint.")
                    || file_role(&name) == FileRole::Kustomization
                    || self.docs.get(&path).is_none_or(|d| deployer(&d.text))
                {
                    self.everything_dirty = true;
                }
                self.mark(path);
            }
            "textDocument/didClose" => {
                let Some((_, path)) = self.about_doc::<lsp::DidCloseTextDocumentParams>(n) else {
                    return;
                };
                self.docs.remove(&path);
                self.mark(path);
            }
            _ => {}
        }
    }

    fn mark(&mut self, path: PathBuf) {
        self.dirty.insert(path);
        self.dirty_since.get_or_insert_with(Instant::now);
    }

    fn path_of(&self, uri: &lsp::Uri) -> Option<PathBuf> {
        resolve::canonical(&convert::uri_to_path(uri.as_str())?)
    }

    /// A notification about one document: its parameters and the document's path.
    fn about_doc<P: AboutDoc>(&self, n: Notification) -> Option<(P, PathBuf)> {
        let p: P = serde_json::from_value(n.params).ok()?;
        let path = self.path_of(p.uri())?;
        Some((p, path))
    }

    /// Whether the linter reads this file: a manifest name, not hidden inside the workspace
    /// (as a directory walk skips `.github/` and `.gitlab-ci.yml`).
    fn lintable(&self, path: &Path) -> bool {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy()) else {
            return false;
        };
        if !is_manifest_name(&name) {
            return false;
        }
        let hidden = |c: std::path::Component<'_>| c.as_os_str().to_string_lossy().starts_with('.');
        match self
            .folders
            .iter()
            .filter_map(|f| path.strip_prefix(f).ok())
            .min_by_key(|r| r.components().count())
        {
            Some(rel) => !rel.components().any(hidden),
            None => !name.starts_with('.'),
        }
    }

    fn uri_for(&self, path: &Path) -> Option<lsp::Uri> {
        match self.docs.get(path) {
            Some(d) => Some(d.uri.clone()),
            None => convert::parse_uri(&convert::path_to_uri(path)),
        }
    }

    /// Lint what changed, then publish; a bug is logged to the client, and the server goes on.
    fn flush(&mut self) {
        if let Err(c) = isolate(|| self.update()) {
            let e = c.error("server", "publishing diagnostics", None);
            self.log(lsp::MessageType::ERROR, e.message());
        }
    }

    /// How the CLI would be configured for these files given alone (a missing one as the file
    /// stdin stands for), with the project root the builds that include them are looked for
    /// under. The CLI falls back to its working directory when no configuration or git work
    /// tree marks the project; an editor's may be anything, so the workspace folder holding
    /// the files stands for it.
    fn session_for(&mut self, files: &[PathBuf]) -> (Session, Option<PathBuf>) {
        let on_disk: Vec<PathBuf> = files.iter().filter(|p| p.is_file()).cloned().collect();
        let missing = files
            .iter()
            .find(|p| !p.is_file())
            .map(|p| p.to_string_lossy().into_owned());
        let request = session::Request {
            paths: &on_disk,
            stdin_filename: missing.as_deref().filter(|_| on_disk.is_empty()),
            ..session::Request::default()
        };
        let mut s = Session::open(&request).unwrap_or_else(|e| {
            self.show_once(format!(
                "invalid configuration: {e}; using the default settings until it is fixed"
            ));
            Session::defaults(&request)
        });
        let marked = |r: &Path| {
            [".git", ".kube-migrate-lint.yaml", ".kube-migrate-lint.yml"]
                .iter()
                .any(|m| r.join(m).exists())
        };
        let inside = |r: &Path| files.iter().all(|f| f.starts_with(r));
        let root = match s.settings.path_names.root() {
            Some(r) if marked(r) && inside(r) => Some(r.to_path_buf()),
            _ => self
                .folders
                .iter()
                .filter(|f| inside(f))
                .max_by_key(|f| f.components().count())
                .cloned(),
        };
        if let Some(r) = &root
            && s.settings.path_names.root() != Some(r.as_path())
        {
            s.settings.path_names = crate::model::discover::PathNames::relative_to(r);
        }
        crate::app::evidence_root(&mut s.settings, &on_disk);
        (s, root)
    }

    /// The unit of an open buffer (canonical path): what the CLI reads for it alone.
    fn unit_of(&mut self, path: &Path) -> Option<Unit> {
        let (session, root) = self.session_for(&[path.to_path_buf()]);
        let project = root.map(|r| {
            &*self
                .projects
                .entry(r.clone())
                .or_insert_with(|| resolve::Project::scan(&r))
        });
        let file = path.to_path_buf();
        let plan = if path.is_file() {
            resolve::plan_in(&[file], None, project)
        } else {
            resolve::plan_in(&[], Some(&file), project)
        };
        let mut roots = plan.roots;
        if crate::app::reads_flux_stages(&session.settings)
            && let Some(r) = session.settings.repo_root.clone()
        {
            let scanned = self
                .evidence
                .entry(r.clone())
                .or_insert_with(|| std::sync::Arc::new(crate::model::evidence::scan(&r)));
            crate::app::with_flux_deployers(&mut roots, scanned);
        }
        Some(Unit { roots })
    }

    fn update(&mut self) {
        if self.dirty.is_empty() && !self.everything_dirty {
            return;
        }
        let dirty = std::mem::take(&mut self.dirty);
        let everything = std::mem::take(&mut self.everything_dirty);
        self.dirty_since = None;
        if everything {
            // Which kustomization includes what is read anew, and how the repository deploys.
            self.projects.clear();
            self.evidence.clear();
            let paths: Vec<PathBuf> = self.docs.keys().cloned().collect();
            for p in paths {
                let u = if self.lintable(&p) {
                    self.unit_of(&p)
                } else {
                    None
                };
                if let Some(d) = self.docs.get_mut(&p) {
                    d.unit = u;
                }
            }
        }
        // Units no open document belongs to any more are dropped, with their models.
        let needed: BTreeSet<Unit> = self.docs.values().filter_map(|d| d.unit.clone()).collect();
        self.units.retain(|u, _| needed.contains(u));
        // A unit is linted again when a file it read (or one of its buffers) changed from the
        // text it read: a buffer opened on a file its unit already read as it is costs nothing.
        let stale = |st: &UnitState, p: &Path| match (self.docs.get(p), st.model.file(p)) {
            (Some(d), Some(id)) => {
                st.model.ws.files[id as usize].source.text.as_ref() != d.text.as_str()
            }
            _ => true,
        };
        let mut todo: BTreeSet<Unit> = if everything {
            needed
        } else {
            dirty
                .iter()
                .filter_map(|p| self.docs.get(p).and_then(|d| d.unit.clone()))
                .filter(|u| !self.units.contains_key(u))
                .collect()
        };
        for (u, st) in &self.units {
            let own = |p: &PathBuf| self.docs.get(p).is_some_and(|d| d.unit.as_ref() == Some(u));
            if dirty
                .iter()
                .any(|p| (own(p) || st.files.contains_key(p)) && stale(st, p))
            {
                todo.insert(u.clone());
            }
        }
        for u in &todo {
            // A unit that fails keeps what was published for it last.
            match isolate(|| self.lint(u)) {
                Ok(state) => {
                    self.units.insert(u.clone(), state);
                }
                Err(c) => {
                    let name = u.name();
                    let e = c.error("server", format!("linting {name}"), Some(&name));
                    self.log(lsp::MessageType::ERROR, e.message());
                }
            }
        }
        self.publish();
    }

    /// Lint a unit as the CLI lints its buffers' files given alone, with the open buffers
    /// standing for their files.
    fn lint(&mut self, unit: &Unit) -> UnitState {
        crate::base::internal::inject("server", &unit.name());
        let mine: Vec<PathBuf> = self
            .docs
            .iter()
            .filter(|(_, d)| d.unit.as_ref() == Some(unit))
            .map(|(p, _)| p.clone())
            .collect();
        let (
            Session {
                mut settings,
                excludes,
                ..
            },
            _,
        ) = self.session_for(&mine);
        if settings.deploy_engine == crate::model::config::DeployEngine::Auto
            && let Some(r) = settings.repo_root.clone()
        {
            let scanned = self
                .evidence
                .entry(r.clone())
                .or_insert_with(|| std::sync::Arc::new(crate::model::evidence::scan(&r)));
            settings.repo_evidence = Some(scanned.clone());
        }
        let max = settings.max_file_size;
        let overlays: Vec<Input> = self
            .docs
            .iter()
            .filter(|(p, d)| d.unit.is_some() && (unit.reads(p) || mine.contains(p)))
            .filter(|(p, _)| !excludes.is_excluded(p))
            .map(|(p, d)| Input {
                display: settings.path_names.show(p),
                path: Some(p.clone()),
                bytes: if d.text.len() as u64 > max {
                    Err(ReadError::TooLarge(d.text.len() as u64))
                } else {
                    Ok(d.text.clone().into_bytes())
                },
            })
            .collect();
        let (report, ws) = engine::lint_paths_overlaid(&unit.roots, overlays, &excludes, &settings);
        for n in &report.notes {
            self.log_once(lsp::MessageType::LOG, format!("note: {n}"));
        }
        for e in &report.errors {
            self.log_once(lsp::MessageType::WARNING, format!("error: {e}"));
        }
        // Bugs no file carries (a context, a workspace rule); those in a file are published on
        // it as `internal-error` findings.
        for e in &report.internal {
            self.log_once(lsp::MessageType::ERROR, e.message());
        }
        let paths: Vec<Option<PathBuf>> = ws
            .files
            .iter()
            .map(|f| f.source.path.as_deref().and_then(resolve::canonical))
            .collect();
        let uris: Vec<Option<lsp::Uri>> = paths
            .iter()
            .map(|p| p.as_deref().and_then(|p| self.uri_for(p)))
            .collect();
        let uri_of = |id: FileId| uris.get(id as usize).cloned().flatten();
        let sources: Vec<&SourceFile> = ws.files.iter().map(|f| &f.source).collect();
        let mut files: BTreeMap<PathBuf, Vec<Finding>> = paths
            .iter()
            .flatten()
            .map(|p| (p.clone(), Vec::new()))
            .collect();
        for d in &report.diagnostics {
            let Some(Some(path)) = paths.get(d.loc.file as usize) else {
                continue;
            };
            if let Some((_, f)) = convert::finding(&sources, d, &uri_of)
                && let Some(list) = files.get_mut(path)
            {
                list.push(f);
            }
        }
        drop(sources);
        let mut reach: BTreeMap<PathBuf, usize> = BTreeMap::new();
        for c in &ws.contexts {
            for &f in &c.files {
                if let Some(Some(p)) = paths.get(f as usize) {
                    *reach.entry(p.clone()).or_default() += 1;
                }
            }
        }
        // The links navigation follows; a bug drawing them leaves the findings published.
        let graph = isolate(|| Graph::of_run(&ws, &report.diagnostics)).unwrap_or_else(|c| {
            let e = c.error("graph", "drawing the links of this unit", None);
            self.log(lsp::MessageType::ERROR, e.message());
            Graph::default()
        });
        UnitState {
            files,
            reach,
            model: nav::Model::new(ws, graph, &paths, uris, report.redactions),
        }
    }

    /// Send each file's findings where they changed, and an empty list where a file is no
    /// longer read at all. A file's findings come from one unit, so that they are the CLI's:
    /// an open buffer's from its own unit (what `kube-migrate-lint FILE` reports for it),
    /// another file's from the unit where the most builds include it.
    fn publish(&mut self) {
        let mut best: BTreeMap<&PathBuf, ((bool, usize), &Vec<Finding>)> = BTreeMap::new();
        for (u, st) in &self.units {
            for (p, fs) in &st.files {
                let own = self.docs.get(p).and_then(|d| d.unit.as_ref()) == Some(u);
                let rank = (own, st.reach.get(p).copied().unwrap_or(0));
                match best.get(p) {
                    Some((r, _)) if *r >= rank => {}
                    _ => {
                        best.insert(p, (rank, fs));
                    }
                }
            }
        }
        let mut current: BTreeMap<PathBuf, Vec<Finding>> = best
            .into_iter()
            .map(|(p, (_, fs))| (p.clone(), fs.clone()))
            .collect();
        for fs in current.values_mut() {
            fs.sort_by_key(|f| {
                let r = f.diagnostic.range;
                (r.start.line, r.start.character, r.end.line, r.end.character)
            });
        }
        let mut sent = BTreeSet::new();
        for (path, fs) in &current {
            let Some(uri) = self.uri_for(path) else {
                continue;
            };
            let key = uri.as_str().to_string();
            let diags: Vec<lsp::Diagnostic> = fs.iter().map(|f| f.diagnostic.clone()).collect();
            if self.forced.contains(&key) || self.published.get(&key) != Some(&diags) {
                let version = self.docs.get(path).map(|d| d.version);
                self.send_diagnostics(uri, diags.clone(), version);
                self.published.insert(key.clone(), diags);
            }
            sent.insert(key);
        }
        let gone: Vec<String> = self
            .published
            .keys()
            .filter(|k| !sent.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            self.published.remove(&key);
            if let Some(uri) = convert::parse_uri(&key) {
                self.send_diagnostics(uri, Vec::new(), None);
            }
        }
        self.forced.clear();
        self.current = current;
    }

    fn findings_at(&self, uri: &lsp::Uri) -> &[Finding] {
        self.path_of(uri)
            .and_then(|p| self.current.get(&p))
            .map_or(&[], Vec::as_slice)
    }

    /// The models to answer a request on the file at `uri` from, with its id in each: its own
    /// unit's, which holds every build that includes it; for a file no open buffer stands for,
    /// those of every unit that read it, the one where the most builds include it first.
    fn models_of(&self, uri: &lsp::Uri) -> Vec<(&nav::Model, FileId)> {
        let Some(path) = self.path_of(uri) else {
            return Vec::new();
        };
        let own = self.docs.get(&path).and_then(|d| d.unit.as_ref());
        if let Some(st) = own.and_then(|u| self.units.get(u))
            && let Some(f) = st.model.file(&path)
        {
            return vec![(&st.model, f)];
        }
        let mut out: Vec<(usize, &nav::Model, FileId)> = self
            .units
            .values()
            .filter_map(|st| {
                let f = st.model.file(&path)?;
                Some((st.reach.get(&path).copied().unwrap_or(0), &st.model, f))
            })
            .collect();
        out.sort_by_key(|(reach, _, _)| std::cmp::Reverse(*reach));
        out.into_iter().map(|(_, m, f)| (m, f)).collect()
    }

    /// The value under the cursor as each build renders it, and the findings there with their
    /// rules' pages.
    fn hover(&self, p: &lsp::HoverParams) -> Option<lsp::Hover> {
        let at = &p.text_document_position_params;
        let cursor = lsp::Range::new(at.position, at.position);
        let value = nav::hover(&self.models_of(&at.text_document.uri), at.position);
        let hits: Vec<&Finding> = self
            .findings_at(&at.text_document.uri)
            .iter()
            .filter(|f| convert::touches(&f.diagnostic.range, &cursor))
            .collect();
        let mut md = value
            .as_ref()
            .map(|v| format!("{}\n\n", v.markdown))
            .unwrap_or_default();
        let mut rules: Vec<String> = Vec::new();
        for f in &hits {
            let d = &f.diagnostic;
            let rule = match &d.code {
                Some(lsp::NumberOrString::String(s)) => s.clone(),
                _ => String::new(),
            };
            let severity = match d.severity {
                Some(lsp::DiagnosticSeverity::ERROR) => "error",
                Some(lsp::DiagnosticSeverity::WARNING) => "warning",
                _ => "info",
            };
            md.push_str(&format!(
                "**{severity}[{rule}]** {}\n\n",
                d.message.replace("\nhelp: ", "\n\n*help:* ")
            ));
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        for rule in &rules {
            if let Ok(page) = crate::app::explain(rule) {
                md.push_str("---\n\n");
                md.push_str(page.trim_end());
                md.push_str("\n\n");
            }
        }
        // The narrowest finding's range, else the value's.
        let range = hits
            .iter()
            .map(|f| f.diagnostic.range)
            .min_by_key(|r| (r.end.line - r.start.line, r.end.character))
            .or(value.map(|v| v.range))?;
        Some(lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value: md.trim_end().to_string(),
            }),
            range: Some(range),
        })
    }

    /// Quick fixes for the findings in the range, or for the diagnostics the client names.
    fn code_actions(&self, p: &lsp::CodeActionParams) -> Vec<lsp::CodeActionOrCommand> {
        let quickfix = lsp::CodeActionKind::QUICKFIX;
        if let Some(only) = &p.context.only
            && !only.iter().any(|k| {
                k.as_str().is_empty()
                    || k == &quickfix
                    || quickfix.as_str().starts_with(&format!("{}.", k.as_str()))
            })
        {
            return Vec::new();
        }
        self.findings_at(&p.text_document.uri)
            .iter()
            .filter(|f| {
                convert::touches(&f.diagnostic.range, &p.range)
                    || p.context.diagnostics.iter().any(|d| {
                        d.range == f.diagnostic.range
                            && d.code == f.diagnostic.code
                            && d.message == f.diagnostic.message
                    })
            })
            .filter_map(|f| f.action.clone())
            .map(lsp::CodeActionOrCommand::CodeAction)
            .collect()
    }

    /// A code lens's command: ask the client to show the place (LSP 3.16 `showDocument`).
    fn execute(&mut self, id: lsp_server::RequestId, p: lsp::ExecuteCommandParams) -> Response {
        let location = p
            .arguments
            .first()
            .and_then(|a| serde_json::from_value::<lsp::Location>(a.clone()).ok());
        match (p.command.as_str(), location) {
            (nav::SHOW_COMMAND, Some(l)) if !self.show_document => {
                let path = convert::uri_to_path(l.uri.as_str())
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| l.uri.as_str().to_string());
                Response::new_err(
                    id,
                    ErrorCode::RequestFailed as i32,
                    format!(
                        "this editor cannot be asked to show a place (no window/showDocument): it is {path}:{}",
                        l.range.start.line + 1
                    ),
                )
            }
            (nav::SHOW_COMMAND, Some(l)) => {
                self.requests += 1;
                self.send(
                    Request::new(
                        format!("kube-migrate-lint/{}", self.requests).into(),
                        "window/showDocument".into(),
                        lsp::ShowDocumentParams {
                            uri: l.uri,
                            external: Some(false),
                            take_focus: Some(true),
                            selection: Some(l.range),
                        },
                    )
                    .into(),
                );
                Response::new_ok(id, ())
            }
            (command, _) => Response::new_err(
                id,
                ErrorCode::InvalidParams as i32,
                format!("unknown command or arguments: {command}"),
            ),
        }
    }

    fn send(&self, msg: Message) {
        let _ = self.sender.send(msg);
    }

    fn send_diagnostics(&self, uri: lsp::Uri, diagnostics: Vec<lsp::Diagnostic>, v: Option<i32>) {
        self.send(
            Notification::new(
                "textDocument/publishDiagnostics".into(),
                lsp::PublishDiagnosticsParams {
                    uri,
                    diagnostics,
                    version: v,
                },
            )
            .into(),
        );
    }

    fn log(&self, typ: lsp::MessageType, message: String) {
        self.send(
            Notification::new(
                "window/logMessage".into(),
                lsp::LogMessageParams { typ, message },
            )
            .into(),
        );
    }

    fn log_once(&mut self, typ: lsp::MessageType, message: String) {
        if self.said.insert(message.clone()) {
            self.log(typ, message);
        }
    }

    /// An error the user must see (an invalid configuration), once.
    fn show_once(&mut self, message: String) {
        if self.said.insert(message.clone()) {
            self.log(lsp::MessageType::ERROR, message.clone());
            self.send(
                Notification::new(
                    "window/showMessage".into(),
                    lsp::ShowMessageParams {
                        typ: lsp::MessageType::ERROR,
                        message,
                    },
                )
                .into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: myapp-migration-v1\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: \"app-migration:v1\"}]\n";
    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: myapp\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [\"job-wr\", \"myapp-migration-v1\"]\n      containers: [{name: app, image: \"app:v1\"}]\n";

    /// A base with the Job, an overlay elsewhere with the Deployment waiting for it.
    fn tree() -> (tempfile::TempDir, PathBuf) {
        tree_with(&[])
    }

    /// [`tree`] with `extra` files (path below the root, text) written over it.
    fn tree_with(extra: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let files = [
            ("base/kustomization.yaml", "resources: [job.yaml]\n"),
            ("base/job.yaml", JOB),
            (
                "overlays/prod/kustomization.yaml",
                "resources: [../../base, deployment.yaml]\n",
            ),
            ("overlays/prod/deployment.yaml", DEPLOY),
            ("loose/a.yaml", "kind: ConfigMap\n"),
            ("loose/.hidden.yaml", "kind: ConfigMap\n"),
            ("loose/notes.txt", "x\n"),
        ];
        for (path, text) in files.iter().chain(extra) {
            write(&root.join(path), text);
        }
        (d, root)
    }

    #[test]
    fn a_unit_is_what_the_cli_reads_for_the_file_alone() {
        let (_d, root) = tree_with(&[(
            "overlays/staging/kustomization.yaml",
            "resources: [../../base]\n",
        )]);
        let (tx, _rx) = crossbeam_channel::unbounded();
        let mut s = Server::new(tx, vec![root.clone()]);
        let overlay = root.join("overlays/prod");
        let prod = s.unit_of(&overlay.join("deployment.yaml")).unwrap();
        assert_eq!(
            prod.roots,
            vec![
                root.join("base/job.yaml"),
                root.join("base/kustomization.yaml"),
                overlay.join("deployment.yaml"),
                overlay.join("kustomization.yaml"),
            ]
        );
        assert!(prod.reads(&root.join("base/job.yaml")));
        assert!(!prod.reads(&root.join("base/other.yaml")));
        // The overlay's kustomization resolves to its own build: the same unit.
        assert_eq!(s.unit_of(&overlay.join("kustomization.yaml")), Some(prod));
        // A base file: every build that includes it, not the base alone.
        let base = s.unit_of(&root.join("base/job.yaml")).unwrap();
        assert_eq!(
            base.roots,
            vec![
                root.join("base/job.yaml"),
                root.join("base/kustomization.yaml"),
                overlay.join("deployment.yaml"),
                overlay.join("kustomization.yaml"),
                root.join("overlays/staging/kustomization.yaml"),
            ]
        );
        assert_eq!(s.projects.len(), 1, "one scan per project root");
        // A file no kustomization includes, unsaved: the manifests beside it.
        let loose = s.unit_of(&root.join("loose/new.yaml")).unwrap();
        assert!(
            loose.roots.contains(&root.join("loose/a.yaml")),
            "{loose:?}"
        );
        assert!(!loose.reads(&root.join("base/job.yaml")));
    }

    struct Client {
        conn: Connection,
        server: Option<std::thread::JoinHandle<i32>>,
        id: i32,
    }

    impl Client {
        fn start(root: &Path) -> Client {
            let (server, conn) = Connection::memory();
            let handle = std::thread::spawn(move || serve(&server));
            let mut c = Client {
                conn,
                server: Some(handle),
                id: 0,
            };
            let folder = convert::path_to_uri(root);
            c.request(
                "initialize",
                json!({"capabilities": {}, "workspaceFolders": [{"uri": folder, "name": "w"}]}),
            );
            c.notify("initialized", json!({}));
            c
        }

        fn notify(&self, method: &str, params: Value) {
            self.conn
                .sender
                .send(Notification::new(method.into(), params).into())
                .unwrap();
        }

        fn request(&mut self, method: &str, params: Value) -> Response {
            self.id += 1;
            let req = Request::new(self.id.into(), method.into(), params);
            self.conn.sender.send(req.into()).unwrap();
            loop {
                match self.next() {
                    Message::Response(r) if r.id == self.id.into() => return r,
                    _ => {}
                }
            }
        }

        fn next(&self) -> Message {
            self.conn
                .receiver
                .recv_timeout(Duration::from_secs(60))
                .expect("the server answers")
        }

        /// The next diagnostics for `path` satisfying `want`.
        fn diagnostics(&self, path: &Path, want: impl Fn(&[&str]) -> bool) -> Vec<String> {
            let uri = convert::path_to_uri(path);
            loop {
                if let Message::Notification(n) = self.next()
                    && n.method == "textDocument/publishDiagnostics"
                    && n.params["uri"] == uri.as_str()
                {
                    let rules: Vec<String> = n.params["diagnostics"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d["code"].as_str().unwrap().to_string())
                        .collect();
                    if want(&rules.iter().map(String::as_str).collect::<Vec<_>>()) {
                        return rules;
                    }
                }
            }
        }

        fn open(&self, path: &Path, text: &str) {
            self.notify(
                "textDocument/didOpen",
                json!({"textDocument": {"uri": convert::path_to_uri(path), "languageId": "yaml", "version": 1, "text": text}}),
            );
        }

        fn change(&self, path: &Path, version: i32, text: &str) {
            self.notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": convert::path_to_uri(path), "version": version}, "contentChanges": [{"text": text}]}),
            );
        }

        fn stop(mut self) -> i32 {
            let r = self.request("shutdown", Value::Null);
            assert!(r.response_result.is_ok());
            self.notify("exit", Value::Null);
            self.server.take().unwrap().join().unwrap()
        }
    }

    #[test]
    fn a_change_in_a_base_updates_the_overlay_that_includes_it() {
        let (_d, root) = tree();
        let job = root.join("base/job.yaml");
        let deploy = root.join("overlays/prod/deployment.yaml");
        let c = Client::start(&root);
        c.open(&deploy, DEPLOY);
        // The overlay reads the base outside its directory: the wait target is found.
        let rules = c.diagnostics(&deploy, |_| true);
        assert!(
            !rules.contains(&"wait-target-missing".to_string()),
            "{rules:?}"
        );
        c.open(&job, JOB);
        c.diagnostics(&job, |_| true);
        // The Job's unit is the overlay including its base, shared with the Deployment's buffer.
        c.change(&job, 2, &JOB.replace("migration-v1", "migration-v2"));
        c.diagnostics(&deploy, |r| r.contains(&"wait-target-missing"));
        c.change(&job, 3, JOB);
        c.diagnostics(&deploy, |r| !r.contains(&"wait-target-missing"));
        // A buffer the linter would not read (hidden) gets nothing and breaks nothing.
        c.open(&root.join("loose/.hidden.yaml"), "kind: [\n");
        c.open(&root.join("loose/a.yaml"), "kind: [\n");
        c.diagnostics(&root.join("loose/a.yaml"), |r| r == ["yaml-syntax"]);
        assert_eq!(c.stop(), 0);
    }

    #[test]
    fn buffers_of_the_same_builds_share_a_unit_and_unneeded_ones_are_dropped() {
        let (_d, root) = tree();
        let (tx, _rx) = crossbeam_channel::unbounded();
        let mut s = Server::new(tx, vec![root.clone()]);
        let open = |s: &mut Server, p: &Path, text: &str| {
            s.notification(Notification::new(
                "textDocument/didOpen".into(),
                json!({"textDocument": {"uri": convert::path_to_uri(p), "languageId": "yaml", "version": 1, "text": text}}),
            ));
            s.flush();
        };
        open(&mut s, &root.join("base/job.yaml"), JOB);
        let first = s.units.values().next().map(|st| st.model.ws.files.len());
        // The Deployment resolves to the same build: no second unit.
        open(&mut s, &root.join("overlays/prod/deployment.yaml"), DEPLOY);
        assert_eq!(s.units.len(), 1);
        assert_eq!(
            s.units.values().next().map(|st| st.model.ws.files.len()),
            first
        );
        let a = root.join("loose/a.yaml");
        open(&mut s, &a, "kind: ConfigMap\n");
        assert_eq!(s.units.len(), 2);
        s.notification(Notification::new(
            "textDocument/didClose".into(),
            json!({"textDocument": {"uri": convert::path_to_uri(&a)}}),
        ));
        s.flush();
        assert_eq!(s.units.len(), 1, "the loose file's model is dropped");
        assert!(!s.current.contains_key(&a));
    }

    #[test]
    fn saving_a_kustomization_moves_buffers_to_their_new_unit() {
        let (_d, root) = tree();
        let extra = root.join("base/extra.yaml");
        write(&extra, "kind: ConfigMap\nmetadata: {name: x}\n");
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut s = Server::new(tx, vec![root.clone()]);
        let uri = |p: &Path| convert::path_to_uri(p);
        s.notification(Notification::new(
            "textDocument/didOpen".into(),
            json!({"textDocument": {"uri": uri(&extra), "languageId": "yaml", "version": 1, "text": "kind: ConfigMap\n"}}),
        ));
        s.flush();
        let units: Vec<Unit> = s.units.keys().cloned().collect();
        assert_eq!(units.len(), 1);
        // Loose: the manifests beside it (base's kustomization and what it lists included).
        assert!(units[0].reads(&extra), "{units:?}");
        let k = root.join("base/kustomization.yaml");
        write(&k, "resources: [job.yaml, extra.yaml]\n");
        s.notification(Notification::new(
            "textDocument/didSave".into(),
            json!({"textDocument": {"uri": uri(&k)}}),
        ));
        s.flush();
        // Now listed by the base, whose only includer is the overlay: that build.
        let units: Vec<Unit> = s.units.keys().cloned().collect();
        assert_eq!(units.len(), 1);
        assert!(
            units[0].reads(&root.join("overlays/prod/deployment.yaml")),
            "{units:?}"
        );
        assert!(s.current.contains_key(&root.join("base/job.yaml")));
        assert!(rx.try_iter().count() > 0);
    }

    #[test]
    fn an_invalid_configuration_is_shown_and_defaults_apply() {
        let (_d, root) = tree_with(&[(".kube-migrate-lint.yaml", "rules: {nope: off}\n")]);
        let c = Client::start(&root);
        let a = root.join("loose/a.yaml");
        c.open(&a, "kind: [\n");
        let mut shown = None;
        loop {
            match c.next() {
                Message::Notification(n) if n.method == "window/showMessage" => {
                    shown = n.params["message"].as_str().map(str::to_string);
                }
                Message::Notification(n)
                    if n.method == "textDocument/publishDiagnostics"
                        && n.params["uri"] == convert::path_to_uri(&a).as_str() =>
                {
                    assert_eq!(n.params["diagnostics"][0]["code"], "yaml-syntax");
                    break;
                }
                _ => {}
            }
        }
        let shown = shown.expect("the configuration error is shown");
        assert!(shown.contains("invalid configuration"), "{shown}");
        assert!(shown.contains("nope"), "{shown}");
        assert_eq!(c.stop(), 0);
    }
}
