//! Reported by the engine itself; this file holds the rule's metadata and page.

super::engine_rule!(
    SchemaInvalid,
    "schema-invalid",
    Error,
    Syntax,
    "a field of a known kind with a value of the wrong type or shape",
    "../../rules/schema-invalid.md",
    true
);
