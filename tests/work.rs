//! A guard on the hot path's work, without timing anything: allocations and peak heap of a
//! whole lint, counted by dhat (deterministic on one thread), per file, with budgets a little
//! above today's figures, and a check that the work grows linearly with the tree.
//!
//! The tree is the bundled example (a migration Job, a Deployment waiting on it, RBAC, the
//! variables ConfigMap and a kustomization with replacements) copied into many applications,
//! each with its own kustomize context: the shape of a platform monorepo.
//!
//! When a change moves a figure past its budget, the failure prints the figures: either the
//! change made the hot path do more work than it should (fix it), or it is worth it (raise the
//! budget in the same commit, and say why).

use kube_migrate_lint::engine::{Input, Settings, lint_inputs};
use std::path::Path;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Allocations per file linted. Measured 2026-11-26 (release and debug alike): 974 blocks,
/// 56,354 bytes and a 14,330-byte peak per file; the budgets are about 15% above.
const BLOCKS_PER_FILE: u64 = 1_120;
/// Bytes allocated in total per file (a proxy for copying).
const BYTES_PER_FILE: u64 = 64_800;
/// Peak live heap per file.
const PEAK_PER_FILE: u64 = 16_500;

fn example() -> Vec<(String, Vec<u8>)> {
    let root = Path::new("testdata/example/k8s");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// `copies` applications, each a copy of the example under its own directory, with its own
/// names (so contexts do not see each other's Jobs).
fn tree(copies: usize) -> Vec<Input> {
    let base = example();
    let mut inputs = Vec::new();
    for i in 0..copies {
        for (name, bytes) in &base {
            let text = String::from_utf8(bytes.clone())
                .unwrap()
                .replace("shop", &format!("shop{i:04}"));
            inputs.push(Input::from_bytes(
                format!("apps/app{i:04}/k8s/{name}"),
                text.into_bytes(),
            ));
        }
    }
    inputs
}

struct Work {
    files: u64,
    findings: usize,
    blocks: u64,
    bytes: u64,
    peak: u64,
}

fn lint(pool: &rayon::ThreadPool, copies: usize) -> Work {
    let inputs = tree(copies);
    let files = inputs.len() as u64;
    let before = dhat::HeapStats::get();
    let report = pool.install(|| lint_inputs(inputs, &Settings::default()));
    let findings = report.diagnostics.len();
    drop(report);
    let after = dhat::HeapStats::get();
    Work {
        files,
        findings,
        blocks: after.total_blocks - before.total_blocks,
        bytes: after.total_bytes - before.total_bytes,
        // The peak of this run: the heap's maximum, less what was live before it started.
        peak: after.max_bytes as u64 - before.curr_bytes as u64,
    }
}

#[test]
fn the_hot_path_allocates_within_budget_and_linearly() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    // Warm once (lazy statics, the rule registry, thread-local caches), then measure.
    lint(&pool, 5);
    let small = lint(&pool, 25);
    let large = lint(&pool, 100);
    let per_file = |w: &Work| (w.blocks / w.files, w.bytes / w.files, w.peak / w.files);
    let (b, y, p) = per_file(&large);
    let figures = format!(
        "{} files: {} findings, {} blocks, {} bytes, peak {}; {} files: {} blocks, {} bytes, peak {}; per file at the larger size: {b} blocks, {y} bytes, peak {p}",
        small.files,
        small.findings,
        small.blocks,
        small.bytes,
        small.peak,
        large.files,
        large.blocks,
        large.bytes,
        large.peak
    );
    eprintln!("{figures}");
    // The same findings per application, or the copies are not what the budgets assume.
    assert_eq!(large.findings, small.findings * 4, "{figures}");
    assert!(small.findings >= 25, "{figures}");
    // Linear: four times the tree, at most 4.4 times the work (a quadratic step shows as 16).
    for (what, s, l) in [
        ("blocks", small.blocks, large.blocks),
        ("bytes", small.bytes, large.bytes),
        ("peak", small.peak, large.peak),
    ] {
        assert!(
            l * 10 <= s * 44,
            "{what} grew {:.2}x for 4x the files: {figures}",
            l as f64 / s as f64
        );
    }
    assert!(
        b <= BLOCKS_PER_FILE,
        "allocations per file over budget: {figures}"
    );
    assert!(y <= BYTES_PER_FILE, "bytes per file over budget: {figures}");
    assert!(
        p <= PEAK_PER_FILE,
        "peak heap per file over budget: {figures}"
    );
}
