//! A migration in an init container runs in every pod: when a workload can run more than one
//! pod, several migrations can run against the same database at once.

use super::meta::INIT_MIGRATION_RACE as META;
use super::{ContextCx, PodOwner, Rule};
use crate::analysis::workload::{
    container_name, describe, hpas, migration_anchor, migration_reason, node_loc, number,
};
use crate::base::diagnostic::Diagnostic;
use crate::base::mask::display_value;
use crate::render::links::{self, Container};
use crate::render::path;

pub(crate) struct InitMigrationRace;

const HELP: &str = "run the migration once per release in a versioned Job that the pods wait for (k8s-wait-for `job-wr`), or keep the workload at one pod with no autoscaler, or make sure the migration tool takes a database lock";

const ROLLOUT: &str = "`maxSurge: 1, maxUnavailable: 0` only makes a rollout create new pods one at a time (their migrations then run in turn), not on first install, on HPA scale-up or when several pods are rescheduled together";

const LOCKS: &str = "tools that take a database lock (Prisma, Flyway, Liquibase, golang-migrate, Rails) serialise themselves, Django and Alembic do not by default (advisory)";

impl InitMigrationRace {
    fn check(&self, cx: &ContextCx<'_>, w: &PodOwner<'_>, out: &mut Vec<Diagnostic>) {
        let (r, ocx, env) = (w.r, &w.ocx, cx.env());
        let kind = r.kind.as_str();
        if !matches!(
            kind,
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController"
        ) {
            return;
        }
        let containers = links::containers(&env, cx.context, r);
        let migrations: Vec<(&Container, String)> = containers
            .iter()
            .filter(|c| c.init)
            .filter_map(|c| migration_reason(c).map(|why| (c, why)))
            .collect();
        if migrations.is_empty() {
            return;
        }
        let spec = |k: &[&str]| {
            let p = [path::keys(&["spec"]), path::keys(k)].concat();
            (cx.value(r, &p), p)
        };
        // StatefulSets with the default OrderedReady policy start, scale and replace pods one
        // at a time, each only after the previous one is Running and Ready.
        let parallel = kind == "StatefulSet" && {
            let (v, _) = spec(&["podManagementPolicy"]);
            v.is_some_and(|v| v.text == "Parallel")
        };
        if kind == "StatefulSet" && !parallel {
            return;
        }
        let (replicas_v, replicas_p) = spec(&["replicas"]);
        let replicas = match (&replicas_v, env.exists(r, &replicas_p)) {
            (Some(v), _) => number(v),
            (None, false) => Some(1),
            (None, _) => None,
        };
        let hpas = hpas(&env, cx.context, r);
        let many_replicas = replicas.is_some_and(|n| n > 1);
        if kind != "DaemonSet" && !many_replicas && hpas.is_empty() {
            return;
        }
        let (strategy_v, strategy_p) = spec(&["strategy", "type"]);
        let recreate =
            kind == "Deployment" && strategy_v.as_ref().is_some_and(|v| v.text == "Recreate");

        let mut scale = Vec::new();
        if kind == "DaemonSet" {
            scale.push("one pod per node".to_string());
        }
        if many_replicas {
            scale.push(format!("{} replicas", replicas.unwrap_or_default()));
        }
        for h in &hpas {
            scale.push(format!(
                "HorizontalPodAutoscaler `{}` scales it up to {} pods",
                display_value(&h.name),
                h.max
            ));
        }
        let how = match kind {
            "DaemonSet" => "a DaemonSet starts a pod on every node at once on install and when nodes join, and a rolling update only limits how many nodes update together".to_string(),
            "StatefulSet" => "`podManagementPolicy: Parallel` starts and replaces the pods together".to_string(),
            _ if recreate => format!("`strategy: Recreate` only removes the old pods first and then creates all new pods at once; {ROLLOUT}"),
            _ => ROLLOUT.to_string(),
        };
        for (c, why) in migrations {
            let anchor = migration_anchor(c);
            let loc = node_loc(&cx.env(), r, &anchor).unwrap_or_else(|| ocx.locate(&[]).0);
            let runs = if why.starts_with("runs ") {
                why
            } else {
                format!("looks like a migration ({why}) and runs")
            };
            let message = format!(
                "init container `{}` {runs} in every pod of {} ({}), so several pods can migrate the same database at once: {how}; {LOCKS}",
                container_name(c),
                describe(&cx.env(), cx.context, r),
                scale.join(", ")
            );
            let mut d = ocx
                .diag_at(&META, loc, path::display(&anchor), message)
                .help(HELP);
            if many_replicas && let Some(v) = &replicas_v {
                let n = replicas.unwrap_or_default();
                match (node_loc(&cx.env(), r, &replicas_p), v.writer) {
                    (Some(l), Some(w)) => {
                        d = d
                            .related(l, format!("replicas, set to {n} by kustomize"))
                            .related(w, format!("kustomize `replicas` sets {n}"));
                    }
                    (Some(l), None) => d = d.related(l, format!("{n} replicas")),
                    (None, _) => {
                        if let Some(l) = v.writer.or(v.origin) {
                            d = d.related(l, format!("kustomize `replicas` sets {n}"));
                        }
                    }
                }
            }
            for h in &hpas {
                if let Some(l) = h.loc {
                    d = d.related(
                        l,
                        format!(
                            "HorizontalPodAutoscaler `{}` scales up to {} pods",
                            display_value(&h.name),
                            h.max
                        ),
                    );
                }
            }
            if recreate && let Some(l) = node_loc(&cx.env(), r, &strategy_p) {
                d = d.related(l, "Recreate creates all new pods at once");
            }
            out.push(d);
        }
    }
}

