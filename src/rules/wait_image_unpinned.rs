//! The k8s-wait-for image must be a pinned release that reads Job status right. Its releases
//! parse `kubectl describe jobs` differently: v1.6 and v1.7 miss the `(R Ready)` part that
//! kubectl ≥ 1.24 prints and report every Job ready (issue #60); v2.0 requires it (issue #68),
//! so it is right on Kubernetes ≥ 1.24 only; before v1.4 a Job that does not exist counted as
//! ready. `latest` (or no tag) is whatever was pushed last.

use super::meta::WAIT_IMAGE_UNPINNED as META;
use super::{ContextCx, Rule};
use crate::base::diagnostic::Diagnostic;
use crate::base::mask::display_value;
use crate::render::links;
use crate::render::split_image;

pub(crate) struct WaitImageUnpinned;

const PIN: &str = "pin a release: `groundnuty/k8s-wait-for:v2.0` (or `no-root-v2.0`) on Kubernetes ≥ 1.24, `v1.5.1` on older clusters, or a digest";

/// What is wrong with a k8s-wait-for image reference, if anything.
fn problem(image: &str) -> Option<String> {
    let (_, tag, digest) = split_image(image);
    if digest.is_some() {
        return None;
    }
    let shown = display_value(image);
    let Some(tag) = tag else {
        return Some(format!(
            "k8s-wait-for image `{shown}` has no tag, so it is `latest`: every node pulls whatever was pushed last, and this image's releases disagree on how to read `kubectl describe jobs` (v1.6/v1.7 and v2.0 each report unfinished Jobs as complete on some Kubernetes versions)"
        ));
    };
    let release = tag.strip_prefix("no-root-").unwrap_or(tag);
    match release {
        "latest" => Some(format!(
            "k8s-wait-for image `{shown}` floats: every node pulls whatever was pushed last, and this image's releases disagree on how to read `kubectl describe jobs` (v1.6/v1.7 and v2.0 each report unfinished Jobs as complete on some Kubernetes versions)"
        )),
        "v1.6" | "v1.7" | "1.6" | "1.7" => Some(format!(
            "k8s-wait-for image `{shown}` misreads Job status on Kubernetes ≥ 1.24: kubectl there prints `Pods Statuses: 1 Active (0 Ready) / 0 Succeeded / 0 Failed`, its pattern expects no `(R Ready)` part, finds nothing, and reports the Job complete at once, so the app starts before the migration finishes (groundnuty/k8s-wait-for#60)"
        )),
        "v1.0" | "v1.1" | "v1.2" | "v1.3" | "1.0" | "1.1" | "1.2" | "1.3" => Some(format!(
            "k8s-wait-for image `{shown}` treats a Job that does not exist as complete (fixed in v1.4): a typo, a wrong namespace or a Job not applied yet lets the app start without its migration"
        )),
        _ => None,
    }
}

impl Rule for WaitImageUnpinned {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        let env = cx.env();
        for (r, ocx) in cx.rendered() {
            if r.patched {
                continue;
            }
            for c in links::containers(&env, cx.context, r).iter() {
                let Some(image) = c.image.as_ref() else {
                    continue;
                };
                if !c.init || !links::is_wait_for_image(&image.text) || image.text.contains("${") {
                    continue;
                }
                let Some(message) = problem(&image.text) else {
                    continue;
                };
                out.push(
                    cx.diag_value(&META, &ocx, r, &c.field("image"), Some(image), message)
                        .help(PIN),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::problem;
    use crate::rules::testing::*;

    fn deploy(image: &str) -> String {
        let init = wait_for("wait", WAIT_V1).replace(WAIT_IMAGE, image);
        Deploy::default().init(&init).image("app:latest").yaml()
    }

    #[test]
    fn floating_and_broken_tags_point_at_the_image() {
        for (image, phrase) in [
            ("groundnuty/k8s-wait-for", "has no tag"),
            ("groundnuty/k8s-wait-for:latest", "floats"),
            ("ghcr.io/groundnuty/k8s-wait-for:no-root-latest", "floats"),
            ("groundnuty/k8s-wait-for:v1.7", "#60"),
            ("ghcr.io/groundnuty/k8s-wait-for:no-root-v1.6", "#60"),
            ("groundnuty/k8s-wait-for:v1.3", "does not exist as complete"),
        ] {
            let text = deploy(image);
            let d = lint_one(&text, "wait-image-unpinned");
            assert_single(&d, &text, image);
            assert_contains(&d[0].message, phrase);
            assert_contains(d[0].help.as_deref().unwrap(), "v2.0");
        }
    }

    #[test]
    fn pinned_releases_and_digests_pass() {
        for image in [
            "groundnuty/k8s-wait-for:v2.0",
            "ghcr.io/groundnuty/k8s-wait-for:no-root-v2.0",
            "groundnuty/k8s-wait-for:v1.5.1",
            "groundnuty/k8s-wait-for@sha256:0123456789abcdef",
            "groundnuty/k8s-wait-for:latest@sha256:0123456789abcdef",
            "registry.local:5000/k8s-wait-for:v2.0",
            "groundnuty/k8s-wait-for:${WAIT_FOR_TAG}",
        ] {
            assert!(
                lint_one(&deploy(image), "wait-image-unpinned").is_empty(),
                "{image}"
            );
        }
        assert!(problem("registry.local:5000/k8s-wait-for").is_some());
    }

    #[test]
    fn kustomize_images_decide_and_are_named() {
        let k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deploy.yaml]\nimages:\n- name: groundnuty/k8s-wait-for\n  newTag: v1.7\n";
        let text = deploy("groundnuty/k8s-wait-for:v2.0");
        let d: Vec<_> = lint_files(&[
            ("k/deploy.yaml", text.clone()),
            ("k/kustomization.yaml", k.to_string()),
        ])
        .into_iter()
        .filter(|d| d.rule == "wait-image-unpinned")
        .collect();
        assert_single(&d, &text, "groundnuty/k8s-wait-for:v2.0");
        assert_contains(&d[0].message, "`groundnuty/k8s-wait-for:v1.7`");
        assert_eq!(d[0].related.len(), 1);
        assert_contains(&d[0].related[0].message, "images");
        // And the reverse: a kustomization pins a floating manifest.
        let k = k.replace("v1.7", "v2.0");
        let d: Vec<_> = lint_files(&[
            ("k/deploy.yaml", deploy("groundnuty/k8s-wait-for")),
            ("k/kustomization.yaml", k),
        ])
        .into_iter()
        .filter(|d| d.rule == "wait-image-unpinned")
        .collect();
        assert!(d.is_empty(), "{d:?}");
    }
}
