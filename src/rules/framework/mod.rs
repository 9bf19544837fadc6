//! The rule framework's parts that are not rules: rule pages (front matter, examples) and
//! suppressions. Kept apart so that every file directly under `src/rules/` is a rule with a
//! page.

pub mod docs;
pub(crate) mod suppress;
