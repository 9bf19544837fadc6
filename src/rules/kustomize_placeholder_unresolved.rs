//! `${VAR}` is Flux post-build substitution syntax, not kustomize's: kustomize and
//! `kubectl apply -k` leave it as it is. A `${VAR}` in a Job or workload name, a container image
//! or a container argument is only filled in when a Flux Kustomization deploys the directory and
//! defines the variable (or the placeholder has a `${VAR:=default}`).

use super::meta::KUSTOMIZE_PLACEHOLDER_UNRESOLVED as META;
use super::{ContextCx, ObjectCx, Rule};
use crate::base::diagnostic::{Diagnostic, Loc};
use crate::base::mask::display_value;
use crate::base::text::placeholders;
use crate::render::links;
use crate::render::path::{self, Step};
use crate::render::{Rendered, Value, pod_spec_path};
use crate::yaml::Seg;

pub(crate) struct KustomizePlaceholderUnresolved;

const HELP_NO_FLUX: &str = "copy the value with a kustomize `replacements:` entry (or `images:` for tags), or deploy the directory with a Flux Kustomization whose `postBuild.substitute` defines the variable";
const HELP_SHELL: &str = "escape it for Flux as `$${VAR}` (Flux writes `${VAR}` back for the shell), or annotate the object with `kustomize.toolkit.fluxcd.io/substitute: disabled`";
const HELP_FLUX: &str = "define the variable in the Flux Kustomization's `postBuild.substitute` (or a `substituteFrom` ConfigMap), or give the placeholder a default: `${VAR:=value}`";

/// Why a value's placeholders stay unresolved, for messages.
enum Why {
    /// No Flux, but the build's replacements fill the same token elsewhere.
    NoFlux,
    /// Flux substitutes `${VAR}` in a shell script, where the variable is the shell's.
    Shell(Vec<String>),
    /// The Flux Kustomization defines no variable: substitution does not run.
    Skipped,
    /// `kustomize.toolkit.fluxcd.io/substitute: disabled` on the object.
    Disabled,
    /// Flux substitutes the empty string for these variables.
    Undefined(Vec<String>),
}

/// Variable names as a message lists them: each as `shape` writes it, comma-separated.
fn listed(names: &[String], shape: impl Fn(&str) -> String) -> String {
    let shaped: Vec<String> = names.iter().map(|n| shape(n)).collect();
    shaped.join(", ")
}

/// The unescaped placeholders of a text (`$${VAR}` is Flux's escape for a literal `${VAR}`).
fn live_placeholders(text: &str) -> Vec<crate::base::text::Placeholder> {
    placeholders(text)
        .into_iter()
        .filter(|p| p.start == 0 || text.as_bytes()[p.start - 1] != b'$')
        .collect()
}

fn substitution_disabled(ocx: &ObjectCx<'_>) -> bool {
    ["annotations", "labels"].iter().any(|f| {
        ocx.doc
            .at(ocx.obj.root, &[Seg::Key("metadata"), Seg::Key(f)])
            .and_then(|m| ocx.doc.get_str(m, "kustomize.toolkit.fluxcd.io/substitute"))
            .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
    })
}

/// What a value is, for messages, and what a literal or emptied placeholder does to it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    Name,
    Image,
    Arg,
    /// The Job name argument of a k8s-wait-for init container.
    WaitTarget,
}

impl What {
    fn literal_consequence(self) -> &'static str {
        match self {
            What::Name => {
                "the API server rejects the object, because `$`, `{` and `}` are not allowed in a name"
            }
            What::Image => "the kubelet cannot pull it and the pod fails with InvalidImageName",
            What::Arg => "the container receives the text `${...}` as it is",
            What::WaitTarget => {
                "k8s-wait-for looks for a Job of that literal name, which cannot exist, and the pods never start"
            }
        }
    }
}

