//! What the CLI and the language server both need before linting: the configuration found for
//! the paths, the settings it resolves to, the excludes, and the project root files are named
//! from. One place, so an editor and a CI run judge the same tree the same way.

use crate::engine::Settings;
use crate::model::config::{self, Config};
use crate::model::discover::{Excludes, PathNames};
use std::path::{Path, PathBuf};

/// How a lint is configured.
pub struct Session {
    pub settings: Settings,
    pub excludes: Excludes,
}

/// What a session is opened from.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// Files and directories linted (`-` is stdin).
    pub paths: &'a [PathBuf],
    /// The file stdin stands for, if any.
    pub stdin_filename: Option<&'a str>,
    /// `--config FILE`.
    pub config: Option<&'a Path>,
    /// `--no-config`.
    pub no_config: bool,
    pub select: &'a [String],
    pub ignore: &'a [String],
    /// `--exclude` patterns, relative to the working directory.
    pub exclude: &'a [String],
}

impl Session {
    /// The session for `request`, or what is wrong with its configuration (exit status 2 for
    /// the CLI; the language server says it and uses the defaults).
    pub fn open(request: &Request<'_>) -> Result<Session, String> {
        let config = load_config(request).map_err(|e| e.to_string())?;
        let mut settings = Settings::resolve(&config, request.select, request.ignore)?;
        settings.path_names = project_names(
            &config,
            &config_start(request.paths, request.stdin_filename),
        );
        let mut excludes = Excludes::default();
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        excludes.add(&cwd, request.exclude)?;
        if let Some(base) = config.base() {
            excludes.add(base, &config.exclude)?;
        }
        Ok(Session { settings, excludes })
    }

    /// The defaults, files named from the project root of `request`'s paths.
    pub fn defaults(request: &Request<'_>) -> Session {
        let config = Config::default();
        let settings = Settings {
            path_names: project_names(
                &config,
                &config_start(request.paths, request.stdin_filename),
            ),
            ..Settings::default()
        };
        Session {
            settings,
            excludes: Excludes::default(),
        }
    }
}

/// The deepest directory holding every path (real paths; the working directory without any).
pub(crate) fn common_dir(paths: &[PathBuf]) -> PathBuf {
    config_start(paths, None)
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

/// How reports name paths, so that names and fingerprints do not depend on where the run was
/// started or how the paths were spelled: relative to the project root when there is one (the
/// configuration file's directory when it holds what is linted, else the root of the git work
/// tree holding it), else to the current directory, which is then no project: the repository
/// is not searched from it for deploy-engine evidence.
fn project_names(cfg: &Config, start: &Path) -> PathNames {
    match project_root(cfg, start) {
        Some(root) => PathNames::relative_to(&root),
        None => {
            PathNames::relative_to(&std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
                .not_a_project()
        }
    }
}

/// The configuration file's directory when it holds `start`, else the root of the git work
/// tree holding it.
fn project_root(cfg: &Config, start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().unwrap_or_else(|_| start.to_path_buf());
    if let Some(base) = cfg.base().and_then(|b| b.canonicalize().ok())
        && start.starts_with(&base)
    {
        return Some(base);
    }
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// The configuration for a request: `--config`, else `.kube-migrate-lint.yaml` found by
/// walking up from the paths, else the defaults.
pub fn load_config(request: &Request<'_>) -> Result<Config, config::ConfigError> {
    if request.no_config {
        return Ok(Config::default());
    }
    let path = match request.config {
        Some(p) => Some(p.to_path_buf()),
        None => config::find(&config_start(request.paths, request.stdin_filename)),
    };
    match path {
        Some(p) => config::load(&p, &crate::rules::names()),
        None => Ok(Config::default()),
    }
}
