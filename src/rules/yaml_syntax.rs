//! Reported by the engine itself; this file holds the rule's metadata and page.

super::engine_rule!(
    YamlSyntax,
    "yaml-syntax",
    Error,
    Syntax,
    "a file or document that does not parse, at the parser's error position",
    "../../rules/yaml-syntax.md"
);
