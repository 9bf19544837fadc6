//! What each fuzz target does with its input, shared with the regular test suite
//! (`tests/it/fuzz_replay.rs` includes this file) so every seed and every input that once
//! crashed is replayed by `cargo test`, on stable, without libFuzzer.
//!
//! Only the library and `serde_json` are used here, so the file compiles in both crates.

use kube_migrate_lint::app;
use kube_migrate_lint::engine::{Input, Report, Settings, lint_inputs};
use kube_migrate_lint::model::config;
use kube_migrate_lint::output::Format;
use kube_migrate_lint::rules;

/// Every output format, each rendered for each input.
const FORMATS: &[Format] = &[
    Format::Human,
    Format::Json,
    Format::Concise,
    Format::Gitlab,
    Format::Junit,
    Format::Sarif,
    Format::Github,
];

/// Marks the start of a file in a multi-file input: `#%% path/name.yaml` on its own line.
pub const FILE_MARK: &str = "#%% ";

/// Split an input into named files. Text before the first mark (or all of it, when there is
/// no mark) is `k/input.yaml`; each `#%% NAME` line starts a file named NAME, so seeds can be
/// whole directories (a kustomization and its resources) and the fuzzer can mutate names.
pub fn split_files(data: &[u8]) -> Vec<Input> {
    let mark = FILE_MARK.as_bytes();
    let marks: Vec<usize> = (0..data.len())
        .filter(|&i| (i == 0 || data[i - 1] == b'\n') && data[i..].starts_with(mark))
        .collect();
    let mut files = Vec::new();
    let first = marks.first().copied().unwrap_or(data.len());
    if first > 0 || marks.is_empty() {
        files.push(Input::from_bytes("k/input.yaml", data[..first].to_vec()));
    }
    for (n, &at) in marks.iter().enumerate() {
        let next = marks.get(n + 1).copied().unwrap_or(data.len());
        let line_end = data[at..next]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(next, |p| at + p);
        let raw = String::from_utf8_lossy(&data[at + mark.len()..line_end]);
        let name: String = raw.trim().chars().take(80).collect();
        let name = if name.is_empty() {
            "k/unnamed.yaml".to_string()
        } else {
            name
        };
        let body = data[(line_end + 1).min(next)..next].to_vec();
        files.push(Input::from_bytes(name, body));
    }
    files
}

/// Parse and lint arbitrary bytes, then render the report in every format.
pub fn parse_lint(data: &[u8]) {
    let report = lint_inputs(split_files(data), &Settings::default());
    check_report(&report);
}

/// Parse arbitrary bytes as `.kube-migrate-lint.yaml`; a valid config must resolve to settings
/// or a message, never a panic, and an error must point inside the text.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let names = rules::names();
    match config::parse(&text, "c.yaml", &names) {
        Ok(cfg) => {
            let _ = Settings::resolve(&cfg, &[], &[]);
        }
        Err(e) => {
            let lines = kube_migrate_lint::base::source::LineIndex::new(&text).line_count() as u32;
            assert!(
                e.line >= 1 && e.line <= lines && e.column >= 1,
                "error position {}:{} outside the text",
                e.line,
                e.column
            );
            assert!(!e.message.is_empty());
        }
    }
}

/// Derive a small tree of kustomizations and manifests from the input and lint it.
pub fn kustomize_eval(data: &[u8]) {
    let files = generate_tree(data);
    let inputs = files
        .into_iter()
        .map(|(n, t)| Input::from_bytes(n, t.into_bytes()))
        .collect();
    let report = lint_inputs(inputs, &Settings::default());
    check_report(&report);
}

