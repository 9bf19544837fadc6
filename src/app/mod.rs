//! What the CLI does, with plain options (no clap type reaches the library): find and load the
//! config, resolve settings, lint, write the report, and choose the exit code.

pub mod graph;
pub mod lsp;
pub(crate) mod session;

use crate::base::diagnostic::Severity;
use crate::base::internal;
use crate::engine::{self, Input, ReadError, Report, Settings};
use crate::model::config;
use crate::output::{self, Format};
use crate::render::resolve;
use crate::rules;
use session::Session;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// Exit code: nothing to report.
pub const EXIT_CLEAN: i32 = 0;
pub(crate) const EXIT_FINDINGS: i32 = 1;
/// Exit code: the run failed (unreadable input, bad configuration, internal error).
pub const EXIT_ERROR: i32 = 2;

/// When the human format uses colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// Colour when the output is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Colour even when piped.
    Always,
    /// Never colour.
    Never,
}

/// What one command-line run lints and how it reports.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Files and directories; `-` is stdin. Empty: the current directory.
    pub paths: Vec<PathBuf>,
    /// The name to report standard input under (`-` among the paths).
    pub stdin_filename: Option<String>,
    /// The report format on standard output.
    pub format: Format,
    /// A configuration file to use instead of the one found from the paths.
    pub config: Option<PathBuf>,
    /// Ignore configuration files.
    pub no_config: bool,
    /// Run only these rules.
    pub select: Vec<String>,
    /// Leave these rules out.
    pub ignore: Vec<String>,
    /// Glob patterns of paths to leave out.
    pub exclude: Vec<String>,
    /// Lowest severity that fails the run; None: never fail on findings.
    pub fail_on: Option<Severity>,
    /// When to colour the human format.
    pub color: Color,
    /// Files larger than this many bytes are reported, not read.
    pub max_file_size: Option<u64>,
    /// `--context all`: everything given is one context.
    pub context_all: bool,
    /// `--output FORMAT=PATH`: more reports written to files in the same run.
    pub outputs: Vec<(Format, PathBuf)>,
    /// Hide findings recorded in this baseline.
    pub baseline: Option<PathBuf>,
    /// Record today's findings as the baseline.
    pub write_baseline: Option<PathBuf>,
    /// Whether to apply fixes, show them, or neither.
    pub fix: FixMode,
    /// Include fixes marked unsafe.
    pub unsafe_fixes: bool,
    /// Run as a pre-commit hook (`PRE_COMMIT=1`): the binary is only in pre-commit's
    /// environment, so the human report points at rule pages rather than `explain`.
    pub under_pre_commit: bool,
    /// The repository the deploy-engine evidence is scanned from; None: the git work tree
    /// above the linted files (tests lint each fixture as a repository of its own).
    pub repo_root: Option<PathBuf>,
    /// The process ends after this run (the command line): the model is left for the
    /// operating system to reclaim rather than freed object by object, which costs a serial
    /// half second on a large tree. Never set by the language server or a library caller.
    pub exit_after: bool,
}

/// Whether a run applies fixes, or shows them as a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FixMode {
    /// Report only.
    #[default]
    Off,
    /// Apply fixes, then report what is left.
    Fix,
    /// Print the fixes as a diff; write nothing.
    Diff,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            paths: Vec::new(),
            stdin_filename: None,
            format: Format::Human,
            config: None,
            no_config: false,
            select: Vec::new(),
            ignore: Vec::new(),
            exclude: Vec::new(),
            fail_on: Some(Severity::Warning),
            color: Color::Auto,
            max_file_size: None,
            context_all: false,
            outputs: Vec::new(),
            baseline: None,
            write_baseline: None,
            fix: FixMode::Off,
            unsafe_fixes: false,
            under_pre_commit: false,
            repo_root: None,
            exit_after: false,
        }
    }
}

/// pre-commit sets `PRE_COMMIT=1` for the hooks it runs (pre_commit/commands/run.py); only that
/// value counts, so a variable naming the pre-commit binary (as this project's tests use) does not.
pub fn under_pre_commit() -> bool {
    std::env::var_os("PRE_COMMIT").is_some_and(|v| v == "1")
}

