//! What the CLI does, with plain options (no clap type reaches the library): find and load the
//! config, resolve settings, lint, write the report, and choose the exit code.

use crate::config::{self, Config};
use crate::diagnostic::Severity;
use crate::discover::Excludes;
use crate::engine::{self, Input, ReadError, Report, Settings};
use crate::output::{self, Format};
use crate::resolve;
use crate::rules;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

pub const EXIT_CLEAN: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Files and directories; `-` is stdin. Empty: the current directory.
    pub paths: Vec<PathBuf>,
    pub stdin_filename: Option<String>,
    pub format: Format,
    pub config: Option<PathBuf>,
    pub no_config: bool,
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    pub exclude: Vec<String>,
    /// Lowest severity that fails the run; None: never fail on findings.
    pub fail_on: Option<Severity>,
    pub color: Color,
    pub max_file_size: Option<u64>,
    /// `--context all`: everything given is one context.
    pub context_all: bool,
    /// `--output FORMAT=PATH`: more reports written to files in the same run.
    pub outputs: Vec<(Format, PathBuf)>,
    /// Hide findings recorded in this baseline.
    pub baseline: Option<PathBuf>,
    /// Record today's findings as the baseline.
    pub write_baseline: Option<PathBuf>,
    pub fix: FixMode,
    /// Include fixes marked unsafe.
    pub unsafe_fixes: bool,
    /// Run as a pre-commit hook (`PRE_COMMIT=1`): the binary is only in pre-commit's
    /// environment, so the human report points at rule pages rather than `explain`.
    pub under_pre_commit: bool,
}

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

/// The directory config discovery starts from: the deepest directory holding every path.
fn config_start(paths: &[PathBuf], stdin_name: Option<&str>) -> PathBuf {
    let mut dirs: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| p.canonicalize().ok())
        .map(|p| {
            if p.is_dir() {
                p
            } else {
                p.parent().map(Path::to_path_buf).unwrap_or(p)
            }
        })
        .collect();
    if let Some(n) = stdin_name
        && let Some(parent) = Path::new(n).parent().and_then(|p| p.canonicalize().ok())
    {
        dirs.push(parent);
    }
    let Some(mut common) = dirs.first().cloned() else {
        return std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    };
    for d in &dirs[1..] {
        while !d.starts_with(&common) {
            if !common.pop() {
                break;
            }
        }
    }
    common
}

pub fn load_config(opts: &RunOptions) -> Result<Config, config::ConfigError> {
    if opts.no_config {
        return Ok(Config::default());
    }
    let path = match &opts.config {
        Some(p) => Some(p.clone()),
        None => config::find(&config_start(&opts.paths, opts.stdin_filename.as_deref())),
    };
    match path {
        Some(p) => config::load(&p, &rules::names()),
        None => Ok(Config::default()),
    }
}

