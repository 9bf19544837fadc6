//! A k8s-wait-for init container in a job mode must name a Job that exists, as rendered, in the
//! namespace kubectl looks in. `wait_for.sh` runs `kubectl describe jobs <target>`: on NotFound
//! kubectl falls back to every Job whose name starts with the target, and only when none does is
//! the NotFound returned, the script exits 1 and the pod crash-loops in Init.
//!
//! The lookup here is shared with `wait-namespace-mismatch` (same name, other namespace).

use super::meta::WAIT_TARGET_MISSING as META;
use super::{ContextCx, ObjectCx, Rule, RuleMeta};
use crate::base::diagnostic::{Diagnostic, Loc};
use crate::base::mask::display_value;
use crate::base::text::{edit_distance, placeholders};
use crate::render::links::{self, JobRef, WaitFor};
use crate::render::path::{self, Concrete, Step};
use crate::render::{Context, Rendered};

pub struct WaitTargetMissing;

/// The modes that run `kubectl describe jobs <target>`.
pub(super) const JOB_MODES: &[&str] = &["job", "job-we", "job-wr"];

/// Whether the container's arguments are the script's arguments as `links::wait_fors` reads
/// them: no `command`, or a command that is just `wait_for.sh` (words after it would shift
/// the arguments).
pub(super) fn args_are_script_args(w: &WaitFor) -> bool {
    match w
        .container
        .command
        .iter()
        .position(|c| c.text.ends_with("wait_for.sh"))
    {
        Some(i) => i + 1 == w.container.command.len(),
        None => w.container.command.is_empty(),
    }
}

/// Path of argument `i` of a wait-for container.
pub(super) fn arg_path(w: &WaitFor, i: usize) -> Concrete {
    [w.container.field("args"), vec![Step::Index(i)]].concat()
}

/// Whether the extra arguments make kubectl look in every namespace.
fn all_namespaces(w: &WaitFor) -> bool {
    w.container.args.iter().skip(2).any(|a| {
        a.text == "-A" || a.text == "--all-namespaces" || a.text.starts_with("--all-namespaces=")
    })
}

/// A job-mode wait whose target and namespace can be judged: a valid job mode, a known name
/// (not a label selector), a known namespace, and a workload no patch may have changed.
pub(super) fn judged_target<'w>(cx: &ContextCx<'_>, w: &'w WaitFor) -> Option<&'w str> {
    let mode = w.mode()?;
    if !JOB_MODES.contains(&mode) || !args_are_script_args(w) || w.is_selector() {
        return None;
    }
    if cx.context.rendered[w.rendered].patched || all_namespaces(w) {
        return None;
    }
    if w.namespace.contains("${") || w.namespace.is_empty() {
        return None;
    }
    let t = w.target.as_ref()?.text.as_str();
    (!t.is_empty()).then_some(t)
}

/// A rendered Job of some context.
#[derive(Clone)]
pub(super) struct JobAt<'a> {
    pub context: &'a Context,
    pub job: &'a JobRef,
    /// Named by `generateName`: the API appends five random characters.
    pub generated: bool,
}

impl<'a> JobAt<'a> {
    pub fn rendered(&self) -> &'a Rendered {
        &self.context.rendered[self.job.rendered]
    }

    /// Where the Job's name is written (the manifest's `metadata.name`, else its origin).
    pub fn name_loc(&self, cx: &ContextCx<'_>) -> Option<Loc> {
        let r = self.rendered();
        let p = if self.generated {
            path::keys(&["metadata", "generateName"])
        } else {
            path::keys(&["metadata", "name"])
        };
        links::value_loc(&cx.env(), r, &p, self.job.name_value.as_ref())
    }

    /// Where the Job's namespace is set, if anywhere.
    pub fn namespace_loc(&self, cx: &ContextCx<'_>) -> Option<Loc> {
        let r = self.rendered();
        let v = r.namespace.as_ref()?;
        links::value_loc(
            &cx.env(),
            r,
            &path::keys(&["metadata", "namespace"]),
            Some(v),
        )
        .or(v.writer)
    }

    /// The name is unknown (a substitution we cannot evaluate).
    pub fn unknown(&self) -> bool {
        self.job.name_value.is_none() || self.job.namespace.contains("${")
    }
}

pub(super) fn jobs_of<'a>(cx: &ContextCx<'a>, context: &'a Context) -> Vec<JobAt<'a>> {
    cx.ws
        .jobs(context)
        .iter()
        .map(|job| job_at(cx, context, job))
        .collect()
}

fn job_at<'a>(cx: &ContextCx<'a>, context: &'a Context, job: &'a JobRef) -> JobAt<'a> {
    let generated = context.rendered[job.rendered]
        .object()
        .map(|o| &cx.ws.objects[o as usize])
        .is_some_and(|o| o.name.is_none() && o.generate_name.is_some());
    JobAt {
        context,
        job,
        generated,
    }
}