/// Invariants of any report: positions inside their files and on character boundaries, no
/// internal error, and every format renders (machine formats as valid JSON).
pub fn check_report(report: &Report) {
    let check = |file: u32, start: u32, end: u32, what: &str| {
        let f = report
            .files
            .get(file as usize)
            .unwrap_or_else(|| panic!("{what}: file id {file} out of range"));
        let (s, e) = (start as usize, end as usize);
        assert!(
            s <= e && e <= f.text.len(),
            "{what}: span {s}..{e} outside {} ({} bytes)",
            f.display,
            f.text.len()
        );
        assert!(
            f.text.is_char_boundary(s) && f.text.is_char_boundary(e),
            "{what}: span {s}..{e} splits a character in {}",
            f.display
        );
    };
    assert!(
        report.internal.is_empty(),
        "internal error: {}",
        report.internal[0]
    );
    for d in &report.diagnostics {
        assert_ne!(
            d.rule, "internal-error",
            "internal error: {} ({})",
            d.message, report.files[d.loc.file as usize].display
        );
        check(d.loc.file, d.loc.span.start, d.loc.span.end, d.rule);
        for r in &d.related {
            check(r.loc.file, r.loc.span.start, r.loc.span.end, d.rule);
        }
        if let Some(fix) = &d.fix {
            for e in &fix.edits {
                check(e.loc.file, e.loc.span.start, e.loc.span.end, d.rule);
            }
        }
        if let Some(o) = d.object {
            assert!(
                (o as usize) < report.objects.len(),
                "object id out of range"
            );
        }
    }
    for r in &report.redactions {
        check(r.file, r.span.start, r.span.end, "redaction");
    }
    let fps = kube_migrate_lint::engine::fingerprint::fingerprints(report);
    for &format in FORMATS {
        let out = app::render(format, report, &fps, false, false);
        if matches!(format, Format::Json | Format::Gitlab | Format::Sarif)
            && let Err(e) = serde_json::from_str::<serde_json::Value>(&out)
        {
            panic!("{format:?} output is not JSON: {e}\n{out}");
        }
    }
    // Colour, and the hint pre-commit gets (rule pages by URL).
    let _ = app::render(Format::Human, report, &fps, true, true);
}

/// A byte reader that never fails: past the end it reads zeros, so every input is a tree.
struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.byte() as usize % n }
    }
    fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, in_256: u8) -> bool {
        self.byte() < in_256
    }
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    /// A short string: mostly from a vocabulary, sometimes raw input bytes (quoted as JSON, so
    /// the YAML stays well-formed and the value reaches the evaluator).
    fn word(&mut self, vocab: &[&str]) -> String {
        if self.chance(40) {
            let len = self.below(12);
            let raw: Vec<u8> = (0..len).map(|_| self.byte()).collect();
            serde_json::to_string(&String::from_utf8_lossy(&raw)).expect("a string serialises")
        } else {
            self.pick(vocab).to_string()
        }
    }
}

const DIRS: &[&str] = &[
    "base",
    "overlay",
    "overlay/prod",
    "comp",
    "base/sub",
    "other",
];
const NAMES: &[&str] = &[
    "app",
    "app-migration",
    "app-migration-v1",
    "app-migration-${TAG}",
    "db-migrate",
    "app-sa",
    "reader",
    "app-config",
    "app-secret",
    "x",
];
const NAMESPACES: &[&str] = &["shop", "default", "other", "${NS}", "kube-system"];
const IMAGES: &[&str] = &[
    "app",
    "app:v1",
    "app:latest",
    "registry.example.com/app:v2",
    "app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    "groundnuty/k8s-wait-for:v2.0",
    "groundnuty/k8s-wait-for:v1.6",
];
const MODES: &[&str] = &["job-wr", "job", "job-we", "job-r", "pod-r", "service"];
const FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.template.spec.containers.0.image",
    "spec.template.spec.containers.[name=app].image",
    "spec.template.spec.initContainers.[name=wait].args.1",
    "spec.template.spec.initContainers.0.args.[1]",
    "spec.template.spec.serviceAccountName",
    "data.TAG",
    "spec.replicas",
    "spec.*.spec",
    "metadata.labels.app",
];
const KINDS: &[&str] = &[
    "Job",
    "Deployment",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
];

/// A tree of up to six directories, each maybe a kustomization, with manifests picked by the
/// input: enough structure to reach bases, components, generators, prefixes, images,
/// replicas, replacements and Flux substitution, with references that resolve and ones that
/// do not (`../` outside, remote URLs, cycles).
pub fn generate_tree(data: &[u8]) -> Vec<(String, String)> {
    let mut b = Bytes { data, pos: 0 };
    let mut files: Vec<(String, String)> = Vec::new();
    let ndirs = 1 + b.below(DIRS.len());
    for &dir in &DIRS[..ndirs] {
        let nmanifests = b.below(4);
        let mut names = Vec::new();
        for m in 0..nmanifests {
            let file = format!("{}.yaml", ["job", "deploy", "rbac", "cm"][m]);
            let mut docs = Vec::new();
            for _ in 0..1 + b.below(3) {
                docs.push(manifest(&mut b));
            }
            files.push((format!("{dir}/{file}"), docs.join("---\n")));
            names.push(file);
        }
        if b.chance(200) {
            let k = kustomization(&mut b, dir, &names);
            let kname = ["kustomization.yaml", "kustomization.yml", "Kustomization"][b.below(3)];
            files.push((format!("{dir}/{kname}"), k));
        }
        if b.done() {
            break;
        }
    }
    if b.chance(60) {
        files.push(("flux.yaml".into(), flux(&mut b)));
    }
    files
}

