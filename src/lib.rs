//! kube-migrate-lint: a linter for the Kubernetes database-migration pattern.
//!
//! The crate is layered; each layer imports only from the layers below it (checked by
//! `tests/it/architecture.rs`):
//!
//! ```text
//! app      the CLI and the language server, sharing one session module
//! output   report formats
//! engine   the pipeline: read, lint, suppress, fix, baselines, fingerprints
//! rules    the rules, their pages, suppressions
//! analysis what rules share: waits, Jobs, containers, RBAC, computed once per run
//! render   kustomizations and Flux evaluated into builds, contexts and links
//! model    files, objects, typed views, migration detection, configuration, secrets
//! yaml     spanned YAML: parsing, typing, text edits
//! base     plain types: sources and spans, diagnostics, masking, internal errors
//! ```
//!
//! The public items are what the binary, the language server, the integration tests, the fuzz
//! harness and the examples use; everything else is `pub(crate)`.

#![warn(unreachable_pub, missing_docs)]

pub(crate) mod analysis;
pub mod app;
pub mod base;
pub mod engine;
pub mod model;
pub mod output;
pub mod render;
pub mod rules;
pub mod yaml;
