//! Plain types every layer uses: source text and spans, diagnostics, text helpers, masking of
//! secret values in messages, and internal errors (panics caught and reported).

pub mod diagnostic;
pub mod internal;
pub(crate) mod mask;
pub(crate) mod rule_id;
pub mod source;
pub(crate) mod text;
