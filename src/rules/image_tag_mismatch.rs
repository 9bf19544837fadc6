//! The migration Job, the app it gates and the Job's versioned name must be the same release:
//! the migration image's tag, the app image's tag and the version in the Job name agree.

use super::meta::IMAGE_TAG_MISMATCH as META;
use super::{ContextCx, ObjectCx, Rule, paths};
use crate::analysis::workload::{
    JobLink, container_name, describe, job_links, job_migration_container, judged,
};
use crate::base::diagnostic::{Diagnostic, Loc};
use crate::base::mask::display_value;
use crate::base::text::placeholders;
use crate::model::migration::{image_repository, mentions_migration};
use crate::render::links::{self, Container, value_loc};
use crate::render::path;
use crate::render::workspace::Workspace;
use crate::render::{Value, split_image};
use crate::yaml::Kind;

pub(crate) struct ImageTagMismatch;

const HELP: &str = "drive every tag from one variable: a kustomize replacement (or `images:` entries for both images) and the same value in the Job name, or Flux's `${IMAGE_TAG}` in all three places";

/// The tag of an image whose value is known; None when it has no tag, only a digest, or
/// still holds a placeholder.
fn tag_of(image: &str) -> Option<&str> {
    if image.contains("$(") || crate::model::template::is_templated(image) {
        return None;
    }
    let (_, tag, _) = split_image(image);
    tag.filter(|t| !t.is_empty())
}

/// The last path element of a repository with migration words removed
/// (`registry/myapp-migration` → `myapp`).
fn base_name(repo: &str) -> (String, &str) {
    let (dir, name) = repo.rsplit_once('/').unwrap_or(("", repo));
    let kept: Vec<&str> = name
        .split(['-', '_', '.'])
        .filter(|w| !w.is_empty() && !mentions_migration(w) && *w != "db")
        .collect();
    (kept.join("-"), dir)
}

/// Whether the app image and the migration image belong to one project (a third-party tool
/// image such as `flyway/flyway` carries the tool's version, not the app's).
fn related(migration_repo: &str, app_repo: &str) -> bool {
    if migration_repo == app_repo {
        return true;
    }
    let (mn, md) = base_name(migration_repo);
    let (an, ad) = base_name(app_repo);
    (!mn.is_empty() && mn == an) || (!md.is_empty() && md == ad)
}

/// Whether a rendered Job name carries `tag` as its version (`…-v1.2.3`, or `…-v1.2.3-x` when
/// a suffix follows).
fn name_carries(name: &str, tag: &str) -> bool {
    name == tag || name.ends_with(&format!("-{tag}")) || name.contains(&format!("-{tag}-"))
}

/// The part of the rendered name that versions it: where the literal name had its
/// placeholder, else what follows the `-`-separated words it shares with the literal name.
fn name_version(literal: &str, rendered: &str) -> String {
    if let Some(start) = literal.find("${") {
        let prefix = &literal[..start];
        let suffix = &literal[literal.rfind('}').map(|e| e + 1).unwrap_or(literal.len())..];
        if let Some(i) = rendered.find(prefix) {
            let rest = &rendered[i + prefix.len()..];
            let end = if suffix.is_empty() {
                rest.len()
            } else {
                rest.rfind(suffix).unwrap_or(rest.len())
            };
            return rest[..end].to_string();
        }
        return rendered.to_string();
    }
    let lw: Vec<&str> = literal.split('-').collect();
    let rw: Vec<&str> = rendered.split('-').collect();
    // Where the literal's words start in the rendered name (after a namePrefix), and how many
    // of them it keeps.
    let mut best = (0, 0);
    for o in 0..rw.len() {
        let n = lw.iter().zip(&rw[o..]).take_while(|(a, b)| a == b).count();
        if n > best.1 {
            best = (o, n);
        }
    }
    rw[best.0 + best.1..].join("-")
}

/// The version a literal Job name ends with (`myapp-migration-v1.4.2` → `v1.4.2`): the
/// `-`-separated words from the first one that starts with a digit or `v` and a digit.
fn literal_version(name: &str) -> Option<&str> {
    let mut at = 0;
    for w in name.split('-') {
        let digits = w.strip_prefix('v').unwrap_or(w);
        if at > 0 && digits.starts_with(|c: char| c.is_ascii_digit()) {
            return Some(&name[at..]);
        }
        at += w.len() + 1;
    }
    None
}