fn manifest(b: &mut Bytes) -> String {
    let kind = b.pick(KINDS);
    let name = b.word(NAMES);
    let mut out = String::new();
    let api = match kind {
        "Job" => "batch/v1",
        "Deployment" => "apps/v1",
        "Role" | "RoleBinding" | "ClusterRole" => "rbac.authorization.k8s.io/v1",
        _ => "v1",
    };
    out.push_str(&format!(
        "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n"
    ));
    if b.chance(80) {
        out.push_str(&format!("  namespace: {}\n", b.word(NAMESPACES)));
    }
    if b.chance(60) {
        out.push_str("  annotations: {kustomize.toolkit.fluxcd.io/force: enabled}\n");
    }
    match kind {
        "Job" | "Deployment" => {
            out.push_str("spec:\n");
            if kind == "Job" {
                out.push_str(&format!("  backoffLimit: {}\n", b.below(3)));
                if b.chance(60) {
                    out.push_str("  ttlSecondsAfterFinished: 100\n");
                }
            } else {
                out.push_str(&format!("  replicas: {}\n", b.below(4)));
            }
            out.push_str("  template:\n    spec:\n");
            out.push_str(&format!("      serviceAccountName: {}\n", b.word(NAMES)));
            out.push_str(&format!(
                "      restartPolicy: {}\n",
                if kind == "Job" {
                    b.pick(&["Never", "OnFailure", "Always"])
                } else {
                    "Always"
                }
            ));
            if kind == "Deployment" && b.chance(180) {
                out.push_str(&format!(
                    "      initContainers:\n      - name: wait\n        image: {}\n        args: [\"{}\", {}]\n",
                    b.pick(IMAGES),
                    b.pick(MODES),
                    b.word(NAMES)
                ));
            }
            out.push_str(&format!(
                "      containers:\n      - name: app\n        image: {}\n",
                b.word(IMAGES)
            ));
            if b.chance(120) {
                out.push_str(&format!(
                    "        env:\n        - name: DATABASE_URL\n          valueFrom: {{secretKeyRef: {{name: {}, key: url}}}}\n",
                    b.word(NAMES)
                ));
            }
            if b.chance(80) {
                out.push_str("        command: [\"sh\", \"-c\", \"rake db:migrate\"]\n");
            }
        }
        "ConfigMap" | "Secret" => {
            out.push_str(&format!(
                "data:\n  TAG: {}\n",
                b.word(&["v1", "v2", "\"1.0\""])
            ));
        }
        "Role" | "ClusterRole" => {
            out.push_str(&format!(
                "rules:\n- apiGroups: [\"batch\"]\n  resources: [jobs]\n  verbs: [{}]\n",
                b.pick(&["get, list", "get", "\"*\"", "list, watch"])
            ));
        }
        "RoleBinding" => {
            out.push_str(&format!(
                "subjects:\n- kind: ServiceAccount\n  name: {}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: {}}}\n",
                b.word(NAMES),
                b.word(NAMES)
            ));
        }
        _ => {}
    }
    out
}

