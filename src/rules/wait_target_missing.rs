//! A k8s-wait-for init container in a job mode must name a Job that exists, as rendered, in the
//! namespace kubectl looks in. `wait_for.sh` runs `kubectl describe jobs <target>`: on NotFound
//! kubectl falls back to every Job whose name starts with the target, and only when none does is
//! the NotFound returned, the script exits 1 and the pod crash-loops in Init.
//!
//! The lookup (`analysis::wait_target`) is shared with `wait-namespace-mismatch` (same name,
//! other namespace).

use super::meta::WAIT_TARGET_MISSING as META;
use super::{ContextCx, ObjectCx, Rule};
use crate::analysis::wait_target::{
    JobAt, Lookup, arg_path, equality_selector, judged_selector, judged_target, lookup,
    selector_candidates, selector_matches,
};
use crate::base::diagnostic::{Diagnostic};
use crate::base::mask::display_value;
use crate::base::text::edit_distance;
use crate::render::links::WaitFor;

pub(crate) struct WaitTargetMissing;


/// Write the Job's rendered name into the argument, when the wait obviously means that Job: it
/// is the only Job of the namespace in this context, or its name is a near miss; the name is
/// the manifest's own or a namePrefix/nameSuffix rename (a name built by a replacement or a
/// substitution needs the same mechanism on the argument, which a human must choose); and the
/// argument is written in the manifest, not by a transformer. Unsafe: a Deployment shared by
/// several builds gets the name of this one.
fn obvious_fix(
    cx: &ContextCx<'_>,
    w: &WaitFor,
    target: &str,
    j: &JobAt<'_>,
) -> Option<crate::base::diagnostic::Fix> {
    if j.generated || j.job.namespace != w.namespace || j.job.name.is_empty() {
        return None;
    }
    let via = j.job.name_value.as_ref().and_then(|v| v.via);
    if !matches!(via, None | Some("namePrefix/nameSuffix")) {
        return None;
    }
    let in_namespace = cx
        .ws
        .jobs(cx.context)
        .iter()
        .filter(|o| o.namespace == w.namespace)
        .count();
    let near = edit_distance(target, &j.job.name) <= (target.chars().count() / 4).max(2);
    if in_namespace != 1 && !near {
        return None;
    }
    let valid = j.job.name.len() <= 253
        && j.job
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !valid {
        return None;
    }
    super::set_value(cx.ws, w.target.as_ref()?, &j.job.name).map(|e| {
        crate::base::diagnostic::Fix::unsafe_(format!("wait for job `{}`", j.job.name), vec![e])
    })
}