impl Rule for InitMigrationRace {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        for w in cx.pod_owners() {
            self.check(cx, &w, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    const RULE: &str = "init-migration-race";

    fn workload(kind: &str, spec: &str, init: &str) -> String {
        let d = Deploy::default()
            .kind(kind)
            .name("web")
            .spec(spec)
            .init(init);
        d.app("web").image("my-app:v1").yaml()
    }

    /// The Deployment `web` running [`NPM`] as an init container, with `spec`, next to `other`.
    fn web_and(spec: &str, other: (&'static str, String)) -> [(&'static str, String); 2] {
        [("k/web.yaml", workload("Deployment", spec, NPM)), other]
    }

    const NPM: &str = "        - name: migrate\n          image: my-app:v1\n          command: [\"npm\", \"run\", \"migrate\"]\n";

    #[test]
    fn three_replicas_point_at_the_command() {
        let text = workload("Deployment", "  replicas: 3\n", NPM);
        let d = run(RULE, &[("k/web.yaml", text.clone())]);
        assert_single(&d, &text, "[\"npm\", \"run\", \"migrate\"]");
        assert_eq!(
            d[0].path.as_deref(),
            Some("spec.template.spec.initContainers[0].command")
        );
        assert_eq!(
            d[0].message,
            "init container `migrate` runs `npm run migrate` in every pod of Deployment `web` (3 replicas), so several pods can migrate the same database at once: `maxSurge: 1, maxUnavailable: 0` only makes a rollout create new pods one at a time (their migrations then run in turn), not on first install, on HPA scale-up or when several pods are rescheduled together; tools that take a database lock (Prisma, Flyway, Liquibase, golang-migrate, Rails) serialise themselves, Django and Alembic do not by default (advisory)"
        );
        assert_eq!(d[0].related.len(), 1);
        assert_eq!(&text[d[0].related[0].loc.span.range()], "3");
        assert_eq!(d[0].related[0].message, "3 replicas");
    }

    #[test]
    fn one_replica_or_absent_passes() {
        for spec in ["  replicas: 1\n", ""] {
            let text = workload("Deployment", spec, NPM);
            assert!(run(RULE, &[("k/web.yaml", text)]).is_empty(), "{spec}");
        }
        let unknown = workload("Deployment", "  replicas: ${REPLICAS}\n", NPM);
        assert!(run_unchecked(RULE, &[("k/web.yaml", unknown)]).is_empty());
    }

    #[test]
    fn kustomize_replicas_count() {
        let k = kustomization("[web.yaml]", "replicas:\n- name: web\n  count: 4\n");
        let files = web_and("  replicas: 1\n", ("k/kustomization.yaml", k.clone()));
        let d = one(RULE, &files).says("(4 replicas)").d;
        let msgs: Vec<&str> = d.related.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "replicas, set to 4 by kustomize",
                "kustomize `replicas` sets 4"
            ]
        );
        // And back down to one.
        let down = k.replace("count: 4", "count: 1");
        assert_none(RULE, &web_and("  replicas: 3\n", ("k/kustomization.yaml", down)));
    }

