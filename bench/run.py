#!/usr/bin/env python3
"""The benchmark of issue 6: whole-process speed and memory, as ratios measured in one run.

    bash bench/run.sh [--quick] [--runs N] [--trees DIR] [--venv DIR] [--no-tools] [SIZES...]

Builds the release linter and the floor (examples/parse_floor.rs), generates deterministic
trees (bench/generate.py; default sizes 1000 10000 100000, --quick: 1000 10000) and, per size
and for 1 and 2 threads, takes the median of 5 whole-process runs (3 at 100k and above) of:

  cat               reading the files (find | xargs cat)
  floor, events     discover + read + drain saphyr-parser events, nothing else
  floor, tree       discover + read + build our spanned tree (yaml::parse), nothing else
  lint              kube-migrate-lint --no-config --format json --threads N  (stdout discarded)

Wall time comes from the driver's clock around each process; peak RSS from
`/usr/bin/time -f %M`. On the 1k tree, yamllint (`-d relaxed`) and checkov's Kubernetes
framework run too, installed with pip into a throwaway virtual environment (default
/tmp/kml-bench-venv); if that fails the table says "not measured" and why. The pre-commit
case is one small file inside a kustomization, whole process, median of 20. The last table
holds every target of issue 6 with the figure and whether it is met. Nothing here is a test:
the machine is shared and noisy, so only ratios from the same run mean much.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run_once(cmd, stdin=None):
    """Wall seconds (driver clock) and peak RSS in KB (/usr/bin/time) of one process."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        full = ["/usr/bin/time", "-f", "%M", "-o", t.name] + cmd
        start = time.perf_counter()
        subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=stdin)
        wall = time.perf_counter() - start
        lines = [l for l in t.read().split("\n") if l.strip()]
        rss = int(lines[-1]) if lines and lines[-1].strip().isdigit() else 0
    return wall, rss


def measure(cmd, runs, warm=True):
    if warm:
        run_once(cmd)
    walls, rsss = [], []
    for _ in range(runs):
        w, r = run_once(cmd)
        walls.append(w)
        rsss.append(r)
    return {"wall": statistics.median(walls), "rss_kb": max(rsss), "walls": walls}


def tree_stats(tree):
    files = size = 0
    for d, _, fs in os.walk(tree):
        for f in fs:
            files += 1
            size += os.path.getsize(os.path.join(d, f))
    return files, size


def build(target):
    log("building release binaries ...")
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "kube-migrate-lint",
         "--example", "parse_floor"],
        cwd=ROOT, check=True)
    rel = os.path.join(target, "release")
    return os.path.join(rel, "kube-migrate-lint"), os.path.join(rel, "examples", "parse_floor")


def venv_tools(venv):
    """(yamllint, checkov) paths, or (None, why) for each that could not be installed."""
    py = os.path.join(venv, "bin", "python")
    out = {}
    try:
        if not os.path.exists(py):
            log(f"creating {venv} and installing yamllint and checkov (once) ...")
            subprocess.run([sys.executable, "-m", "venv", venv], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for tool in ("yamllint", "checkov"):
            exe = os.path.join(venv, "bin", tool)
            if not os.path.exists(exe):
                r = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", tool],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    out[tool] = (None, "pip install failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])
                    continue
            out[tool] = (exe, None)
    except Exception as e:  # no venv module, no network: say so and go on
        for tool in ("yamllint", "checkov"):
            out.setdefault(tool, (None, f"virtual environment failed: {e}"))
    return out


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout.strip().splitlines()[0]
    except Exception:
        return "?"


def small_file(tree):
    """A deployment.yaml inside the first kustomization of the tree."""
    for d, dirs, fs in sorted(os.walk(tree)):
        dirs.sort()
        if "kustomization.yaml" in fs and "deployment.yaml" in fs:
            return os.path.join(d, "deployment.yaml")
    return None


