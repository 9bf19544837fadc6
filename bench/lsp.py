#!/usr/bin/env python3
"""Time the language server's navigation requests through its JSON-RPC transport.

    python3 bench/lsp.py BINARY TREE [--rounds N] [--file REL] [--overlays N]

Starts `BINARY server` in TREE (a tree from bench/generate.py), opens one application's
Deployment and migration Job, waits for their diagnostics (the lint that builds the model), then
sends a first request (behind the diagnostics published for the whole unit), then hover (on the wait argument, the image and the Job's name), definition, references and
codeLens requests, N rounds each, and prints the median and the slowest answer per method, and
the time the first lint took. Every request is answered from the model of that lint.

With --overlays N, the application becomes a base: N overlays (`bench-overlays/<app>-envI`,
each with its own namespace) include it, so opening its Deployment lints all N builds (as
`kube-migrate-lint deployment.yaml` does), and opening its Job after that reuses the same unit.
The server's resident memory (VmRSS, and its peak VmHWM) is printed at the end.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


class Client:
    def __init__(self, binary, root):
        self.p = subprocess.Popen(
            [binary, "server"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        self.next_id = 1
        self.pending = []

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.p.stdin.flush()

    def read(self):
        length = None
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise SystemExit("the server closed its output")
            line = line.strip()
            if not line:
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.p.stdout.read(length))

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params):
        i = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        while True:
            m = self.read()
            if m.get("id") == i and "method" not in m:
                if "error" in m:
                    raise SystemExit(f"{method}: {m['error']}")
                return m.get("result")
            self.pending.append(m)

    def diagnostics(self, uri):
        while True:
            for i, m in enumerate(self.pending):
                if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri:
                    return self.pending.pop(i)
            self.pending.append(self.read())


def uri(path):
    return "file://" + os.path.abspath(path)


def position(text, needle, after=""):
    start = text.index(after) if after else 0
    at = text.index(needle, start)
    line = text.count("\n", 0, at)
    col = len(text[text.rfind("\n", 0, at) + 1:at].encode("utf-16-le")) // 2
    return {"line": line, "character": col}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("tree")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--file", default=None, help="the Deployment, relative to TREE")
    ap.add_argument("--also", action="append", default=[],
                    help="open this file too (relative to TREE) before timing: e.g. a "
                         "kustomization whose unit is the whole tree")
    ap.add_argument("--overlays", type=int, default=0,
                    help="make the application a base that N overlays include (written into TREE)")
    args = ap.parse_args()
    root = os.path.realpath(args.tree)
    deploy = args.file
    if deploy is None:
        for d, _, files in sorted(os.walk(root)):
            if "deployment.yaml" in files and "kustomization.yaml" in files:
                deploy = os.path.relpath(os.path.join(d, "deployment.yaml"), root)
                break
    deploy = os.path.join(root, deploy)
    job = os.path.join(os.path.dirname(deploy), "migration-job.yaml")
    if args.overlays:
        base = os.path.dirname(deploy)
        for i in range(args.overlays):
            d = os.path.join(root, "bench-overlays", f"{os.path.basename(base)}-env{i}")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "kustomization.yaml"), "w") as f:
                f.write(f"namespace: env{i}\nresources:\n  - {os.path.relpath(base, d)}\n")
    files = sum(len(f) for _, _, f in os.walk(root))
    c = Client(args.binary, root)
    c.request("initialize", {"processId": None, "rootUri": uri(root), "capabilities": {},
                             "workspaceFolders": [{"uri": uri(root), "name": "bench"}]})
    c.notify("initialized", {})
    texts = {}
    opened = [deploy, job] + [os.path.join(root, a) for a in args.also]
    opens = []
    for path in opened:
        start = time.perf_counter()
        texts[path] = open(path).read()
        c.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri(path), "languageId": "yaml", "version": 1, "text": texts[path]}})
        c.diagnostics(uri(path))
        opens.append((os.path.relpath(path, root), time.perf_counter() - start))
    lint = opens[0][1]
    # The answers come after every notification sent before them: a first request reads the
    # diagnostics published for the rest of the unit (thousands for a whole-tree unit), so it
    # is timed apart.
    t = time.perf_counter()
    c.request("textDocument/hover", {"textDocument": {"uri": uri(deploy)},
                                     "position": {"line": 0, "character": 0}})
    drain = time.perf_counter() - t
    d, j = texts[deploy], texts[job]
    at = lambda path, pos: {"textDocument": {"uri": uri(path)}, "position": pos}
    requests = {
        "hover (wait argument)": ("textDocument/hover", at(deploy, position(d, "-migration-TAG", "args:"))),
        "hover (image)": ("textDocument/hover", at(job, position(j, "registry.example.com"))),
        "hover (Job name)": ("textDocument/hover", at(job, position(j, "-migration-TAG"))),
        "definition (wait argument)": ("textDocument/definition", at(deploy, position(d, "-migration-TAG", "args:"))),
        "references (Job)": ("textDocument/references", {**at(job, position(j, "-migration-TAG")),
                                                         "context": {"includeDeclaration": False}}),
        "codeLens (Job)": ("textDocument/codeLens", {"textDocument": {"uri": uri(job)}}),
    }
    print(f"tree: {root} ({files} files); unit: {os.path.relpath(os.path.dirname(deploy), root)}")
    if args.overlays:
        print(f"the application is a base of {args.overlays} overlays (bench-overlays/)")
    print(f"first lint (open {opens[0][0]} to its diagnostics): {lint * 1000:.0f} ms")
    for rel, t in opens[1:]:
        print(f"then open {rel} to its diagnostics: {t * 1000:.0f} ms")
    print(f"first request (reads the rest of the published diagnostics): {drain * 1000:.0f} ms")
    print(f"{'request':<30} {'median':>9} {'max':>9}  answer")
    for name, (method, params) in requests.items():
        times = []
        result = None
        for _ in range(args.rounds):
            t = time.perf_counter()
            result = c.request(method, params)
            times.append(time.perf_counter() - t)
        if isinstance(result, dict) and "contents" in result:
            # "- `a`, `b`: value": the builds that render it so, grouped.
            builds = sum(l.split(":")[0].count("`, `") + 1
                         for l in result["contents"]["value"].splitlines() if l.startswith("- `"))
            summary = f"ok, {builds} builds"
        else:
            summary = "null" if result is None else (f"{len(result)} items" if isinstance(result, list) else "ok")
        print(f"{name:<30} {statistics.median(times) * 1000:8.2f}ms {max(times) * 1000:8.2f}ms  {summary}")
    # An edit: a request right after it waits for the re-lint of the unit (the project's
    # kustomizations are not scanned again), then answers.
    times = []
    for i in range(5):
        c.notify("textDocument/didChange", {"textDocument": {"uri": uri(deploy), "version": 2 + i},
                                            "contentChanges": [{"text": d + f"# edit {i}\n"}]})
        t = time.perf_counter()
        c.request("textDocument/hover", at(deploy, position(d, "-migration-TAG", "args:")))
        times.append(time.perf_counter() - t)
    print(f"{'edit, then hover (re-lint)':<30} {statistics.median(times) * 1000:8.2f}ms {max(times) * 1000:8.2f}ms")
    try:
        with open(f"/proc/{c.p.pid}/status") as f:
            mem = {l.split(":")[0]: l.split(":")[1].strip() for l in f if l.startswith("Vm")}
        print(f"server memory: VmRSS {mem.get('VmRSS')}, peak VmHWM {mem.get('VmHWM')}")
    except OSError:
        pass
    c.request("shutdown", None)
    c.notify("exit", None)
    c.p.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
