#!/usr/bin/env python3
"""The benchmark of issues 6 and 17: whole-process speed and memory, as ratios measured in one run.

    bash bench/run.sh [--quick] [--runs N] [--trees DIR] [--profiles sparse,dense] [--venv DIR]
                      [--no-tools] [SIZES...]

Builds the release linter and the floor (examples/parse_floor.rs), generates deterministic
trees (bench/generate.py) in two profiles, `sparse` (commented manifests, ~10 YAML nodes per
KB) and `dense` (no comments, short scalars, many small mappings, ~79 nodes per KB), at each
size (default 10000 100000; --quick: 1000 10000 with 3 runs and no other tools), and, per
tree and for 1 and 2 threads, takes the median of 5 whole-process runs (3 at 100k and above):

  cat               reading the files (find | xargs cat)
  floor, events     discover + read + drain saphyr-parser events, nothing else
  floor, tree       discover + read + build our spanned tree (yaml::parse), nothing else
  lint              kube-migrate-lint --no-config --format json --threads N  (stdout discarded)

Each run's wall time comes from the driver's clock, its CPU time (user + system) and peak
RSS from `/usr/bin/time`. The machine is often shared: CPU seconds are the figure to trust
for one thread, and the floor ratio (the floor's CPU time over the linter's, same files, same
parser, same thread count) is taken on CPU seconds; the 2-thread speed-up can only be seen on
wall time. On a 1k sparse tree, yamllint (`-d relaxed`) and checkov's Kubernetes
framework run too, installed with pip into a throwaway virtual environment (default
/tmp/kml-bench-venv); if that fails the table says "not measured" and why. The pre-commit
case is one small file inside a kustomization, whole process, median of 20. The last table
holds every target of issues 6 and 17 with the figure and whether it is met; the peak RSS of
the whole-process runs is checked against its target and printed as PASS or MISS (the exit
status stays 0: the machine is shared and noisy, so only ratios from the same run mean much).
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
    """Wall seconds (driver clock), CPU seconds (user + system) and peak RSS in KB
    (/usr/bin/time) of one process."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        full = ["/usr/bin/time", "-f", "%U %S %M", "-o", t.name] + cmd
        start = time.perf_counter()
        subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=stdin)
        wall = time.perf_counter() - start
        lines = [l for l in t.read().split("\n") if l.strip()]
        try:
            user, system, rss = lines[-1].split()
            cpu, rss = float(user) + float(system), int(rss)
        except (IndexError, ValueError):
            cpu, rss = 0.0, 0
    return wall, cpu, rss


def measure(cmd, runs, warm=True):
    if warm:
        run_once(cmd)
    walls, cpus, rsss = [], [], []
    for _ in range(runs):
        w, c, r = run_once(cmd)
        walls.append(w)
        cpus.append(c)
        rsss.append(r)
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "rss_kb": max(rsss),
            "walls": walls}


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


def fmt_row(label, m, files, size, floor=None):
    """One table row; `floor` is the floor measure the ratio is taken against (CPU seconds)."""
    w = max(m["wall"], 1e-6)
    ratio = ""
    if floor is not None and m["cpu"] > 0:
        ratio = f"{floor['cpu'] / m['cpu']:.2f}×"
    return (f"| {label} | {m['wall']:.3f} s | {m['cpu']:.2f} s | {files / w:,.0f} | "
            f"{size / 1e6 / w:.1f} | {m['rss_kb'] / 1024:.0f} MB | {ratio} |")


# Peak RSS targets of issue 17 (whole process, either profile): files -> MB.
RSS_TARGETS = {10000: 150, 100000: 500}


