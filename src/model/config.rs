//! `.kube-migrate-lint.yaml`: per-rule severity, excludes, the deploy engine.
//!
//! ```yaml
//! rules:
//!   job-ttl-missing: off          # off | info | warning | error
//! exclude:
//!   - "charts/**"                 # globs, relative to this file's directory
//! deploy-engine: auto             # auto (default: from the repository) | flux | argocd | helm | kubectl
//! kustomize-version: "5.5"        # 5.8+ reads replacement selector names as regexes
//! database-env: [DATABASE_URL]    # env vars that carry the database connection
//! limits:                         # what one input may cost (limit-exceeded when hit)
//!   max-file-size: 10485760       # bytes
//!   max-depth: 256                # nesting levels
//!   max-documents: 10000          # per file
//!   max-nodes: 5000000            # per file
//!   max-alias-expansion: 1000000  # nodes a document may expand to through aliases
//!   max-objects-per-context: 100000
//! ```

use crate::base::diagnostic::Severity;
use crate::base::source::{LineIndex, Span};
use crate::yaml::{self, Document, Kind};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub(crate) const FILE_NAMES: &[&str] = &[".kube-migrate-lint.yaml", ".kube-migrate-lint.yml"];

/// What the configuration says of a rule: off, or the severity it reports at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSetting {
    Off,
    Severity(Severity),
}

/// What applies the manifests to the cluster. `Auto` (the default) is decided per build from
/// the repository's evidence (`render::engine`); the others are configured overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub enum DeployEngine {
    #[default]
    Auto,
    Flux,
    ArgoCd,
    Helm,
    Kubectl,
}

/// The project configuration (`.kube-migrate-lint.yaml`), defaults where absent.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where the file was found (None: defaults).
    pub path: Option<PathBuf>,
    pub rules: BTreeMap<String, RuleSetting>,
    /// Exclude globs, relative to `base`.
    pub exclude: Vec<String>,
    pub deploy_engine: DeployEngine,
    /// The kustomize version that builds the manifests, `(major, minor)`; 5.8+ reads selector
    /// names as regular expressions.
    pub kustomize_version: Option<(u32, u32)>,
    /// Env vars that carry the database connection (compared by env-source-mismatch).
    pub database_env: Vec<String>,
    /// Input limits that replace the defaults.
    pub limits: LimitSettings,
}

/// `limits:` in the config; None keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitSettings {
    pub max_file_size: Option<u64>,
    pub max_depth: Option<u64>,
    pub max_documents: Option<u64>,
    pub max_nodes: Option<u64>,
    pub max_alias_expansion: Option<u64>,
    pub max_objects_per_context: Option<u64>,
}

/// The deepest nesting `max-depth` may allow: typed reading recurses per level.
const MAX_DEPTH: i64 = 1024;

const LIMIT_KEYS: &str = "max-file-size, max-depth, max-documents, max-nodes, max-alias-expansion or max-objects-per-context";

impl Config {
    /// Directory exclude globs are relative to.
    pub(crate) fn base(&self) -> Option<&Path> {
        self.path.as_deref().and_then(Path::parent)
    }
}

/// A config file that cannot be used; exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: invalid configuration: {}",
            self.path, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// Walk up from `start` looking for a config file.
pub(crate) fn find(start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().ok()?;
    let mut dir = if start.is_dir() {
        Some(start.as_path())
    } else {
        start.parent()
    };
    while let Some(d) = dir {
        for name in FILE_NAMES {
            let p = d.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
        dir = d.parent();
    }
    None
}

pub(crate) fn load(path: &Path, known_rules: &[&str]) -> Result<Config, ConfigError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: display.clone(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}"),
    })?;
    let mut cfg = parse(&text, &display, known_rules)?;
    cfg.path = Some(path.to_path_buf());
    Ok(cfg)
}