/// What the build says about who fills its tokens.
struct Scope {
    /// Tokens the build's own replacements fill somewhere.
    filled: std::collections::BTreeSet<String>,
    /// Flux substitutes the build, by a Flux Kustomization outside the linted files.
    flux_outside: bool,
}

/// The variables a container's shell script defines for itself: its `env` names.
fn shell_vars(env: &crate::render::Env<'_>, r: &Rendered, c: &links::Container) -> Vec<String> {
    let list = c.field("env");
    (0..env.len(r, &list))
        .filter_map(|i| {
            let p = [list.clone(), vec![Step::Index(i), Step::Key("name".into())]].concat();
            env.raw_value(r, &p).map(|v| v.text)
        })
        .collect()
}

/// Whether a container runs its arguments as a shell script (`sh -c`, `bash -ec`, …).
fn runs_shell(c: &links::Container) -> bool {
    let words = c.words();
    let shell = words.iter().any(|w| {
        let prog = w.rsplit('/').next().unwrap_or(w);
        matches!(prog, "sh" | "bash" | "ash" | "dash" | "zsh" | "ksh")
    });
    let dash_c = words
        .iter()
        .any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('c'));
    shell && dash_c
}

impl KustomizePlaceholderUnresolved {
    #[allow(clippy::too_many_arguments)]
    fn check_value(
        &self,
        cx: &ContextCx<'_>,
        scope: &Scope,
        r: &Rendered,
        ocx: &ObjectCx<'_>,
        p: &[Step],
        raw: &Value,
        what: What,
        label: &str,
        shell: Option<&[String]>,
        out: &mut Vec<Diagnostic>,
    ) {
        let ps = live_placeholders(&raw.text);
        if ps.is_empty() {
            return;
        }
        let c = cx.context;
        // Variables of a shell script that the container's env defines for the shell.
        let shell_owned = |vars: &[String]| -> Vec<String> {
            vars.iter()
                .filter(|v| shell.is_some_and(|env| env.contains(v)))
                .cloned()
                .collect()
        };
        let why = if c.flux.is_none() {
            if scope.flux_outside {
                // Flux substitutes the build from outside the linted files: its variables
                // are not in view, except that a shell variable is never one of them.
                let vars: Vec<String> = ps
                    .iter()
                    .filter(|p| p.default.is_none())
                    .map(|p| p.var.clone())
                    .collect();
                let owned = shell_owned(&vars);
                if owned.is_empty() {
                    return;
                }
                Why::Shell(owned)
            } else if shell.is_some()
                || !ps
                    .iter()
                    .any(|p| scope.filled.contains(&raw.text[p.start..p.end]))
            {
                // Without Flux, `${VAR}` in a shell script is the shell's, and one nothing
                // in the build fills is CI's (envsubst, sed): value-templated-outside says so.
                return;
            } else {
                Why::NoFlux
            }
        } else if substitution_disabled(ocx) {
            Why::Disabled
        } else if !c.substitute {
            Why::Skipped
        } else {
            let undefined: Vec<String> = ps
                .iter()
                .filter(|p| p.default.is_none() && !c.substitutions.contains_key(&p.var))
                .map(|p| p.var.clone())
                .collect();
            if undefined.is_empty() {
                return;
            }
            if c.unknown.iter().any(|u| u.starts_with("substituteFrom")) {
                // A substituteFrom source we could not read may define them.
                return;
            }
            if shell.is_some() {
                Why::Shell(undefined)
            } else {
                Why::Undefined(undefined)
            }
        };
        let vars: Vec<String> = {
            let mut v: Vec<String> = ps.iter().map(|p| format!("`${{{}}}`", p.var)).collect();
            v.dedup();
            v
        };
        let vars = vars.join(", ");
        let shown = display_value(&raw.text);
        let subject = match what {
            What::Name => format!("the {label} `{shown}`"),
            What::Image | What::Arg | What::WaitTarget => {
                let (word, rest) = label.split_once(' ').unwrap_or((label, ""));
                format!("the {word} `{shown}` {rest}")
            }
        };
        let flux_name = c
            .flux
            .map(|f| display_value(&cx.ws.objects[f as usize].display_name()))
            .unwrap_or_default();
        let (message, help) = match &why {
            Why::Shell(vars) => {
                let names = listed(vars, |v| format!("`${{{v}}}`"));
                (
                    format!(
                        "{subject} is a shell script using {names}, but Flux post-build substitution rewrites the whole object before the shell runs: it replaces {names} with its own variable's value, or the empty string when it defines none, so the script never sees the shell's value"
                    ),
                    HELP_SHELL,
                )
            }
            Why::NoFlux => (
                format!(
                    "{subject} keeps {vars} as literal text: plain kustomize and `kubectl apply -k` never expand `${{...}}`, no Flux Kustomization deploys `{}` with post-build substitution, and this build's replacements are meant to fill it (they copy the same variable, or write over the same placeholder elsewhere) but do not write here, so {}",
                    c.name,
                    what.literal_consequence()
                ),
                HELP_NO_FLUX,
            ),
            Why::Skipped => (
                format!(
                    "{subject} keeps {vars} as literal text: the Flux Kustomization `{flux_name}` defines no post-build variable, and Flux skips substitution entirely when none is defined (unless `substituteStrategy: Always`), so {}",
                    what.literal_consequence()
                ),
                HELP_FLUX,
            ),
            Why::Disabled => (
                format!(
                    "{subject} keeps {vars} as literal text: the object opts out of Flux substitution (`kustomize.toolkit.fluxcd.io/substitute: disabled`), so {}",
                    what.literal_consequence()
                ),
                "remove the opt-out, or replace the placeholder with the value (or a kustomize replacement)",
            ),
            Why::Undefined(undefined) => {
                let names = listed(undefined, |v| format!("`{v}`"));
                let result = cx
                    .value(r, p)
                    .map(|v| display_value(&v.text))
                    .unwrap_or_default();
                let effect = match what {
                    What::Name => format!(
                        "the name becomes `{result}`{}",
                        if crate::base::text::dns1123_subdomain_problem(&result).is_some() {
                            ", which the API server rejects"
                        } else {
                            ", not the versioned name intended"
                        }
                    ),
                    What::Image => format!("the image becomes `{result}`"),
                    What::Arg | What::WaitTarget => format!("the argument becomes `{result}`"),
                };
                (
                    format!(
                        "{subject} uses {names}, which the Flux Kustomization `{flux_name}` does not define and which has no `${{VAR:=default}}`: Flux substitutes the empty string, so {effect}"
                    ),
                    HELP_FLUX,
                )
            }
        };
        let env = cx.env();
        let loc = links::value_loc(&env, r, p, Some(raw)).unwrap_or_else(|| ocx.locate(&[]).0);
        let mut d = ocx
            .diag_at(&META, loc, path::display(p), message)
            .help(help);
        d = cx.provenance(d, raw, loc);
        if let Some(f) = c.flux {
            let fo = &cx.ws.objects[f as usize];
            let fdoc = cx.ws.doc_of(fo);
            let node = fdoc
                .at(fo.root, &[Seg::Key("spec"), Seg::Key("postBuild")])
                .map(|n| {
                    fdoc.entry(fdoc.get(fo.root, "spec").unwrap(), "postBuild")
                        .map(|e| e.0)
                        .unwrap_or(n)
                })
                .or_else(|| fdoc.at(fo.root, &[Seg::Key("metadata"), Seg::Key("name")]));
            if let Some(n) = node {
                d = d.related(
                    Loc {
                        file: fo.file,
                        span: fdoc.span(n),
                    },
                    format!("the Flux Kustomization `{flux_name}` deploys this directory"),
                );
            }
        }
        out.push(d);
    }
}