def rss_target(files):
    """The target for a tree of `files` files (none below 10k files)."""
    if files >= 100000:
        return RSS_TARGETS[100000]
    if files >= 10000:
        return RSS_TARGETS[10000]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", nargs="*", type=int)
    ap.add_argument("--quick", action="store_true",
                    help="1k and 10k trees, 3 runs each, no other linters")
    ap.add_argument("--runs", type=int, help="runs per measure (default 5, 3 at 100k+ and with --quick)")
    ap.add_argument("--trees", help="keep (and reuse) generated trees here instead of a temp dir")
    ap.add_argument("--profiles", default="sparse,dense",
                    help="comma-separated generator profiles (sparse, dense)")
    ap.add_argument("--venv", default=os.path.join(tempfile.gettempdir(), "kml-bench-venv"))
    ap.add_argument("--no-tools", action="store_true", help="skip yamllint and checkov")
    a = ap.parse_args()
    sizes = a.sizes or ([1000, 10000] if a.quick else [10000, 100000])
    profiles = [p for p in a.profiles.split(",") if p]
    for p in profiles:
        if p not in ("sparse", "dense"):
            ap.error(f"unknown profile {p}")
    runs_default = a.runs or (3 if a.quick else 5)

    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    if not os.path.isabs(target):
        target = os.path.join(ROOT, target)
    lint, floor = build(target)
    tools = {} if (a.no_tools or a.quick or "sparse" not in profiles) else venv_tools(a.venv)

    tmp = None
    trees = a.trees
    if not trees:
        tmp = tempfile.mkdtemp(prefix="kml-bench-")
        trees = tmp
    results = {}  # (profile, size, label) -> measure
    info = {}  # (profile, size) -> (files, bytes, tree)
    try:
        for prof in profiles:
            for n in sizes:
                tree = os.path.join(trees, f"{prof}-{n}")
                if not os.path.isdir(tree):
                    log(f"generating {n} {prof} files ...")
                    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "generate.py"), tree, str(n),
                                    "--density", prof], check=True)
                files, size = tree_stats(tree)
                info[prof, n] = (files, size, tree)
                runs = runs_default if n < 100000 else min(runs_default, 3)
                log(f"{prof}: {files} files, {size / 1e6:.1f} MB, median of {runs}:")
                cat = ["sh", "-c", f"find '{tree}' -type f -print0 | xargs -0 cat"]
                results[prof, n, "cat"] = measure(cat, runs)
                for t in (1, 2):
                    results[prof, n, f"floor{t}"] = measure([floor, "--threads", str(t), tree], runs)
                    results[prof, n, f"tree{t}"] = measure([floor, "--tree", "--threads", str(t), tree], runs)
                    results[prof, n, f"lint{t}"] = measure(
                        [lint, tree, "--no-config", "--format", "json", "--threads", str(t)], runs)
                    r = lambda k: results[prof, n, f"{k}{t}"]
                    log(f"  {t} thread(s): floor {r('floor')['wall']:.3f} s ({r('floor')['cpu']:.2f} CPU-s), "
                        f"tree {r('tree')['wall']:.3f} s, lint {r('lint')['wall']:.3f} s "
                        f"({r('lint')['cpu']:.2f} CPU-s, {r('lint')['rss_kb'] / 1024:.0f} MB)")

        # The other linters, on a 1k sparse tree only: they are slow.
        small = min(sizes)
        other = {}
        lint_1k = None
        if tools:
            tree = os.path.join(trees, "sparse-1000")
            if not os.path.isdir(tree):
                subprocess.run([sys.executable, os.path.join(ROOT, "bench", "generate.py"), tree, "1000"],
                               check=True)
            files, size = tree_stats(tree)
            info["tools"] = (files, size, tree)
            lint_1k = [measure([lint, tree, "--no-config", "--format", "json", "--threads", str(t)], 3)["wall"]
                       for t in (2, 1)]
            for tool, cmd, runs in (
                ("yamllint", lambda exe: [exe, "-d", "relaxed", "-f", "parsable", tree], 3),
                ("checkov", lambda exe: [exe, "-d", tree, "--framework", "kubernetes", "--quiet",
                                         "--compact", "--skip-download", "-o", "json"], 3),
            ):
                exe, why = tools.get(tool, (None, "skipped (--no-tools or --quick)"))
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
        f = small_file(info[profiles[0], small][2])
        if f:
            pre = measure([lint, f, "--no-config", "--format", "json"], 20)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    # ---- report -------------------------------------------------------------------------
    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
          f"load average at the end {os.getloadavg()[0]:.1f}; median wall and CPU (user + system), "
          f"max peak RSS; the ratio is the floor's CPU time over the row's (same threads)\n")
    print("| tree | measure | wall | CPU | files/s | MB/s | peak RSS | vs floor |")
    print("|---|---|---|---|---|---|---|---|")
    for prof in profiles:
        for n in sizes:
            files, size, _ = info[prof, n]
            label = f"{prof}, {files:,} files, {size / 1e6:.0f} MB"
            rows = [("cat", "reading (`cat`)", None)]
            for t in (1, 2):
                th = f"{t} thread{'s' if t > 1 else ''}"
                rows += [(f"floor{t}", f"floor: parse events, {th}", None),
                         (f"tree{t}", f"floor: spanned tree, {th}", f"floor{t}"),
                         (f"lint{t}", f"**lint, {th}**", f"floor{t}")]
            for key, name, against in rows:
                fl = results[prof, n, against] if against else None
                print(fmt_row(f"{label} | {name}", results[prof, n, key], files, size, fl))
    if lint_1k:
        files, size, _ = info["tools"]
        for tool in ("yamllint", "checkov"):
            m = other.get(tool)
            if isinstance(m, dict):
                print(fmt_row(f"{files:,} files | {tool} ({m['version']})", m, files, size))
    if pre:
        print(f"| 1 file in a kustomization | lint (pre-commit case), median of 20 | "
              f"{pre['wall'] * 1000:.1f} ms | {pre['cpu'] * 1000:.0f} ms | | | {pre['rss_kb'] / 1024:.0f} MB | |")

    rows = []

    def target(name, figure, goal, met):
        rows.append(f"| {name} | {figure} | {goal} | {'yes' if met else '**no**'} |")

    for prof in profiles:
        for n in sizes:
            for t in (1, 2):
                r = results[prof, n, f"floor{t}"]["cpu"] / max(results[prof, n, f"lint{t}"]["cpu"], 1e-6)
                target(f"lint vs bare parse, {prof}, {n:,} files, {t} thread{'s' if t > 1 else ''}",
                       f"{r:.2f}× the floor's throughput (CPU)", "≥ 0.7×", r >= 0.7)
    if lint_1k:
        for tool, goal in (("yamllint", 100), ("checkov", 200)):
            m = other.get(tool)
            if isinstance(m, dict):
                r2, r1 = m["wall"] / lint_1k[0], m["wall"] / lint_1k[1]
                target(f"vs {tool}, {info['tools'][0]:,} files (per file)",
                       f"{r2:.0f}× faster (2 threads; {r1:.0f}× with 1)", f"≥ {goal}×", r2 >= goal)
            else:
                rows.append(f"| vs {tool} | not measured: {m} | | |")
    for prof in profiles:
        for lo, hi in zip(sizes, sizes[1:]):
            if hi == 10 * lo:
                for t in (1, 2):
                    r = results[prof, hi, f"lint{t}"]["cpu"] / results[prof, lo, f"lint{t}"]["cpu"]
                    target(f"{prof}, {hi:,} vs {lo:,} files, {t} thread{'s' if t > 1 else ''}",
                           f"{r:.1f}× the CPU time", "≤ 11×", r <= 11)
        for n in sizes:
            r = results[prof, n, "lint1"]["wall"] / results[prof, n, "lint2"]["wall"]
            target(f"2 threads vs 1, {prof}, {n:,} files", f"{r:.2f}× faster (wall)", "≥ 1.8×", r >= 1.8)
    if pre:
        target("one small file, whole process", f"{pre['wall'] * 1000:.1f} ms", "≤ 15 ms", pre["wall"] <= 0.015)
    print("\n| target | figure | goal | met? |")
    print("|---|---|---|---|")
    print("\n".join(rows))

    # The memory guard: peak RSS of each whole-process lint against issue 17's targets.
    print("\n| peak RSS check | threads | peak | target | verdict |")
    print("|---|---|---|---|---|")
    for prof in profiles:
        for n in sizes:
            files = info[prof, n][0]
            goal = rss_target(files)
            for t in (1, 2):
                mb = results[prof, n, f"lint{t}"]["rss_kb"] / 1024
                verdict = "no target below 10k files" if goal is None else ("PASS" if mb <= goal else "MISS")
                print(f"| {prof}, {files:,} files | {t} | {mb:.0f} MB | "
                      f"{'' if goal is None else f'≤ {goal} MB'} | {verdict} |")


if __name__ == "__main__":
    main()
