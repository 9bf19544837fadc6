//! Helpers for the rules' inline tests: lint in-memory files with the real engine
//! ([`run`], [`lint_files`]), and the one set of manifest builders the rules' tests share
//! ([`Job`], [`Deploy`], [`wait_for`], the RBAC objects, [`kustomization`]); and
//! [`temp_tree`], a directory of files on disk, for any layer's unit tests.
//!
//! The builders write block-style YAML at fixed indentation, so a test can point at a line or
//! slice its text with a finding's span; each field is a raw YAML fragment, spliced in as is.

use crate::base::diagnostic::{Diagnostic, Loc};
use crate::engine::{Input, Settings, lint_inputs};
use crate::model::config::DeployEngine;

/// A Job manifest named `name` whose `spec:` body is `spec_body` (indented two spaces).
pub(crate) fn job(name: &str, spec_body: &str) -> String {
    format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{spec_body}")
}

pub(crate) fn lint_files<S: AsRef<str>>(files: &[(&str, S)]) -> Vec<Diagnostic> {
    lint_files_with(files, &Settings::default())
}

pub(crate) fn lint_files_with<S: AsRef<str>>(
    files: &[(&str, S)],
    settings: &Settings,
) -> Vec<Diagnostic> {
    let inputs = files
        .iter()
        .map(|(name, text)| Input::from_bytes(*name, text.as_ref().as_bytes().to_vec()))
        .collect();
    lint_inputs(inputs, settings).diagnostics
}

/// The findings of `rule` when `files` are linted together with default settings; the files
/// must parse and type-check (no `yaml-syntax` or `schema-invalid` finding), unless `rule` is
/// one of those two.
pub(crate) fn run<S: AsRef<str>>(rule: &str, files: &[(&str, S)]) -> Vec<Diagnostic> {
    run_with(rule, files, &Settings::default())
}

/// The findings of `rule` in `files`, which may be invalid (a placeholder where the schema wants
/// a number, say).
pub(crate) fn run_unchecked<S: AsRef<str>>(rule: &str, files: &[(&str, S)]) -> Vec<Diagnostic> {
    let all = lint_files(files);
    all.into_iter().filter(|d| d.rule == rule).collect()
}

/// [`run`] with `settings`.
pub(crate) fn run_with<S: AsRef<str>>(
    rule: &str,
    files: &[(&str, S)],
    settings: &Settings,
) -> Vec<Diagnostic> {
    let all = lint_files_with(files, settings);
    let broken =
        |d: &&Diagnostic| d.rule != rule && (d.rule == "yaml-syntax" || d.rule == "schema-invalid");
    assert!(!all.iter().any(|d| broken(&d)), "{all:?}");
    all.into_iter().filter(|d| d.rule == rule).collect()
}

/// [`run_with`] under `engine`.
pub(crate) fn run_under<S: AsRef<str>>(
    rule: &str,
    files: &[(&str, S)],
    engine: DeployEngine,
) -> Vec<Diagnostic> {
    let settings = Settings {
        deploy_engine: engine,
        ..Settings::default()
    };
    run_with(rule, files, &settings)
}

/// The text `loc` points at, in `files` as [`run`] took them (the engine numbers files in
/// sorted order).
pub(crate) fn located<'a, S: AsRef<str>>(files: &'a [(&str, S)], loc: &Loc) -> &'a str {
    let mut sorted: Vec<&(&str, S)> = files.iter().collect();
    sorted.sort_by_key(|f| f.0);
    &sorted[loc.file as usize].1.as_ref()[loc.span.range()]
}

/// Findings of `rule` for one file.
pub(crate) fn lint_one(text: &str, rule: &str) -> Vec<Diagnostic> {
    lint_files(&[("k8s/test.yaml", text)])
        .into_iter()
        .filter(|d| d.rule == rule)
        .collect()
}

pub(crate) fn lint_with_engine(text: &str, engine: DeployEngine) -> Vec<Diagnostic> {
    let settings = Settings {
        deploy_engine: engine,
        ..Settings::default()
    };
    lint_files_with(&[("k8s/test.yaml", text)], &settings)
}

/// The wait-for image the builders use: a pinned, complete release.
pub(crate) const WAIT_IMAGE: &str = "groundnuty/k8s-wait-for:v2.0";