/// `${VAR}` placeholders replaced by their bare variable, and the variables in order.
fn normalized(s: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut vars = Vec::new();
    let mut last = 0;
    for p in placeholders(s) {
        out.push_str(&s[last..p.start]);
        out.push_str("${");
        out.push_str(&p.var);
        out.push('}');
        vars.push(p.var);
        last = p.end;
    }
    out.push_str(&s[last..]);
    (out, vars)
}

/// The literal text before the first placeholder and after the last one.
fn fixed_ends(s: &str) -> (&str, &str) {
    let ps = placeholders(s);
    match (ps.first(), ps.last()) {
        (Some(f), Some(l)) => (&s[..f.start], &s[l.end..]),
        _ => (s, s),
    }
}

/// How a target compares with a Job name when placeholders may remain on either side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compare {
    Equal,
    /// The Job's name starts with the target (kubectl's describe fallback).
    Prefix,
    Different,
    /// Placeholders make it undecidable.
    Unknown,
}

pub(super) fn compare(target: &str, name: &str) -> Compare {
    if target == name {
        return Compare::Equal;
    }
    let tp = target.contains("${") && !placeholders(target).is_empty();
    let np = name.contains("${") && !placeholders(name).is_empty();
    if !tp && !np {
        return if name.starts_with(target) {
            Compare::Prefix
        } else {
            Compare::Different
        };
    }
    let (tn, tv) = normalized(target);
    let (nn, nv) = normalized(name);
    if tp && np && tv == nv {
        // The same variables on both sides take the same values.
        return if tn == nn {
            Compare::Equal
        } else if nn.starts_with(&tn) {
            Compare::Prefix
        } else {
            Compare::Different
        };
    }
    let (t_head, t_tail) = fixed_ends(target);
    let (n_head, n_tail) = fixed_ends(name);
    let heads = t_head.starts_with(n_head) || n_head.starts_with(t_head);
    let tails = t_tail.ends_with(n_tail) || n_tail.ends_with(t_tail);
    if heads && (tails || tp) {
        Compare::Unknown
    } else {
        Compare::Different
    }
}

/// What kubectl finds for a wait target.
pub(super) enum Lookup<'a> {
    /// An exact match (or one that cannot be ruled out).
    Found,
    /// No exact match; kubectl's fallback describes these Jobs instead.
    Prefix(Vec<JobAt<'a>>),
    /// Jobs of that exact name exist in this context, but only in other namespaces.
    OtherNamespace(Vec<JobAt<'a>>),
    /// Nothing matches; the closest Job of the context, if any.
    Missing(Option<JobAt<'a>>),
}

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

/// Look a job-mode wait's target up the way `kubectl describe jobs <target> -n <ns>` will.
/// Jobs of other contexts count as matches (a Job deployed by another Flux Kustomization or
/// directory into the same namespace), but findings only name Jobs of this context.
pub(super) fn lookup<'a>(cx: &ContextCx<'a>, w: &WaitFor, target: &str) -> Lookup<'a> {
    let here = jobs_of(cx, cx.context);
    let ns = w.namespace.as_str();
    // Other contexts matter only through Jobs in this namespace (or one not known yet).
    let others: Vec<JobAt<'a>> = cx
        .ws
        .jobs_in_namespace(ns)
        .filter(|(c, _)| !std::ptr::eq(*c, cx.context))
        .map(|(c, job)| job_at(cx, c, job))
        .collect();
    // A CronJob `C` creates Jobs `C-<minutes since epoch>`: a target near its name cannot be
    // judged.
    let cron_near = cx.ws.cronjobs().iter().any(|(cns, name)| {
        cns == ns
            && name
                .as_deref()
                .is_none_or(|n| target.starts_with(n) || n.starts_with(target))
    });
    if cron_near {
        return Lookup::Found;
    }
    let mut prefix = Vec::new();
    for j in here.iter().chain(others.iter()) {
        if j.job.namespace.contains("${") {
            return Lookup::Found;
        }
        if j.job.namespace != ns {
            continue;
        }
        if j.unknown() {
            return Lookup::Found;
        }
        if j.generated {
            // `generateName: G` becomes G + five random characters.
            let g = j.job.name.as_str();
            if g.starts_with(target) {
                prefix.push(j.clone());
            } else if target.starts_with(g) || compare(target, g) == Compare::Unknown {
                return Lookup::Found;
            }
            continue;
        }
        match compare(target, &j.job.name) {
            Compare::Equal | Compare::Unknown => return Lookup::Found,
            Compare::Prefix => prefix.push(j.clone()),
            Compare::Different => {}
        }
    }
    if !prefix.is_empty() {
        // Name only the Jobs of this context when it has some.
        let local: Vec<JobAt<'a>> = prefix
            .iter()
            .filter(|j| std::ptr::eq(j.context, cx.context))
            .cloned()
            .collect();
        return Lookup::Prefix(if local.is_empty() { prefix } else { local });
    }
    let elsewhere: Vec<JobAt<'a>> = here
        .iter()
        .filter(|j| {
            j.job.namespace != ns && !j.generated && compare(target, &j.job.name) == Compare::Equal
        })
        .cloned()
        .collect();
    if !elsewhere.is_empty() {
        return Lookup::OtherNamespace(elsewhere);
    }
    if !placeholders(target).is_empty() {
        // Decidable only against a Job named with the same variables (they take the same
        // values); a placeholder only this side has may be substituted outside the tree.
        let vars = normalized(target).1;
        if !here
            .iter()
            .any(|j| j.job.namespace == ns && normalized(&j.job.name).1 == vars)
        {
            return Lookup::Found;
        }
    }
    let closest = here
        .iter()
        .filter(|j| !j.unknown())
        .min_by_key(|j| {
            (
                edit_distance(target, &j.job.name),
                j.job.namespace != ns,
                j.job.name.clone(),
            )
        })
        .cloned();
    Lookup::Missing(closest)
}

