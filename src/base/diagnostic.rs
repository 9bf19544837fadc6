//! Format-neutral diagnostics. Rules build them; emitters render them; nothing else prints.

use crate::base::source::Span;
use serde::Serialize;

pub(crate) type FileId = u32;
pub(crate) type ObjectId = u32;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing breaks.
    Info,
    /// Likely to break a rollout under some conditions.
    Warning,
    /// Breaks the rollout.
    Error,
}

impl Severity {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" | "warn" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// A place in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    /// Index of the file in the report's files.
    pub file: FileId,
    /// Byte range in that file.
    pub span: Span,
}

/// Another location that explains a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Where the related place is.
    pub loc: Loc,
    pub(crate) message: String,
}

/// Whether a fix is applied by `--fix` (safe) or only by `--unsafe-fixes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    /// Keeps the manifest's meaning; applied by `--fix`.
    Safe,
    /// Changes what is deployed; applied only with `--unsafe-fixes`.
    Unsafe,
}

/// Replace the text at `loc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The text the edit replaces.
    pub loc: Loc,
    pub(crate) replacement: String,
}

/// A fix: edits that are applied together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub(crate) description: String,
    pub(crate) applicability: Applicability,
    /// The text edits, applied together.
    pub edits: Vec<Edit>,
}

/// The Kubernetes object a finding concerns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    #[serde(rename = "apiVersion")]
    pub(crate) api_version: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
}

/// A finding: a rule, where, what happens in the cluster, and perhaps a fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule's kebab-case name.
    pub rule: &'static str,
    pub(crate) severity: Severity,
    /// What is wrong and what happens in the cluster, with secret values masked.
    pub message: String,
    pub(crate) help: Option<String>,
    /// Where the finding is reported.
    pub loc: Loc,
    /// The object (None for file-level findings).
    pub object: Option<ObjectId>,
    /// Field path inside the object, e.g. `spec.backoffLimit`.
    pub(crate) path: Option<String>,
    /// Other places the finding involves.
    pub related: Vec<Related>,
    /// An edit that resolves the finding, when the rule offers one.
    pub fix: Option<Fix>,
    /// The builds that show this finding, when its file takes part in more than one.
    pub(crate) builds: Option<Builds>,
}

/// Which builds (kustomizations no other includes, or directories of loose manifests) show a
/// finding in a file several builds share.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Builds {
    /// Their names (directories, as displayed), sorted.
    pub(crate) shown: Vec<String>,
    /// Some of the builds that include the file do not show it.
    pub(crate) only: bool,
}

impl Fix {
    pub(crate) fn safe(description: impl Into<String>, edits: Vec<Edit>) -> Fix {
        Fix {
            description: description.into(),
            applicability: Applicability::Safe,
            edits,
        }
    }

    pub(crate) fn unsafe_(description: impl Into<String>, edits: Vec<Edit>) -> Fix {
        Fix {
            description: description.into(),
            applicability: Applicability::Unsafe,
            edits,
        }
    }
}

impl Diagnostic {
    pub(crate) fn new(
        rule: &'static str,
        severity: Severity,
        loc: Loc,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            rule,
            severity,
            message: message.into(),
            help: None,
            loc,
            object: None,
            path: None,
            related: Vec::new(),
            fix: None,
            builds: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn related(mut self, loc: Loc, message: impl Into<String>) -> Self {
        self.related.push(Related {
            loc,
            message: message.into(),
        });
        self
    }

    /// Attach a fix, when the rule could build one.
    pub(crate) fn fix(mut self, fix: Option<Fix>) -> Self {
        self.fix = fix;
        self
    }

    pub(crate) fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Sort key: file, position, rule, message — identical for any thread count.
    pub(crate) fn sort_key(&self) -> (FileId, u32, u32, &'static str, &str) {
        (
            self.loc.file,
            self.loc.span.start,
            self.loc.span.end,
            self.rule,
            &self.message,
        )
    }
}