/// A migration command, in flow style.
pub(crate) const PRISMA: &str = "[npx, prisma, migrate, deploy]";

/// A Job's `containers:` with one container without a migration command.
pub(crate) const APP_MIGRATION: &str = " [{name: m, image: app-migration:v1}]\n";

/// The arguments of a wait for the Job [`Job::default`] names.
pub(crate) const WAIT_V1: &str = "[job-wr, myapp-migration-v1]";

/// A block-style init container entry `name` running [`WAIT_IMAGE`] with `args`.
pub(crate) fn wait_for(name: &str, args: &str) -> String {
    format!("        - name: {name}\n          image: {WAIT_IMAGE}\n          args: {args}\n")
}

/// A block-style container entry `migrate` running `image` with the [`PRISMA`] command.
pub(crate) fn migrate_container(image: &str) -> String {
    format!("\n        - name: migrate\n          image: {image}\n          command: {PRISMA}\n")
}

/// A manifest builder: a struct of `&str` fields (YAML fragments) with their defaults, and a
/// setter per field, `builder.field(text)`.
macro_rules! builder {
    ($(#[$doc:meta])* $ty:ident { $($field:ident: $default:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub(crate) struct $ty<'a> { $(pub(crate) $field: &'a str),* }

        impl Default for $ty<'_> {
            fn default() -> Self {
                $ty { $($field: $default),* }
            }
        }

        impl<'a> $ty<'a> {
            $(pub(crate) fn $field(mut self, text: &'a str) -> Self {
                self.$field = text;
                self
            })*
        }
    };
}

builder! {
/// A migration Job:
///
/// ```yaml
/// apiVersion: batch/v1
/// kind: Job
/// metadata:
///   name: {name}          # left out when `name` is empty
/// {meta}spec:
///   backoffLimit: 0
/// {spec}  template:
///     spec:
///       restartPolicy: Never
///       containers:{containers}
/// ```
///
/// `meta` holds more `metadata:` lines (namespace, annotations), `spec` more `spec:` lines before
/// `template:`, `containers` what follows `containers:` on its line, newline included (a flow
/// sequence or a block).
Job {
    name: "myapp-migration-v1",
    meta: "",
    spec: "",
    containers: " [{name: m, image: \"app:v1\", command: [npx, prisma, migrate, deploy]}]\n",
}
}

impl Job<'_> {
    pub(crate) fn yaml(&self) -> String {
        let (meta, spec, containers) = (self.meta, self.spec, self.containers);
        let name = unless_empty(self.name, |n| format!("  name: {n}\n"));
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n{name}{meta}spec:\n  backoffLimit: 0\n{spec}  template:\n    spec:\n      restartPolicy: Never\n      containers:{containers}"
        )
    }
}

/// `text(value)`, or nothing when `value` is empty.
fn unless_empty(value: &str, text: impl Fn(&str) -> String) -> String {
    if value.is_empty() {
        String::new()
    } else {
        text(value)
    }
}

builder! {
/// A workload whose pods run `init` (init container entries, e.g. [`wait_for`]) before one app
/// container:
///
/// ```yaml
/// apiVersion: apps/v1
/// kind: {kind}
/// metadata:
///   name: {name}
/// {meta}spec:
/// {spec}  template:
///     spec:
/// {pod}      initContainers:  # left out when `init` is empty
/// {init}      containers:
///         - name: {app}
///           image: {image}
/// {app_extra}
/// ```
///
/// `meta` holds more `metadata:` lines, `spec` more `spec:` lines before `template:`, `pod` pod
/// `spec:` lines before the containers (indented six spaces), `app_extra` more lines of the app
/// container (env, envFrom; indented ten spaces).
Deploy {
    kind: "Deployment", name: "myapp", meta: "", spec: "", pod: "", init: "",
    app: "app", image: "app:v1", app_extra: "",
}
}

impl Deploy<'_> {
    pub(crate) fn yaml(&self) -> String {
        let Deploy {
            kind,
            name,
            meta,
            spec,
            pod,
            app,
            image,
            app_extra,
            ..
        } = *self;
        let init = unless_empty(self.init, |i| format!("      initContainers:\n{i}"));
        format!(
            "apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n{meta}spec:\n{spec}  template:\n    spec:\n{pod}{init}      containers:\n        - name: {app}\n          image: {image}\n{app_extra}"
        )
    }
}

