//! Modes `job` and `job-we` let the app start when the migration has not run, or has failed.
//! `wait_for.sh` parses `Pods Statuses: A Active / S Succeeded / F Failed` from
//! `kubectl describe jobs`: `job` is ready when nothing is active or failed (0:0:0 too, before
//! the Job's first pod exists), `job-we` when nothing is active (failures included), and only
//! `job-wr` requires a success.

use super::meta::WAIT_MODE_UNSAFE as META;
use super::{ContextCx, ObjectCx, Rule, migration_job};
use crate::analysis::wait_target::{arg_path, args_are_script_args};
use crate::base::diagnostic::{Diagnostic};
use crate::base::mask::display_value;
use crate::model::migration::mentions_migration;
use crate::render::links;

pub(crate) struct WaitModeUnsafe;

impl Rule for WaitModeUnsafe {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        let env = cx.env();
        let jobs = cx.ws.jobs(cx.context);
        for w in cx.ws.wait_fors(cx.context) {
            let Some(mode) = w.mode.as_ref() else {
                continue;
            };
            if !(mode.text == "job" || mode.text == "job-we") || !args_are_script_args(w) {
                continue;
            }
            let r = &cx.context.rendered[w.rendered];
            let Some(o) = r.object() else { continue };
            let ocx = ObjectCx::new(cx.ws, &cx.ws.objects[o as usize]);
            // A migration Job it waits for, by the Job itself or by the target's name.
            let awaited_migration = links::awaited(w, jobs).into_iter().find(|j| {
                cx.context.rendered[j.rendered].object().is_some_and(|jo| {
                    migration_job(&ObjectCx::new(cx.ws, &cx.ws.objects[jo as usize])).is_some()
                })
            });
            let target = w.target.as_ref().map(|t| t.text.as_str());
            let named = target.is_some_and(|t| !w.is_selector() && mentions_migration(t));
            if awaited_migration.is_none() && !named {
                continue;
            }
            let job = display_value(
                awaited_migration
                    .map(|j| j.name.as_str())
                    .or(target)
                    .unwrap_or("?"),
            );
            let message = if mode.text == "job" {
                format!(
                    "mode `job` lets the app start before migration `{job}` has run: a Job whose pod does not exist yet (0 active, 0 succeeded, 0 failed) counts as complete; and once any attempt has failed it waits forever, even if a retry succeeded"
                )
            } else {
                format!(
                    "mode `job-we` counts a failed Job as done: if migration `{job}` fails, the app starts anyway, against a schema the migration did not finish"
                )
            };
            let mut d = cx
                .diag_value(&META, &ocx, r, &arg_path(w, 0), Some(mode), message)
                .help("use `job-wr`: it waits until no pod of the Job is active and at least one has succeeded (with `backoffLimit: 0`, a failed migration keeps the new pods waiting in Init while the old ones keep serving)");
            d =
                d.fix(super::set_value(cx.ws, mode, "job-wr").map(|e| {
                    crate::base::diagnostic::Fix::unsafe_("wait with mode job-wr", vec![e])
                }));
            if let Some(j) = awaited_migration {
                let jr = &cx.context.rendered[j.rendered];
                let p = crate::render::path::keys(&["metadata", "name"]);
                if let Some(l) = links::value_loc(&env, jr, &p, j.name_value.as_ref()) {
                    d = d.related(l, format!("migration job `{}`", display_value(&j.name)));
                }
            }
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    const RULE: &str = "wait-mode-unsafe";

    fn deploy(args: &str) -> String {
        Deploy::default().init(&wait_for("wait", args)).yaml()
    }

    fn job(name: &str, command: &str) -> String {
        let containers = format!(" [{{name: m, image: \"app:v1\", command: {command}}}]\n");
        Job::default().name(name).containers(&containers).yaml()
    }

    #[test]
    fn job_and_job_we_on_a_migration_point_at_the_mode() {
        for (mode, phrase) in [
            ("job", "0 active, 0 succeeded, 0 failed"),
            ("job-we", "fails, the app starts anyway"),
        ] {
            let d = deploy(&format!("[{mode}, myapp-migration-v1]"));
            let j = job("myapp-migration-v1", "[npx, prisma, migrate, deploy]");
            let found = run(
                RULE,
                &[("k/deploy.yaml", d.clone()), ("k/job.yaml", j.clone())],
            );
            assert_single(&found, &d, mode);
            assert_contains(&found[0].message, phrase);
            assert_contains(found[0].help.as_deref().unwrap(), "job-wr");
            assert_eq!(
                &j[found[0].related[0].loc.span.range()],
                "myapp-migration-v1"
            );
        }
    }

    #[test]
    fn the_job_or_the_target_must_be_a_migration() {
        // A migration by its command, under a neutral name.
        let found = run(
            RULE,
            &[
                ("k/deploy.yaml", deploy("[job, schema-sync-v1]")),
                (
                    "k/job.yaml",
                    job("schema-sync-v1", "[alembic, upgrade, head]"),
                ),
            ],
        );
        assert_eq!(found.len(), 1);
        // The target names a migration, the Job is elsewhere.
        let found = run(RULE, &[("k/deploy.yaml", deploy("[job-we, db-migrate]"))]);
        assert_eq!(found.len(), 1);
        assert!(found[0].related.is_empty());
        // Neither: a data-loading Job.
        let found = run(
            RULE,
            &[
                ("k/deploy.yaml", deploy("[job, load-fixtures]")),
                ("k/job.yaml", job("load-fixtures", "[python, load.py]")),
            ],
        );
        assert!(found.is_empty());
    }

    #[test]
    fn job_wr_and_pod_modes_pass() {
        for args in [
            "[job-wr, myapp-migration-v1]",
            "[pod, -lapp=myapp-migration]",
        ] {
            let found = run(
                RULE,
                &[
                    ("k/deploy.yaml", deploy(args)),
                    (
                        "k/job.yaml",
                        job("myapp-migration-v1", "[npx, prisma, migrate, deploy]"),
                    ),
                ],
            );
            assert!(found.is_empty(), "{args}");
        }
    }
}