def fmt_row(label, m, files, size):
    w = max(m["wall"], 1e-6)
    return (f"| {label} | {m['wall']:.3f} s | {files / w:,.0f} | {size / 1e6 / w:.1f} | "
            f"{m['rss_kb'] / 1024:.0f} MB |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", nargs="*", type=int)
    ap.add_argument("--quick", action="store_true", help="1k and 10k trees only")
    ap.add_argument("--runs", type=int, default=5, help="runs per measure (3 at 100k+)")
    ap.add_argument("--trees", help="keep (and reuse) generated trees here instead of a temp dir")
    ap.add_argument("--venv", default=os.path.join(tempfile.gettempdir(), "kml-bench-venv"))
    ap.add_argument("--no-tools", action="store_true", help="skip yamllint and checkov")
    a = ap.parse_args()
    sizes = a.sizes or ([1000, 10000] if a.quick else [1000, 10000, 100000])

    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    if not os.path.isabs(target):
        target = os.path.join(ROOT, target)
    lint, floor = build(target)
    tools = {} if a.no_tools else venv_tools(a.venv)

    tmp = None
    trees = a.trees
    if not trees:
        tmp = tempfile.mkdtemp(prefix="kml-bench-")
        trees = tmp
    results = {}  # (size, label) -> measure
    info = {}
    try:
        for n in sizes:
            tree = os.path.join(trees, f"tree-{n}")
            if not os.path.isdir(tree):
                log(f"generating {n} files ...")
                subprocess.run([sys.executable, os.path.join(ROOT, "bench", "generate.py"), tree, str(n)],
                               check=True)
            files, size = tree_stats(tree)
            info[n] = (files, size, tree)
            runs = a.runs if n < 100000 else min(a.runs, 3)
            log(f"{files} files, {size / 1e6:.1f} MB, median of {runs}:")
            cat = ["sh", "-c", f"find '{tree}' -type f -print0 | xargs -0 cat"]
            results[n, "cat"] = measure(cat, runs)
            for t in (1, 2):
                results[n, f"floor{t}"] = measure([floor, "--threads", str(t), tree], runs)
                results[n, f"tree{t}"] = measure([floor, "--tree", "--threads", str(t), tree], runs)
                results[n, f"lint{t}"] = measure(
                    [lint, tree, "--no-config", "--format", "json", "--threads", str(t)], runs)
                log(f"  {t} thread(s): floor {results[n, f'floor{t}']['wall']:.3f} s, "
                    f"tree {results[n, f'tree{t}']['wall']:.3f} s, lint {results[n, f'lint{t}']['wall']:.3f} s")

        # The other linters, on the smallest tree only (1k by default): they are slow.
        small = min(sizes)
        files, size, tree = info[small]
        other = {}
        for tool, cmd, runs in (
            ("yamllint", lambda exe: [exe, "-d", "relaxed", "-f", "parsable", tree], 3),
            ("checkov", lambda exe: [exe, "-d", tree, "--framework", "kubernetes", "--quiet",
                                     "--compact", "--skip-download", "-o", "json"], 3),
        ):
            exe, why = tools.get(tool, (None, "skipped (--no-tools)"))
            if exe is None:
                other[tool] = why
                continue
            log(f"{tool} on {files} files ({runs} runs) ...")
            env_note = version([exe, "--version"])
            os.environ["BC_SKIP_MAPPING"] = "TRUE"  # checkov: no lookups on the network
            m = measure(cmd(exe), runs, warm=False)
            m["version"] = env_note
            other[tool] = m

        pre = None
        f = small_file(info[small][2])
        if f:
            pre = measure([lint, f, "--no-config", "--format", "json"], 20)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    # ---- report -------------------------------------------------------------------------
    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
          f"load average at the end {os.getloadavg()[0]:.1f}; median wall, max peak RSS\n")
    print("| tree | measure | wall | files/s | MB/s | peak RSS |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        files, size, _ = info[n]
        label = f"{files:,} files, {size / 1e6:.0f} MB"
        for key, name in (("cat", "reading (`cat`)"), ("floor1", "floor: parse events, 1 thread"),
                          ("floor2", "floor: parse events, 2 threads"), ("tree1", "floor: spanned tree, 1 thread"),
                          ("tree2", "floor: spanned tree, 2 threads"), ("lint1", "**lint, 1 thread**"),
                          ("lint2", "**lint, 2 threads**")):
            print(fmt_row(f"{label} | {name}", results[n, key], files, size))
    files, size, _ = info[small]
    for tool in ("yamllint", "checkov"):
        m = other.get(tool)
        if isinstance(m, dict):
            print(fmt_row(f"{files:,} files | {tool} ({m['version']})", m, files, size))
    if pre:
        print(f"| 1 file in a kustomization | lint (pre-commit case), median of 20 | "
              f"{pre['wall'] * 1000:.1f} ms | | | {pre['rss_kb'] / 1024:.0f} MB |")

    rows = []

    def target(name, figure, goal, met):
        rows.append(f"| {name} | {figure} | {goal} | {'yes' if met else '**no**'} |")

    for n in sizes:
        for t in (1, 2):
            r = results[n, f"floor{t}"]["wall"] / results[n, f"lint{t}"]["wall"]
            target(f"lint vs bare parse, {n:,} files, {t} thread{'s' if t > 1 else ''}",
                   f"{r:.2f}× the floor's throughput", "≥ 0.7×", r >= 0.7)
    lint_small = results[small, "lint2"]["wall"], results[small, "lint1"]["wall"]
    for tool, goal in (("yamllint", 100), ("checkov", 200)):
        m = other.get(tool)
        if isinstance(m, dict):
            r2, r1 = m["wall"] / lint_small[0], m["wall"] / lint_small[1]
            target(f"vs {tool}, {info[small][0]:,} files (per file)",
                   f"{r2:.0f}× faster (2 threads; {r1:.0f}× with 1)", f"≥ {goal}×", r2 >= goal)
        else:
            rows.append(f"| vs {tool} | not measured: {m} | | |")
    for lo, hi in zip(sizes, sizes[1:]):
        if hi == 10 * lo:
            for t in (1, 2):
                r = results[hi, f"lint{t}"]["wall"] / results[lo, f"lint{t}"]["wall"]
                target(f"{hi:,} vs {lo:,} files, {t} thread{'s' if t > 1 else ''}",
                       f"{r:.1f}× the time", "≤ 11×", r <= 11)
    for n in sizes:
        r = results[n, "lint1"]["wall"] / results[n, "lint2"]["wall"]
        target(f"2 threads vs 1, {n:,} files", f"{r:.2f}× faster", "≥ 1.8×", r >= 1.8)
    if pre:
        target("one small file, whole process", f"{pre['wall'] * 1000:.1f} ms", "≤ 15 ms", pre["wall"] <= 0.015)
    for n, goal in ((10000, 150), (100000, 500)):
        if (n, "lint2") in results:
            mb = max(results[n, "lint1"]["rss_kb"], results[n, "lint2"]["rss_kb"]) / 1024
            target(f"peak RSS, {n:,} files", f"{mb:.0f} MB", f"≤ {goal} MB", mb <= goal)
    print("\n| target | figure | goal | met? |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