/// The default Deployment `myapp` with `init` as its init containers.
pub(crate) fn app_waiting(init: &str) -> String {
    Deploy::default().init(init).yaml()
}

/// The API group of the RBAC objects.
pub(crate) const RBAC: &str = "rbac.authorization.k8s.io";

/// A ServiceAccount `name` in namespace `ns`.
pub(crate) fn service_account(name: &str, ns: &str) -> String {
    format!("apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {name}, namespace: {ns}}}\n")
}

/// A Role `job-reader` in namespace `app` whose `rules:` are `rules` (flow or block text that
/// follows `rules:` on its line).
pub(crate) fn role(rules: &str) -> String {
    format!(
        "apiVersion: {RBAC}/v1\nkind: Role\nmetadata: {{name: job-reader, namespace: app}}\nrules:{rules}"
    )
}

/// A RoleBinding `name` in namespace `app`; `subjects` and `role_ref` follow their keys on their
/// lines.
pub(crate) fn role_binding(name: &str, subjects: &str, role_ref: &str) -> String {
    format!(
        "apiVersion: {RBAC}/v1\nkind: RoleBinding\nmetadata: {{name: {name}, namespace: app}}\nsubjects:{subjects}\nroleRef: {role_ref}\n"
    )
}

/// A Job `spec:` body with `backoffLimit: 0` and a plain container.
pub(crate) const BODY: &str = "  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: app:1}]\n";

/// A ConfigMap `vars` whose `IMAGE_TAG` is `tag`.
pub(crate) fn vars(tag: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: vars}}\ndata: {{IMAGE_TAG: {tag}}}\n"
    )
}

/// A kustomization over `vars.yaml` and `job.yaml` whose replacement writes `IMAGE_TAG` into the
/// third `-`-separated part of the name of what `select` selects.
pub(crate) fn tag_into_name(select: &str) -> String {
    kustomization(
        "[vars.yaml, job.yaml]",
        &format!(
            "replacements:\n- source: {{kind: ConfigMap, name: vars, fieldPath: data.IMAGE_TAG}}\n  targets:\n  - select: {select}\n    fieldPaths: [metadata.name]\n    options: {{delimiter: '-', index: 2}}\n"
        ),
    )
}

/// A Job `name` (spec [`BODY`]), [`vars`] with `tag`, and [`tag_into_name`] of `select`.
pub(crate) fn tagged_job(name: &str, tag: &str, select: &str) -> [(&'static str, String); 3] {
    [
        ("k/job.yaml", job(name, BODY)),
        ("k/vars.yaml", vars(tag)),
        ("k/kustomization.yaml", tag_into_name(select)),
    ]
}

/// A temporary directory holding `files` (relative path, text), parents created.
pub(crate) fn temp_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (p, t) in files {
        let p = dir.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    }
    dir
}

/// A kustomization listing `resources` (a flow sequence), then `rest`.
pub(crate) fn kustomization(resources: &str, rest: &str) -> String {
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: {resources}\n{rest}"
    )
}

/// Every finding in `files` (default settings), after checking that none of the rules `silent`
/// reported anything: for cases one rule leaves to another.
#[track_caller]
pub(crate) fn lint_without<S: AsRef<str>>(files: &[(&str, S)], silent: &[&str]) -> Vec<Diagnostic> {
    let all = lint_files(files);
    let spoke: Vec<&Diagnostic> = all.iter().filter(|d| silent.contains(&d.rule)).collect();
    assert!(spoke.is_empty(), "{spoke:?}");
    all
}

/// Panics unless `rule` finds nothing in `files`, showing what it found.
#[track_caller]
pub(crate) fn assert_none<S: AsRef<str>>(rule: &str, files: &[(&str, S)]) {
    let found = run(rule, files);
    assert!(found.is_empty(), "{found:?}");
}