/// Write, treating a closed pipe (`| head`) as the reader being done, not as an error.
fn emit(w: &mut dyn Write, s: &str) -> io::Result<()> {
    match w.write_all(s.as_bytes()).and_then(|_| w.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// The session for `request`, or its configuration error said on `err` and the exit code.
pub(crate) fn open_session(
    request: &session::Request<'_>,
    err: &mut dyn Write,
) -> Result<Session, i32> {
    Session::open(request).map_err(|e| {
        let _ = emit(err, &format!("error: {e}\n"));
        EXIT_ERROR
    })
}

/// Deploy-engine evidence is looked for from the root the builds are resolved from, so a file
/// linted alone gets the verdict the whole repository gets (unless a root was given). When
/// that root is only the working directory (no git work tree, no configuration file), it is
/// still searched for the objects that deploy the linted builds, but a sign that Flux or Argo
/// CD is used counts only among the linted paths: a directory holding unrelated trees beside
/// the linted one says nothing of how it is deployed.
pub(crate) fn evidence_root(settings: &mut Settings, paths: &[PathBuf]) {
    let Some(root) = settings.path_names.root() else {
        return;
    };
    if settings.repo_root.is_some()
        || paths.is_empty()
        || !paths
            .iter()
            .all(|p| p.canonicalize().is_ok_and(|c| c.starts_with(root)))
    {
        return;
    }
    if settings.path_names.project_root().is_none() {
        settings.marks_within = Some(session::common_dir(paths));
    }
    settings.repo_root = Some(root.to_path_buf());
}

/// Run a lint; returns the exit code.
pub fn run(
    opts: &RunOptions,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    if let Err(e) = check_usage(opts) {
        let _ = emit(err, &format!("error: {e}\n"));
        return EXIT_ERROR;
    }
    internal::enter("loading the configuration");
    let request = session::Request {
        paths: &opts.paths,
        stdin_filename: opts.stdin_filename.as_deref(),
        config: opts.config.as_deref(),
        no_config: opts.no_config,
        select: &opts.select,
        ignore: &opts.ignore,
        exclude: &opts.exclude,
    };
    let Session {
        mut settings,
        excludes,
        ..
    } = match open_session(&request, err) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(m) = opts.max_file_size {
        settings.max_file_size = m;
    }
    if opts.context_all {
        settings.context_mode = crate::render::ContextMode::All;
    }
    if opts.repo_root.is_some() {
        settings.repo_root = opts.repo_root.clone();
    }
    settings.exit_after = opts.exit_after;

    let use_stdin = opts.paths.iter().any(|p| p.as_os_str() == "-");
    let mut paths: Vec<PathBuf> = opts
        .paths
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .cloned()
        .collect();
    if paths.is_empty() && !use_stdin {
        paths.push(PathBuf::from("."));
    }
    let stdin_input = use_stdin.then(|| {
        let mut buf = Vec::new();
        let limit = settings.max_file_size;
        let bytes = match stdin.take(limit + 1).read_to_end(&mut buf) {
            Ok(_) if buf.len() as u64 > limit => Err(ReadError::TooLarge(buf.len() as u64)),
            Ok(_) => Ok(buf),
            Err(e) => Err(ReadError::Io(e.to_string())),
        };
        Input {
            display: opts
                .stdin_filename
                .clone()
                .map(|n| settings.path_names.show(Path::new(&n)))
                .unwrap_or_else(|| "<stdin>".into()),
            path: opts.stdin_filename.as_ref().map(PathBuf::from),
            bytes,
        }
    });
    let stdin_name = opts
        .stdin_filename
        .as_ref()
        .filter(|_| use_stdin)
        .map(PathBuf::from);
    let plan = plan_builds(&mut settings, &paths, stdin_name.as_deref());
    internal::enter("linting");
    let mut progress = Progress::start(&mut settings);
    let mut report = if opts.fix == FixMode::Off {
        engine::lint_paths(&plan.roots, stdin_input, &excludes, &settings)
    } else {
        let stdin_display = stdin_input.as_ref().map(|i| i.display.clone());
        let mut read = engine::read_paths(&plan.roots, stdin_input, &excludes, &settings);
        let inputs = std::mem::take(&mut read.inputs);
        let keep = |f: &crate::base::source::SourceFile| {
            plan.focus.as_ref().is_none_or(|focus| {
                f.path
                    .as_deref()
                    .is_none_or(|p| focus.keeps(p) || Some(p) == stdin_name.as_deref())
            })
        };
        let options = crate::engine::fix::Options {
            unsafe_fixes: opts.unsafe_fixes,
        };
        internal::enter("fixing");
        // A bug while fixing changes nothing: what is there is linted and reported as is.
        let fixing = internal::isolate(|| {
            crate::engine::fix::fix(inputs.clone(), &settings, options, &keep)
        });
        let outcome = fixing.unwrap_or_else(|c| {
            let mut report = engine::lint_inputs(inputs, &settings);
            report
                .internal
                .push(c.error("fix", "applying fixes; nothing was changed", None));
            crate::engine::fix::Outcome::unchanged(report)
        });
        // The line is erased before anything else is written to the terminal.
        drop(progress.take());
        match finish_fixes(opts, outcome, stdin_display.as_deref(), read, out, err) {
            Ok(report) => report,
            Err(code) => return code,
        }
    };
    drop(progress);
    report.root = settings.path_names.root().map(Path::to_path_buf);
    for w in empty_paths(opts, &report) {
        let _ = emit(err, &w);
    }
    internal::enter("choosing the findings to report");
    internal::inject("crash", "app");
    if let Some(focus) = &plan.focus {
        let kept: Vec<bool> = report
            .files
            .iter()
            .map(|f| {
                f.path
                    .as_deref()
                    .is_none_or(|p| focus.keeps(p) || Some(p) == stdin_name.as_deref())
            })
            .collect();
        // An internal error anywhere may have hidden something in the given files: kept.
        report.diagnostics.retain(|d| {
            kept[d.loc.file as usize]
                || d.related.iter().any(|r| kept[r.loc.file as usize])
                || d.rule == crate::rules::meta::INTERNAL_ERROR.name
        });
    }
    let mut fps = crate::engine::fingerprint::fingerprints(&report);
    if let Some(path) = &opts.write_baseline {
        internal::enter("writing the baseline");
        return match write_file(path, &crate::engine::baseline::render(&report, &fps)) {
            Ok(()) => {
                let recorded = crate::engine::baseline::recorded(&report);
                let mut side = format!(
                    "wrote {recorded} finding(s) to the baseline {}\n",
                    path.display()
                );
                // A bug is never recorded as accepted: it is reported, and fails the run.
                side.push_str(&internal_errors(&report));
                let _ = emit(err, &side);
                if report.has_internal_error() {
                    EXIT_ERROR
                } else {
                    EXIT_CLEAN
                }
            }
            Err(e) => {
                let _ = emit(
                    err,
                    &format!("error: cannot write {}: {e}\n", path.display()),
                );
                EXIT_ERROR
            }
        };
    }
    if let Some(path) = &opts.baseline {
        internal::enter("applying the baseline");
        let known = match crate::engine::baseline::read(path) {
            Ok(k) => k,
            Err(e) => {
                let _ = emit(err, &format!("error: {e}\n"));
                return EXIT_ERROR;
            }
        };
        let hidden = crate::engine::baseline::apply(&mut report, &mut fps, &known);
        if hidden > 0 {
            report.notes.push(format!(
                "{hidden} finding(s) recorded in the baseline {} are hidden",
                path.display()
            ));
        }
    }
    internal::enter("writing the report");
    let code = if opts.fix == FixMode::Fix && use_stdin {
        // The fixed text went to stdout; the findings left go to stderr.
        let (mut buf, mut side) = (Vec::new(), Vec::new());
        let code = write_report(opts, &report, &fps, &mut buf, &mut side);
        let _ = err.write_all(&buf).and_then(|_| err.write_all(&side));
        code
    } else {
        write_report(opts, &report, &fps, out, err)
    };
    if opts.exit_after {
        // The report is written and flushed; the process ends next.
        std::mem::forget(report);
        std::mem::forget(fps);
    }
    code
}

/// The builds `paths` (and stdin, named `stdin_name`) are linted in: a directory named is a
/// build of its own, even when another includes it; a file given alone is linted within every
/// build that includes it (only findings touching it are kept). Also sets where deploy-engine
/// evidence is looked for.
pub(crate) fn plan_builds(
    settings: &mut Settings,
    paths: &[PathBuf],
    stdin_name: Option<&Path>,
) -> resolve::Plan {
    settings.explicit_builds = paths.iter().filter(|p| p.is_dir()).cloned().collect();
    let mut plan = if paths.is_empty() && stdin_name.is_none() {
        resolve::Plan::default()
    } else {
        resolve::plan(paths, stdin_name, settings.path_names.root())
    };
    evidence_root(settings, paths);
    if plan.focus.is_some()
        && reads_flux_stages(settings)
        && let Some(root) = settings.repo_root.clone()
    {
        let scanned = settings
            .repo_evidence
            .get_or_insert_with(|| std::sync::Arc::new(crate::model::evidence::scan(&root)));
        with_flux_deployers(&mut plan.roots, scanned);
    }
    plan
}

/// Whether a file linted alone is read with the Flux stages of the repository: unless the
/// engine is configured as one that is not Flux (then the repository is not scanned at all, as
/// a one-file run in a large repository may want).
pub(crate) fn reads_flux_stages(settings: &Settings) -> bool {
    use crate::model::config::DeployEngine;
    matches!(
        settings.deploy_engine,
        DeployEngine::Auto | DeployEngine::Flux
    )
}

/// A file linted alone is judged in its builds as Flux deploys them. When a Flux Kustomization
/// of the repository deploys one of `roots`, the run also reads every Flux Kustomization the
/// repository scan found and the directories they deploy, as the whole-tree run does: a
/// Flux Kustomization sets its build's namespace and substitutes its variables, and a wait in
/// one Flux stage may name a Job another stage renders. Only findings in the given files are
/// kept, so this changes whether they are right, not which files they are shown in.
pub(crate) fn with_flux_deployers(
    roots: &mut Vec<PathBuf>,
    evidence: &crate::model::evidence::RepoEvidence,
) {
    let cwd = std::env::current_dir().unwrap_or_default();
    let flux = crate::model::evidence::CoverIndex::new(&evidence.flux);
    let deployed = roots.iter().any(|r| {
        let dir = if r.is_dir() {
            r.as_path()
        } else {
            r.parent().unwrap_or(Path::new(""))
        };
        let dir = crate::model::discover::normalize(&cwd.join(dir));
        evidence
            .relative(&dir)
            .is_some_and(|d| flux.covering(&d).next().is_some())
    });
    if !deployed {
        return;
    }
    for f in &evidence.flux {
        roots.push(evidence.root.join(&f.file));
        let dir = evidence.root.join(&f.path);
        if dir.is_dir() {
            roots.push(dir);
        }
    }
    roots.sort();
    roots.dedup();
}

/// The first of `paths` that does not exist, as a usage error (a typo in CI would otherwise
/// lint nothing).
pub(crate) fn missing_path(paths: &[PathBuf]) -> Option<String> {
    paths
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .find(|p| std::fs::symlink_metadata(p).is_err_and(|e| e.kind() == io::ErrorKind::NotFound))
        .map(|p| format!("`{}`: no such file or directory", p.display()))
}

/// Mistakes in the command line that no report should hide: a path that does not exist (a typo
/// in CI would otherwise lint nothing), `--stdin-filename` without `-` to read stdin.
pub(crate) fn check_usage(opts: &RunOptions) -> Result<(), String> {
    if let Some(e) = missing_path(&opts.paths) {
        return Err(e);
    }
    let use_stdin = opts.paths.iter().any(|p| p.as_os_str() == "-");
    if opts.stdin_filename.is_some() && !use_stdin {
        return Err(
            "--stdin-filename names what stdin stands for, but stdin is not read: add `-` to the paths"
                .into(),
        );
    }
    Ok(())
}

/// The given directories under which no manifest was found: said on stderr, since a wrong path
/// in CI would otherwise pass in silence.
fn empty_paths(opts: &RunOptions, report: &Report) -> Vec<String> {
    let given: Vec<PathBuf> = if opts.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        opts.paths
            .iter()
            .filter(|p| p.as_os_str() != "-")
            .cloned()
            .collect()
    };
    let paths = || report.files.iter().filter_map(|f| f.path.as_deref());
    // Found files are the given directory joined with what is under it; only a directory none
    // of them spells that way costs real paths (once per file, and only then).
    let mut real: Option<Vec<PathBuf>> = None;
    let mut holds_a_file = |dir: &Path| {
        paths().any(|f| f.starts_with(dir))
            || crate::render::resolve::canonical(dir).is_some_and(|c| {
                real.get_or_insert_with(|| {
                    paths()
                        .filter_map(crate::render::resolve::canonical)
                        .collect()
                })
                .iter()
                .any(|f| f.starts_with(&c))
            })
    };
    given
        .iter()
        .filter(|p| p.is_dir() && !holds_a_file(p))
        .map(|p| {
            format!(
                "warning: no manifests (*.yaml, *.yml, Kustomization) found under `{}`\n",
                p.display()
            )
        })
        .collect()
}

/// Every internal error of a report (findings and file-less ones) as `error:` lines, for the
/// paths that print no report of their own (`--write-baseline`, `--diff`).
fn internal_errors(report: &Report) -> String {
    let mut s = String::new();
    for d in report.diagnostics.iter().filter(|d| is_internal(d)) {
        let file = &report.files[d.loc.file as usize].display;
        s.push_str(&format!("error: {file}: {}\n", d.message));
    }
    for e in &report.internal {
        s.push_str(&format!("error: {e}\n"));
    }
    s
}

/// Report what the fixes did, write them (`--fix`) or print them (`--diff`). `Ok` carries the
/// report of what is left, to be rendered as usual; `Err` an exit status when done.
fn finish_fixes(
    opts: &RunOptions,
    outcome: crate::engine::fix::Outcome,
    stdin_display: Option<&str>,
    read: engine::Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Report, i32> {
    let mut side = String::new();
    for r in &outcome.rejected {
        side.push_str(&format!(
            "not fixed: {}:{}: [{}] {}\n",
            r.file, r.line, r.rule, r.reason
        ));
    }
    let mut report = outcome.report;
    report.errors.extend(read.errors);
    report.notes.extend(read.notes);
    report.errors.sort();
    report.notes.sort();
    let files = outcome.changed.len();
    let fixes = outcome.applied.len();
    let unsafe_hint = if outcome.unsafe_available > 0 && !opts.unsafe_fixes {
        format!(
            "{} more fix(es) are available with --unsafe-fixes\n",
            outcome.unsafe_available
        )
    } else {
        String::new()
    };
    if opts.fix == FixMode::Diff {
        let diff = internal::isolate(|| {
            internal::inject("fix", "diff");
            crate::engine::fix::diff(&outcome.changed)
        });
        let status = match diff {
            Ok(d) => emit(out, &d),
            Err(c) => {
                let e = c.error("fix", "printing the diff", None);
                side.push_str(&format!("error: {e}\n"));
                Err(io::ErrorKind::Other.into())
            }
        };
        side.push_str(&format!(
            "{fixes} fix(es) would change {files} file(s); nothing was written\n{unsafe_hint}"
        ));
        for e in &report.errors {
            side.push_str(&format!("error: {e}\n"));
        }
        side.push_str(&internal_errors(&report));
        let _ = emit(err, &side);
        return Err(
            if status.is_err() || !report.errors.is_empty() || report.has_internal_error() {
                EXIT_ERROR
            } else if files > 0 {
                EXIT_FINDINGS
            } else {
                EXIT_CLEAN
            },
        );
    }
    let mut written = 0;
    for c in &outcome.changed {
        if Some(c.display.as_str()) == stdin_display {
            // Stdin: the fixed text is the output; the findings go to stderr.
            let _ = emit(out, &c.after);
            written += 1;
            continue;
        }
        match crate::engine::fix::write(c) {
            Ok(()) => written += 1,
            Err(e) => report
                .errors
                .push(format!("{}: not written: {e}", c.display)),
        }
    }
    side.push_str(&format!(
        "fixed {fixes} finding(s) in {written} file(s)\n{unsafe_hint}"
    ));
    let _ = emit(err, &side);
    Ok(report)
}

/// A progress line on stderr for long runs, only on a terminal and never in CI: it appears
/// after a second, is redrawn when it changes, and is erased before anything else is written.
struct Progress {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(settings: &mut Settings) -> Option<Progress> {
        if !io::stderr().is_terminal() || std::env::var_os("CI").is_some() {
            return None;
        }
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        settings.progress = Some(count.clone());
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = done.clone();
        let after = progress_delay();
        let thread = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let mut shown = String::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(50));
                if start.elapsed() < after {
                    continue;
                }
                let n = count.load(std::sync::atomic::Ordering::Relaxed);
                let line = format!(
                    "checking manifests: {n} files read ({:.0} s)",
                    start.elapsed().as_secs_f64()
                );
                if line != shown {
                    // Written whole, one write a line: stderr is locked per write.
                    let _ = io::stderr().write_all(format!("\r\x1b[2K{line}").as_bytes());
                    shown = line;
                }
            }
            if !shown.is_empty() {
                let _ = io::stderr().write_all(b"\r\x1b[2K");
            }
        });
        Some(Progress {
            done,
            thread: Some(thread),
        })
    }
}