/// `in the `dir` build, ` when the object is rendered by more than one context, so findings
/// at a shared manifest say which build they are about.
pub(super) fn context_note(cx: &ContextCx<'_>, obj: &ObjectCx<'_>) -> String {
    if cx.ws.contexts_of(obj.obj.id).nth(1).is_some() {
        format!("in the `{}` build, ", cx.context.name)
    } else {
        String::new()
    }
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

impl Rule for WaitTargetMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        for w in cx.ws.wait_fors(cx.context) {
            let Some(target) = judged_target(cx, w) else {
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
            let note = context_note(cx, &ocx);
            let shown = display_value(target);
            let tp = arg_path(w, 1);
            match lookup(cx, w, target) {
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
                                "{note}no job is named `{shown}` in {where_ns}: `kubectl describe jobs` then falls back to every job whose name starts with `{shown}` ({}), so this init container waits for those jobs instead of one migration",
                                list(&jobs)
                            ),
                        )
                        .help("make the argument equal the Job's rendered metadata.name exactly (same tag, same namePrefix/nameSuffix)");
                    for j in &jobs {
                        if let Some(l) = j.name_loc(cx) {
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
                            "{note}k8s-wait-for waits for job `{shown}` in {where_ns}, but no job of that name is rendered there: `kubectl describe jobs` fails with NotFound, the init container exits 1 and the pod crash-loops in Init (Init:CrashLoopBackOff) until such a job appears"
                        ),
                    );
                    let mut fix = None;
                    let mut help = "make the argument equal the Job's rendered metadata.name exactly (same tag, same namePrefix/nameSuffix, same namespace)".to_string();
                    if let Some(j) = closest {
                        let name = display_value(&j.job.name);
                        if let Some(l) = j.name_loc(cx) {
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
                        if renamed {
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
    use crate::base::diagnostic::Diagnostic;
    use crate::rules::testing::lint_files;

    pub(crate) fn deploy(ns: &str, args: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: myapp\n{ns}spec:\n  template:\n    spec:\n      initContainers:\n        - name: wait-for-migration\n          image: groundnuty/k8s-wait-for:v2.0\n          args: {args}\n      containers:\n        - name: app\n          image: app:v1\n"
        )
    }

    pub(crate) fn job(name: &str, ns: &str) -> String {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n{ns}spec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: m, image: app-migration:v1}}]\n"
        )
    }

    fn run(files: &[(&str, String)]) -> Vec<Diagnostic> {
        lint_files(files)
            .into_iter()
            .filter(|d| d.rule == "wait-target-missing")
            .collect()
    }

    #[test]
    fn a_typo_points_at_the_argument_and_names_the_closest_job() {
        let d = deploy("", "[job-wr, myapp-migratoin-v1.2.3]");
        let j = job("myapp-migration-v1.2.3", "");
        let found = run(&[("k/deploy.yaml", d.clone()), ("k/job.yaml", j.clone())]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(&d[found[0].loc.span.range()], "myapp-migratoin-v1.2.3");
        assert!(
            found[0].message.contains("NotFound"),
            "{}",
            found[0].message
        );
        assert!(found[0].message.contains("namespace `default`"));
        assert_eq!(found[0].related.len(), 1);
        assert_eq!(found[0].related[0].loc.file, 1);
        assert_eq!(
            &j[found[0].related[0].loc.span.range()],
            "myapp-migration-v1.2.3"
        );
        assert!(
            found[0]
                .help
                .as_deref()
                .unwrap()
                .contains("did you mean `myapp-migration-v1.2.3`")
        );
    }

    #[test]
    fn exact_matches_pass() {
        let files = [
            (
                "k/deploy.yaml",
                deploy("", "[job-wr, myapp-migration-v1.2.3]"),
            ),
            ("k/job.yaml", job("myapp-migration-v1.2.3", "")),
        ];
        assert!(run(&files).is_empty());
    }

    #[test]
    fn the_same_literal_placeholder_on_both_sides_matches() {
        let files = [
            (
                "k/deploy.yaml",
                deploy("", "[job-wr, \"myapp-migration-${IMAGE_TAG}\"]"),
            ),
            ("k/job.yaml", job("myapp-migration-${IMAGE_TAG}", "")),
        ];
        assert!(run(&files).is_empty());
        // Same variables but different fixed text: a mismatch whatever the value.
        let files = [
            (
                "k/deploy.yaml",
                deploy("", "[job-wr, \"myapp-migrate-${IMAGE_TAG}\"]"),
            ),
            ("k/job.yaml", job("myapp-migration-${IMAGE_TAG}", "")),
        ];
        assert_eq!(run(&files).len(), 1);
    }

    #[test]
    fn unknowable_targets_are_skipped() {
        // A placeholder only on the init side: Flux outside the tree may fill it in.
        let files = [
            (
                "k/deploy.yaml",
                deploy("", "[job-wr, \"myapp-migration-${IMAGE_TAG}\"]"),
            ),
            ("k/job.yaml", job("myapp-migration-v1", "")),
        ];
        assert!(run(&files).is_empty());
        // A placeholder only on the Job side, whose fixed text fits.
        let files = [
            ("k/deploy.yaml", deploy("", "[job-wr, myapp-migration-v1]")),
            ("k/job.yaml", job("myapp-migration-${IMAGE_TAG}", "")),
        ];
        assert!(run(&files).is_empty());
        // Label selectors, pod modes and missing targets.
        for args in [
            "[job-wr, -lapp=migrate]",
            "[pod-wr, -lapp=myapp]",
            "[service, db]",
            "[job-wr]",
        ] {
            let files = [
                ("k/deploy.yaml", deploy("", args)),
                ("k/job.yaml", job("myapp-migration-v1", "")),
            ];
            assert!(run(&files).is_empty(), "{args}");
        }
    }

    #[test]
    fn prefix_fallback_is_reported_with_the_jobs_kubectl_would_wait_for() {
        let d = deploy("", "[job-wr, myapp-migration-v1]");
        let j = format!(
            "{}---\n{}",
            job("myapp-migration-v1.2.3", ""),
            job("myapp-migration-v10", "")
        );
        let found = run(&[("k/deploy.yaml", d.clone()), ("k/job.yaml", j)]);
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
        let found = run(&[
            ("k/deploy.yaml", deploy("", "[job-wr, myapp-migration]")),
            ("k/job.yaml", g.to_string()),
        ]);
        assert_eq!(found.len(), 1);
        // Waiting for one concrete generated name cannot be judged.
        let found = run(&[
            (
                "k/deploy.yaml",
                deploy("", "[job-wr, myapp-migration-x7k2p]"),
            ),
            ("k/job.yaml", g.to_string()),
        ]);
        assert!(found.is_empty());
    }

    #[test]
    fn jobs_of_a_cronjob_are_not_judged() {
        let cron = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly-migrate\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: m, image: \"app:v1\"}]\n";
        let files = [
            ("k/deploy.yaml", deploy("", "[job-wr, nightly-migrate]")),
            ("k/cron.yaml", cron.to_string()),
        ];
        assert!(run(&files).is_empty());
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
        assert!(run(&files).is_empty());
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
        let all = lint_files(&files);
        assert!(
            !all.iter()
                .any(|d| d.rule == "wait-target-missing" || d.rule == "wait-namespace-mismatch"),
            "{all:?}"
        );
    }

    #[test]
    fn a_job_of_another_context_in_the_same_namespace_counts() {
        let files = [
            (
                "app/deploy.yaml",
                deploy("  namespace: app\n", "[job-wr, myapp-migration-v1]"),
            ),
            (
                "pre/job.yaml",
                job("myapp-migration-v1", "  namespace: app\n"),
            ),
        ];
        assert!(run(&files).is_empty());
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
        let found = run(&files);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(&base_deploy[found[0].loc.span.range()], "app-migration-v1");
        assert!(found[0].message.contains("namespace `prod`"));
        assert!(
            found[0].message.starts_with("in the `prod` build, "),
            "{}",
            found[0].message
        );
        assert!(found[0].help.as_deref().unwrap().contains("namePrefix"));
        assert!(
            found[0].related[0]
                .message
                .contains("prod-app-migration-v1")
        );
    }
}
