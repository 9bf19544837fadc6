//! `kube-migrate-lint graph`: lint the paths, then draw each build's migration path (the link
//! model of `analysis::graph`) with the links the findings are about marked broken.

use super::{EXIT_CLEAN, EXIT_ERROR, emit, missing_path, open_session, plan_builds, session};
use crate::base::internal;
use crate::engine;
use crate::output::graph::{GraphFormat, render};
use session::Session;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `graph` is asked for.
#[derive(Debug, Clone)]
pub struct GraphOptions {
    /// Files or directories (default: the `--build` directories, else the current directory).
    pub paths: Vec<PathBuf>,
    /// How to draw the graph.
    pub format: GraphFormat,
    /// Draw only these builds (directories, as given or as reports name them).
    pub builds: Vec<PathBuf>,
    /// A configuration file to use instead of the one found from the paths.
    pub config: Option<PathBuf>,
    /// Ignore configuration files.
    pub no_config: bool,
    /// Glob patterns of paths to leave out.
    pub exclude: Vec<String>,
    /// Where deploy-engine evidence is looked for (default: the project root).
    pub repo_root: Option<PathBuf>,
}

/// Run `graph`; returns the exit code: 0 when drawn (broken links are drawn, not failed on:
/// the lint run reports them), 2 for a usage or configuration error, a path that could not
/// be read, a `--build` that names no build, or an internal error.
pub fn graph(opts: &GraphOptions, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut paths = opts.paths.clone();
    if paths.is_empty() {
        paths = if opts.builds.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            opts.builds.clone()
        };
    }
    if let Some(e) = missing_path(&paths) {
        let _ = emit(err, &format!("error: {e}\n"));
        return EXIT_ERROR;
    }
    internal::enter("loading the configuration");
    let request = session::Request {
        paths: &paths,
        config: opts.config.as_deref(),
        no_config: opts.no_config,
        exclude: &opts.exclude,
        ..Default::default()
    };
    let Ok(Session {
        mut settings,
        excludes,
    }) = open_session(&request, err)
    else {
        return EXIT_ERROR;
    };
    if opts.repo_root.is_some() {
        settings.repo_root = opts.repo_root.clone();
    }
    let plan = plan_builds(&mut settings, &paths, None);
    internal::enter("drawing the graph");
    let read = engine::read_paths(&plan.roots, None, &excludes, &settings);
    let mut errors = read.errors.clone();
    let (report, mut graph) = engine::lint_with_graph(read.inputs, &settings);
    errors.extend(report.errors.iter().cloned());
    if !opts.builds.is_empty() {
        let wanted: Vec<String> = opts
            .builds
            .iter()
            .map(|b| build_name(&settings, b))
            .collect();
        let known: Vec<String> = graph.builds.iter().map(|b| b.name.clone()).collect();
        if let Some(missing) = wanted.iter().find(|w| !known.contains(w)) {
            let list = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            let _ = emit(
                err,
                &format!(
                    "error: --build `{missing}` is not a build with a migration Job, a wait or a migration init container (builds drawn: {list})\n"
                ),
            );
            return EXIT_ERROR;
        }
        graph.retain_build(|name| wanted.iter().any(|w| w == name));
    }
    let text = render(opts.format, &graph, &report);
    if emit(out, &text).is_err() {
        return EXIT_ERROR;
    }
    let mut side = String::new();
    for e in &errors {
        side.push_str(&format!("error: {e}\n"));
    }
    for e in &report.internal {
        side.push_str(&format!("error: {}\n", e.message()));
    }
    let _ = emit(err, &side);
    if errors.is_empty() && report.internal.is_empty() && !report.has_internal_error() {
        EXIT_CLEAN
    } else {
        EXIT_ERROR
    }
}

/// A `--build` directory as reports name builds: relative to the project root, `/`-separated,
/// without a trailing slash.
fn build_name(settings: &engine::Settings, dir: &Path) -> String {
    let shown = settings.path_names.show(dir);
    let trimmed = shown.trim_end_matches('/');
    let trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
    if trimmed.is_empty() {
        ".".into()
    } else {
        trimmed.to_string()
    }
}
