//! Every fuzz seed and every input that once made a fuzz target fail, replayed through the
//! targets' own code (`fuzz/src/harness.rs`) on the stable toolchain, without libFuzzer.

#[path = "../../fuzz/src/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let mut n = 0;
    for dir in ["fuzz/seeds", "fuzz/regressions"] {
        let dir = Path::new(dir).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let data = std::fs::read(&p).unwrap();
            let r = std::panic::catch_unwind(|| run(&data));
            assert!(r.is_ok(), "{target}: {} fails", p.display());
            n += 1;
        }
    }
    n
}

#[test]
fn parse_lint_inputs_replay() {
    assert!(replay("parse_lint", harness::parse_lint) >= 40);
}

#[test]
fn config_inputs_replay() {
    assert!(replay("config", harness::config) >= 5);
}

#[test]
fn fix_inputs_replay() {
    assert!(replay("fix", harness::fix) >= 40);
}

#[test]
fn kustomize_eval_inputs_replay() {
    assert!(replay("kustomize_eval", harness::kustomize_eval) >= 5);
}

/// The harness splits inputs into named files and derives real trees, or the targets would
/// fuzz far less than they claim.
#[test]
fn harness_inputs_are_what_they_claim() {
    let files = harness::split_files(
        b"a: 1\n#%% k/kustomization.yaml\nresources: [j.yaml]\n#%% k/j.yaml\nkind: Job\n",
    );
    let names: Vec<_> = files.iter().map(|f| f.display.as_str()).collect();
    assert_eq!(names, ["k/input.yaml", "k/kustomization.yaml", "k/j.yaml"]);
    assert_eq!(files[2].bytes.as_deref().unwrap(), b"kind: Job\n");
    let tree = harness::generate_tree(&[5, 3, 0, 0, 0, 7, 9, 200, 1, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(tree.len() >= 2, "{tree:?}");
    assert!(tree.iter().any(|(n, _)| n.starts_with("base/")), "{tree:?}");
}
