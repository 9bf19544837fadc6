//! Reported by the engine itself; this file holds the rule's metadata and page.

super::engine_rule!(
    InternalError,
    "internal-error",
    Error,
    Meta,
    "the linter itself failed on a file (a bug: please report it); the run goes on with the other files",
    "../../rules/internal-error.md"
);
