//! The migration and the app it gates must run fixed code: an image without a tag or digest,
//! or tagged `latest`, can resolve to other code on the next pull.

use super::meta::IMAGE_TAG_MUTABLE as META;
use super::{ContextCx, PodOwner, Rule, migration_job};
use crate::analysis::workload::{
    container_name, describe, is_wait_for, job_links, judged, migration_tool,
};
use crate::base::diagnostic::{Diagnostic};
use crate::base::mask::display_value;
use crate::render::links::{self, Container};
use crate::render::path::Step;
use crate::render::{Rendered, split_image};
use std::collections::BTreeMap;

pub(crate) struct ImageTagMutable;

const HELP: &str = "pin the image to the release's tag, the one the migration and the app share (kustomize `images: newTag`, a replacement or Flux `${IMAGE_TAG}`), or to a digest";

/// Why an image reference moves, if it does. Unknown values (placeholders) do not.
fn mutable(image: &str) -> Option<&'static str> {
    // A template token (`${TAG}`, `__IMAGE__`, `#{TAG}#`): CI or Flux writes the real value.
    if image.contains("$(") || image.trim().is_empty() || crate::model::template::is_templated(image)
    {
        return None;
    }
    match split_image(image) {
        (_, _, Some(_)) => None,
        (_, None, None) => Some("has no tag or digest, so it means `:latest`"),
        (_, Some("latest"), None) => Some("is tagged `latest`"),
        _ => None,
    }
}

/// What a container is to the migration.
#[derive(Clone)]
enum Role {
    MigrationJob,
    MigrationInit,
    /// Gated by a migration, described.
    App(String),
}

impl ImageTagMutable {
    fn report(
        &self,
        cx: &ContextCx<'_>,
        r: &Rendered,
        c: &Container,
        role: &Role,
        out: &mut Vec<Diagnostic>,
    ) {
        let Some(image) = c.image.as_ref() else {
            return;
        };
        let Some(why) = mutable(&image.text) else {
            return;
        };
        let Some(o) = r.object() else { return };
        let ocx = super::ObjectCx::new(cx.ws, &cx.ws.objects[o as usize]);
        let who = match role {
            Role::MigrationJob => format!(
                "migration container `{}` of {}",
                container_name(c),
                describe(&cx.env(), cx.context, r)
            ),
            Role::MigrationInit => format!(
                "migration init container `{}` of {}",
                container_name(c),
                describe(&cx.env(), cx.context, r)
            ),
            Role::App(gate) => format!(
                "app container `{}` of {}, {gate},",
                container_name(c),
                describe(&cx.env(), cx.context, r)
            ),
        };
        let consequence = match role {
            Role::App(_) => {
                "a restarted, rescheduled or added pod may pull different code than the migration ran"
            }
            _ => {
                "a retried migration pod, or one on another node, may pull different code than the app it gates"
            }
        };
        let message = format!(
            "{who} runs `{}`, which {why}: the tag moves, so {consequence}",
            display_value(&image.text)
        );
        out.push(
            cx.diag_value(&META, &ocx, r, &c.field("image"), Some(image), message)
                .help(HELP),
        );
    }
}