fn kustomization(b: &mut Bytes, dir: &str, own: &[String]) -> String {
    let mut out = String::new();
    if b.chance(128) {
        out.push_str(&format!(
            "apiVersion: {}\nkind: {}\n",
            b.pick(&[
                "kustomize.config.k8s.io/v1beta1",
                "kustomize.config.k8s.io/v1alpha1",
                "kustomize.config.k8s.io/v1"
            ]),
            b.pick(&["Kustomization", "Component"])
        ));
    }
    let mut resources: Vec<String> = own.iter().filter(|_| b.chance(220)).cloned().collect();
    for _ in 0..b.below(3) {
        let other = b.pick(DIRS);
        let depth = dir.matches('/').count() + 1;
        resources.push(match b.below(6) {
            0 => format!("{}{other}", "../".repeat(depth)),
            1 => format!("{}../outside", "../".repeat(depth)),
            2 => "https://github.com/example/repo//base?ref=v1".into(),
            3 => ".".into(),
            4 => format!("{}{other}/job.yaml", "../".repeat(depth)),
            _ => "missing.yaml".into(),
        });
    }
    let key = b.pick(&["resources", "bases", "components"]);
    out.push_str(&format!("{key}:\n"));
    for r in &resources {
        out.push_str(&format!("- {r}\n"));
    }
    if b.chance(100) {
        out.push_str(&format!("namespace: {}\n", b.word(NAMESPACES)));
    }
    if b.chance(80) {
        out.push_str(&format!("namePrefix: {}\n", b.word(&["p-", "prod-", ""])));
    }
    if b.chance(60) {
        out.push_str(&format!("nameSuffix: {}\n", b.word(&["-s", "-v2"])));
    }
    if b.chance(100) {
        out.push_str(&format!(
            "images:\n- name: {}\n  newTag: {}\n",
            b.word(&["app", "registry.example.com/app", "groundnuty/k8s-wait-for"]),
            b.word(&["v3", "latest", "\"1.2\""])
        ));
        if b.chance(80) {
            out.push_str(&format!("  newName: {}\n", b.word(&["other/app", "app"])));
        }
        if b.chance(40) {
            out.push_str("  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n");
        }
    }
    if b.chance(60) {
        out.push_str(&format!(
            "replicas:\n- name: {}\n  count: {}\n",
            b.word(NAMES),
            b.below(5)
        ));
    }
    if b.chance(100) {
        out.push_str(&format!(
            "configMapGenerator:\n- name: {}\n  literals: [TAG={}]\n",
            b.word(NAMES),
            b.word(&["v1", "v2"])
        ));
        if b.chance(80) {
            out.push_str("generatorOptions: {disableNameSuffixHash: true}\n");
        }
    }
    if b.chance(140) {
        out.push_str("replacements:\n");
        for _ in 0..1 + b.below(3) {
            if b.chance(60) {
                out.push_str(&format!("- sourceValue: {}\n", b.word(&["v9", "x"])));
            } else {
                out.push_str(&format!(
                    "- source: {{kind: {}, name: {}, fieldPath: {}}}\n",
                    b.pick(KINDS),
                    b.word(NAMES),
                    b.word(FIELD_PATHS)
                ));
            }
            out.push_str(&format!(
                "  targets:\n  - select: {{kind: {}, name: {}}}\n    fieldPaths: [{}]\n",
                b.pick(KINDS),
                b.word(NAMES),
                b.word(FIELD_PATHS)
            ));
            if b.chance(60) {
                out.push_str(&format!(
                    "    options: {{delimiter: \"{}\", index: {}, create: {}}}\n",
                    b.pick(&["-", ":", "/"]),
                    b.below(4) as i64 - 1,
                    b.pick(&["true", "false"])
                ));
            }
            if b.chance(40) {
                out.push_str(&format!("    reject: [{{name: {}}}]\n", b.word(NAMES)));
            }
        }
    }
    if b.chance(30) {
        out.push_str("patches:\n- path: patch.yaml\n");
    }
    if b.chance(30) {
        out.push_str("sortOptions: {order: fifo}\n");
    }
    out
}

fn flux(b: &mut Bytes) -> String {
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: app, namespace: flux-system}}\nspec:\n  path: ./{}\n  targetNamespace: {}\n  postBuild:\n    substitute: {{TAG: {}, NS: {}}}\n    substituteFrom: [{{kind: ConfigMap, name: {}}}]\n",
        b.pick(DIRS),
        b.word(NAMESPACES),
        b.word(&["v1", "\"\""]),
        b.word(NAMESPACES),
        b.word(NAMES)
    )
}

