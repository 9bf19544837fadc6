//! The k8s-wait-for and migration init containers should declare resource requests and limits
//! like any other container: they count in the pod's effective request, and a namespace with a
//! ResourceQuota or LimitRange may reject pods whose containers omit them.

use super::meta::INIT_RESOURCES_MISSING as META;
use super::{ContextCx, ObjectCx, PodOwner, Rule};
use crate::analysis::workload::{
    container_anchor, container_name, describe, field, is_wait_for, migration_tool,
};
use crate::base::diagnostic::{Diagnostic};
use crate::render::Rendered;
use crate::render::links::{self, Container};
use crate::render::path::{self, Step};

pub(crate) struct InitResourcesMissing;

const HELP: &str = "set resources.requests and resources.limits (cpu and memory) on the init container; k8s-wait-for needs little (e.g. 10m CPU, 32Mi memory), a migration what the tool needs";

impl InitResourcesMissing {
    /// Whether a non-empty mapping is at `p`.
    fn has(&self, cx: &ContextCx<'_>, r: &Rendered, p: &[Step]) -> bool {
        cx.env().map_len(r, p) > 0
    }

    /// A LimitRange in the namespace that gives containers default limits (and so requests).
    fn defaulted(&self, cx: &ContextCx<'_>, namespace: &str) -> bool {
        let env = cx.env();
        cx.context.rendered.iter().any(|lr| {
            lr.kind == "LimitRange"
                && !lr.patched
                && env.namespace(cx.context, lr) == namespace
                && {
                    let base = path::keys(&["spec", "limits"]);
                    (0..env.len(lr, &base)).any(|i| {
                        let item = [base.clone(), vec![Step::Index(i)]].concat();
                        let at = |k: &str| [item.clone(), path::keys(&[k])].concat();
                        cx.value(lr, &at("type"))
                            .is_some_and(|t| t.text == "Container")
                            && (self.has(cx, lr, &at("default")) || self.has(cx, lr, &at("max")))
                    })
                }
        })
    }

    fn check(
        &self,
        cx: &ContextCx<'_>,
        r: &Rendered,
        ocx: &ObjectCx<'_>,
        c: &Container,
        what: &str,
        out: &mut Vec<Diagnostic>,
    ) {
        let requests = self.has(cx, r, &field(c, &["resources", "requests"]));
        let limits = self.has(cx, r, &field(c, &["resources", "limits"]));
        let missing = match (requests, limits) {
            (true, true) => return,
            (false, false) => "no resources.requests and no resources.limits",
            (false, true) => "resources.limits but no resources.requests",
            (true, false) => "resources.requests but no resources.limits",
        };
        if self.defaulted(cx, &cx.env().namespace(cx.context, r)) {
            return;
        }
        let has_resources = cx.env().exists(r, &c.field("resources"));
        let loc = container_anchor(
            &cx.env(),
            r,
            c,
            if has_resources { "resources" } else { "name" },
        );
        let anchor = if has_resources {
            c.field("resources")
        } else {
            c.path()
        };
        out.push(
            ocx.diag_at(
                &META,
                loc,
                path::display(&anchor),
                format!(
                    "{what} `{}` of {} has {missing}: its requests count in the pod's effective request, and a namespace with a ResourceQuota on cpu or memory, or a LimitRange that requires them, rejects pods that omit them",
                    container_name(c),
                    describe(&cx.env(), cx.context, r)
                ),
            )
            .help(HELP),
        );
    }
}

impl Rule for InitResourcesMissing {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        let env = cx.env();
        for PodOwner { r, ocx, .. } in cx.pod_owners() {
            for c in links::containers(&env, cx.context, r)
                .iter()
                .filter(|c| c.init)
            {
                let what = if is_wait_for(c) {
                    "k8s-wait-for init container"
                } else if migration_tool(c).is_some() {
                    "migration init container"
                } else {
                    continue;
                };
                self.check(cx, r, &ocx, c, what, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::diagnostic::Diagnostic;
    use crate::rules::testing::*;

    const RULE: &str = "init-resources-missing";

    fn deploy(init: &str) -> String {
        Deploy::default()
            .init(init)
            .app("service")
            .image("myapp:v1")
            .yaml()
    }

    const WAIT: &str = "        - name: wait-for-migration\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, myapp-migration-v1]\n";

    /// The Deployment whose init containers are `init`, and the rule's findings in it.
    fn lint(init: &str) -> (String, Vec<Diagnostic>) {
        let text = deploy(init);
        let d = run(RULE, &[("k/d.yaml", text.as_str())]);
        (text, d)
    }

    #[test]
    fn wait_for_without_resources_points_at_the_name_key() {
        let (text, d) = lint(WAIT);
        assert_single(&d, &text, "name");
        assert_eq!(
            d[0].path.as_deref(),
            Some("spec.template.spec.initContainers[0]")
        );
        assert_starts_with(
            &d[0].message,
            "k8s-wait-for init container `wait-for-migration` of Deployment `myapp` has no resources.requests and no resources.limits: its requests count in the pod's effective request",
        );
    }

    #[test]
    fn says_which_half_is_missing() {
        for (resources, missing) in [
            (
                "requests: {cpu: 10m, memory: 32Mi}\n",
                "has resources.requests but no resources.limits",
            ),
            (
                "requests: {}\n            limits: {cpu: 100m}\n",
                "has resources.limits but no resources.requests",
            ),
        ] {
            let (text, d) = lint(&format!(
                "{WAIT}          resources:\n            {resources}"
            ));
            assert_single(&d, &text, "resources");
            assert_contains(&d[0].message, missing);
        }
    }

    #[test]
    fn complete_resources_and_other_init_containers_pass() {
        let ok = deploy(&format!(
            "{WAIT}          resources:\n            requests: {{cpu: 10m, memory: 32Mi}}\n            limits: {{cpu: 100m, memory: 64Mi}}\n"
        ));
        assert_none(RULE, &[("k/d.yaml", ok)]);
        let other = deploy(
            "        - name: copy-config\n          image: busybox:1.36\n          command: [cp, /a, /b]\n",
        );
        assert_none(RULE, &[("k/d.yaml", other)]);
    }

    #[test]
    fn migration_init_container() {
        let (text, d) = lint(
            "        - name: migrate\n          image: myapp:v1\n          command: [npx, prisma, migrate, deploy]\n",
        );
        assert_single(&d, &text, "name");
        assert_starts_with(&d[0].message, "migration init container `migrate`");
    }

    #[test]
    fn a_limit_range_with_defaults_fills_them_in() {
        let lr = "apiVersion: v1\nkind: LimitRange\nmetadata: {name: defaults}\nspec:\n  limits:\n  - type: Container\n    default: {cpu: 200m, memory: 128Mi}\n";
        let files = [("k/d.yaml", deploy(WAIT)), ("k/lr.yaml", lr.to_string())];
        assert_none(RULE, &files);
        let other_ns = lr.replace("name: defaults}", "name: defaults, namespace: other}");
        let files = [("k/d.yaml", deploy(WAIT)), ("k/lr.yaml", other_ns)];
        assert_eq!(run(RULE, &files).len(), 1);
    }
}
