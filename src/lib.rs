//! kube-migrate-lint: a linter for the Kubernetes database-migration pattern.
//!
//! The pipeline runs in one direction: discover files, parse them into spanned documents (in
//! parallel), build the object model and contexts, run the rules (in parallel), apply
//! suppressions, sort, and hand format-neutral diagnostics to an emitter.

pub mod redact;
pub mod source;
pub mod yaml;