/// Parse a configuration file; `display` names it in errors, `known_rules` are the rule names it may set.
pub fn parse(text: &str, display: &str, known_rules: &[&str]) -> Result<Config, ConfigError> {
    let lines = LineIndex::new(text);
    let err = |span: Span, message: String| {
        let p = lines.position(text, span.start as usize);
        ConfigError {
            path: display.to_string(),
            line: p.line,
            column: p.column,
            message,
        }
    };
    let parsed = yaml::parse(text, yaml::Limits::default());
    if let Some(e) = parsed.error {
        return Err(err(e.span, e.message));
    }
    let mut cfg = Config::default();
    let Some(doc) = parsed.docs.first() else {
        return Ok(cfg);
    };
    if parsed.docs.len() > 1 {
        return Err(err(
            parsed.docs[1].span,
            "expected a single YAML document".into(),
        ));
    }
    let top = map_entries(doc, doc.root)
        .map_err(|s| err(s, "expected a mapping at the top level".into()))?;
    for (k, v) in top {
        let key = doc.str(k).unwrap_or("");
        match key {
            "rules" => {
                let rules = map_entries(doc, v).map_err(|s| {
                    err(
                        s,
                        "`rules` must map rule names to off, info, warning or error".into(),
                    )
                })?;
                for (rk, rv) in rules {
                    let name = doc.str(rk).unwrap_or("");
                    if !known_rules.contains(&name) {
                        let hint = closest(name, known_rules)
                            .map(|c| format!(" (did you mean `{c}`?)"))
                            .unwrap_or_default();
                        return Err(err(doc.span(rk), format!("unknown rule `{name}`{hint}")));
                    }
                    let setting = match doc.str(rv) {
                        Some("off") => RuleSetting::Off,
                        Some(s) => match Severity::parse(s) {
                            Some(sev) => RuleSetting::Severity(sev),
                            None => {
                                return Err(err(
                                    doc.span(rv),
                                    format!(
                                        "`{s}` is not a rule setting: use off, info, warning or error"
                                    ),
                                ));
                            }
                        },
                        None if is_false(doc, rv) => RuleSetting::Off,
                        None => {
                            return Err(err(
                                doc.span(rv),
                                "expected off, info, warning or error".into(),
                            ));
                        }
                    };
                    cfg.rules.insert(name.to_string(), setting);
                }
            }
            "exclude" => {
                for item in string_list(doc, v)
                    .map_err(|s| err(s, "`exclude` must be a list of glob patterns".into()))?
                {
                    let (span, glob) = item;
                    if let Err(e) = globset::Glob::new(&glob) {
                        return Err(err(span, format!("invalid glob `{glob}`: {}", e.kind())));
                    }
                    cfg.exclude.push(glob);
                }
            }
            "deploy-engine" => {
                cfg.deploy_engine = match doc.str(v).map(str::to_ascii_lowercase).as_deref() {
                    Some("auto") => DeployEngine::Auto,
                    Some("flux") | Some("fluxcd") => DeployEngine::Flux,
                    Some("argocd") | Some("argo-cd") | Some("argo") => DeployEngine::ArgoCd,
                    Some("helm") => DeployEngine::Helm,
                    Some("kubectl") | Some("kustomize") => DeployEngine::Kubectl,
                    _ => {
                        return Err(err(
                            doc.span(v),
                            "`deploy-engine` must be one of auto, flux, argocd, helm, kubectl"
                                .into(),
                        ));
                    }
                }
            }
            "kustomize-version" => {
                let text = doc.str(v).unwrap_or("");
                let mut parts = text.trim_start_matches('v').split('.');
                let parsed = (|| {
                    Some((
                        parts.next()?.parse().ok()?,
                        parts.next().unwrap_or("0").parse().ok()?,
                    ))
                })();
                match parsed {
                    Some(version) => cfg.kustomize_version = Some(version),
                    None => {
                        return Err(err(
                            doc.span(v),
                            format!("`{text}` is not a kustomize version such as 5.5 or 5.8"),
                        ));
                    }
                }
            }
            "database-env" => {
                for (_, name) in string_list(doc, v)
                    .map_err(|s| err(s, "`database-env` must be a list of env var names".into()))?
                {
                    cfg.database_env.push(name);
                }
            }
            "limits" => {
                let limits = map_entries(doc, v)
                    .map_err(|s| err(s, format!("`limits` must map {LIMIT_KEYS} to numbers")))?;
                for (lk, lv) in limits {
                    let name = doc.str(lk).unwrap_or("");
                    let slot = match name {
                        "max-file-size" => &mut cfg.limits.max_file_size,
                        "max-depth" => &mut cfg.limits.max_depth,
                        "max-documents" => &mut cfg.limits.max_documents,
                        "max-nodes" => &mut cfg.limits.max_nodes,
                        "max-alias-expansion" => &mut cfg.limits.max_alias_expansion,
                        "max-objects-per-context" => &mut cfg.limits.max_objects_per_context,
                        _ => {
                            return Err(err(
                                doc.span(lk),
                                format!("unknown limit `{name}` (expected {LIMIT_KEYS})"),
                            ));
                        }
                    };
                    match yaml::resolve_scalar(doc, lv) {
                        Some(yaml::Resolved::Int(n)) if name == "max-depth" && n > MAX_DEPTH => {
                            return Err(err(
                                doc.span(lv),
                                format!(
                                    "`max-depth` may be at most {MAX_DEPTH}: reading deeper documents could exhaust the stack"
                                ),
                            ));
                        }
                        Some(yaml::Resolved::Int(n)) if n > 0 => *slot = Some(n as u64),
                        _ => {
                            return Err(err(
                                doc.span(lv),
                                format!("`{name}` must be a positive whole number"),
                            ));
                        }
                    }
                }
            }
            other => {
                return Err(err(
                    doc.span(k),
                    format!(
                        "unknown key `{other}` (expected rules, exclude, deploy-engine, kustomize-version, database-env or limits)"
                    ),
                ));
            }
        }
    }
    Ok(cfg)
}

fn is_null(doc: &Document, id: yaml::NodeId) -> bool {
    matches!(yaml::resolve_scalar(doc, id), Some(yaml::Resolved::Null))
}

