//! Shared helpers for the integration tests.

use kube_migrate_lint::base::diagnostic::Diagnostic;
use kube_migrate_lint::engine::{Input, Report, Settings, lint_inputs};

/// Lint in-memory files with default settings.
pub fn lint(files: &[(String, String)]) -> Report {
    let inputs = files
        .iter()
        .map(|(n, t)| Input::from_bytes(n.clone(), t.as_bytes().to_vec()))
        .collect();
    lint_inputs(inputs, &Settings::default())
}

pub fn rules_of(diags: &[Diagnostic]) -> Vec<&'static str> {
    diags.iter().map(|d| d.rule).collect()
}

/// The linter binary the integration tests run.
pub const BIN: &str = env!("CARGO_BIN_EXE_kube-migrate-lint");

/// A migration Job with `backoffLimit: N`, on the 7th line of the document (so a finding at
/// `7:17`), everything else as the pattern wants it.
pub fn job(name: &str, backoff: u32) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}-migration-v1\n  annotations: {{kustomize.toolkit.fluxcd.io/force: enabled}}\nspec:\n  backoffLimit: {backoff}\n  template: {{spec: {{restartPolicy: Never, containers: [{{name: m, image: \"app:v1\"}}]}}}}\n"
    )
}

/// Run the binary in `dir` with `args`; its output and how long it took (for hang guards).
pub fn run_in(dir: &std::path::Path, args: &[&str]) -> (std::process::Output, std::time::Duration) {
    let start = std::time::Instant::now();
    let o = std::process::Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (o, start.elapsed())
}

/// Stdout then stderr, as text.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// splitmix64: a seeded generator, so the tree is the same on every run and machine.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

pub fn write(root: &std::path::Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The string maps the kustomize oracles compare key by key, with the label they print:
/// labels and annotations, pod template labels and annotations, and the selector
/// `commonLabels` writes.
pub const RENDERED_MAPS: &[(&str, &[&str])] = &[
    ("labels", &["metadata", "labels"]),
    ("annotations", &["metadata", "annotations"]),
    (
        "template.labels",
        &["spec", "template", "metadata", "labels"],
    ),
    (
        "template.annotations",
        &["spec", "template", "metadata", "annotations"],
    ),
    ("selector", &["spec", "selector", "matchLabels"]),
];

/// Every file under `root`, read from disk as the CLI reads it (for `load_workspace`).
pub fn disk_inputs(root: &std::path::Path) -> Vec<Input> {
    use kube_migrate_lint::model::discover::{Excludes, discover};
    discover(&[root.to_path_buf()], &Excludes::default())
        .files
        .iter()
        .map(|c| Input {
            display: c.display.clone(),
            path: Some(c.path.clone()),
            bytes: kube_migrate_lint::engine::read_bounded(&c.path, 1 << 24),
        })
        .collect()
}

/// The entries of a mapping node of kubectl's output (no aliases or merge keys there).
pub fn map_entries(d: &kube_migrate_lint::yaml::Document, id: u32) -> Vec<(u32, u32)> {
    match &d.nodes[id as usize].kind {
        kube_migrate_lint::yaml::Kind::Map(entries) => entries.clone(),
        _ => Vec::new(),
    }
}

/// A fixture tree that `insta::glob!` over `testdata/fixtures` yields: its name and its
/// directory as the tests name it (`testdata/fixtures/NAME`); None for anything else.
pub fn fixture(path: &std::path::Path) -> Option<(String, String)> {
    if !path.is_dir() || path.file_name().is_none_or(|n| n == "fixtures") {
        return None;
    }
    let name = path.file_name()?.to_string_lossy().into_owned();
    let dir = format!("testdata/fixtures/{name}");
    Some((name, dir))
}
