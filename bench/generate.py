#!/usr/bin/env python3
"""Generate a deterministic tree of realistic Kubernetes manifests for benchmarks.

    python3 bench/generate.py OUT_DIR FILES [--seed N] [--density sparse|dense]

Each application is a kustomize context holding a migration Job, a Deployment whose
k8s-wait-for init container waits for it, RBAC, a ConfigMap of deployment variables, a
Service, a kustomization with replacements and a Flux Kustomization; the rest are plain
manifests (multi-document files, a few anchors). The same seed always writes the same bytes.

Two profiles (`--density`):
- sparse (the default): files of about 4-5 KB, most of it comments and block scalars, like
  real manifests with their comments; about 10 YAML nodes per KB.
- dense: no comments, short scalars, many small mappings (labels, env lists, ports,
  probes, resources); plain files are workloads, ConfigMaps and Services; about 79 YAML
  nodes per KB and 4-5 KB a file, like the tree of issue 17 whose memory was the bug.
"""

import argparse
import os
import random

WORDS = "billing orders users search gateway ledger catalog checkout invoices payments auth notify".split()


DENSE = False


def comment_block(rng, lines):
    if DENSE:
        return ""
    return "".join(f"# {rng.choice(WORDS)} {rng.choice(WORDS)}: {'-' * rng.randint(40, 90)}\n" for _ in range(lines))


def app(rng, name, tag):
    files = {}
    files["deployment-variables.yaml"] = f"""{comment_block(rng, rng.randint(30, 70))}apiVersion: v1
kind: ConfigMap
metadata:
  name: deployment-variables
data:
  IMAGE_TAG: "{tag}"   # updated by CI
"""
    files["migration-job.yaml"] = f"""{comment_block(rng, rng.randint(40, 80))}apiVersion: batch/v1
kind: Job
metadata:
  name: {name}-migration-TAG
  annotations:
    kustomize.toolkit.fluxcd.io/force: enabled
spec:
  backoffLimit: 0
  activeDeadlineSeconds: 900
  template:
    metadata:
      labels: &labels
        app.kubernetes.io/name: {name}
        app.kubernetes.io/component: migration
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.com/{name}-migration:{tag}
          command: ["npx", "prisma", "migrate", "deploy"]
          envFrom:
            - secretRef:
                name: {name}-secrets
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
"""
    files["deployment.yaml"] = f"""{comment_block(rng, rng.randint(40, 80))}apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {rng.randint(1, 4)}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      serviceAccountName: {name}
      initContainers:
        - name: wait-for-migration
          image: groundnuty/k8s-wait-for:v2.0
          args: ["job-wr", "{name}-migration-TAG"]
          resources:
            requests: {{cpu: 10m, memory: 32Mi}}
            limits: {{cpu: 100m, memory: 64Mi}}
      containers:
        - name: service
          image: registry.example.com/{name}:{tag}
          ports: [{{containerPort: 8080, name: http}}]
          envFrom:
            - secretRef:
                name: {name}-secrets
{dense_env(rng, 10) if DENSE else ""}          readinessProbe:
            httpGet: {{path: /healthz, port: http}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: http}}]
"""
    files["rbac.yaml"] = f"""{comment_block(rng, rng.randint(25, 60))}apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {name}-job-reader
rules:
  - apiGroups: ["batch"]
    resources: ["jobs"]
    verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {name}-job-reader
subjects:
  - kind: ServiceAccount
    name: {name}
roleRef:
  kind: Role
  name: {name}-job-reader
  apiGroup: rbac.authorization.k8s.io
"""
    files["kustomization.yaml"] = f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {name}
resources:
  - deployment-variables.yaml
  - migration-job.yaml
  - deployment.yaml
  - rbac.yaml
replacements:
  - source: {{kind: ConfigMap, name: deployment-variables, fieldPath: data.IMAGE_TAG}}
    targets:
      - select: {{kind: Job}}
        fieldPaths: [metadata.name]
        options: {{delimiter: '-', index: 2}}
      - select: {{kind: Deployment, name: {name}}}
        fieldPaths:
          - spec.template.spec.initContainers.[name=wait-for-migration].args.1
        options: {{delimiter: '-', index: 2}}
"""
    return files


def flux(name, path):
    return f"""apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 10m
  path: ./{path}
  prune: true
  wait: true
  sourceRef: {{kind: GitRepository, name: platform}}