/// Fix arbitrary bytes (split into files like `parse_lint`, unsafe fixes included): every
/// changed file still parses without error, fixing the result again changes nothing, and every
/// line the fixes removed or rewrote was touched by an edit some finding offered (on the
/// original text or on an intermediate one), so no byte outside the edits changes.
pub fn fix(data: &[u8]) {
    use kube_migrate_lint::engine::fix::{self, Options};
    let inputs = split_files(data);
    let settings = Settings::default();
    let opts = Options { unsafe_fixes: true };
    // Two files of the same name: the later one wins on disk, and which one a fix meant is
    // ambiguous; the CLI never sees such input.
    let mut names: Vec<&str> = inputs.iter().map(|i| i.display.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return;
    }
    let before = lint_inputs(inputs.clone(), &settings);
    let outcome = fix::fix(inputs, &settings, opts, &|_| true);
    check_report(&outcome.report);
    if outcome.changed.is_empty() {
        return;
    }
    for c in &outcome.changed {
        let parsed = kube_migrate_lint::yaml::parse(&c.after, settings.limits);
        assert!(
            parsed.error.is_none(),
            "{}: the fixed text does not parse: {:?}\n{}",
            c.display,
            parsed.error,
            c.after
        );
        // The line check knows the edits offered on the original text. A fix offered only in a
        // later pass (an earlier fix made its finding appear) edits lines it cannot know;
        // such files are held to the other checks.
        let offered = |rule: &str| {
            before
                .diagnostics
                .iter()
                .filter(|d| {
                    d.rule == rule
                        && d.fix.as_ref().is_some_and(|f| {
                            f.edits
                                .iter()
                                .any(|e| before.files[e.loc.file as usize].display == c.display)
                        })
                })
                .count()
        };
        let applied_here: Vec<&str> = outcome
            .applied
            .iter()
            .filter(|a| a.file == c.display)
            .map(|a| a.rule)
            .collect();
        let first_pass_only = applied_here
            .iter()
            .all(|r| applied_here.iter().filter(|x| *x == r).count() <= offered(r));
        if !first_pass_only {
            continue;
        }
        let touched = touched_lines(&before, &c.display, &c.before);
        for line in removed_lines(&c.before, &c.after) {
            // Later passes edit intermediate texts; an edit there lands on lines a first-pass
            // finding in the same object already pointed at, or next to them. Allow the
            // neighbours of a touched line, and nothing further.
            assert!(
                touched.contains(&line)
                    || touched.contains(&(line + 1))
                    || line > 0 && touched.contains(&(line - 1)),
                "{}: line {} changed but no fix edit touches it\n--- before\n{}\n--- after\n{}",
                c.display,
                line + 1,
                c.before,
                c.after
            );
        }
    }
    // Fixing the fixed tree again changes nothing: the same inputs, with the fixed texts in
    // place of the files that changed (the report's texts will not do: a file that is not
    // UTF-8 is shown decoded, and was never a candidate for fixing).
    let again: Vec<Input> = split_files(data)
        .into_iter()
        .map(|mut i| {
            if let Some(c) = outcome.changed.iter().find(|c| c.display == i.display) {
                i.bytes = Ok(c.after.clone().into_bytes());
            }
            i
        })
        .collect();
    let second = fix::fix(again, &settings, opts, &|_| true);
    assert!(
        second.changed.is_empty(),
        "a second --fix changes {:?}: {:?}",
        second
            .changed
            .iter()
            .map(|c| c.display.as_str())
            .collect::<Vec<_>>(),
        second.applied
    );
}

/// 0-based lines of `text` that some offered edit in file `display` covers, or inserts at.
fn touched_lines(report: &Report, display: &str, text: &str) -> std::collections::BTreeSet<usize> {
    let line_of = |off: usize| text[..off.min(text.len())].matches('\n').count();
    let mut lines = std::collections::BTreeSet::new();
    for d in &report.diagnostics {
        let Some(fix) = &d.fix else { continue };
        for e in &fix.edits {
            let f = &report.files[e.loc.file as usize];
            if f.display != display {
                continue;
            }
            let (s, end) = (e.loc.span.start as usize, e.loc.span.end as usize);
            // An insertion at the start of a line changes the line before it too (its
            // line break may move).
            let first = line_of(s).saturating_sub(1);
            lines.extend(first..=line_of(end));
        }
    }
    lines
}

/// 0-based lines of `before` that a line diff to `after` deletes or replaces.
fn removed_lines(before: &str, after: &str) -> Vec<usize> {
    use similar::{DiffOp, TextDiff};
    let diff = TextDiff::from_lines(before, after);
    let mut out = Vec::new();
    for op in diff.ops() {
        match *op {
            DiffOp::Delete {
                old_index, old_len, ..
            }
            | DiffOp::Replace {
                old_index, old_len, ..
            } => out.extend(old_index..old_index + old_len),
            _ => {}
        }
    }
    out
}