    #[test]
    fn hpa_scales_a_single_replica() {
        let hpa = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 1\n  maxReplicas: 5\n";
        let files = web_and("", ("k/hpa.yaml", hpa.to_string()));
        let d = one(RULE, &files).says("(HorizontalPodAutoscaler `web` scales it up to 5 pods)").d;
        assert_eq!(&hpa[d.related[0].loc.span.range()], "5");
        // An HPA capped at one pod, or aimed at another workload, does not count.
        for other in [
            hpa.replace("maxReplicas: 5", "maxReplicas: 1"),
            hpa.replace("name: web}", "name: api}"),
        ] {
            assert_none(RULE, &web_and("", ("k/hpa.yaml", other)));
        }
    }

    #[test]
    fn hpa_target_follows_a_name_prefix() {
        let hpa = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 3\n";
        let k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamePrefix: prod-\nresources: [web.yaml, hpa.yaml]\n";
        let files = [
            ("k/web.yaml", workload("Deployment", "", NPM)),
            ("k/hpa.yaml", hpa.to_string()),
            ("k/kustomization.yaml", k.to_string()),
        ];
        assert_eq!(run(RULE, &files).len(), 1);
    }

    #[test]
    fn recreate_does_not_serialise_new_pods() {
        let text = workload(
            "Deployment",
            "  replicas: 3\n  strategy:\n    type: Recreate\n",
            NPM,
        );
        let d = run(RULE, &[("k/web.yaml", text.clone())]);
        assert_one_saying(
            &d,
            "`strategy: Recreate` only removes the old pods first and then creates all new pods at once",
        );
        assert_eq!(&text[d[0].related[1].loc.span.range()], "Recreate");
    }

    #[test]
    fn daemonsets_and_statefulsets() {
        let ds = workload("DaemonSet", "", NPM);
        let d = run(RULE, &[("k/ds.yaml", ds)]);
        assert_one_saying(&d, "of DaemonSet `web` (one pod per node)");
        let sts = workload("StatefulSet", "  replicas: 3\n", NPM);
        assert_none(RULE, &[("k/sts.yaml", sts)]);
        let par = workload(
            "StatefulSet",
            "  replicas: 3\n  podManagementPolicy: Parallel\n",
            NPM,
        );
        let d = run(RULE, &[("k/sts.yaml", par)]);
        assert_one_saying(
            &d,
            "`podManagementPolicy: Parallel` starts and replaces the pods together",
        );
    }

    #[test]
    fn args_image_and_name_anchors() {
        let args = "        - name: migrate\n          image: my-app:v1\n          command: [python]\n          args: [manage.py, migrate]\n";
        let image = "        - name: schema\n          image: registry/my-app-migrations:v1\n";
        let name = "        - name: db-migrate\n          image: my-app:v1\n          command: [./entrypoint.sh]\n";
        for (init, at, start) in [
            (args, "[manage.py, migrate]", "init container `migrate` runs `manage.py migrate`"),
            (
                image,
                "registry/my-app-migrations:v1",
                "init container `schema` looks like a migration (its image `registry/my-app-migrations:v1` is a migration image) and runs in every pod of Deployment `web` (2 replicas)",
            ),
            (name, "db-migrate", "init container `db-migrate` looks like a migration"),
        ] {
            let text = workload("Deployment", "  replicas: 2\n", init);
            let d = run(RULE, &[("k/web.yaml", text.as_str())]);
            assert_single(&d, &text, at);
            assert_starts_with(&d[0].message, start);
        }
    }

    #[test]
    fn waits_and_checks_are_not_migrations() {
        let wait = "        - name: wait-for-migration\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, web-migration-v1]\n";
        let check = "        - name: check-migrations\n          image: my-app:v1\n          command: [python, manage.py, migrate, --check]\n";
        for init in [wait, check] {
            let text = workload("Deployment", "  replicas: 3\n", init);
            assert_none(RULE, &[("k/web.yaml", text)]);
        }
    }
}