/// How long a run goes before the progress line appears. Debug builds (the test suite's) take
/// `KUBE_MIGRATE_LINT_PROGRESS_AFTER_MS`, so a terminal test need not be slow to show it.
fn progress_delay() -> std::time::Duration {
    let ms = if cfg!(debug_assertions) {
        std::env::var("KUBE_MIGRATE_LINT_PROGRESS_AFTER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000)
    } else {
        1000
    };
    std::time::Duration::from_millis(ms)
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn color_enabled(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

/// Render one format.
pub fn render(
    format: Format,
    report: &Report,
    fingerprints: &[String],
    color: bool,
    under_pre_commit: bool,
) -> String {
    match format {
        Format::Json => output::json::render(report),
        Format::Concise => output::concise::render(report),
        Format::Gitlab => output::gitlab::render(report, fingerprints),
        Format::Junit => output::junit::render(report),
        Format::Sarif => {
            // Displayed names are relative to the project root; a report made without one (the
            // library, the server) names them from the working directory.
            let root = report.root.clone().or_else(|| std::env::current_dir().ok());
            output::sarif::render(report, fingerprints, root.as_deref())
        }
        Format::Github => output::github::render(report),
        Format::Human => {
            let width = terminal_width().unwrap_or(100);
            let opts = output::human::Options {
                color,
                width,
                under_pre_commit,
            };
            output::human::render(report, &opts)
        }
    }
}

/// Write a report file atomically: a temporary file beside it, then a rename.
fn write_file(path: &Path, text: &str) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn is_internal(d: &crate::base::diagnostic::Diagnostic) -> bool {
    d.rule == crate::rules::meta::INTERNAL_ERROR.name
}

/// The name a format is given on the command line.
fn format_name(format: Format) -> &'static str {
    match format {
        Format::Human => "human",
        Format::Json => "json",
        Format::Concise => "concise",
        Format::Gitlab => "gitlab",
        Format::Junit => "junit",
        Format::Sarif => "sarif",
        Format::Github => "github",
    }
}

/// Render one format, isolated: a bug in one emitter costs that report only.
fn render_isolated(
    format: Format,
    report: &Report,
    fingerprints: &[String],
    color: bool,
    under_pre_commit: bool,
    destination: &str,
) -> Result<String, internal::InternalError> {
    let name = format_name(format);
    internal::isolate(|| {
        internal::inject_with("output", || format!("{name} {destination}"));
        render(format, report, fingerprints, color, under_pre_commit)
    })
    .map_err(|c| {
        let doing = format!("writing the {name} report to {destination}");
        c.error("output", doing, Some(destination))
    })
}

fn write_report(
    opts: &RunOptions,
    report: &Report,
    fingerprints: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut side = String::new();
    let mut failed = false;
    let color = color_enabled(opts.color);
    let mut status = match render_isolated(
        opts.format,
        report,
        fingerprints,
        color,
        opts.under_pre_commit,
        "stdout",
    ) {
        Ok(text) => emit(out, &text),
        Err(e) => {
            side.push_str(&format!("error: {e}\n"));
            failed = true;
            Ok(())
        }
    };
    for (format, path) in &opts.outputs {
        let shown = path.display().to_string();
        match render_isolated(
            *format,
            report,
            fingerprints,
            false,
            opts.under_pre_commit,
            &shown,
        ) {
            Ok(text) => {
                if let Err(e) = write_file(path, &text) {
                    side.push_str(&format!("error: cannot write {shown}: {e}\n"));
                    failed = true;
                }
            }
            Err(e) => {
                side.push_str(&format!("error: {e}\n"));
                failed = true;
            }
        }
    }
    for n in &report.notes {
        side.push_str(&format!("note: {n}\n"));
    }
    for e in &report.errors {
        side.push_str(&format!("error: {e}\n"));
    }
    for e in &report.internal {
        side.push_str(&format!("error: {e}\n"));
    }
    if !side.is_empty() {
        status = status.and(emit(err, &side));
    }
    // A bug fails the run whatever `--fail-on` says: something was not checked.
    if status.is_err() || failed || !report.errors.is_empty() || report.has_internal_error() {
        return EXIT_ERROR;
    }
    let failing = opts
        .fail_on
        .is_some_and(|min| report.diagnostics.iter().any(|d| d.severity >= min));
    if failing { EXIT_FINDINGS } else { EXIT_CLEAN }
}

/// The width to wrap text to: `COLUMNS` when set, else the width of the terminal stdout is
/// (never below 40 columns, so a tiny window does not shred the report).
fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(|| terminal_size::terminal_size_of(io::stdout()).map(|(w, _)| w.0 as usize))
        .map(|w: usize| w.max(40))
}

/// `kube-migrate-lint build DIR`: the rendered YAML stream, or kustomize's errors (exit 1).
pub fn build(
    dir: &std::path::Path,
    provenance: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    match crate::engine::build(dir, provenance) {
        Ok(text) => print(out, &text),
        Err(errors) => {
            for e in errors {
                let _ = emit(err, &format!("error: {e}\n"));
            }
            EXIT_FINDINGS
        }
    }
}

/// `kube-migrate-lint rules`: every rule with its default severity, fixability and summary.
pub fn rules_table(format: Format) -> String {
    match format {
        Format::Json => {
            let v: Vec<_> = rules::REGISTRY
                .iter()
                .map(|r| {
                    let m = r.meta();
                    serde_json::json!({
                        "name": m.name, "severity": m.severity, "category": m.category.as_str(),
                        "fixable": m.fixable(), "fix": m.fix.as_str(), "summary": m.summary,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&v).expect("serialisable") + "\n"
        }
        _ => rules_text(terminal_width().unwrap_or(80)),
    }
}

/// The `rules` table as text: aligned columns, the summary wrapped to `width` under its own
/// column.
pub(crate) fn rules_text(width: usize) -> String {
    let metas: Vec<_> = rules::REGISTRY.iter().map(|r| r.meta()).collect();
    let col = |head: &str, cells: &mut dyn Iterator<Item = usize>| cells.chain([head.len()]).max();
    let name_w = col("rule", &mut metas.iter().map(|m| m.name.len())).unwrap_or(4);
    let sev_w = col(
        "severity",
        &mut metas.iter().map(|m| m.severity.as_str().len()),
    )
    .unwrap_or(8);
    let cat_w = col(
        "category",
        &mut metas.iter().map(|m| m.category.as_str().len()),
    )
    .unwrap_or(8);
    let indent = name_w + sev_w + cat_w + 9 + 4 * 2;
    // Too narrow for a summary column: the summary goes on lines of its own, indented a little.
    let (indent, first_on_own_line) = if width >= indent + 30 {
        (indent, false)
    } else {
        (4, true)
    };
    let wrap = textwrap::Options::new(width.saturating_sub(indent).max(20))
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    let head = format!(
        "{:name_w$}  {:sev_w$}  {:cat_w$}  {:9}",
        "rule", "severity", "category", "fix"
    );
    let mut s = if first_on_own_line {
        format!("{}\n", head.trim_end())
    } else {
        format!("{head}  summary\n")
    };
    for m in metas {
        let row = format!(
            "{:name_w$}  {:sev_w$}  {:cat_w$}  {:9}",
            m.name,
            m.severity.as_str(),
            m.category.as_str(),
            m.fix.as_str(),
        );
        let lines = textwrap::wrap(m.summary, &wrap);
        if first_on_own_line {
            s.push_str(row.trim_end());
            s.push('\n');
        }
        for (i, line) in lines.iter().enumerate() {
            if i == 0 && !first_on_own_line {
                s.push_str(&format!("{row}  {line}\n"));
            } else {
                s.push_str(&format!("{:indent$}{line}\n", ""));
            }
        }
    }
    s
}

/// `kube-migrate-lint explain RULE`: the rule's page.
pub fn explain(rule: &str) -> Result<String, String> {
    match rules::find(rule) {
        Some(r) => Ok(crate::rules::docs::body(r.meta().page).to_string()),
        None => {
            let hint = config::closest(rule, &rules::names())
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            Err(format!(
                "unknown rule `{rule}`{hint}; `kube-migrate-lint rules` lists them"
            ))
        }
    }
}

/// Write `s` to `out`; the exit code (`EXIT_ERROR` when the write fails).
pub fn print(out: &mut dyn Write, s: &str) -> i32 {
    match emit(out, s) {
        Ok(()) => EXIT_CLEAN,
        Err(_) => EXIT_ERROR,
    }
}
