//! Reported by the engine itself; this file holds the rule's metadata and page.

super::engine_rule!(
    UnusedSuppression,
    "unused-suppression",
    Warning,
    Meta,
    "a suppression comment or annotation that matched nothing",
    "../../rules/unused-suppression.md"
);