"""


def dense_env(rng, indent):
    """An env list of short names and values, block style: many small mappings."""
    pad = " " * indent
    out = [f"{pad}env:\n"]
    for k in range(rng.randint(8, 20)):
        out.append(f"{pad}  - name: {rng.choice(WORDS).upper()}_{k}\n{pad}    value: \"{rng.choice(WORDS)}-{rng.randint(0, 99999)}\"\n")
    return "".join(out)


def dense_labels(rng, name, indent):
    pad = " " * indent
    return "".join(f"{pad}{k}: {v}\n" for k, v in (
        ("app", name), ("team", rng.choice(WORDS)), ("tier", rng.choice(("web", "api", "worker"))),
        ("app.kubernetes.io/part-of", rng.choice(WORDS))))


def dense_header(rng, api, kind, n):
    """apiVersion, kind, and metadata with a name and labels."""
    return f"""apiVersion: {api}
kind: {kind}
metadata:
  name: {n}
  labels:
{dense_labels(rng, n, 4)}"""


def dense_workload(rng, n):
    containers = []
    for c in range(rng.randint(1, 3)):
        ports = "".join(f"            - containerPort: {8080 + p}\n              name: p{p}\n              protocol: TCP\n"
                        for p in range(rng.randint(1, 3)))
        containers.append(f"""        - name: c{c}
          image: registry.example.com/{n}-{c}:v1.{rng.randint(0, 99)}
          ports:
{ports}{dense_env(rng, 10)}          resources:
            requests:
              cpu: {rng.randint(1, 9) * 50}m
              memory: {rng.randint(1, 8) * 64}Mi
            limits:
              cpu: {rng.randint(1, 9) * 100}m
              memory: {rng.randint(1, 8) * 128}Mi
          readinessProbe:
            httpGet:
              path: /ready
              port: p0
            periodSeconds: {rng.randint(5, 30)}
""")
    return f"""{dense_header(rng, "apps/v1", "Deployment", n)}spec:
  replicas: {rng.randint(1, 4)}
  selector:
    matchLabels:
      app: {n}
  template:
    metadata:
      labels:
{dense_labels(rng, n, 8)}    spec:
      containers:
{''.join(containers)}"""


def dense_configmap(rng, n):
    data = "".join(f"  {rng.choice(WORDS)}_{k}: \"{rng.choice(WORDS)}.{rng.choice(WORDS)}:{rng.randint(0, 10**4)}\"\n" for k in range(rng.randint(20, 60)))
    return f"""{dense_header(rng, "v1", "ConfigMap", n)}data:
{data}"""


def dense_service(rng, n):
    ports = "".join(f"    - name: p{p}\n      port: {80 + p}\n      targetPort: {8080 + p}\n" for p in range(rng.randint(1, 4)))
    return f"""{dense_header(rng, "v1", "Service", n)}spec:
  selector:
    app: {n}
  ports:
{ports}"""


def dense_plain(rng, i):
    docs = []
    for d in range(rng.randint(2, 5)):
        n = f"{rng.choice(WORDS)}-{i}-{d}"
        docs.append(rng.choice((dense_workload, dense_workload, dense_configmap, dense_service))(rng, n))
    return "---\n".join(docs)


def plain(rng, i):
    if DENSE:
        return dense_plain(rng, i)
    docs = []
    for d in range(rng.randint(1, 4)):
        n = f"{rng.choice(WORDS)}-{i}-{d}"
        docs.append(f"""{comment_block(rng, rng.randint(30, 70))}apiVersion: v1
kind: ConfigMap
metadata:
  name: {n}
  labels: {{team: {rng.choice(WORDS)}}}
data:
  settings.yaml: |
{''.join(f'    {rng.choice(WORDS)}_{k}: {rng.randint(0, 10**6)}' + chr(10) for k in range(rng.randint(20, 60)))}""")
    return "---\n".join(docs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("files", type=int)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--density", choices=("sparse", "dense"), default="sparse",
                    help="sparse: commented manifests, ~10 nodes/KB; dense: ~79 nodes/KB")
    a = ap.parse_args()
    global DENSE
    DENSE = a.density == "dense"
    rng = random.Random(a.seed)
    written = 0
    i = 0
    while written < a.files:
        group = f"team{i // 50:03d}"
        # Dense trees hold fewer, larger plain files per application, to reach ~4.6 KB a file.
        if (i % 9 != 0) if DENSE else (i % 3 == 2):
            path = os.path.join(a.out, group, "plain", f"cm-{i:06d}.yaml")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(plain(rng, i))
            written += 1
        else:
            name = f"{rng.choice(WORDS)}{i:05d}"
            rel = os.path.join(group, "apps", name)
            d = os.path.join(a.out, rel)
            os.makedirs(d, exist_ok=True)
            for fname, text in app(rng, name, f"v1.{rng.randint(0, 999)}.{i}").items():
                with open(os.path.join(d, fname), "w") as f:
                    f.write(text)
                written += 1
            clusters = os.path.join(a.out, group, "clusters")
            os.makedirs(clusters, exist_ok=True)
            with open(os.path.join(clusters, f"{name}.yaml"), "w") as f:
                f.write(flux(name, rel))
            written += 1
        i += 1


if __name__ == "__main__":
    main()