/// The entries of a mapping, none for null; the node's span for anything else.
fn map_entries(
    doc: &Document,
    id: yaml::NodeId,
) -> Result<impl Iterator<Item = (yaml::NodeId, yaml::NodeId)> + '_, Span> {
    if is_null(doc, id) || doc.is_map(id) {
        Ok(doc.entries(id))
    } else {
        Err(doc.span(id))
    }
}

fn is_false(doc: &Document, id: yaml::NodeId) -> bool {
    matches!(
        yaml::resolve_scalar(doc, id),
        Some(yaml::Resolved::Bool(false))
    )
}

fn string_list(doc: &Document, id: yaml::NodeId) -> Result<Vec<(Span, String)>, Span> {
    if is_null(doc, id) {
        return Ok(Vec::new());
    }
    match doc.node(doc.resolve(id)).kind {
        Kind::Seq(items) => items
            .iter()
            .map(|&i| {
                doc.str(i)
                    .map(|s| (doc.span(i), s.to_string()))
                    .ok_or(doc.span(i))
            })
            .collect(),
        Kind::Scalar { value, .. } => Ok(vec![(doc.span(id), value.to_string())]),
        _ => Err(doc.span(id)),
    }
}

/// The known name closest to `name` by edit distance, if it is close.
pub(crate) fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (crate::base::text::edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["job-backoff-limit-nonzero", "job-ttl-missing"];

    #[test]
    fn parses_a_full_config() {
        let c = parse(
            "rules:\n  job-ttl-missing: off\n  job-backoff-limit-nonzero: warning\nexclude: [\"charts/**\"]\ndeploy-engine: argocd\n",
            "c.yaml",
            KNOWN,
        )
        .unwrap();
        assert_eq!(c.rules["job-ttl-missing"], RuleSetting::Off);
        assert_eq!(
            c.rules["job-backoff-limit-nonzero"],
            RuleSetting::Severity(Severity::Warning)
        );
        assert_eq!(c.exclude, vec!["charts/**"]);
        assert_eq!(c.deploy_engine, DeployEngine::ArgoCd);
        let c = parse(
            "kustomize-version: v5.8.1\ndatabase-env: [DB_URL, DATABASE_URL]\n",
            "c.yaml",
            KNOWN,
        )
        .unwrap();
        assert_eq!(c.kustomize_version, Some((5, 8)));
        assert_eq!(c.database_env, vec!["DB_URL", "DATABASE_URL"]);
        assert!(parse("kustomize-version: latest\n", "c.yaml", KNOWN).is_err());
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("rules:\n  job-backof-limit-nonzero: off\n", "c.yaml", KNOWN).unwrap_err();
        assert_eq!((e.line, e.column), (2, 3));
        assert!(
            e.message
                .contains("did you mean `job-backoff-limit-nonzero`"),
            "{}",
            e.message
        );
        let e = parse("rules:\n  job-ttl-missing: loud\n", "c.yaml", KNOWN).unwrap_err();
        assert_eq!((e.line, e.column), (2, 20));
        let e = parse("colour: red\n", "c.yaml", KNOWN).unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        let e = parse("rules: [\n", "c.yaml", KNOWN).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("c.yaml:2:"));
    }

    #[test]
    fn limits_are_read_and_checked() {
        let c = parse(
            "limits:\n  max-file-size: 52428800\n  max-depth: 512\n  max-documents: 20\n  max-nodes: 1000\n  max-alias-expansion: 5000\n  max-objects-per-context: 7\n",
            "c.yaml",
            KNOWN,
        )
        .unwrap();
        assert_eq!(
            c.limits,
            LimitSettings {
                max_file_size: Some(52_428_800),
                max_depth: Some(512),
                max_documents: Some(20),
                max_nodes: Some(1000),
                max_alias_expansion: Some(5000),
                max_objects_per_context: Some(7),
            }
        );
        let e = parse("limits:\n  max-depht: 3\n", "c.yaml", KNOWN).unwrap_err();
        assert_eq!((e.line, e.column), (2, 3));
        assert!(
            e.message.contains("unknown limit `max-depht`"),
            "{}",
            e.message
        );
        for bad in ["0", "-5", "ten", "1.5", "[1]"] {
            let e = parse(
                &format!("limits:\n  max-documents: {bad}\n"),
                "c.yaml",
                KNOWN,
            )
            .unwrap_err();
            assert_eq!((e.line, e.column), (2, 18), "{bad}");
        }
        let e = parse("limits:\n  max-depth: 100000\n", "c.yaml", KNOWN).unwrap_err();
        assert!(e.message.contains("at most 1024"), "{}", e.message);
        assert!(parse("limits: 5\n", "c.yaml", KNOWN).is_err());
        assert_eq!(
            parse("limits:\n", "c.yaml", KNOWN).unwrap().limits,
            LimitSettings::default()
        );
    }

    #[test]
    fn empty_config_is_defaults() {
        let c = parse("# nothing\n", "c.yaml", KNOWN).unwrap();
        assert!(c.rules.is_empty());
        assert_eq!(c.deploy_engine, DeployEngine::Auto);
        let c = parse("deploy-engine: flux\n", "c.yaml", KNOWN).unwrap();
        assert_eq!(c.deploy_engine, DeployEngine::Flux);
    }
}