/// The tag the migration container's image has as written in the Job's manifest, before
/// kustomize's `images:` or a replacement moved it.
fn written_tag(ws: &Workspace, l: &JobLink<'_>, mc: &Container) -> Option<String> {
    let spec = l.job_obj.pod_spec(ws.doc_of(l.job_obj))?;
    let list = if mc.init {
        spec.init_containers?
    } else {
        spec.containers.unwrap_or_default()
    };
    tag_of(list.get(mc.index)?.image.as_deref()?).map(str::to_string)
}

/// The Job name, when it is versioned by a placeholder or a replacement and known, or by a
/// literal version equal to the tag its migration image is written with (the two were written
/// as one release, so an overlay that moves the tag and not the name splits them).
fn versioned_name(cx: &ContextCx<'_>, l: &JobLink<'_>, mc: &Container) -> Option<(Value, String)> {
    let literal = l.job_obj.name.as_deref()?;
    if !(l.job.name_replaced || literal.contains("${")) {
        let version = literal_version(literal)?;
        if written_tag(cx.ws, l, mc).as_deref() != Some(version) {
            return None;
        }
        let v = cx.env().name(cx.context, l.job)?;
        return Some((v, version.to_string()));
    }
    let v = cx.env().name(cx.context, l.job)?;
    if v.text.contains("${") {
        return None;
    }
    // Only a variable meant to carry the release's tag is compared with the tags: a name
    // versioned by `${GIT_SHA}` legitimately differs from `myapp:v1.2.3`.
    let variable = match placeholders(literal).first() {
        Some(p) => Some(p.var.clone()),
        None => v.origin.and_then(|o| source_key(cx, o)),
    };
    if !variable.as_deref().is_some_and(tag_variable) {
        return None;
    }
    let version = name_version(literal, &v.text);
    Some((v, version))
}

/// Whether a variable's name says it holds an image tag or release version.
fn tag_variable(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    ["TAG", "VERSION", "RELEASE", "IMAGE"]
        .iter()
        .any(|w| up.contains(w))
}

/// The key a replacement source value was read from: the mapping key whose value is at `loc`,
/// or the `KEY` of a generator literal `KEY=value`.
fn source_key(cx: &ContextCx<'_>, loc: Loc) -> Option<String> {
    let file = cx.ws.files.get(loc.file as usize)?;
    for doc in &file.docs {
        for n in doc.iter() {
            match n.kind {
                Kind::Map(entries) => {
                    if let Some(&(k, _)) = entries.iter().find(|&&(_, v)| doc.span(v) == loc.span) {
                        return doc.str(k).map(str::to_string);
                    }
                }
                Kind::Scalar { value, .. } if n.span == loc.span => {
                    if let Some((k, _)) = value.split_once('=') {
                        return Some(k.trim().to_string());
                    }
                }
                _ => {}
            }
        }
    }
    None
}

struct End<'c> {
    container: &'c Container,
    image: Value,
    tag: String,
}

fn end(c: &Container) -> Option<End<'_>> {
    let image = c.image.clone()?;
    let tag = tag_of(&image.text)?.to_string();
    Some(End {
        container: c,
        image,
        tag,
    })
}

impl ImageTagMismatch {
    fn image_loc(&self, cx: &ContextCx<'_>, l: &JobLink<'_>, app: bool, e: &End<'_>) -> Loc {
        let r = if app { l.app } else { l.job };
        let obj = ObjectCx::new(cx.ws, if app { l.app_obj } else { l.job_obj });
        value_loc(&cx.env(), r, &e.container.field("image"), Some(&e.image))
            .unwrap_or_else(|| obj.locate(&[]).0)
    }

