//! Reported by the engine itself; this file holds the rule's metadata and page.

super::engine_rule!(
    LimitExceeded,
    "limit-exceeded",
    Error,
    Syntax,
    "a file, document or kustomization too large or too deep to check, skipped with its limit named",
    "../../rules/limit-exceeded.md"
);
