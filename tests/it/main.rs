//! Integration tests, in one binary so k8s-openapi is linked once.

mod architecture;
mod builds;
mod ci_templates;
mod cli;
mod containment;
mod determinism;
mod fix_property;
mod fixes;
mod fixtures;
mod formats;
mod fuzz_replay;
mod graph;
mod hostile;
mod integrations;
mod kustomize_diff;
mod kustomize_generators;
mod kustomize_oracle;
mod limits;
mod lsp;
#[cfg(debug_assertions)]
mod panics;
mod paths;
mod rule_pages;
mod support;
mod terminal;
mod usage;
