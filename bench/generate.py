#!/usr/bin/env python3
"""Generate a deterministic tree of realistic Kubernetes manifests for benchmarks.

    python3 bench/generate.py OUT_DIR FILES [--seed N]

Each application is a kustomize context holding a migration Job, a Deployment whose
k8s-wait-for init container waits for it, RBAC, a ConfigMap of deployment variables, a
Service, a kustomization with replacements and a Flux Kustomization; the rest are plain
manifests (multi-document files, comments, a few anchors). Files average about 4-5 KB, like
real manifests with their comments. The same seed always writes the same bytes.
"""

import argparse
import os
import random

WORDS = "billing orders users search gateway ledger catalog checkout invoices payments auth notify".split()


def comment_block(rng, lines):
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
          readinessProbe:
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


def plain(rng, i):
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
    a = ap.parse_args()
    rng = random.Random(a.seed)
    written = 0
    i = 0
    while written < a.files:
        group = f"team{i // 50:03d}"
        if i % 3 == 2:
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
