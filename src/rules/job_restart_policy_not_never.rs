//! A migration Job's pods must not restart in place: `restartPolicy: Never`.

use super::meta::JOB_RESTART_POLICY_NOT_NEVER as META;
use super::{ObjectCx, Rule, paths, typed_migration_job};
use crate::base::diagnostic::{Diagnostic, Fix, Severity};

pub(crate) struct JobRestartPolicyNotNever;

const HELP: &str = "set spec.template.spec.restartPolicy: Never so a failed migration pod stays with its logs and is not re-run in place";

impl Rule for JobRestartPolicyNotNever {
    fn check_object(&self, cx: &ObjectCx<'_>, out: &mut Vec<Diagnostic>) {
        if !typed_migration_job(cx) {
            return;
        }
        let policy = cx.read::<String>(paths::RESTART_POLICY);
        let d = match policy.as_deref() {
            Some("Never") => return,
            None => cx
                .diag(
                    &META,
                    paths::RESTART_POLICY,
                    "restartPolicy is not set: the API server rejects the Job (`spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"`)",
                )
                .severity(Severity::Error),
            Some("Always") => cx
                .diag(
                    &META,
                    paths::RESTART_POLICY,
                    "restartPolicy Always is rejected by the API server for a Job (only Never or OnFailure are valid)",
                )
                .severity(Severity::Error),
            Some("OnFailure") => cx.diag(
                &META,
                paths::RESTART_POLICY,
                "restartPolicy OnFailure re-runs a failed migration inside the same pod, and its logs are lost when the Job gives up",
            ),
            Some(other) => cx
                .diag(
                    &META,
                    paths::RESTART_POLICY,
                    format!(
                        "restartPolicy `{}` is not valid for a Job (only Never or OnFailure)",
                        crate::base::mask::display_value(other)
                    ),
                )
                .severity(Severity::Error),
        };
        let fix = cx
            .editor()
            .set_path(
                cx.obj.root,
                &["spec", "template", "spec", "restartPolicy"],
                "Never",
                &[],
            )
            .map(|e| Fix::safe("set spec.template.spec.restartPolicy: Never", vec![e]));
        out.push(d.help(HELP).fix(fix));
    }
}

#[cfg(test)]
mod tests {
    use crate::base::diagnostic::Severity;
    use crate::rules::testing::*;

    fn with_policy(p: &str) -> String {
        job(
            "myapp-migration-v1",
            &format!(
                "  backoffLimit: 0\n  template:\n    spec:\n{p}      containers: [{{name: m, image: app:1}}]\n"
            ),
        )
    }

    #[test]
    fn never_passes() {
        assert!(
            lint_one(
                &with_policy("      restartPolicy: Never\n"),
                "job-restart-policy-not-never"
            )
            .is_empty()
        );
    }

    #[test]
    fn on_failure_is_a_warning_at_the_value() {
        let text = with_policy("      restartPolicy: OnFailure\n");
        let d = lint_one(&text, "job-restart-policy-not-never");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].severity, Severity::Warning);
        assert_eq!(&text[d[0].loc.span.range()], "OnFailure");
    }

    #[test]
    fn absent_or_always_is_an_error() {
        let text = with_policy("");
        let d = lint_one(&text, "job-restart-policy-not-never");
        assert_eq!(d[0].severity, Severity::Error);
        assert_eq!(d[0].path.as_deref(), Some("spec.template.spec"));
        let text = with_policy("      restartPolicy: Always\n");
        let d = lint_one(&text, "job-restart-policy-not-never");
        assert_eq!(d[0].severity, Severity::Error);
        assert_eq!(&text[d[0].loc.span.range()], "Always");
    }
}
