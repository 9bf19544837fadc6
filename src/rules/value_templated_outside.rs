//! Values that something outside the manifests fills (CI with `envsubst` or `sed`, a deploy
//! script, Azure DevOps token replacement): the linter cannot know them, so it judges nothing
//! about their literal text, and says once per build which values those are.

use super::meta::VALUE_TEMPLATED_OUTSIDE as META;
use super::{ContextCx, Rule};
use crate::analysis::templated::{Filling, fields, filled_tokens, filling, flux_substitutes};
use crate::base::diagnostic::Diagnostic;
use crate::base::mask::display_value;
use crate::render::links;

pub(crate) struct ValueTemplatedOutside;

/// Values named in the message before "and N more".
const SHOWN: usize = 4;

impl Rule for ValueTemplatedOutside {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        let filled = filled_tokens(cx.ws, cx.context);
        let flux = flux_substitutes(cx.ws, cx.context);
        let mut found = Vec::new();
        for f in fields(cx.ws, cx.context) {
            if let Filling::Outside(tokens) = filling(&f.text, flux, &filled) {
                found.push((f, tokens));
            }
        }
        let Some((first, _)) = found.first() else {
            return;
        };
        let Some(o) = first.rendered.object() else {
            return;
        };
        let ocx = super::ObjectCx::new(cx.ws, &cx.ws.objects[o as usize]);
        let env = cx.env();
        let loc = links::value_loc(&env, first.rendered, &first.path, None)
            .unwrap_or_else(|| ocx.locate(&[]).0);
        let mut named: Vec<String> = found
            .iter()
            .take(SHOWN)
            .map(|(f, tokens)| {
                let of = if f.label.ends_with(" name") {
                    String::new()
                } else {
                    format!(
                        " of {} `{}`",
                        f.rendered.kind,
                        display_value(&f.rendered.name.text)
                    )
                };
                format!(
                    "{}{of} ({})",
                    f.label,
                    tokens
                        .iter()
                        .map(|t| format!("`{}`", display_value(t)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        if found.len() > SHOWN {
            named.push(format!("{} more", found.len() - SHOWN));
        }
        let d = ocx
            .diag_at(
                &META,
                loc,
                crate::render::path::display(&first.path),
                format!(
                    "build `{}` has values templated outside the manifests, which nothing in the repository fills (no Flux substitution, no replacement): {}; they are taken as unknown (CI or a deploy script writes them), and no rule judges their literal text",
                    cx.context.name,
                    named.join(", ")
                ),
            )
            .help("nothing to do if your pipeline fills them before `kubectl apply`; if Flux substitutes `${VAR}` tokens from a fleet repository, set `deploy-engine: flux` in .kube-migrate-lint.yaml");
        out.push(d);
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    const RULE: &str = "value-templated-outside";

    #[test]
    fn ci_tokens_are_named_once_per_build() {
        let text = job("__MIGRATION_JOB_NAME__", BODY).replace("app:1", "\"registry.example.com/app:#{TAG}#\"");
        let d = run(RULE, &[("k8s/job.yaml", text.as_str())]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("`__MIGRATION_JOB_NAME__`"), "{}", d[0].message);
        assert_eq!(d[0].severity, crate::base::diagnostic::Severity::Info);
        // The Job name's other rules say nothing about the token.
        let silent = ["job-name-invalid", "job-name-unversioned", "image-tag-mutable"];
        crate::rules::testing::lint_without(&[("k8s/job.yaml", text.as_str())], &silent);
    }

    #[test]
    fn plain_values_say_nothing() {
        let text = job("myapp-migration-v1", BODY);
        assert_none(RULE, &[("k8s/job.yaml", text.as_str())]);
    }
}
