//! Builds kustomize refuses outside replacements: what the evaluator finds, as data, with
//! kustomize's own error text (the rule `kustomize-build-error` words the finding).

/// Why kustomize refuses a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A generator with `behavior: merge` or `replace` whose object no base defines.
    GeneratorWithoutBase {
        kind: String,
        name: String,
        namespace: String,
    },
    /// A generator without `behavior: merge|replace` whose object a base already defines.
    GeneratorExists {
        kind: String,
        name: String,
        namespace: String,
    },
    /// A generator source kustomize cannot read or parse (a literal without `=`, a repeated
    /// key, an env file line that is not `NAME=value`, a file outside the kustomization root).
    GeneratorSource {
        kind: String,
        name: String,
        why: String,
    },
    /// A label or annotation value kustomize reads as a bool or a number (YAML 1.1: `true`,
    /// `yes`, `on`, `1`, `1.5`): the kustomization does not unmarshal.
    NotAString {
        /// kustomize's name for the field (`Kustomization.commonLabels`).
        field: &'static str,
        key: String,
        /// `bool` or `number`.
        read_as: &'static str,
    },
    /// A patch kustomize cannot apply (a JSON patch on a missing path, a failing `test`, a
    /// strategic merge patch matching no object), with kustomize's own error text.
    Patch { error: String },
    /// A `resources` file outside the kustomization's directory (the load restrictor).
    ResourceOutsideRoot {
        entry: String,
        file: String,
        root: String,
    },
}

fn res_id(kind: &str, name: &str, namespace: &str) -> String {
    format!(
        "resid.ResId{{Gvk:resid.Gvk{{Group:\"\", Version:\"v1\", Kind:\"{kind}\", isClusterScoped:false}}, Name:\"{name}\", Namespace:\"{namespace}\"}}"
    )
}

impl Refusal {
    /// The error `kustomize build` prints (kustomize v5.5).
    pub(crate) fn kustomize_error(&self) -> String {
        match self {
            Refusal::GeneratorWithoutBase {
                kind,
                name,
                namespace,
            } => format!(
                "merging from generator: id {} does not exist; cannot merge or replace",
                res_id(kind, name, namespace)
            ),
            Refusal::GeneratorExists {
                kind,
                name,
                namespace,
            } => format!(
                "merging from generator: id {} exists; behavior must be merge or replace",
                res_id(kind, name, namespace)
            ),
            Refusal::GeneratorSource { why, .. } => why.clone(),
            Refusal::Patch { error } => error.clone(),
            Refusal::NotAString { field, read_as, .. } => format!(
                "invalid Kustomization: json: cannot unmarshal {read_as} into Go struct field {field} of type string"
            ),
            Refusal::ResourceOutsideRoot { entry, file, root } => format!(
                "accumulating resources from '{entry}': security; file '{file}' is not in or below '{root}'"
            ),
        }
    }
}

/// What YAML 1.1 (kustomize's reader) makes of a plain scalar that is not a string: `bool`,
/// `number` or `null`.
pub(crate) fn yaml11_type(plain: &str) -> Option<&'static str> {
    const BOOLS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
    ];
    if BOOLS.contains(&plain) {
        return Some("bool");
    }
    if matches!(plain, "" | "~" | "null" | "Null" | "NULL") {
        return Some("null");
    }
    let number = regex::Regex::new(
        r"^[-+]?(0b[01_]+|0x[0-9a-fA-F_]+|0[0-7_]+|[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|\.[0-9_]+([eE][-+]?[0-9]+)?|\.(inf|Inf|INF))$|^\.(nan|NaN|NAN)$",
    )
    .ok()?;
    number.is_match(plain).then_some("number")
}

#[cfg(test)]
mod tests {
    use super::yaml11_type;

    /// What `kubectl kustomize` (v5.5) refused, or read as empty, as a `commonLabels` value.
    #[test]
    fn yaml_1_1_scalars() {
        for (v, t) in [
            ("1", Some("number")),
            ("1.5", Some("number")),
            ("0x1f", Some("number")),
            ("true", Some("bool")),
            ("yes", Some("bool")),
            ("on", Some("bool")),
            ("null", Some("null")),
            ("~", Some("null")),
            ("web", None),
            ("v1.2", None),
            ("1.2.3", None),
        ] {
            assert_eq!(yaml11_type(v), t, "{v}");
        }
    }
}