/// Run a lint; returns the exit code.
pub fn run(
    opts: &RunOptions,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let cfg = match load_config(opts) {
        Ok(c) => c,
        Err(e) => {
            let _ = emit(err, &format!("error: {e}\n"));
            return EXIT_ERROR;
        }
    };
    let mut settings = match Settings::resolve(&cfg, &opts.select, &opts.ignore) {
        Ok(s) => s,
        Err(e) => {
            let _ = emit(err, &format!("error: {e}\n"));
            return EXIT_ERROR;
        }
    };
    if let Some(m) = opts.max_file_size {
        settings.max_file_size = m;
    }
    if opts.context_all {
        settings.context_mode = crate::graph::ContextMode::All;
    }
    let mut excludes = Excludes::default();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if let Err(e) = excludes.add(&cwd, &opts.exclude) {
        let _ = emit(err, &format!("error: {e}\n"));
        return EXIT_ERROR;
    }
    if let Some(base) = cfg.base()
        && let Err(e) = excludes.add(base, &cfg.exclude)
    {
        let _ = emit(err, &format!("error: {e}\n"));
        return EXIT_ERROR;
    }

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
                .map(|n| crate::discover::display_path(Path::new(&n)))
                .unwrap_or_else(|| "<stdin>".into()),
            path: opts.stdin_filename.as_ref().map(PathBuf::from),
            bytes,
        }
    });
    // Files given alone are linted within their context; only findings touching them are kept.
    let stdin_name = opts
        .stdin_filename
        .as_ref()
        .filter(|_| use_stdin)
        .map(PathBuf::from);
    let plan = if paths.is_empty() && stdin_name.is_none() {
        resolve::Plan::default()
    } else {
        resolve::plan(&paths, stdin_name.as_deref())
    };
    let progress = Progress::start(&mut settings);
    let mut report = if opts.fix == FixMode::Off {
        engine::lint_paths(&plan.roots, stdin_input, &excludes, &settings)
    } else {
        let stdin_display = stdin_input.as_ref().map(|i| i.display.clone());
        let mut read = engine::read_paths(&plan.roots, stdin_input, &excludes, &settings);
        let inputs = std::mem::take(&mut read.inputs);
        let keep = |f: &crate::source::SourceFile| {
            plan.focus.as_ref().is_none_or(|focus| {
                f.path
                    .as_deref()
                    .is_none_or(|p| focus.keeps(p) || Some(p) == stdin_name.as_deref())
            })
        };
        let options = crate::fix::Options {
            unsafe_fixes: opts.unsafe_fixes,
        };
        let outcome = crate::fix::fix(inputs, &settings, options, &keep);
        match finish_fixes(opts, outcome, stdin_display.as_deref(), read, out, err) {
            Ok(report) => report,
            Err(code) => return code,
        }
    };
    drop(progress);
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
        report.diagnostics.retain(|d| {
            kept[d.loc.file as usize] || d.related.iter().any(|r| kept[r.loc.file as usize])
        });
    }
    let mut fps = crate::fingerprint::fingerprints(&report);
    if let Some(path) = &opts.write_baseline {
        return match write_file(path, &crate::baseline::render(&report, &fps)) {
            Ok(()) => {
                let _ = emit(
                    err,
                    &format!(
                        "wrote {} finding(s) to the baseline {}\n",
                        report.diagnostics.len(),
                        path.display()
                    ),
                );
                EXIT_CLEAN
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
        let known = match crate::baseline::read(path) {
            Ok(k) => k,
            Err(e) => {
                let _ = emit(err, &format!("error: {e}\n"));
                return EXIT_ERROR;
            }
        };
        let hidden = crate::baseline::apply(&mut report, &mut fps, &known);
        if hidden > 0 {
            report.notes.push(format!(
                "{hidden} finding(s) recorded in the baseline {} are hidden",
                path.display()
            ));
        }
    }
    if opts.fix == FixMode::Fix && use_stdin {
        // The fixed text went to stdout; the findings left go to stderr.
        let (mut buf, mut side) = (Vec::new(), Vec::new());
        let code = write_report(opts, &report, &fps, &mut buf, &mut side);
        let _ = err.write_all(&buf).and_then(|_| err.write_all(&side));
        return code;
    }
    write_report(opts, &report, &fps, out, err)
}

/// Report what the fixes did, write them (`--fix`) or print them (`--diff`). `Ok` carries the
/// report of what is left, to be rendered as usual; `Err` an exit status when done.
fn finish_fixes(
    opts: &RunOptions,
    outcome: crate::fix::Outcome,
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
        let status = emit(out, &crate::fix::diff(&outcome.changed));
        side.push_str(&format!(
            "{fixes} fix(es) would change {files} file(s); nothing was written\n{unsafe_hint}"
        ));
        for e in &report.errors {
            side.push_str(&format!("error: {e}\n"));
        }
        let _ = emit(err, &side);
        return Err(if status.is_err() || !report.errors.is_empty() {
            EXIT_ERROR
        } else if files > 0 {
            EXIT_FINDINGS
        } else {
            EXIT_CLEAN
        });
    }
    let mut written = 0;
    for c in &outcome.changed {
        if Some(c.display.as_str()) == stdin_display {
            // Stdin: the fixed text is the output; the findings go to stderr.
            let _ = emit(out, &c.after);
            written += 1;
            continue;
        }
        match crate::fix::write(c) {
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
/// after a second and is erased when the run ends.
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
        let thread = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let mut shown = false;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                if start.elapsed().as_millis() >= 1000 {
                    let n = count.load(std::sync::atomic::Ordering::Relaxed);
                    eprint!(
                        "\r\x1b[2Kreading manifests: {n} files ({:.0} s)",
                        start.elapsed().as_secs_f64()
                    );
                    shown = true;
                }
            }
            if shown {
                eprint!("\r\x1b[2K");
            }
        });
        Some(Progress {
            done,
            thread: Some(thread),
        })
    }
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
            let cwd = std::env::current_dir().ok();
            output::sarif::render(report, fingerprints, cwd.as_deref())
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

fn write_report(
    opts: &RunOptions,
    report: &Report,
    fingerprints: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut status = emit(
        out,
        &render(
            opts.format,
            report,
            fingerprints,
            color_enabled(opts.color),
            opts.under_pre_commit,
        ),
    );
    let mut side = String::new();
    let mut failed = false;
    for (format, path) in &opts.outputs {
        let text = render(*format, report, fingerprints, false, opts.under_pre_commit);
        if let Err(e) = write_file(path, &text) {
            side.push_str(&format!("error: cannot write {}: {e}\n", path.display()));
            failed = true;
        }
    }
    for n in &report.notes {
        side.push_str(&format!("note: {n}\n"));
    }
    for e in &report.errors {
        side.push_str(&format!("error: {e}\n"));
    }
    if !side.is_empty() {
        status = status.and(emit(err, &side));
    }
    if status.is_err() || failed || !report.errors.is_empty() {
        return EXIT_ERROR;
    }
    let failing = opts
        .fail_on
        .is_some_and(|min| report.diagnostics.iter().any(|d| d.severity >= min));
    if failing { EXIT_FINDINGS } else { EXIT_CLEAN }
}

fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&w| w >= 40)
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
                        "fixable": m.fixable, "summary": m.summary,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&v).expect("serialisable") + "\n"
        }
        _ => {
            let w = rules::REGISTRY
                .iter()
                .map(|r| r.meta().name.len())
                .max()
                .unwrap_or(10);
            let mut s = format!(
                "{:w$}  {:8}  {:8}  {:3}  summary\n",
                "rule", "severity", "category", "fix"
            );
            for r in rules::REGISTRY {
                let m = r.meta();
                s.push_str(&format!(
                    "{:w$}  {:8}  {:8}  {:3}  {}\n",
                    m.name,
                    m.severity.as_str(),
                    m.category.as_str(),
                    if m.fixable { "yes" } else { "no" },
                    m.summary
                ));
            }
            s
        }
    }
}

/// `kube-migrate-lint explain RULE`: the rule's page.
pub fn explain(rule: &str) -> Result<String, String> {
    match rules::find(rule) {
        Some(r) => Ok(crate::docs::body(r.meta().page).to_string()),
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

pub fn print(out: &mut dyn Write, s: &str) -> i32 {
    match emit(out, s) {
        Ok(()) => EXIT_CLEAN,
        Err(_) => EXIT_ERROR,
    }
}