impl Rule for KustomizePlaceholderUnresolved {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        let env = cx.env();
        let scope = Scope {
            filled: crate::analysis::templated::filled_tokens(cx.ws, cx.context),
            flux_outside: cx.context.flux.is_none()
                && crate::analysis::templated::flux_substitutes(cx.ws, cx.context),
        };
        for (r, ocx) in cx.rendered() {
            if r.patched || pod_spec_path(&r.kind).is_none() {
                continue;
            }
            let name_path = path::keys(&["metadata", "name"]);
            let kind_label = format!("{} name", r.kind);
            self.check_value(
                cx,
                &scope,
                r,
                &ocx,
                &name_path,
                &r.name,
                What::Name,
                &kind_label,
                None,
                out,
            );
            for c in links::containers(&env, cx.context, r).iter() {
                let cname = c.name.clone().unwrap_or_else(|| format!("#{}", c.index));
                let image = c.field("image");
                if let Some(raw) = env.raw_value(r, &image) {
                    let label = format!("image of container `{}`", display_value(&cname));
                    self.check_value(
                        cx,
                        &scope,
                        r,
                        &ocx,
                        &image,
                        &raw,
                        What::Image,
                        &label,
                        None,
                        out,
                    );
                }
                let shell = runs_shell(c).then(|| shell_vars(&env, r, c));
                let args = c.field("args");
                for i in 0..env.len(r, &args) {
                    let p = [args.clone(), vec![Step::Index(i)]].concat();
                    if let Some(raw) = env.raw_value(r, &p) {
                        let label = format!(
                            "argument (args[{i}]) of container `{}`",
                            display_value(&cname)
                        );
                        let wait_target = c.init
                            && i == 1
                            && c.image
                                .as_ref()
                                .is_some_and(|img| links::is_wait_for_image(&img.text));
                        let what = if wait_target {
                            What::WaitTarget
                        } else {
                            What::Arg
                        };
                        let script = (what == What::Arg).then_some(shell.as_deref()).flatten();
                        self.check_value(
                            cx, &scope, r, &ocx, &p, &raw, what, &label, script, out,
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    const RULE: &str = "kustomize-placeholder-unresolved";

    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: myapp-migration-${IMAGE_TAG}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: registry.example.com/myapp-migration:${IMAGE_TAG}\n";

    fn flux(post_build: &str) -> String {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: myapp, namespace: flux-system}}\nspec:\n  interval: 10m\n  path: ./k\n  prune: true\n  sourceRef: {{kind: GitRepository, name: repo}}\n{post_build}"
        )
    }

    /// A `postBuild:` that substitutes one variable, `var` (`NAME: value`).
    fn substitute(var: &str) -> String {
        format!("  postBuild:\n    substitute:\n      {var}\n")
    }

    /// A Job (`k/job.yaml`) and the Flux Kustomization deploying `k/` with `post_build`.
    fn with_flux(job: impl Into<String>, post_build: &str) -> [(&'static str, String); 2] {
        [("k/job.yaml", job.into()), ("flux/myapp.yaml", flux(post_build))]
    }

    const SHELL: &str = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: myapp-migration-v1}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: app:v1\n        command: [sh, -c]\n        args: ['until pg_isready -h ${DB_HOST}; do sleep 1; done; alembic upgrade head']\n        env: [{name: DB_HOST, value: db}]\n";

    #[test]
    fn without_flux_a_placeholder_nothing_fills_is_ci_or_shell_business() {
        // envsubst or sed in CI writes `${IMAGE_TAG}`, the shell fills `${DB_HOST}`: unknown
        // here, no finding.
        for job in [JOB, SHELL] {
            assert_none(RULE, &[("k/job.yaml", job)]);
        }
    }

    #[test]
    fn without_flux_one_left_where_the_builds_replacements_fill_it_elsewhere_is_a_finding() {
        // The replacement writes IMAGE_TAG into the Job name, not into the image.
        let files = [
            ("k/job.yaml", JOB.to_string()),
            ("k/vars.yaml", crate::rules::testing::vars("v1.2.3")),
            (
                "k/kustomization.yaml",
                crate::rules::testing::tag_into_name("{kind: Job}"),
            ),
        ];
        let d = one(RULE, &files).at("registry.example.com/myapp-migration:${IMAGE_TAG}").says("this build's replacements are meant to fill it").says("InvalidImageName").d;
        assert!(d.related.is_empty());
    }

    #[test]
    fn shell_variables_under_flux_substitution_are_emptied() {
        let files = with_flux(SHELL.to_string(), &substitute("IMAGE_TAG: v1"));
        let d = one(RULE, &files).says("is a shell script using `${DB_HOST}`").says("the empty string").d;
        assert_contains(d.help.as_deref().unwrap_or(""), "$${VAR}");
        assert_contains(
            d.help.as_deref().unwrap_or(""),
            "kustomize.toolkit.fluxcd.io/substitute: disabled",
        );
    }

    #[test]
    fn flux_defining_the_variable_passes() {
        // Defined; a default; a shell variable escaped for Flux is left to the shell.
        let defaulted = JOB.replace("${IMAGE_TAG}", "${IMAGE_TAG:=v1}");
        let escaped = SHELL.replace("-h ${DB_HOST}", "-h $${DB_HOST}");
        for (job, vars) in [
            (JOB.to_string(), "IMAGE_TAG: v1.4.2"),
            (defaulted, "OTHER: x"),
            (escaped, "IMAGE_TAG: v1"),
        ] {
            assert_none(RULE, &with_flux(job, &substitute(vars)));
        }
    }

    #[test]
    fn flux_without_the_variable_substitutes_the_empty_string() {
        let files = with_flux(JOB.to_string(), &substitute("APP_ENV: prod"));
        let d = run(RULE, &files);
        assert_eq!(d.len(), 2, "{d:?}");
        let name = Found::starting(&d, "the Job name", &files)
            .is("the Job name `myapp-migration-${IMAGE_TAG}` uses `IMAGE_TAG`, which the Flux Kustomization `myapp` does not define and which has no `${VAR:=default}`: Flux substitutes the empty string, so the name becomes `myapp-migration-`, which the API server rejects")
            .d;
        let rel = name.related.last().unwrap();
        assert_eq!(located(&files, &rel.loc), "postBuild");
        assert_eq!(
            rel.message,
            "the Flux Kustomization `myapp` deploys this directory"
        );
    }

    #[test]
    fn flux_skips_substitution_when_nothing_is_defined() {
        let d = run(RULE, &with_flux(JOB, ""));
        assert_eq!(d.len(), 2, "{d:?}");
        assert_contains(
            &d[0].message,
            "defines no post-build variable, and Flux skips substitution entirely",
        );
        // Opting out of substitution keeps the literal too.
        let job = JOB.replace(
            "metadata:\n",
            "metadata:\n  annotations: {kustomize.toolkit.fluxcd.io/substitute: disabled}\n",
        );
        let files = with_flux(job, &substitute("IMAGE_TAG: v1"));
        let d = run(RULE, &files);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_contains(&d[0].message, "opts out of Flux substitution");
    }

    #[test]
    fn init_container_args_and_escapes() {
        let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: myapp}\nspec:\n  template:\n    spec:\n      initContainers:\n      - name: wait\n        image: groundnuty/k8s-wait-for:v2.0\n        args: [job-wr, 'myapp-migration-${IMAGE_TAG}']\n      containers:\n      - name: app\n        image: app:v1\n        args: ['--greeting=$${HOME}']\n";
        let files = [
            ("k/deploy.yaml", deploy.to_string()),
            (
                "flux/myapp.yaml",
                flux("  postBuild:\n    substituteStrategy: Always\n"),
            ),
        ];
        let d = one(RULE, &files).at("'myapp-migration-${IMAGE_TAG}'").starts("the argument `myapp-migration-${IMAGE_TAG}` (args[1]) of container `wait` uses `IMAGE_TAG`").d;
        assert!(d.message.ends_with("the argument becomes `myapp-migration-`"));
    }
}
