//! Helpers for the rules' inline tests: lint in-memory files with the real engine.

use crate::base::diagnostic::Diagnostic;
use crate::engine::{Input, Settings, lint_inputs};
use crate::model::config::DeployEngine;

/// A Job manifest named `name` whose `spec:` body is `spec_body` (indented two spaces).
pub fn job(name: &str, spec_body: &str) -> String {
    format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{spec_body}")
}

pub fn lint_files<S: AsRef<str>>(files: &[(&str, S)]) -> Vec<Diagnostic> {
    lint_files_with(files, &Settings::default())
}

pub fn lint_files_with<S: AsRef<str>>(files: &[(&str, S)], settings: &Settings) -> Vec<Diagnostic> {
    let inputs = files
        .iter()
        .map(|(name, text)| Input::from_bytes(*name, text.as_ref().as_bytes().to_vec()))
        .collect();
    lint_inputs(inputs, settings).diagnostics
}

/// Findings of `rule` for one file.
pub fn lint_one(text: &str, rule: &str) -> Vec<Diagnostic> {
    lint_files(&[("k8s/test.yaml", text)])
        .into_iter()
        .filter(|d| d.rule == rule)
        .collect()
}

pub fn lint_with_engine(text: &str, engine: DeployEngine) -> Vec<Diagnostic> {
    let settings = Settings {
        deploy_engine: engine,
        ..Settings::default()
    };
    lint_files_with(&[("k8s/test.yaml", text)], &settings)
}
