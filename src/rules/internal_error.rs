//! Reported by the engine itself; this file holds the rule's metadata and page.

super::engine_rule!(
    InternalError,
    "internal-error",
    Error,
    Meta,
    "the linter itself failed (a bug: please report it); the run goes on with the other files and contexts, and exits 2",
    "../../rules/internal-error.md"
);
