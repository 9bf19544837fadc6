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
    pub fn kustomize_error(&self) -> String {
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
            Refusal::ResourceOutsideRoot { entry, file, root } => format!(
                "accumulating resources from '{entry}': security; file '{file}' is not in or below '{root}'"
            ),
        }
    }
}
