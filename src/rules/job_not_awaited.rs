//! A migration Job that nothing holds the app back for: no k8s-wait-for or `kubectl wait` init
//! container waits for it, it is not a pre-install/pre-upgrade (PreSync/Sync) hook, and no Flux
//! `dependsOn` stage waits for it.
//!
//! Who waits for which Job (build by build) is `analysis::waits`, built once per run and shared
//! with `job-ttl-breaks-wait` and `job-ttl-missing`. A Job several builds render is reported
//! when some build holds nothing back for it, naming those builds when others do.

use super::meta::JOB_NOT_AWAITED as META;
use super::{ObjectCx, Rule, paths};
use crate::analysis::waits::{Status, app_in_view, migration_jobs};
use crate::base::diagnostic::{Builds, Diagnostic};
use crate::base::mask::display_value;
use crate::render::workspace::Workspace;
use crate::yaml::Seg;

pub(crate) struct JobNotAwaited;


/// Where a Job's name is written.
fn name_path(st: &Status) -> &'static [Seg<'static>] {
    if st.generated {
        paths::GENERATE_NAME
    } else {
        paths::NAME
    }
}

impl Rule for JobNotAwaited {
    fn check_workspace(&self, ws: &Workspace, out: &mut Vec<Diagnostic>) {
        for obj in migration_jobs(ws).filter(|o| app_in_view(ws, o)) {
            let ocx = ObjectCx::new(ws, obj);
            let st = crate::analysis::job_status(ws, obj);
            // Judged build by build: a wait in one overlay holds nothing back in another.
            if st.hook.as_ref().is_some_and(|h| h.holds) || st.unheld.is_empty() {
                continue;
            }
            let name = display_value(&st.name);
            let mut message = format!(
                "nothing holds the app back for migration job `{name}`: no k8s-wait-for or `kubectl wait` init container waits for it, it is not a pre-install/pre-upgrade (Helm) or PreSync (Argo CD) hook, and no Flux dependsOn stage waits for it, so the app's pods can start before the migration has run, or after it failed"
            );
            let mut related = Vec::new();
            if let Some(h) = &st.hook {
                message.push_str(&format!(
                    "; its {} hook `{}` does not run before the app",
                    h.tool,
                    display_value(&h.phases)
                ));
            }
            if let Some(w) = st.ignored.first() {
                message.push_str("; the `kubectl wait` for it is followed by `||`, so a failure or timeout is ignored");
                if let Some(l) = w.loc {
                    related.push((l, format!("{} ignores the wait's failure", w.describe())));
                }
            }
            if let Some((dependent, stage, fobj)) = &st.stage_without_wait {
                message.push_str(&format!(
                    "; Flux Kustomization `{dependent}` dependsOn `{stage}`, but without `wait: true` (or health checks) `{stage}` is Ready as soon as the Job is applied, not when it completes"
                ));
                let f = &ws.objects[*fobj as usize];
                let fcx = ObjectCx::new(ws, f);
                related.push((
                    fcx.locate(&[Seg::Key("spec"), Seg::Key("wait")]).0,
                    format!("`{stage}` does not wait for its Jobs"),
                ));
            }
            for w in st.others.iter().take(3) {
                if let Some(l) = w.loc {
                    related.push((
                        l,
                        format!(
                            "{} waits for `{}` instead",
                            w.describe(),
                            display_value(&w.target)
                        ),
                    ));
                }
            }
            let mut d = ocx
                .diag(&META, name_path(st), message)
                .help("add an init container to the app's pods that waits for this Job (`image: groundnuty/k8s-wait-for:v2.0`, `args: [job-wr, <rendered job name>]`, with RBAC to get and list jobs), or deploy the Job in a Flux Kustomization with `wait: true` that the app's Kustomization `dependsOn`");
            for (l, m) in related {
                d = d.related(l, m);
            }
            if st.unheld.len() < st.builds.len() {
                let mut shown: Vec<String> = st
                    .unheld
                    .iter()
                    .map(|&c| ws.contexts[c].name.clone())
                    .collect();
                shown.sort();
                shown.dedup();
                d.builds = Some(Builds { shown, only: true });
            }
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::diagnostic::Diagnostic;
    use crate::rules::testing::*;
    use crate::rules::testing::app_waiting as deploy;

    const RULE: &str = "job-not-awaited";

    fn job(name: &str, meta: &str) -> String {
        Job::default().name(name).meta(meta).yaml()
    }

    /// The findings when `path` holds `job` and the Deployment `myapp` runs the init
    /// containers `init`.
    fn lint(path: &str, job: &str, init: &str) -> Vec<Diagnostic> {
        run(RULE, &[(path, job.to_string()), ("k/deploy.yaml", deploy(init))])
    }

    /// [`lint`] of the Job `myapp-migration-v1`.
    fn lint_v1(init: &str) -> Vec<Diagnostic> {
        lint("k/job.yaml", &job("myapp-migration-v1", ""), init)
    }

    const APP: &str = "        - {name: x, image: busybox}\n";

    #[test]
    fn an_unawaited_migration_job_is_reported_at_its_name() {
        let j = job("myapp-migration-v1", "");
        let found = lint("k/job.yaml", &j, APP);
        assert_single(&found, &j, "myapp-migration-v1");
        assert_contains(&found[0].message, "before the migration has run");
    }

    #[test]
    fn without_an_app_in_view_nothing_is_said() {
        assert_none(RULE, &[("k/job.yaml", job("myapp-migration-v1", ""))]);
    }

    #[test]
    fn waits_and_hooks_hold_the_app_back() {
        let wait_for = "        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, myapp-migration-v1]\n";
        let kubectl = "        - name: wait\n          image: bitnami/kubectl:1.30\n          command: [kubectl, wait, --for=condition=complete, --timeout=10m, job/myapp-migration-v1]\n";
        let selector = "        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, -lapp=migrate]\n";
        let prefix = "        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, myapp-migration]\n";
        // An unknown mode (wait-args-invalid reports it) still names the Job it was meant for.
        let bad_mode = "        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-r, myapp-migration-v1]\n";
        for init in [wait_for, kubectl, selector, prefix, bad_mode] {
            let found = lint_v1(init);
            assert!(found.is_empty(), "{init}: {found:?}");
        }
        for hook in [
            "  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n",
            "  annotations:\n    argocd.argoproj.io/hook: PreSync\n",
            "  annotations:\n    argocd.argoproj.io/sync-wave: \"-1\"\n",
        ] {
            let found = lint("k/job.yaml", &job("myapp-migration-v1", hook), APP);
            assert!(found.is_empty(), "{hook}: {found:?}");
        }
        // A post-install hook runs after the app.
        let post = job(
            "myapp-migration-v1",
            "  annotations:\n    helm.sh/hook: post-install\n",
        );
        let found = lint("k/job.yaml", &post, APP);
        assert_one_saying(&found, "Helm hook `post-install`");
    }

    #[test]
    fn a_loop_on_a_migration_status_check_holds_the_app_back() {
        let gate = |script: &str| {
            format!(
                "        - name: wait\n          image: kong:3.9\n          command: [/bin/bash, -c, '{script}']\n"
            )
        };
        for script in [
            "until kong migrations list; do sleep 1; done",
            "while ! alembic current; do sleep 2; done",
            "for i in 1 2 3; do flyway info && exit 0; sleep 5; done; exit 1",
        ] {
            let found = lint_v1(&gate(script));
            assert!(found.is_empty(), "{script}: {found:?}");
        }
        for script in ["until pg_isready -h db; do sleep 1; done", "kong migrations list"] {
            let found = lint_v1(&gate(script));
            assert_eq!(found.len(), 1, "{script}");
        }
    }

    #[test]
    fn kubectl_wait_in_another_namespace_and_ignored_waits() {
        let other_ns = "        - name: wait\n          image: bitnami/kubectl:1.30\n          command: [kubectl, wait, --for=condition=complete, -n, other, job/myapp-migration-v1]\n";
        let found = lint_v1(other_ns);
        assert_eq!(found.len(), 1);
        let or_true = "        - name: wait\n          image: bitnami/kubectl:1.30\n          command: [sh, -c, 'kubectl wait --for=condition=complete job/myapp-migration-v1 --timeout=60s || true']\n";
        let found = lint_v1(or_true);
        assert_one_saying(&found, "`||`");
        assert_eq!(found[0].related.len(), 1);
        assert!(deploy(or_true)[found[0].related[0].loc.span.range()].contains("|| true"));
    }

    #[test]
    fn a_wait_for_another_job_is_related() {
        let wait = "        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, myapp-migration-v1]\n";
        let d = deploy(wait);
        let jobs = format!(
            "{}---\n{}",
            job("myapp-migration-v1", ""),
            job("myapp-search-migration-v1", "")
        );
        let found = lint("k/job.yaml", &jobs, wait);
        assert_single(&found, &jobs, "myapp-search-migration-v1");
        assert_eq!(
            &d[found[0].related[0].loc.span.range()],
            "myapp-migration-v1"
        );
        assert_contains(&found[0].related[0].message, "instead");
    }

    #[test]
    fn a_broken_wait_nearby_is_left_to_wait_target_missing() {
        let d = deploy(
            "        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, myapp-migratoin-v1]\n",
        );
        let files = [("k/job.yaml", job("myapp-migration-v1", "")), ("k/deploy.yaml", d)];
        let all = lint_without(&files, &["job-not-awaited", "job-ttl-missing"]);
        assert!(all.iter().any(|d| d.rule == "wait-target-missing"), "{all:?}");
    }

    #[test]
    fn judged_build_by_build() {
        let k = |body: &str| {
            format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n{body}")
        };
        let wait = "        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, myapp-migration-v1]\n";
        let j = job("myapp-migration-v1", "");
        let files = [
            ("base/job.yaml", j.clone()),
            ("base/kustomization.yaml", k("resources: [job.yaml]\n")),
            ("staging/deploy.yaml", deploy(APP)),
            (
                "staging/kustomization.yaml",
                k("resources: [../base, deploy.yaml]\n"),
            ),
            ("prod/deploy.yaml", deploy(wait)),
            (
                "prod/kustomization.yaml",
                k("resources: [../base, deploy.yaml]\n"),
            ),
        ];
        // The prod overlay's wait holds nothing back in staging.
        let found = run(RULE, &files);
        assert_single(&found, &j, "myapp-migration-v1");
        assert!(found[0].message.ends_with(" (in staging only)"), "{}", found[0].message);
        let b = found[0].builds.as_ref().unwrap();
        assert_eq!((b.shown.clone(), b.only), (vec!["staging".to_string()], true));
    }

    #[test]
    fn flux_depends_on_stages() {
        let flux = |wait: &str| {
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: app-pre-deploy}}\nspec:\n  path: ./pre\n{wait}---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: app-deploy}}\nspec:\n  path: ./app\n  dependsOn:\n  - name: app-pre-deploy\n"
            )
        };
        let files = |f: String| {
            vec![
                ("flux/ks.yaml", f),
                ("pre/job.yaml", job("myapp-migration-v1", "")),
                ("app/deploy.yaml", deploy(APP)),
            ]
        };
        assert_none(RULE, &files(flux("  wait: true\n")));
        let found = run(RULE, &files(flux("")));
        assert_one_saying(&found, "without `wait: true`");
        assert_eq!(found[0].related.len(), 1);
        // A Flux Kustomization nothing depends on is no stage (the app's, deployed beside it,
        // does not depend on it).
        let lone = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: pre}\nspec:\n  path: ./pre\n  wait: true\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app}\nspec:\n  path: ./app\n".to_string();
        assert_eq!(run(RULE, &files(lone)).len(), 1);
    }

    #[test]
    fn jobs_recognised_by_their_entrypoint_arguments_or_file() {
        let entry = |name: &str, container: &str| {
            format!(
                "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{container}]\n"
            )
        };
        for (file, j) in [
            (
                "k/schema.yaml",
                entry(
                    "schema-v2",
                    "{name: l, image: \"liquibase/liquibase:4.29\", args: [\"--changelog-file=changelog.xml\", update]}",
                ),
            ),
            (
                "k/schema.yaml",
                entry(
                    "schema-v2",
                    "{name: f, image: \"flyway/flyway:10\", args: [\"-url=jdbc:postgresql://db/app\", migrate]}",
                ),
            ),
            (
                "k/schema.yaml",
                entry(
                    "schema-v2",
                    "{name: m, image: \"migrate/migrate:v4.17.1\", args: [-path, /m, -database, \"$(DB_URL)\", up]}",
                ),
            ),
            (
                "k/db-migrate.yaml",
                entry("schema-v2", "{name: s, image: \"app:v2\"}"),
            ),
        ] {
            let found = lint(file, &j, APP);
            assert_eq!(found.len(), 1, "{j}");
        }
        // The same images run for another purpose, or a command that replaces the entrypoint.
        for c in [
            "{name: f, image: \"flyway/flyway:10\", args: [info]}",
            "{name: l, image: \"liquibase/liquibase:4.29\", command: [sh, -c, \"echo update\"]}",
        ] {
            let found = lint("k/schema.yaml", &entry("schema-v2", c), APP);
            assert!(found.is_empty(), "{c}: {found:?}");
        }
    }

    #[test]
    fn non_migration_jobs_are_ignored() {
        let j = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: nightly-report\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: r, image: \"reports:v1\"}]\n";
        let found = lint("k/job.yaml", j, APP);
        assert!(found.is_empty(), "{found:?}");
    }
}
