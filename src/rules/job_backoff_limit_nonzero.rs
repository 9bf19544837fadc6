//! A migration Job must fail at its first failure: `backoffLimit: 0`.

use super::meta::JOB_BACKOFF_LIMIT_NONZERO as META;
use super::{ObjectCx, Rule, paths, typed_migration_job};
use crate::base::diagnostic::{Diagnostic, Fix, Severity};

pub(crate) struct JobBackoffLimitNonzero;

const HELP: &str = "set spec.backoffLimit: 0 so a failed migration fails the rollout at once";
/// An explicit limit is a choice: say what it costs rather than call it a mistake.
const HELP_EXPLICIT: &str = "each retry re-runs the migration against a database the failed attempt may have left half-migrated (a non-idempotent step applied twice, a lock still held), with back-off delays of 10 s, 20 s, 40 s… while the waiting pods stay in Init; keep it only if every migration step is idempotent, else set spec.backoffLimit: 0";

impl Rule for JobBackoffLimitNonzero {
    fn check_object(&self, cx: &ObjectCx<'_>, out: &mut Vec<Diagnostic>) {
        if !typed_migration_job(cx) {
            return;
        }
        let fix = || {
            cx.editor()
                .set_path(cx.obj.root, &["spec", "backoffLimit"], "0", &["template"])
                .map(|e| Fix::safe("set spec.backoffLimit: 0", vec![e]))
        };
        match cx.read::<i32>(paths::BACKOFF_LIMIT) {
            None => out.push(
                cx.diag(&META, paths::BACKOFF_LIMIT, "migration job retries up to 6 times because backoffLimit is not set")
                    .help(HELP)
                    .fix(fix()),
            ),
            Some(n) if n > 0 => out.push(
                cx.diag(
                    &META,
                    paths::BACKOFF_LIMIT,
                    format!(
                        "migration job retries up to {n} time{} after a failure (backoffLimit: {n})",
                        if n == 1 { "" } else { "s" }
                    ),
                )
                // Explicitly set: a deliberate trade-off, so a warning (absent, 6, stays an error).
                .severity(Severity::Warning)
                .help(HELP_EXPLICIT)
                .fix(fix()),
            ),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    const RULE: &str = "job-backoff-limit-nonzero";
    /// A Job spec without `backoffLimit`.
    const TEMPLATE: &str = "  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: app:1}]\n";

    #[test]
    fn absent_limit_points_at_spec() {
        let text = job("myapp-migration-v1", TEMPLATE);
        let d = lint_one(&text, RULE);
        assert_single(&d, &text, "spec");
        assert_contains(&d[0].message, "6 times");
        assert_eq!(d[0].path.as_deref(), Some("spec"));
    }

    #[test]
    fn positive_limit_points_at_the_value() {
        let text = job("db-migrate-v2", &format!("  backoffLimit: 3\n{TEMPLATE}"));
        let d = lint_one(&text, RULE);
        assert_single(&d, &text, "3");
        assert_contains(&d[0].message, "3 times");
        // A deliberate limit is a warning whose help says what the retries cost; the
        // absent one (the API's 6) stays an error.
        assert_eq!(d[0].severity, crate::base::diagnostic::Severity::Warning);
        assert_contains(d[0].help.as_deref().unwrap_or(""), "half-migrated");
        let absent = lint_one(&job("db-migrate-v2", TEMPLATE), RULE);
        assert_eq!(absent[0].severity, crate::base::diagnostic::Severity::Error);
    }

    #[test]
    fn zero_or_non_migration_jobs_pass() {
        let ok = job("myapp-migration-v1", BODY);
        assert!(lint_one(&ok, RULE).is_empty());
        let other = job("nightly-report", TEMPLATE);
        assert!(lint_one(&other, RULE).is_empty());
    }

    #[test]
    fn migration_detected_by_command() {
        let text = job(
            "release-step",
            "  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: m\n        image: app:1\n        command: [python, manage.py, migrate]\n",
        );
        assert_eq!(lint_one(&text, RULE).len(), 1);
    }
}