fn list(jobs: &[JobAt<'_>]) -> String {
    let mut names: Vec<String> = jobs
        .iter()
        .map(|j| format!("`{}`", display_value(&j.job.name)))
        .collect();
    names.sort();
    names.dedup();
    if names.len() > 3 {
        let more = names.len() - 3;
        names.truncate(3);
        names.push(format!("{more} more"));
    }
    names.join(", ")
}

/// A label-selector wait (`job-wr -lapp=myapp-migration,version=v1`) that no rendered Job of
/// the namespace matches: `kubectl describe jobs -l…` prints "No resources found", the script
/// finds no job and exits 1, and the pod crash-loops in Init. Only equality selectors are
/// evaluated; set-based ones, unknown labels and CronJobs (whose Jobs carry their template's
/// labels) leave the wait unknown.
fn selector_missing(cx: &ContextCx<'_>, w: &WaitFor) -> Option<Diagnostic> {
    let (sel, idx) = judged_selector(cx.context, w)?;
    let reqs = equality_selector(&sel)?;
    let jobs = selector_candidates(cx.ws, cx.context, w)?;
    if jobs.iter().any(|(_, labels)| selector_matches(&reqs, labels)) {
        return None;
    }
    let r = &cx.context.rendered[w.rendered];
    let o = r.object()?;
    let ocx = ObjectCx::new(cx.ws, &cx.ws.objects[o as usize]);
    let ns = &w.namespace;
    let value = if idx == 1 {
        w.target.as_ref()
    } else {
        w.container.args.get(idx)
    };
    let shown = display_value(&sel);
    let mut d = cx.diag_value(
        &META,
        &ocx,
        r,
        &arg_path(w, idx),
        value,
        format!(
            "k8s-wait-for waits for jobs with labels `{shown}` in namespace `{ns}`, but no job rendered there has those labels: `kubectl describe jobs -l {shown}` finds nothing (\"No jobs found\"), the init container exits 1 and the pod crash-loops in Init (Init:CrashLoopBackOff) until such a job appears"
        ),
    );
    let env = cx.env();
    // The closest Job: the one meeting the most requirements.
    let closest = jobs
        .iter()
        .filter(|(j, _)| std::ptr::eq(j.context, cx.context))
        .max_by_key(|(j, labels)| {
            let met = reqs
                .iter()
                .filter(|q| selector_matches(std::slice::from_ref(q), labels))
                .count();
            (met, std::cmp::Reverse(j.job.name.clone()))
        });
    if let Some((j, labels)) = closest {
        let shown_labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", display_value(v)))
            .collect();
        if let Some(l) = j.name_loc(&env) {
            d = d.related(
                l,
                format!(
                    "job `{}` has labels `{}`",
                    display_value(&j.job.name),
                    shown_labels.join(",")
                ),
            );
        }
    }
    Some(d.help("make the selector match the migration Job's rendered metadata.labels (same version value, same keys after commonLabels/labels transformers), or wait for the Job by name"))
}

impl Rule for WaitTargetMissing {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        for w in cx.ws.wait_fors(cx.context) {
            if let Some(d) = selector_missing(cx, w) {
                out.push(d);
                continue;
            }
            let Some(target) = judged_target(cx.context, w) else {
                continue;
            };
            let r = &cx.context.rendered[w.rendered];
            let Some(o) = r.object() else { continue };
            let ocx = ObjectCx::new(cx.ws, &cx.ws.objects[o as usize]);
            let ns = &w.namespace;
            let where_ns = if w.namespace_arg.is_some() {
                format!("namespace `{ns}` (its `-n` argument)")
            } else {
                format!("namespace `{ns}` (the pod's)")
            };
            let shown = display_value(target);
            let tp = arg_path(w, 1);
            match lookup(cx.ws, cx.context, w, target) {
                Lookup::Found | Lookup::OtherNamespace(_) => {}
                Lookup::Prefix(jobs) => {
                    let mut d = cx
                        .diag_value(
                            &META,
                            &ocx,
                            r,
                            &tp,
                            w.target.as_ref(),
                            format!(
                                "no job is named `{shown}` in {where_ns}: `kubectl describe jobs` then falls back to every job whose name starts with `{shown}` ({}), so this init container waits for those jobs instead of one migration",
                                list(&jobs)
                            ),
                        )
                        .help("make the argument equal the Job's rendered metadata.name exactly (same tag, same namePrefix/nameSuffix)");
                    for j in &jobs {
                        if let Some(l) = j.name_loc(&cx.env()) {
                            d = d.related(
                                l,
                                format!(
                                    "kubectl would wait for job `{}`",
                                    display_value(&j.job.name)
                                ),
                            );
                        }
                    }
                    out.push(d);
                }
                Lookup::Missing(closest) => {
                    let mut d = cx.diag_value(
                        &META,
                        &ocx,
                        r,
                        &tp,
                        w.target.as_ref(),
                        format!(
                            "k8s-wait-for waits for job `{shown}` in {where_ns}, but no job of that name is rendered there: `kubectl describe jobs` fails with NotFound, the init container exits 1 and the pod crash-loops in Init (Init:CrashLoopBackOff) until such a job appears"
                        ),
                    );
                    let mut fix = None;
                    let mut help = "make the argument equal the Job's rendered metadata.name exactly (same tag, same namePrefix/nameSuffix, same namespace)".to_string();
                    if let Some(j) = closest {
                        let name = display_value(&j.job.name);
                        if let Some(l) = j.name_loc(&cx.env()) {
                            d = d.related(
                                l,
                                format!("closest job: `{name}` in namespace `{}`", j.job.namespace),
                            );
                        }
                        let renamed = j
                            .job
                            .name_value
                            .as_ref()
                            .is_some_and(|v| v.via == Some("namePrefix/nameSuffix"));
                        if j.kept_literal(&cx.env()) {
                            d.message.push_str(&format!(
                                "; the closest job, `{name}`, opts out of Flux substitution (`kustomize.toolkit.fluxcd.io/substitute: disabled`), so its name keeps the placeholder as literal text while this argument is substituted, and the API server rejects that name: the wait can never match"
                            ));
                            help = "remove `kustomize.toolkit.fluxcd.io/substitute: disabled` from the Job (escape shell variables in its scripts as `$${VAR}` instead), or give the Job a name without placeholders that the argument also uses".to_string();
                        } else if renamed {
                            help = format!(
                                "namePrefix/nameSuffix rename the Job to `{name}` but never touch init-container arguments: in the same kustomization, add a replacement from the Job's metadata.name to this argument, or write the prefixed name into it"
                            );
                        } else if edit_distance(target, &j.job.name)
                            <= (target.chars().count() / 4).max(2)
                        {
                            help = format!(
                                "did you mean `{name}`? The argument must equal the Job's rendered metadata.name exactly"
                            );
                        }
                        fix = obvious_fix(cx, w, target, &j);
                    }
                    out.push(d.help(help).fix(fix));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    const RULE: &str = "wait-target-missing";

    fn deploy(ns: &str, args: &str) -> String {
        let init = wait_for("wait-for-migration", args);
        Deploy::default().meta(ns).init(&init).yaml()
    }

    /// A Deployment waiting for `target` and a Job `name`, both in the default namespace.
    fn waiting(target: &str, name: &str) -> [(&'static str, String); 2] {
        let args = format!("[job-wr, {target}]");
        [
            ("k/deploy.yaml", deploy("", &args)),
            ("k/job.yaml", job(name, "")),
        ]
    }

    fn job(name: &str, ns: &str) -> String {
        Job::default()
            .name(name)
            .meta(ns)
            .containers(APP_MIGRATION)
            .yaml()
    }

    #[test]
    fn a_typo_points_at_the_argument_and_names_the_closest_job() {
        let files = waiting("myapp-migratoin-v1.2.3", "myapp-migration-v1.2.3");
        let d = one(RULE, &files)
            .at("myapp-migratoin-v1.2.3")
            .says("NotFound")
            .says("namespace `default`")
            .related_at(0, "myapp-migration-v1.2.3")
            .d;
        assert_eq!(d.related.len(), 1);
        assert_eq!(d.related[0].loc.file, 1);
        assert_contains(
            d.help.as_deref().unwrap_or(""),
            "did you mean `myapp-migration-v1.2.3`",
        );
    }

    #[test]
    fn matching_and_unknowable_targets_pass() {
        for (target, name) in [
            ("myapp-migration-v1.2.3", "myapp-migration-v1.2.3"),
            // The same literal placeholder on both sides.
            (
                "\"myapp-migration-${IMAGE_TAG}\"",
                "myapp-migration-${IMAGE_TAG}",
            ),
            // A placeholder only on the init side: Flux outside the tree may fill it in.
            ("\"myapp-migration-${IMAGE_TAG}\"", "myapp-migration-v1"),
            // A placeholder only on the Job side, whose fixed text fits.
            ("myapp-migration-v1", "myapp-migration-${IMAGE_TAG}"),
        ] {
            assert_none(RULE, &waiting(target, name));
        }
    }

    #[test]
    fn the_same_variables_with_other_fixed_text_mismatch() {
        // Whatever the value.
        let files = waiting(
            "\"myapp-migrate-${IMAGE_TAG}\"",
            "myapp-migration-${IMAGE_TAG}",
        );
        assert_eq!(run(RULE, &files).len(), 1);
    }

    #[test]
    fn selectors_pod_modes_and_missing_targets_are_skipped() {
        for args in [
            "[job-wr, \"-lapp in (migrate)\"]",
            "[pod-wr, -lapp=myapp]",
            "[service, db]",
            "[job-wr]",
        ] {
            let files = [
                ("k/deploy.yaml", deploy("", args)),
                ("k/job.yaml", job("myapp-migration-v1", "")),
            ];
            assert!(run(RULE, &files).is_empty(), "{args}");
        }
    }

    #[test]
    fn label_selector_waits_are_evaluated_against_rendered_labels() {
        let labelled = |labels: &str| {
            Job::default()
                .name("myapp-migration-v1")
                .meta(&format!("  labels: {labels}\n"))
                .containers(APP_MIGRATION)
                .yaml()
        };
        let job = labelled("{app: myapp-migration, version: v1.4.1}");
        for (args, found) in [
            ("[job-wr, \"-lapp=myapp-migration,version=v1.4.1\"]", 0),
            ("[job, -l, \"app==myapp-migration\"]", 0),
            ("[job-wr, \"--selector=app=myapp-migration,version!=v1.4.0\"]", 0),
            ("[job-wr, \"-lapp=myapp-migration,version=v1.4.2\"]", 1),
            ("[job-wr, -l, \"app=myapp-migration,version!=v1.4.1\"]", 1),
            ("[job-wr, -lapp=other]", 1),
            // Set-based and existence selectors stay unknown.
            ("[job-wr, \"-lapp in (other)\"]", 0),
            ("[job-wr, -l!app]", 0),
        ] {
            let d = deploy("", args);
            let got = run(RULE, &[("k/deploy.yaml", d.clone()), ("k/job.yaml", job.clone())]);
            assert_eq!(got.len(), found, "{args}: {got:?}");
            if found == 1 {
                assert_contains(&got[0].message, "No jobs found");
                assert_eq!(got[0].related.len(), 1, "{args}");
                assert_contains(&got[0].related[0].message, "version=v1.4.1");
            }
        }
        // A label left to a substitution makes the match unknowable.
        let job = labelled("{app: myapp-migration, version: \"${IMAGE_TAG}\"}");
        let d = deploy("", "[job-wr, \"-lapp=myapp-migration,version=v1.4.2\"]");
        assert_none(RULE, &[("k/deploy.yaml", d), ("k/job.yaml", job)]);
    }

    #[test]
    fn a_job_opted_out_of_flux_substitution_never_matches_a_substituted_wait() {
        let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app}\nspec:\n  path: ./k\n  postBuild:\n    substitute: {IMAGE_TAG: v1.4.2}\n".to_string();
        let d = deploy("", "[job-wr, \"myapp-migration-${IMAGE_TAG}\"]");
        let job = |meta: &str| {
            Job::default()
                .name("myapp-migration-${IMAGE_TAG}")
                .meta(meta)
                .containers(APP_MIGRATION)
                .yaml()
        };
        let opted_out = job("  annotations: {kustomize.toolkit.fluxcd.io/substitute: disabled}\n");
        let found = run(
            RULE,
            &[
                ("k/deploy.yaml", d.clone()),
                ("k/job.yaml", opted_out),
                ("flux/ks.yaml", flux.clone()),
            ],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_contains(&found[0].message, "substitute: disabled");
        assert_contains(&found[0].message, "myapp-migration-v1.4.2");
        // The same Job substituted like the wait: it matches.
        let found = run(
            RULE,
            &[
                ("k/deploy.yaml", d),
                ("k/job.yaml", job("")),
                ("flux/ks.yaml", flux),
            ],
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn prefix_fallback_is_reported_with_the_jobs_kubectl_would_wait_for() {
        let d = deploy("", "[job-wr, myapp-migration-v1]");
        let j = format!(
            "{}---\n{}",
            job("myapp-migration-v1.2.3", ""),
            job("myapp-migration-v10", "")
        );
        let found = run(RULE, &[("k/deploy.yaml", d.clone()), ("k/job.yaml", j)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .contains("`myapp-migration-v1.2.3`, `myapp-migration-v10`"),
            "{}",
            found[0].message
        );
        assert_eq!(found[0].related.len(), 2);
    }

    #[test]
    fn generate_name_jobs() {
        let g = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: myapp-migration-\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: app-migration:v1}]\n";
        // Waiting for the generateName prefix: kubectl describes every such job.
        let found = run(
            RULE,
            &[
                ("k/deploy.yaml", deploy("", "[job-wr, myapp-migration]")),
                ("k/job.yaml", g.to_string()),
            ],
        );
        assert_eq!(found.len(), 1);
        // Waiting for one concrete generated name cannot be judged.
        let found = run(
            RULE,
            &[
                (
                    "k/deploy.yaml",
                    deploy("", "[job-wr, myapp-migration-x7k2p]"),
                ),
                ("k/job.yaml", g.to_string()),
            ],
        );
        assert!(found.is_empty());
    }

    #[test]
    fn jobs_of_a_cronjob_are_not_judged() {
        let cron = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly-migrate\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: m, image: \"app:v1\"}]\n";
        let files = [
            ("k/deploy.yaml", deploy("", "[job-wr, nightly-migrate]")),
            ("k/cron.yaml", cron.to_string()),
        ];
        assert_none(RULE, &files);
    }

    #[test]
    fn another_namespace_is_left_to_wait_namespace_mismatch() {
        let files = [
            (
                "k/deploy.yaml",
                deploy("  namespace: app\n", "[job-wr, myapp-migration-v1]"),
            ),
            (
                "k/job.yaml",
                job("myapp-migration-v1", "  namespace: migrations\n"),
            ),
        ];
        assert_none(RULE, &files);
        // The `-n` argument makes kubectl look in the Job's namespace.
        let files = [
            (
                "k/deploy.yaml",
                deploy(
                    "  namespace: app\n",
                    "[job-wr, myapp-migration-v1, -n, migrations]",
                ),
            ),
            (
                "k/job.yaml",
                job("myapp-migration-v1", "  namespace: migrations\n"),
            ),
        ];
        lint_without(&files, &["wait-target-missing", "wait-namespace-mismatch"]);
    }

    #[test]
    fn a_job_another_flux_stage_deploys_counts_a_sibling_build_does_not() {
        let mut files = vec![
            (
                "app/deploy.yaml",
                deploy("  namespace: app\n", "[job-wr, myapp-migration-v1]"),
            ),
            (
                "pre/job.yaml",
                job("myapp-migration-v1", "  namespace: app\n"),
            ),
        ];
        // Two directories nothing says are applied together: each build on its own.
        assert_eq!(run(RULE, &files).len(), 1);
        // Flux deploys both into one cluster: the other stage's Job counts.
        files.push((
            "flux/ks.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: pre}\nspec: {path: ./pre}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app}\nspec: {path: ./app, dependsOn: [{name: pre}]}\n".to_string(),
        ));
        assert_none(RULE, &files);
    }

    #[test]
    fn name_prefix_in_an_overlay_is_reported_in_the_overlay_only() {
        let base_deploy = deploy("", "[job-wr, app-migration-v1]");
        let files = [
            ("base/deploy.yaml", base_deploy.clone()),
            ("base/job.yaml", job("app-migration-v1", "")),
            (
                "base/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [job.yaml, deploy.yaml]\n".to_string(),
            ),
            (
                "prod/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: prod\nnamePrefix: prod-\nresources: [../base]\n".to_string(),
            ),
        ];
        let found = run(RULE, &files);
        assert_single(&found, &base_deploy, "app-migration-v1");
        assert_contains(&found[0].message, "namespace `prod`");
        // The base is no build of its own: judged in the one overlay that includes it.
        assert_starts_with(&found[0].message, "k8s-wait-for waits for job");
        assert_contains(found[0].help.as_deref().unwrap(), "namePrefix");
        assert!(
            found[0].related[0]
                .message
                .contains("prod-app-migration-v1")
        );
    }
}
