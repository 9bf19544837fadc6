//! kube-migrate-lint: a linter for the Kubernetes database-migration pattern.
//!
//! The pipeline runs in one direction: discover files, parse them into spanned documents (in
//! parallel), build the object model and contexts, run the rules (in parallel), apply
//! suppressions, sort, and hand format-neutral diagnostics to an emitter.

pub mod app;
pub mod baseline;
pub mod config;
pub mod diagnostic;
pub mod discover;
pub mod docs;
pub mod engine;
pub mod fingerprint;
pub mod fix;
pub mod graph;
pub mod internal;
pub mod kustomize;
pub mod lsp;
pub mod migration;
pub mod model;
pub mod output;
pub mod redact;
pub mod resolve;
pub mod rules;
pub mod source;
pub mod suppress;
pub mod text;
pub mod workspace;
pub mod yaml;