    fn check(&self, cx: &ContextCx<'_>, l: &JobLink<'_>, out: &mut Vec<Diagnostic>) {
        let env = cx.env();
        let job_containers = links::containers(&env, cx.context, l.job);
        let Some(mc) = job_migration_container(&job_containers) else {
            return;
        };
        let mig = end(mc);
        let name = versioned_name(cx, l, mc);
        let job_desc = describe(&cx.env(), cx.context, l.job);
        let app_desc = describe(&cx.env(), cx.context, l.app);
        let app_containers = links::containers(&env, cx.context, l.app);
        for ac in app_containers.iter().filter(|c| !c.init) {
            let Some(app) = end(ac) else { continue };
            if let Some(m) = &mig {
                let (mr, _, _) = split_image(&m.image.text);
                if !related(mr, image_repository(&app.image.text)) {
                    continue;
                }
            } else {
                // Without a usable migration tag, only the name is compared: keep to the
                // app containers of the same project as the Job's image.
                let Some(mi) = mc.image.as_ref() else {
                    continue;
                };
                if !related(
                    image_repository(&mi.text),
                    image_repository(&app.image.text),
                ) {
                    continue;
                }
            }
            let name_ok = name.as_ref().map(|(v, _)| name_carries(&v.text, &app.tag));
            let name_has_mig = match (&name, &mig) {
                (Some((v, _)), Some(m)) => name_carries(&v.text, &m.tag),
                _ => false,
            };
            let app_part = format!(
                "the app container `{}` of {app_desc} runs `{}`",
                container_name(ac),
                display_value(&app.image.text)
            );
            let name_part = |v: &Value, version: &str| {
                format!(
                    "the job name `{}` carries `{}`",
                    display_value(&v.text),
                    display_value(version)
                )
            };
            match &mig {
                Some(m) if m.tag != app.tag => {
                    let mig_part = format!(
                        "the migration image of {job_desc} (container `{}`) is `{}`",
                        container_name(mc),
                        display_value(&m.image.text)
                    );
                    let (at_app, message) = match (&name, name_ok) {
                        (Some((v, version)), Some(true)) => (
                            false,
                            format!(
                                "{mig_part}, but {app_part} and {}: the migration applies the schema of `{}` while the app expects `{}`",
                                name_part(v, version),
                                display_value(&m.tag),
                                display_value(&app.tag)
                            ),
                        ),
                        (Some((v, version)), _) if name_has_mig => (
                            true,
                            format!(
                                "{app_part}, but {mig_part} and {}: the app runs against the schema of `{}`",
                                name_part(v, version),
                                display_value(&m.tag)
                            ),
                        ),
                        (Some((v, version)), _) => (
                            false,
                            format!(
                                "{mig_part}, but {app_part} and {}: the three disagree, so the app that waits for this Job runs against another release's schema",
                                name_part(v, version)
                            ),
                        ),
                        (None, _) => (
                            false,
                            format!(
                                "{mig_part}, but {app_part}: the app waits for a migration of another release and then runs against a schema it was not built for"
                            ),
                        ),
                    };
                    let (primary_end, other_end, primary_r, primary_obj) = if at_app {
                        (&app, m, l.app, ObjectCx::new(cx.ws, l.app_obj))
                    } else {
                        (m, &app, l.job, ObjectCx::new(cx.ws, l.job_obj))
                    };
                    let p = primary_end.container.field("image");
                    let d = cx
                        .diag_value(
                            &META,
                            &primary_obj,
                            primary_r,
                            &p,
                            Some(&primary_end.image),
                            message,
                        )
                        .help(HELP);
                    let other_loc = self.image_loc(cx, l, !at_app, other_end);
                    let mut d = d.related(
                        other_loc,
                        format!(
                            "{} image `{}`",
                            if at_app { "the migration" } else { "the app" },
                            display_value(&other_end.image.text)
                        ),
                    );
                    if let Some((v, _)) = &name
                        && let Some(loc) = self.name_loc(cx, l, v)
                    {
                        d = d.related(loc, format!("the job name `{}`", display_value(&v.text)));
                    }
                    out.push(d);
                }
                _ => {
                    // The images agree (or the migration's tag is unknown): the name must too.
                    let Some((v, version)) = &name else { continue };
                    if name_ok != Some(false) {
                        continue;
                    }
                    let Some(loc) = self.name_loc(cx, l, v) else {
                        continue;
                    };
                    let images = match &mig {
                        Some(m) => format!(
                            "{app_part}, like the migration image `{}`",
                            display_value(&m.image.text)
                        ),
                        None => app_part.clone(),
                    };
                    let message = format!(
                        "job name `{}` is versioned `{}`, but {images}: the name, not the image, is what changes between releases and what the init container waits for, so a release that moves only the image tags reuses the old Job and starts the app without running its migration",
                        display_value(&v.text),
                        display_value(version)
                    );
                    let d = ObjectCx::new(cx.ws, l.job_obj)
                        .diag_at(&META, loc, "metadata.name".into(), message)
                        .help(HELP);
                    let mut d = cx.provenance(d, v, loc);
                    d = d.related(
                        self.image_loc(cx, l, true, &app),
                        format!("the app image `{}`", display_value(&app.image.text)),
                    );
                    out.push(d);
                }
            }
        }
    }