/// `files` (in `k/`, in namespace `app`) with their namespace taken out, under a kustomization
/// that lists them and sets namespace `prod` and name prefix `prod-`.
pub(crate) fn renamed_to_prod(files: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let names: Vec<&str> = files
        .iter()
        .map(|(path, _)| path.strip_prefix("k/").expect("a file in k/"))
        .collect();
    let resources = format!("[{}]", names.join(", "));
    let k = kustomization(&resources, "namespace: prod\nnamePrefix: prod-\n");
    let plain = files
        .iter()
        .map(|(path, text)| (*path, text.replace(", namespace: app", "")));
    std::iter::once(("k/kustomization.yaml", k))
        .chain(plain)
        .collect()
}

/// Panics unless `text` contains `part`, showing both.
#[track_caller]
pub(crate) fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "{part:?} not in {text:?}");
}

/// Panics unless `found` holds exactly one finding and it points at `at` in `text`.
#[track_caller]
pub(crate) fn assert_single(found: &[Diagnostic], text: &str, at: &str) {
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(&text[found[0].loc.span.range()], at, "{found:?}");
}

/// Panics unless `text` starts with `start`, showing both.
#[track_caller]
pub(crate) fn assert_starts_with(text: &str, start: &str) {
    assert!(text.starts_with(start), "{start:?} does not start {text:?}");
}

/// Panics unless `found` holds exactly one finding and its message contains `part`.
#[track_caller]
pub(crate) fn assert_one_saying(found: &[Diagnostic], part: &str) {
    assert_eq!(found.len(), 1, "{found:?}");
    assert_contains(&found[0].message, part);
}

/// The one finding of `rule` in `files` (panics unless there is exactly one), for chained
/// checks: `one(RULE, &files).at("myapp:v1").says("runs").related(0, "written by images")`.
#[track_caller]
pub(crate) fn one<'a, S: AsRef<str>>(rule: &str, files: &'a [(&'a str, S)]) -> Found<'a, S> {
    Found::only(run(rule, files), files)
}

/// A finding under test, with the files it was found in; each check panics on a mismatch,
/// showing the finding.
pub(crate) struct Found<'a, S> {
    files: &'a [(&'a str, S)],
    /// The finding.
    pub(crate) d: Diagnostic,
}

impl<'a, S: AsRef<str>> Found<'a, S> {
    /// The only finding of `found` (panics unless there is exactly one).
    #[track_caller]
    pub(crate) fn only(found: Vec<Diagnostic>, files: &'a [(&'a str, S)]) -> Self {
        assert_eq!(found.len(), 1, "{found:?}");
        let d = found.into_iter().next().expect("one finding");
        Found { files, d }
    }

    /// The finding of `found` whose message starts with `start` (panics unless there is one).
    #[track_caller]
    pub(crate) fn starting(found: &[Diagnostic], start: &str, files: &'a [(&'a str, S)]) -> Self {
        let Some(d) = found.iter().find(|d| d.message.starts_with(start)) else {
            panic!("no finding starts with {start:?}: {found:?}");
        };
        Found {
            files,
            d: d.clone(),
        }
    }

    /// Its message is exactly `message`.
    #[track_caller]
    pub(crate) fn is(self, message: &str) -> Self {
        assert_eq!(self.d.message, message, "{:?}", self.d);
        self
    }

    /// It points at exactly `text`.
    #[track_caller]
    pub(crate) fn at(self, text: &str) -> Self {
        assert_eq!(located(self.files, &self.d.loc), text, "{:?}", self.d);
        self
    }

    /// Its message starts with `start`.
    #[track_caller]
    pub(crate) fn starts(self, start: &str) -> Self {
        assert_starts_with(&self.d.message, start);
        self
    }

    /// Its message contains `part`.
    #[track_caller]
    pub(crate) fn says(self, part: &str) -> Self {
        assert_contains(&self.d.message, part);
        self
    }

    /// Its related location `i` says exactly `message`.
    #[track_caller]
    pub(crate) fn related(self, i: usize, message: &str) -> Self {
        assert_eq!(self.d.related[i].message, message, "{:?}", self.d);
        self
    }

    /// Its related location `i` points at exactly `text`.
    #[track_caller]
    pub(crate) fn related_at(self, i: usize, text: &str) -> Self {
        assert_eq!(
            located(self.files, &self.d.related[i].loc),
            text,
            "{:?}",
            self.d
        );
        self
    }
}
