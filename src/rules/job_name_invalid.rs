//! A Job name must be a DNS-1123 subdomain and, because the Job controller copies it into the
//! `job-name` label of its pods, at most 63 characters: checked on the literal name and on every
//! value the tree shows will be substituted into it.

use super::meta::JOB_NAME_INVALID as META;
use super::{ContextCx, ObjectCx, Rule, paths};
use crate::base::diagnostic::Diagnostic;
use crate::base::mask::display_value;
use crate::base::text::dns1123_subdomain_problem;
use crate::model::Typed;
use crate::render::Rendered;

pub(crate) struct JobNameInvalid;

const MAX_LABEL: usize = 63;
const HELP: &str = "use lowercase letters, digits, `-` and `.`, start and end with a letter or digit, and keep the rendered name within 63 characters";

/// What is wrong with a rendered Job name.
pub(crate) fn problem(name: &str) -> Option<String> {
    if let Some(p) = dns1123_subdomain_problem(name) {
        return Some(p);
    }
    (name.len() > MAX_LABEL).then(|| {
        format!(
            "it is {} characters long, but the Job controller copies the name into its pods' `job-name` label, which allows at most {MAX_LABEL}",
            name.len()
        )
    })
}

/// The literal name with each template token (`${VAR}`, `__NAME__`, `#{TAG}#`, …) replaced by
/// a neutral stand-in, so the fixed part can be checked even when the value is unknown.
fn with_stand_ins(name: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for p in crate::model::template::tokens(name) {
        out.push_str(&name[last..p.start]);
        out.push('0');
        last = p.end;
    }
    out.push_str(&name[last..]);
    out
}

impl JobNameInvalid {
    fn check(
        &self,
        cx: &ContextCx<'_>,
        r: &Rendered,
        ocx: &ObjectCx<'_>,
        out: &mut Vec<Diagnostic>,
    ) {
        let obj = ocx.obj;
        let Some(literal) = obj.name.as_deref() else {
            if let Some(g) = obj.generate_name.as_deref() {
                // The API appends five random characters.
                let rendered = format!("{}a1b2c", with_stand_ins(g));
                if let Some(p) = problem(&rendered) {
                    out.push(
                        ocx.diag(
                            &META,
                            paths::GENERATE_NAME,
                            format!("generateName `{}` yields invalid job names (5 random characters are appended): {p}", display_value(g)),
                        )
                        .help(HELP),
                    );
                }
            }
            return;
        };
        let value = cx.env().name(cx.context, r);
        let rendered = value.as_ref().map(|v| v.text.as_str()).unwrap_or(literal);
        let templated = crate::model::template::is_templated(rendered);
        if rendered == literal || templated {
            // Not rewritten (or placeholders left for later): judge the literal, placeholders aside.
            if let Some(p) = problem(&with_stand_ins(rendered)) {
                let aside = if templated {
                    " (placeholders aside)"
                } else {
                    ""
                };
                out.push(
                    ocx.diag(
                        &META,
                        paths::NAME,
                        format!(
                            "job name `{}` is invalid{aside}: {p}",
                            display_value(literal)
                        ),
                    )
                    .help(HELP),
                );
            }
            return;
        }
        if let (Some(v), Some(p)) = (&value, problem(rendered)) {
            let d = ocx
                .diag(
                    &META,
                    paths::NAME,
                    format!(
                        "job name renders as `{}`, which is invalid: {p}",
                        display_value(rendered)
                    ),
                )
                .help(HELP);
            let primary = d.loc;
            out.push(cx.provenance(d, v, primary));
        }
    }
}

impl Rule for JobNameInvalid {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        for (r, ocx) in cx.rendered() {
            if matches!(ocx.obj.typed, Typed::Job) {
                self.check(cx, r, &ocx, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    #[test]
    fn literal_names() {
        let text = job("MyApp-migration-v1", BODY);
        let d = lint_one(&text, "job-name-invalid");
        assert_one_saying(&d, "uppercase");
        assert_eq!(&text[d[0].loc.span.range()], "MyApp-migration-v1");
        let long = format!("{}-migration-v1", "a".repeat(60));
        let d = lint_one(&job(&long, BODY), "job-name-invalid");
        assert_contains(&d[0].message, "63");
        assert!(lint_one(&job("myapp-migration-v1.2.3", BODY), "job-name-invalid").is_empty());
    }

    #[test]
    fn placeholder_values_from_the_tree() {
        let files = [
            ("k/job.yaml", job("myapp-migration-${IMAGE_TAG}", BODY)),
            ("k/flux.yaml", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app}\nspec:\n  path: ./k\n  postBuild:\n    substitute:\n      IMAGE_TAG: \"1.2.3+build_7\"\n".to_string()),
        ];
        let d = one("job-name-invalid", &files).says("1.2.3+build_7").d;
        assert_eq!(d.related.len(), 1);
    }

    #[test]
    fn replacement_values_from_the_tree() {
        let files = tagged_job("myapp-migration-placeholder", "V1_2", "{kind: Job}");
        let d = one("job-name-invalid", &files).says("myapp-migration-V1_2").d;
        assert_eq!(d.related.len(), 2);
    }

    #[test]
    fn a_rewritten_literal_is_judged_by_what_it_renders() {
        let files = tagged_job("myapp-migration-TAG", "v1.2.3", "{kind: Job}");
        let d = run("job-name-invalid", &files);
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn generate_name_length() {
        let g = format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: {}-\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: m, image: app:1}}]\n",
            "a".repeat(60)
        );
        assert_eq!(lint_one(&g, "job-name-invalid").len(), 1);
    }
}
