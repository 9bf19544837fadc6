#!/usr/bin/env bash
# What the deploy-engine evidence scan (src/model/evidence.rs) costs: a one-file run (the
# pre-commit case) on a small repository and on a 10,000-file one, and a whole-tree run on the
# latter, each with `deploy-engine: auto` (the scan runs) and with the engine configured (no
# scan). Prints medians of whole-process wall times; figures, not a test.
#
#   bash scripts/bench_evidence.sh [RUNS]     # RUNS: one-file repetitions (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
cargo build --release --quiet
bin=$PWD/target/release/kube-migrate-lint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A small repository: the bundled example, as a git work tree.
cp -r testdata/example "$work/small"
git -C "$work/small" init -q
# A 10,000-file one (bench/generate.py: kustomize contexts with Flux Kustomizations, plain files).
python3 bench/generate.py "$work/big" 10000 >/dev/null
git -C "$work/big" init -q
# The configured engine lives in each repository (a hidden file, so no run lints it): a
# configuration file's directory is the project root, and one above both repositories would
# make every one-file run search the other repository too.
printf 'deploy-engine: kubectl\n' | tee "$work/small/.configured.yaml" >"$work/big/.configured.yaml"

python3 - "$bin" "$work" "$runs" <<'PY'
import os, statistics, subprocess, sys, time
bin, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])

def median_ms(args, cwd, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([bin, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)

def yaml_files(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        out += [os.path.join(d, f) for f in files if f.endswith((".yaml", ".yml"))]
    return sorted(out)

conf = ["--config", ".configured.yaml"]
small = os.path.join(work, "small")
big = os.path.join(work, "big")
one_small = os.path.relpath([f for f in yaml_files(small) if "job" in f][0], small)
one_big = os.path.relpath([f for f in yaml_files(big) if "/plain/" in f][0], big)
# A file of a Flux-deployed build: read with every Flux stage (see README, pre-commit).
one_flux = os.path.relpath([f for f in yaml_files(big) if f.endswith("/deployment.yaml")][0], big)
n_big = len(yaml_files(big))

rows = [
    ("small repo, 1 file (pre-commit)", [one_small], small, runs),
    (f"{n_big:,}-file repo, 1 plain file (pre-commit)", [one_big], big, runs),
    (f"{n_big:,}-file repo, 1 Flux-deployed file", [one_flux], big, runs),
    (f"{n_big:,}-file repo, whole tree", ["."], big, 3),
]
print(f"{'run':<42} {'auto (scan)':>12} {'configured':>12} {'scan cost':>10}")
for name, args, cwd, n in rows:
    auto = median_ms(args, cwd, n)
    fixed = median_ms(args + conf, cwd, n)
    print(f"{name:<42} {auto:>9.1f} ms {fixed:>9.1f} ms {auto - fixed:>7.1f} ms")
PY
