#!/usr/bin/env python3
"""Time the language server's navigation requests through its JSON-RPC transport.

    python3 bench/lsp.py BINARY TREE [--rounds N] [--file REL]

Starts `BINARY server` in TREE (a tree from bench/generate.py), opens one application's
Deployment and migration Job, waits for their diagnostics (the lint that builds the model), then
sends a first request (behind the diagnostics published for the whole unit), then hover (on the wait argument, the image and the Job's name), definition, references and
codeLens requests, N rounds each, and prints the median and the slowest answer per method, and
the time the first lint took. Every request is answered from the model of that lint.
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
    files = sum(len(f) for _, _, f in os.walk(root))
    c = Client(args.binary, root)
    c.request("initialize", {"processId": None, "rootUri": uri(root), "capabilities": {},
                             "workspaceFolders": [{"uri": uri(root), "name": "bench"}]})
    c.notify("initialized", {})
    texts = {}
    start = time.perf_counter()
    opened = [deploy, job] + [os.path.join(root, a) for a in args.also]
    for path in opened:
        texts[path] = open(path).read()
        c.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri(path), "languageId": "yaml", "version": 1, "text": texts[path]}})
    for path in opened:
        c.diagnostics(uri(path))
    lint = time.perf_counter() - start
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
    print(f"first lint (open the files to their diagnostics): {lint * 1000:.0f} ms")
    print(f"first request (reads the rest of the published diagnostics): {drain * 1000:.0f} ms")
    print(f"{'request':<30} {'median':>9} {'max':>9}  answer")
    for name, (method, params) in requests.items():
        times = []
        result = None
        for _ in range(args.rounds):
            t = time.perf_counter()
            result = c.request(method, params)
            times.append(time.perf_counter() - t)
        summary = "null" if result is None else (f"{len(result)} items" if isinstance(result, list) else "ok")
        print(f"{name:<30} {statistics.median(times) * 1000:8.2f}ms {max(times) * 1000:8.2f}ms  {summary}")
    c.request("shutdown", None)
    c.notify("exit", None)
    c.p.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
