//! Integration tests, in one binary so k8s-openapi is linked once.

mod cli;
mod fixtures;
mod formats;
mod hostile;
mod integrations;
mod kustomize_oracle;
mod rule_pages;
mod support;
