//! Shared helpers for the integration tests.

use kube_migrate_lint::diagnostic::Diagnostic;
use kube_migrate_lint::engine::{Input, Report, Settings, lint_inputs};

/// Lint in-memory files with default settings.
pub fn lint(files: &[(String, String)]) -> Report {
    let inputs = files
        .iter()
        .map(|(n, t)| Input::from_bytes(n.clone(), t.as_bytes().to_vec()))
        .collect();
    lint_inputs(inputs, &Settings::default())
}

pub fn rules_of(diags: &[Diagnostic]) -> Vec<&'static str> {
    diags.iter().map(|d| d.rule).collect()
}