    fn name_loc(&self, cx: &ContextCx<'_>, l: &JobLink<'_>, v: &Value) -> Option<Loc> {
        value_loc(
            &cx.env(),
            l.job,
            &path::keys(&["metadata", "name"]),
            Some(v),
        )
        .or_else(|| Some(ObjectCx::new(cx.ws, l.job_obj).locate(paths::NAME).0))
    }
}

impl Rule for ImageTagMismatch {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        if !judged(cx.ws, cx.context) {
            return;
        }
        for l in job_links(cx.ws, cx.context) {
            if l.app.patched || l.job.patched {
                continue;
            }
            self.check(cx, &l, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;

    const RULE: &str = "image-tag-mismatch";

    fn job(name: &str, image: &str) -> String {
        Job::default()
            .name(name)
            .containers(&migrate_container(image))
            .yaml()
    }

    fn deploy(target: &str, image: &str) -> String {
        let init = wait_for("wait-for-migration", &format!("[job-wr, \"{target}\"]"));
        Deploy::default()
            .init(&init)
            .app("service")
            .image(image)
            .yaml()
    }

    const VARS: &str =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: vars}\ndata: {IMAGE_TAG: v2}\n";

    /// The name, the migration image and the app image tagged through the `vars` replacement.
    fn tagged(job_image: &str, app_image: &str) -> [(&'static str, String); 4] {
        [
            ("k/vars.yaml", VARS.to_string()),
            ("k/job.yaml", job("myapp-migration-TAG", job_image)),
            ("k/deploy.yaml", deploy("myapp-migration-TAG", app_image)),
            ("k/kustomization.yaml", kust("")),
        ]
    }

    fn kust(extra: &str) -> String {
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [vars.yaml, job.yaml, deploy.yaml]\n{extra}replacements:\n- source: {{kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}}\n  targets:\n  - select: {{kind: Job}}\n    fieldPaths: [metadata.name]\n    options: {{delimiter: '-', index: 2}}\n  - select: {{kind: Deployment}}\n    fieldPaths: [spec.template.spec.initContainers.0.args.1]\n    options: {{delimiter: '-', index: 2}}\n"
        )
    }

    #[test]
    fn helpers() {
        assert!(related(
            "registry.example.com/myapp-migration",
            "registry.example.com/myapp"
        ));
        assert!(related("myapp-migration", "myapp"));
        assert!(related("ghcr.io/acme/migrations", "ghcr.io/acme/api"));
        assert!(!related("flyway/flyway", "ghcr.io/acme/api"));
        assert!(!related("migrate/migrate", "api"));
        assert_eq!(tag_of("app@sha256:abc"), None);
        assert_eq!(tag_of("app"), None);
        assert_eq!(tag_of("reg:5000/app:v1@sha256:abc"), Some("v1"));
        assert_eq!(tag_of("app:${IMAGE_TAG}"), None);
        assert_eq!(
            name_version("myapp-migration-${IMAGE_TAG}", "myapp-migration-v1.2.3"),
            "v1.2.3"
        );
        assert_eq!(
            name_version("myapp-migration-TAG", "prod-myapp-migration-v1-rc1"),
            "v1-rc1"
        );
        assert_eq!(
            name_version("my-app-migration-TAG", "my-app-v1.2.3-TAG"),
            "v1.2.3-TAG"
        );
        assert!(name_carries("myapp-migration-v1.2.3", "v1.2.3"));
        assert!(name_carries("myapp-migration-v1.2.3-eu", "v1.2.3"));
        assert!(!name_carries("myapp-migration-v1.2.30", "v1.2.3"));
    }

    #[test]
    fn images_override_moves_only_the_app() {
        // The name and the migration image say v2 ... the images: entry moves the app to v3.
        let files = [
            ("k/vars.yaml", VARS.to_string()),
            (
                "k/job.yaml",
                job(
                    "myapp-migration-TAG",
                    "registry.example.com/myapp-migration:v2",
                ),
            ),
            (
                "k/deploy.yaml",
                deploy("myapp-migration-TAG", "registry.example.com/myapp:v2"),
            ),
            (
                "k/kustomization.yaml",
                kust("images:\n- name: registry.example.com/myapp\n  newTag: v3\n"),
            ),
        ];
        let d = run(RULE, &files);
        assert_eq!(d.len(), 1, "{d:?}");
        let deploy_text = &files[2].1;
        assert_eq!(
            &deploy_text[d[0].loc.span.range()],
            "registry.example.com/myapp:v2"
        );
        assert_eq!(
            d[0].message,
            "the app container `service` of Deployment `myapp` runs `registry.example.com/myapp:v3`, but the migration image of Job `myapp-migration-v2` (container `migrate`) is `registry.example.com/myapp-migration:v2` and the job name `myapp-migration-v2` carries `v2`: the app runs against the schema of `v2`"
        );
        let rel: Vec<&str> = d[0].related.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(
            rel,
            [
                "written by images",
                "the migration image `registry.example.com/myapp-migration:v2`",
                "the job name `myapp-migration-v2`"
            ]
        );
    }

    #[test]
    fn migration_image_disagrees_with_name_and_app() {
        let files = tagged("myapp-migration:v1", "myapp:v2");
        one(RULE, &files).at("myapp-migration:v1").starts("the migration image of Job `myapp-migration-v2`").says("the migration applies the schema of `v1` while the app expects `v2`");
    }

    #[test]
    fn name_disagrees_with_both_images() {
        let files = tagged("myapp-migration:v3", "myapp:v3");
        let d = one(RULE, &files).at("myapp-migration-TAG").starts("job name `myapp-migration-v2` is versioned `v2`, but the app container `service` of Deployment `myapp` runs `myapp:v3`, like the migration image `myapp-migration:v3`").d;
        // related: the replacement that wrote the name, its source, the app image.
        assert_eq!(d.related.len(), 3, "{:?}", d.related);
    }

    #[test]
    fn agreeing_tags_pass() {
        let files = tagged("myapp-migration:v2", "myapp:v2");
        assert_none(RULE, &files);
    }

    #[test]
    fn unversioned_literal_names_compare_images_only() {
        // A literal version in the name is not compared (it was not put there by a variable).
        let files = [
            (
                "k/job.yaml",
                job("myapp-migration-v1", "myapp-migration:v2"),
            ),
            ("k/deploy.yaml", deploy("myapp-migration-v1", "myapp:v2")),
        ];
        assert_none(RULE, &files);
        let files = [
            (
                "k/job.yaml",
                job("myapp-migration-v1", "myapp-migration:v1"),
            ),
            ("k/deploy.yaml", deploy("myapp-migration-v1", "myapp:v2")),
        ];
        // The name was written with the migration image's tag: both are release v1, the app
        // is the odd one out.
        let d = one(RULE, &files).at("myapp:v2").d;
        assert!(
            d.message
                .ends_with("the app runs against the schema of `v1`"),
            "{}",
            d.message
        );
        assert_eq!(
            &files[0].1[d.related[0].loc.span.range()],
            "myapp-migration:v1"
        );
    }

    #[test]
    fn an_overlay_moves_the_tags_but_not_a_literal_version_in_the_name() {
        let files = [
            (
                "base/job.yaml",
                job("myapp-migration-v1.4.2", "registry.example.com/myapp-migration:v1.4.2"),
            ),
            (
                "base/deploy.yaml",
                deploy("myapp-migration-v1.4.2", "registry.example.com/myapp:v1.4.2"),
            ),
            (
                "base/kustomization.yaml",
                "resources: [job.yaml, deploy.yaml]\n".to_string(),
            ),
            (
                "prod/kustomization.yaml",
                "resources: [../base]\nimages:\n- name: registry.example.com/myapp\n  newTag: v1.5.0\n- name: registry.example.com/myapp-migration\n  newTag: v1.5.0\n".to_string(),
            ),
        ];
        one(RULE, &files).at("myapp-migration-v1.4.2").starts("job name `myapp-migration-v1.4.2` is versioned `v1.4.2`, but the app container `service` of Deployment `myapp` runs `registry.example.com/myapp:v1.5.0`");
        // A literal version that never matched the image (a schema number) is not compared.
        assert!(literal_version("myapp-migration-v3").is_some());
        assert_eq!(literal_version("myapp-migration"), None);
        assert_eq!(literal_version("v2-migration"), None);
    }

    #[test]
    fn unknown_digest_and_third_party_images_are_skipped() {
        for (job_image, app_image) in [
            ("myapp-migration:${IMAGE_TAG}", "myapp:v2"),
            ("myapp-migration@sha256:0123", "myapp:v2"),
            ("myapp-migration", "myapp:v2"),
            ("flyway/flyway:10.1", "ghcr.io/acme/myapp:v2"),
        ] {
            let files = [
                ("k/job.yaml", job("myapp-migration-v1", job_image)),
                ("k/deploy.yaml", deploy("myapp-migration-v1", app_image)),
            ];
            assert!(run(RULE, &files).is_empty(), "{job_image}");
        }
    }

    #[test]
    fn a_name_versioned_by_another_variable_is_not_compared() {
        let vars =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: vars}\ndata: {GIT_SHA: 4f53cda}\n";
        let k = kust("").replace("data.IMAGE_TAG", "data.GIT_SHA");
        let files = [
            ("k/vars.yaml", vars.to_string()),
            (
                "k/job.yaml",
                job("myapp-migration-TAG", "myapp-migration:v3"),
            ),
            ("k/deploy.yaml", deploy("myapp-migration-TAG", "myapp:v3")),
            ("k/kustomization.yaml", k),
        ];
        assert_none(RULE, &files);
        let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app}\nspec:\n  path: ./k\n  postBuild:\n    substitute:\n      GIT_SHA: 4f53cda\n";
        let files = [
            (
                "k/job.yaml",
                job("myapp-migration-${GIT_SHA}", "myapp-migration:v3"),
            ),
            (
                "k/deploy.yaml",
                deploy("myapp-migration-${GIT_SHA}", "myapp:v3"),
            ),
            ("k/flux.yaml", flux.to_string()),
        ];
        assert_none(RULE, &files);
    }

    #[test]
    fn a_generator_literal_names_its_variable() {
        let k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [job.yaml, deploy.yaml]\nconfigMapGenerator:\n- name: vars\n  literals: [IMAGE_TAG=v2]\nreplacements:\n- source: {kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}\n  targets:\n  - select: {kind: Job}\n    fieldPaths: [metadata.name]\n    options: {delimiter: '-', index: 2}\n  - select: {kind: Deployment}\n    fieldPaths: [spec.template.spec.initContainers.0.args.1]\n    options: {delimiter: '-', index: 2}\n";
        let files = [
            (
                "k/job.yaml",
                job("myapp-migration-TAG", "myapp-migration:v3"),
            ),
            ("k/deploy.yaml", deploy("myapp-migration-TAG", "myapp:v3")),
            ("k/kustomization.yaml", k.to_string()),
        ];
        one(RULE, &files).starts("job name `myapp-migration-v2` is versioned `v2`");
    }

    #[test]
    fn flux_substitution_fills_all_three() {
        let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app}\nspec:\n  path: ./k\n  postBuild:\n    substitute:\n      IMAGE_TAG: v5\n";
        let ok = [
            (
                "k/job.yaml",
                job(
                    "myapp-migration-${IMAGE_TAG}",
                    "myapp-migration:${IMAGE_TAG}",
                ),
            ),
            (
                "k/deploy.yaml",
                deploy("myapp-migration-${IMAGE_TAG}", "myapp:${IMAGE_TAG}"),
            ),
            ("k/flux.yaml", flux.to_string()),
        ];
        assert_none(RULE, &ok);
        let bad = [
            (
                "k/job.yaml",
                job(
                    "myapp-migration-${IMAGE_TAG}",
                    "myapp-migration:${IMAGE_TAG}",
                ),
            ),
            (
                "k/deploy.yaml",
                deploy("myapp-migration-${IMAGE_TAG}", "myapp:v4"),
            ),
            ("k/flux.yaml", flux.to_string()),
        ];
        one(RULE, &bad).at("myapp:v4");
    }
}