impl Rule for ImageTagMutable {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        if !judged(cx.ws, cx.context) {
            return;
        }
        let env = cx.env();
        // (rendered index, container path) → role; the first role found wins.
        let mut roles: BTreeMap<(usize, Vec<Step>), Role> = BTreeMap::new();
        for PodOwner { index: ri, r, ocx } in cx.pod_owners() {
            let containers = links::containers(&env, cx.context, r);
            if r.kind == "Job" && migration_job(&ocx).is_some() {
                for c in containers.iter().filter(|c| !is_wait_for(c)) {
                    roles
                        .entry((ri, c.path()))
                        .or_insert(Role::MigrationJob);
                }
                continue;
            }
            let inits: Vec<&Container> = containers
                .iter()
                .filter(|c| c.init && migration_tool(c).is_some())
                .collect();
            for c in &inits {
                roles
                    .entry((ri, c.path()))
                    .or_insert(Role::MigrationInit);
            }
            if let Some(first) = inits.first() {
                for c in containers.iter().filter(|c| !c.init) {
                    roles
                        .entry((ri, c.path()))
                        .or_insert(Role::App(format!(
                            "whose pods run the migration init container `{}`",
                            container_name(first)
                        )));
                }
            }
        }
        for l in job_links(cx.ws, cx.context) {
            if l.app.patched {
                continue;
            }
            let Some(ri) = cx
                .context
                .rendered
                .iter()
                .position(|r| std::ptr::eq(r, l.app))
            else {
                continue;
            };
            for c in links::containers(&env, cx.context, l.app)
                .iter()
                .filter(|c| !c.init)
            {
                roles
                    .entry((ri, c.path()))
                    .or_insert(Role::App(format!(
                        "which waits for the migration {}",
                        describe(&cx.env(), cx.context, l.job)
                    )));
            }
        }
        for ((ri, p), role) in &roles {
            let r = &cx.context.rendered[*ri];
            if let Some(c) = links::containers(&env, cx.context, r)
                .iter()
                .find(|c| &c.path() == p)
            {
                self.report(cx, r, c, role, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;

    const RULE: &str = "image-tag-mutable";

    fn job(image: &str) -> String {
        Job::default().containers(&migrate_container(image)).yaml()
    }

    fn deploy(wait_image: &str, image: &str) -> String {
        let init = wait_for("wait-for-migration", WAIT_V1).replace(WAIT_IMAGE, wait_image);
        Deploy::default()
            .init(&init)
            .app("service")
            .image(image)
            .yaml()
    }

    #[test]
    fn classifies_references() {
        assert_eq!(
            mutable("app"),
            Some("has no tag or digest, so it means `:latest`")
        );
        assert_eq!(
            mutable("registry:5000/app"),
            Some("has no tag or digest, so it means `:latest`")
        );
        assert_eq!(mutable("app:latest"), Some("is tagged `latest`"));
        assert_eq!(mutable("app:latest@sha256:abc"), None);
        assert_eq!(mutable("app@sha256:abc"), None);
        assert_eq!(mutable("app:v1"), None);
        assert_eq!(mutable("app:${TAG}"), None);
    }

    #[test]
    fn migration_job_and_waiting_app() {
        let files = [
            ("k/job.yaml", job("myapp-migration:latest")),
            (
                "k/deploy.yaml",
                deploy("groundnuty/k8s-wait-for", "registry.example.com/myapp"),
            ),
        ];
        let d = run(RULE, &files);
        assert_eq!(d.len(), 2, "{d:?}");
        Found::starting(&d, "migration container", &files)
            .at("myapp-migration:latest")
            .is("migration container `migrate` of Job `myapp-migration-v1` runs `myapp-migration:latest`, which is tagged `latest`: the tag moves, so a retried migration pod, or one on another node, may pull different code than the app it gates");
        Found::starting(&d, "app container", &files)
            .at("registry.example.com/myapp")
            .starts("app container `service` of Deployment `myapp`, which waits for the migration Job `myapp-migration-v1`, runs `registry.example.com/myapp`, which has no tag or digest");
        // The untagged k8s-wait-for image is another rule's business.
        assert!(d.iter().all(|d| !d.message.contains("k8s-wait-for")));
    }

    /// The Job running `job_image`, the Deployment waiting for it running `app_image`, and a
    /// kustomization over both in `k/` whose `images:` entries are `images`.
    fn with_images(job_image: &str, app_image: &str, images: &str) -> [(&'static str, String); 3] {
        [
            ("k/job.yaml", job(job_image)),
            ("k/deploy.yaml", deploy(WAIT_IMAGE, app_image)),
            (
                "k/kustomization.yaml",
                kustomization("[job.yaml, deploy.yaml]", &format!("images:\n{images}")),
            ),
        ]
    }

    #[test]
    fn kustomize_images_pin_the_tag() {
        let pinned = "- name: myapp-migration\n  newTag: v1\n- name: myapp\n  digest: sha256:0123\n";
        assert_none(RULE, &with_images("myapp-migration", "myapp:latest", pinned));
        // An images entry that sets latest is reported at the manifest with its writer.
        let files = with_images("myapp-migration:v1", "myapp:v1", "- name: myapp\n  newTag: latest\n");
        one(RULE, &files).at("myapp:v1").says("runs `myapp:latest`").related(0, "written by images");
    }

    #[test]
    fn an_overlay_that_pins_the_tag_clears_its_base() {
        let overlay = kustomization(
            "[../k]",
            "images:\n- name: myapp-migration\n  newTag: v1\n- name: myapp\n  newTag: v1\n",
        );
        let [job, deploy, _] = with_images("myapp-migration", "myapp", "");
        let files = [
            job,
            deploy,
            ("k/kustomization.yaml", kustomization("[job.yaml, deploy.yaml]", "")),
            ("prod/kustomization.yaml", overlay),
        ];
        assert_none(RULE, &files);
    }

    #[test]
    fn init_container_migration() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: migrate\n          image: my-app:latest\n          command: [npm, run, migrate]\n      containers:\n        - name: web\n          image: my-app:latest\n".to_string();
        let d = run(RULE, &[("k/web.yaml", text.clone())]);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_starts_with(
            &d[0].message,
            "migration init container `migrate` of Deployment `web` runs `my-app:latest`",
        );
        assert_starts_with(
            &d[1].message,
            "app container `web` of Deployment `web`, whose pods run the migration init container `migrate`, runs",
        );
        assert_eq!(&text[d[1].loc.span.range()], "my-app:latest");
        // An ordinary Deployment with `latest` is not this rule's business.
        let plain = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: my-app:latest\n".to_string();
        assert_none(RULE, &[("k/web.yaml", plain)]);
    }
}
