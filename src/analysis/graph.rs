//! The link model: per build, the migration path as a graph of nodes and typed edges, built from
//! the indexes the rules already use (waits, Jobs, RBAC, containers, render provenance). The
//! `graph` command draws it; the language server navigates along it.
//!
//! # Reading it
//!
//! [`Graph::build`] returns every build (a context: an overlay, a lone kustomization or a
//! directory of loose manifests) that holds a migration Job, a wait or a migration init
//! container, sorted by build name. Everything is plain data, sorted, with indices into [`Graph::nodes`] and [`Graph::edges`]:
//!
//! - a [`Node`] is one object as its build renders it (`kind`, `name`, `namespace`), or one
//!   transformer that wrote a value (a replacement, `images`, a Flux substitution), or one
//!   migration init container of a workload (role [`NodeRole::InitMigration`], `runs` says
//!   what makes it one, its workload's `pods` what runs several at once). `defined`
//!   is false for an object something names but the build does not render (a waited-for Job
//!   that is missing, a ServiceAccount nobody defines, a role not in the tree). `site` is where
//!   it is named (its `metadata.name`, or the transformer's entry); `span` is the whole object,
//!   to map an editor position to a node ([`Graph::nodes_at`]). Both carry the file id and byte
//!   range ([`Loc`]) and the 1-based line and column;
//! - an [`Edge`] goes `from` → `to` (node indices) and says what the link is ([`EdgeKind`]):
//!   `waits-for` (workload or Flux stage → Job, with the [`WaitTool`] and mode: k8s-wait-for,
//!   `kubectl wait`, a status-check gate, a hook, a sync wave, Flux `dependsOn`),
//!   `runs-migration` (workload → its migration init container),
//!   `runs-as` (workload → ServiceAccount), `bound-by` (ServiceAccount → binding),
//!   `grants` (binding → Role/ClusterRole), `version-from` (Job or workload → the transformer
//!   that wrote its name, image or wait argument), `reads` (transformer → the object its value
//!   comes from), `db-url-from` (Job or workload → Secret/ConfigMap of the database URL).
//!   `site` is the YAML node that makes the link (the wait argument, `serviceAccountName`, the
//!   subject's name, `roleRef.name`, the replacement, the env entry); [`Graph::edges_at`] finds
//!   the edges at an editor position, [`Graph::outgoing`] / [`Graph::incoming`] walk them.
//! - `broken` on an edge lists the rule ids of findings on that link, `marks` on a node those
//!   of the other warnings and errors about its object, both filled by [`Graph::mark_broken`]
//!   from a run's diagnostics.
//!
//! Secret values never enter the model: only object names, keys and variable names.

use super::rbac::{self, at, k};
use super::wait_target::{Compare, compare};
use super::waits::Gate;
use crate::base::diagnostic::{Diagnostic, FileId, Loc, ObjectId, Severity};
use crate::render::links::{self, Container, JobRef, WaitFor};
use crate::render::path::{self, Step};
use crate::render::workspace::Workspace;
use crate::render::{Context, Env, Rendered, Value};
use crate::yaml::Seg;
use std::collections::BTreeMap;

/// Where the node at `keys` of a source object is written (`&[]`: the whole object).
fn source_loc(ws: &Workspace, obj: &crate::model::Object, keys: &[&str]) -> Option<Loc> {
    let doc = ws.doc_of(obj);
    let segs: Vec<Seg> = keys.iter().map(|k| Seg::Key(k)).collect();
    doc.at(obj.root, &segs).map(|x| Loc {
        file: obj.file,
        span: doc.span(x),
    })
}

/// A place in a file: the node's byte range and where it starts (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Site {
    pub(crate) loc: Loc,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NodeRole {
    /// A migration Job, or a Job something waits for.
    Job,
    /// A workload whose pods wait (for a Job, a migration status check, or their own migration
    /// init container: Deployment, StatefulSet…), or a Flux Kustomization stage.
    Waiter,
    /// A migration init container: it runs in every pod of its workload, before the app
    /// containers start.
    InitMigration,
    ServiceAccount,
    Binding,
    Role,
    /// A transformer that wrote a name, image or argument: a replacement, `images`, a Flux
    /// substitution, a name prefix…
    Transformer,
    /// A ConfigMap or Secret that supplies a value (the version, the database URL).
    Config,
}

impl NodeRole {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NodeRole::Job => "job",
            NodeRole::Waiter => "waiter",
            NodeRole::InitMigration => "init-migration",
            NodeRole::ServiceAccount => "service-account",
            NodeRole::Binding => "binding",
            NodeRole::Role => "role",
            NodeRole::Transformer => "transformer",
            NodeRole::Config => "config",
        }
    }
}

/// What tells the nodes of a graph apart: build, role, kind, namespace (empty: none), name.
type NodeKey = (usize, NodeRole, String, String, String);

/// One object of a build as rendered, or a transformer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// Index of the build in [`Graph::builds`].
    pub(crate) build: usize,
    pub(crate) role: NodeRole,
    /// `Job`, `Deployment`, `ServiceAccount`, `RoleBinding`, … or, for a transformer, what it
    /// is: `replacement`, `images`, `Flux substitution`, `namePrefix`.
    pub(crate) kind: String,
    /// The rendered name (a transformer: its file and line, `k8s/kustomization.yaml:18`).
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    /// The source object, when it is one (for a migration init container: its workload's).
    pub(crate) object: Option<ObjectId>,
    /// Rendered by the build (false: named by a link, but not there).
    pub(crate) defined: bool,
    pub(crate) site: Option<Site>,
    pub(crate) span: Option<Site>,
    /// A migration init container: what makes it one (`runs `php artisan migrate``, `its name
    /// mentions a migration`).
    pub(crate) runs: Option<String>,
    /// A workload with a migration init container that can run several pods at once: what
    /// makes them several (`3 replicas`, `HorizontalPodAutoscaler web: up to 5`, `one per
    /// node`).
    pub(crate) pods: Option<String>,
    /// A Job's place in its deploy tool's order: `helm.sh/hook-weight` or
    /// `argocd.argoproj.io/sync-wave`.
    pub(crate) order: Option<Order>,
    /// Rule ids of warnings and errors about this object that no drawn link stands for
    /// (`job-not-awaited`, `job-backoff-limit-nonzero`…), sorted (see [`Graph::mark_broken`]).
    pub(crate) marks: Vec<&'static str>,
}

/// A Job's place in the order its deploy tool applies hooks or waves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Order {
    /// `hook-weight` (Helm, ascending among hooks of a phase) or `sync-wave` (Argo CD).
    pub(crate) what: &'static str,
    pub(crate) value: i64,
}

/// How a workload is held back until the Job is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum WaitTool {
    /// A `groundnuty/k8s-wait-for` init container.
    K8sWaitFor,
    /// A `kubectl wait --for=condition=complete` init container.
    KubectlWait,
    /// A Helm pre-install/pre-upgrade hook.
    HelmHook,
    /// An Argo CD PreSync/Sync hook.
    ArgoCdHook,
    /// A Flux Kustomization that `dependsOn` the stage deploying the Job.
    FluxDependsOn,
    /// An init container that retries a migration tool's status check (`until kong migrations
    /// list`): it names no Job, but its pod starts only once the migrations are applied.
    StatusCheck,
    /// An Argo CD sync wave: the Job's wave is lower than the workload's, and Argo CD applies
    /// the next wave only once the Job is healthy (complete).
    ArgoCdSyncWave,
}

impl WaitTool {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WaitTool::K8sWaitFor => "k8s-wait-for",
            WaitTool::KubectlWait => "kubectl wait",
            WaitTool::HelmHook => "Helm hook",
            WaitTool::ArgoCdHook => "Argo CD hook",
            WaitTool::FluxDependsOn => "Flux dependsOn",
            WaitTool::StatusCheck => "status check",
            WaitTool::ArgoCdSyncWave => "Argo CD sync-wave",
        }
    }
}

/// What a link is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum EdgeKind {
    /// `mode`: the k8s-wait-for mode (`job-wr`), `condition=complete`, the hook phases, or
    /// the Flux stage's `wait: true` / `healthChecks` / `no wait`.
    WaitsFor {
        tool: WaitTool,
        mode: String,
    },
    RunsAs,
    BoundBy,
    /// `reads_jobs`: the role lets its subjects get and list jobs.batch (None: a role the
    /// build does not define).
    Grants {
        reads_jobs: Option<bool>,
    },
    /// `field`: what was written (`metadata.name`, `image`, `args[1]`).
    VersionFrom {
        field: String,
    },
    /// The transformer's value comes from this object (a replacement's source).
    Reads,
    /// `var`: the env var (`DATABASE_URL`), `key`: the Secret or ConfigMap key. None for
    /// `envFrom`: the pod loads every key of the object, which may hold the variable.
    DbUrlFrom {
        var: String,
        key: Option<String>,
    },
    /// Workload → its migration init container.
    RunsMigration,
}

impl EdgeKind {
    /// `waits-for`, `runs-as`, … (the JSON `kind`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            EdgeKind::WaitsFor { .. } => "waits-for",
            EdgeKind::RunsAs => "runs-as",
            EdgeKind::BoundBy => "bound-by",
            EdgeKind::Grants { .. } => "grants",
            EdgeKind::VersionFrom { .. } => "version-from",
            EdgeKind::Reads => "reads",
            EdgeKind::DbUrlFrom { .. } => "db-url-from",
            EdgeKind::RunsMigration => "runs-migration",
        }
    }

    /// A short label for a drawing: `waits-for (k8s-wait-for job-wr)`.
    pub(crate) fn label(&self) -> String {
        match self {
            EdgeKind::WaitsFor { tool, mode } if mode.is_empty() => {
                format!("waits-for ({})", tool.as_str())
            }
            EdgeKind::WaitsFor { tool, mode } => format!("waits-for ({} {mode})", tool.as_str()),
            EdgeKind::Grants {
                reads_jobs: Some(true),
            } => "grants (reads jobs)".into(),
            EdgeKind::Grants {
                reads_jobs: Some(false),
            } => "grants (cannot read jobs)".into(),
            EdgeKind::VersionFrom { field } => format!("version-from ({field})"),
            EdgeKind::DbUrlFrom {
                var,
                key: Some(key),
            } => format!("db-url-from ({var}, key {key})"),
            // Which of a pod's envFrom objects holds the variable is not known.
            EdgeKind::DbUrlFrom { var, key: None } => format!("db-url-from (envFrom, {var}?)"),
            EdgeKind::RunsMigration => "runs-migration (init container, in every pod)".into(),
            other => other.name().into(),
        }
    }
}

/// A link between two nodes of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edge {
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) kind: EdgeKind,
    pub(crate) site: Option<Site>,
    /// Rule ids of the findings on this link, sorted (see [`Graph::mark_broken`]).
    pub(crate) broken: Vec<&'static str>,
}

/// A build drawn in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Build {
    /// The build's directory, as displayed (`overlays/prod`).
    pub(crate) name: String,
    /// Index in `Workspace::contexts`.
    pub(crate) context: usize,
}

/// Every build's migration path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Graph {
    pub(crate) builds: Vec<Build>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) edges: Vec<Edge>,
}

/// The rules whose findings are about a link, and the edge kinds they break.
const LINK_RULES: &[(&str, &[&str])] = &[
    ("wait-target-missing", &["waits-for"]),
    ("wait-namespace-mismatch", &["waits-for"]),
    ("wait-mode-unsafe", &["waits-for"]),
    ("job-ttl-breaks-wait", &["waits-for"]),
    ("image-tag-mismatch", &["waits-for", "version-from"]),
    (
        "kustomize-placeholder-unresolved",
        &["version-from", "waits-for"],
    ),
    ("rbac-job-read-missing", &["runs-as", "grants"]),
    (
        "rbac-service-account-missing",
        &["runs-as", "bound-by", "grants"],
    ),
    ("env-source-mismatch", &["db-url-from"]),
    ("init-migration-race", &["runs-migration"]),
];

/// Findings about the linter's own input rather than the migration path: they mark no node.
const NOT_ABOUT_THE_PATH: &[&str] = &["unused-suppression", "internal-error", "limit-exceeded"];

/// Whether two locations share a byte (or start at the same one: empty spans).
fn overlaps(a: Loc, b: Loc) -> bool {
    a.file == b.file
        && (a.span.start == b.span.start
            || (a.span.start < b.span.end && b.span.start < a.span.end))
}

/// Add a rule id to a sorted list, once.
fn insert_sorted(list: &mut Vec<&'static str>, rule: &'static str) {
    if let Err(at) = list.binary_search(&rule) {
        list.insert(at, rule);
    }
}

fn contains(outer: Loc, file: FileId, offset: u32) -> bool {
    outer.file == file && outer.span.start <= offset && offset <= outer.span.end
}

impl Graph {
    /// The graph of every build of the workspace that holds a migration Job, a wait or a migration init container.
    pub(crate) fn build(ws: &Workspace) -> Graph {
        let mut g = Builder {
            ws,
            env: ws.env(),
            graph: Graph::default(),
            index: BTreeMap::new(),
            build: 0,
            jobs_in: Default::default(),
        };
        for cx in &ws.contexts {
            for (ji, j) in ws.jobs(cx).iter().enumerate() {
                g.jobs_in
                    .entry(j.namespace.clone())
                    .or_default()
                    .push((cx.index, ji));
            }
        }
        let mut contexts: Vec<&Context> = ws.contexts.iter().collect();
        contexts.sort_by(|a, b| a.name.cmp(&b.name).then(a.index.cmp(&b.index)));
        for cx in contexts {
            g.build = g.graph.builds.len();
            g.graph.builds.push(Build {
                name: cx.name.clone(),
                context: cx.index,
            });
            let before = g.graph.nodes.len();
            g.context(cx);
            if g.graph.nodes.len() == before {
                g.graph.builds.pop();
            }
        }
        g.graph.sort();
        g.graph
    }

    /// Nodes sorted by build, role, namespace, name; edges by their ends and kind.
    fn sort(&mut self) {
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&self.nodes[a], &self.nodes[b]);
            (x.build, x.role, &x.namespace, &x.name, &x.kind, x.site).cmp(&(
                y.build,
                y.role,
                &y.namespace,
                &y.name,
                &y.kind,
                y.site,
            ))
        });
        let mut new_index = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        self.nodes = order.iter().map(|&i| self.nodes[i].clone()).collect();
        for e in &mut self.edges {
            e.from = new_index[e.from];
            e.to = new_index[e.to];
        }
        self.edges
            .sort_by(|a, b| (a.from, a.to, &a.kind, a.site).cmp(&(b.from, b.to, &b.kind, b.site)));
        self.edges.dedup_by(|a, b| {
            a.from == b.from && a.to == b.to && a.kind == b.kind && a.site == b.site
        });
    }

    /// The graph of a run's workspace with its links and nodes marked by the run's final
    /// findings ([`Graph::build`] then [`Graph::mark_broken`]).
    pub(crate) fn of_run(ws: &Workspace, diagnostics: &[Diagnostic]) -> Graph {
        let mut g = Graph::build(ws);
        g.mark_broken(diagnostics);
        g
    }

    /// Mark what findings are about. A finding of a link rule (`wait-target-missing`,
    /// `rbac-job-read-missing`, `image-tag-mismatch`…) breaks an edge of the kinds the rule
    /// speaks of, touching the finding's object, in a build that shows the finding, preferring
    /// the edges whose site is the finding's location or one of its related locations. Any
    /// other warning or error about a drawn object (or a link rule's that no edge stands for)
    /// marks the object's node: the node of the migration init container the finding points
    /// into, else the object's own nodes.
    pub(crate) fn mark_broken(&mut self, diagnostics: &[Diagnostic]) {
        // The edges touching each object: findings are many in a large repository.
        let mut touching: std::collections::HashMap<ObjectId, Vec<usize>> = Default::default();
        for (i, e) in self.edges.iter().enumerate() {
            let ends = [self.nodes[e.from].object, self.nodes[e.to].object];
            for o in ends.into_iter().flatten() {
                let list = touching.entry(o).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        let mut nodes_of: std::collections::HashMap<ObjectId, Vec<usize>> = Default::default();
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(o) = n.object {
                nodes_of.entry(o).or_default().push(i);
            }
        }
        for d in diagnostics {
            let Some(object) = d.object else { continue };
            let shown = |b: usize| {
                d.builds
                    .as_ref()
                    .is_none_or(|s| s.shown.contains(&self.builds[b].name))
            };
            let chosen = match LINK_RULES.iter().find(|(r, _)| *r == d.rule) {
                Some(&(_, kinds)) => self.edges_for(d, kinds, touching.get(&object), &shown),
                None => Vec::new(),
            };
            if chosen.is_empty() {
                if d.severity >= Severity::Warning && !NOT_ABOUT_THE_PATH.contains(&d.rule) {
                    let nodes = nodes_of.get(&object).map(Vec::as_slice).unwrap_or(&[]);
                    for i in self.nodes_for(d, nodes, &shown) {
                        insert_sorted(&mut self.nodes[i].marks, d.rule);
                    }
                }
                continue;
            }
            for i in chosen {
                insert_sorted(&mut self.edges[i].broken, d.rule);
            }
        }
    }

    /// The edges a link rule's finding is about (see [`Graph::mark_broken`]).
    fn edges_for(
        &self,
        d: &Diagnostic,
        kinds: &[&str],
        touching: Option<&Vec<usize>>,
        shown: &dyn Fn(usize) -> bool,
    ) -> Vec<usize> {
        let candidates: Vec<usize> = touching
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .copied()
            .filter(|&i| {
                let e = &self.edges[i];
                kinds.contains(&e.kind.name()) && shown(self.nodes[e.from].build)
            })
            .collect();
        let locs: Vec<Loc> = std::iter::once(d.loc)
            .chain(d.related.iter().map(|r| r.loc))
            .collect();
        let at_site: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| {
                self.edges[i]
                    .site
                    .is_some_and(|s| locs.iter().any(|&l| overlaps(s.loc, l)))
            })
            .collect();
        // Of the rule's kinds, the first that has an edge at the finding; else the first
        // that has an edge of the object at all.
        let pick = |from: &[usize]| -> Vec<usize> {
            kinds
                .iter()
                .map(|k| {
                    from.iter()
                        .copied()
                        .filter(|&i| self.edges[i].kind.name() == *k)
                        .collect::<Vec<_>>()
                })
                .find(|v| !v.is_empty())
                .unwrap_or_default()
        };
        let chosen = match pick(&at_site) {
            v if !v.is_empty() => v,
            _ => pick(&candidates),
        };
        if d.rule != "env-source-mismatch" {
            return chosen;
        }
        // Both sides reading one object (a shared ConfigMap beside two different Secrets) is
        // not what differs: the migration side is a Job or a migration init container.
        let migration =
            |n: usize| matches!(self.nodes[n].role, NodeRole::Job | NodeRole::InitMigration);
        let shared = |i: usize| {
            let e = &self.edges[i];
            self.edges.iter().any(|o| {
                o.to == e.to
                    && o.from != e.from
                    && matches!(o.kind, EdgeKind::DbUrlFrom { .. })
                    && migration(o.from) != migration(e.from)
            })
        };
        let differing: Vec<usize> = chosen.iter().copied().filter(|&i| !shared(i)).collect();
        if differing.is_empty() {
            chosen
        } else {
            differing
        }
    }

    /// The nodes a finding about one of `nodes`' object marks: the migration init container
    /// it points into, else the object's own nodes (not its init containers).
    fn nodes_for(
        &self,
        d: &Diagnostic,
        nodes: &[usize],
        shown: &dyn Fn(usize) -> bool,
    ) -> Vec<usize> {
        let nodes: Vec<usize> = nodes
            .iter()
            .copied()
            .filter(|&i| shown(self.nodes[i].build))
            .collect();
        let init = |i: &usize| self.nodes[*i].role == NodeRole::InitMigration;
        let inside: Vec<usize> = nodes
            .iter()
            .copied()
            .filter(|i| init(i))
            .filter(|&i| {
                self.nodes[i]
                    .span
                    .is_some_and(|s| contains(s.loc, d.loc.file, d.loc.span.start))
            })
            .collect();
        if inside.is_empty() {
            nodes.into_iter().filter(|i| !init(i)).collect()
        } else {
            inside
        }
    }

    /// The nodes of every build whose object (or migration init container, inside its
    /// workload's) spans `offset` of `file`.
    pub(crate) fn nodes_at(
        &self,
        file: FileId,
        offset: u32,
    ) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes.iter().enumerate().filter(move |(_, n)| {
            n.span
                .or(n.site)
                .is_some_and(|s| contains(s.loc, file, offset))
        })
    }

    /// The edges whose site (the wait argument, `serviceAccountName`, `roleRef.name`…) holds
    /// `offset` of `file`, in every build.
    pub(crate) fn edges_at(
        &self,
        file: FileId,
        offset: u32,
    ) -> impl Iterator<Item = (usize, &Edge)> {
        self.edges
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.site.is_some_and(|s| contains(s.loc, file, offset)))
    }

    /// The edges leaving node `n`.
    pub(crate) fn outgoing(&self, n: usize) -> impl Iterator<Item = &Edge> {
        self.edges.iter().filter(move |e| e.from == n)
    }

    /// The edges arriving at node `n`.
    pub(crate) fn incoming(&self, n: usize) -> impl Iterator<Item = &Edge> {
        self.edges.iter().filter(move |e| e.to == n)
    }

    /// The nodes of build `b`.
    pub(crate) fn nodes_of(&self, b: usize) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.build == b)
    }

    /// Keep only the builds named `name` (`--build`); false when there is none.
    pub(crate) fn retain_build(&mut self, keep: impl Fn(&str) -> bool) {
        let kept: Vec<bool> = self.builds.iter().map(|b| keep(&b.name)).collect();
        let mut build_index = vec![usize::MAX; kept.len()];
        let mut next = 0;
        for (i, &k) in kept.iter().enumerate() {
            if k {
                build_index[i] = next;
                next += 1;
            }
        }
        let mut node_index = vec![usize::MAX; self.nodes.len()];
        let mut nodes = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if kept[n.build] {
                node_index[i] = nodes.len();
                nodes.push(Node {
                    build: build_index[n.build],
                    ..n.clone()
                });
            }
        }
        self.edges = self
            .edges
            .iter()
            .filter(|e| node_index[e.from] != usize::MAX && node_index[e.to] != usize::MAX)
            .map(|e| Edge {
                from: node_index[e.from],
                to: node_index[e.to],
                ..e.clone()
            })
            .collect();
        self.nodes = nodes;
        self.builds = self
            .builds
            .iter()
            .zip(&kept)
            .filter(|(_, k)| **k)
            .map(|(b, _)| b.clone())
            .collect();
    }
}

struct Builder<'w> {
    ws: &'w Workspace,
    env: Env<'w>,
    graph: Graph,
    /// Nodes by (build, role, kind, namespace, name).
    index: BTreeMap<NodeKey, usize>,
    build: usize,
    /// Every rendered Job of the run by namespace: (context index, index in `ws.jobs`).
    jobs_in: std::collections::HashMap<String, Vec<(usize, usize)>>,
}

/// What makes an init container a migration, for a label: the tool it runs, else whether its
/// image or its name says so (never the image itself: a digest makes it long).
fn runs_label(c: &Container, why: &str) -> String {
    match super::workload::migration_tool(c) {
        Some(tool) => format!("runs {tool}"),
        None if why.starts_with("its image") => "a migration image".into(),
        None => "named as a migration".into(),
    }
}

/// Pod-running kinds that are apps, not Jobs.
fn is_app(r: &Rendered) -> bool {
    links::pod_spec(r).is_some() && r.kind != "Job" && r.kind != "CronJob" && r.kind != "Pod"
}

impl<'w> Builder<'w> {
    fn site(&self, loc: Option<Loc>) -> Option<Site> {
        let loc = loc?;
        let f = self.ws.files.get(loc.file as usize)?;
        let p = f.source.position(loc.span.start as usize);
        Some(Site {
            loc,
            line: p.line,
            column: p.column,
        })
    }

    /// The node of a rendered object of build `cx` (made on first use).
    fn object_node(&mut self, cx: &Context, r: &Rendered, role: NodeRole) -> usize {
        let name = self
            .env
            .name(cx, r)
            .map(|v| v.text)
            .unwrap_or_else(|| r.name.text.clone());
        let ns = self.namespace_of(cx, r);
        let key = self.key(role, &r.kind, ns.as_deref(), &name);
        self.node_for(key, |b| {
            let span = r
                .object()
                .and_then(|o| source_loc(b.ws, &b.ws.objects[o as usize], &[]));
            Node {
                object: r.object(),
                site: b.site(rbac::object_loc(&b.env, r)),
                span: b.site(span),
                ..b.new_node(role, &r.kind, ns, name)
            }
        })
    }

    /// The namespace of a namespaced object (None for cluster-scoped kinds).
    fn namespace_of(&self, cx: &Context, r: &Rendered) -> Option<String> {
        (!matches!(
            r.kind.as_str(),
            "ClusterRole" | "ClusterRoleBinding" | "Namespace"
        ))
        .then(|| self.env.namespace(cx, r))
    }

    /// The node of something named but not rendered by the build.
    fn missing(&mut self, role: NodeRole, kind: &str, ns: Option<&str>, name: &str) -> usize {
        let key = self.key(role, kind, ns, name);
        self.node_for(key, |b| Node {
            defined: false,
            ..b.new_node(role, kind, ns.map(str::to_string), name.into())
        })
    }

    /// What tells a node from the others: its build, role, kind, namespace and name.
    fn key(&self, role: NodeRole, kind: &str, ns: Option<&str>, name: &str) -> NodeKey {
        let ns = ns.unwrap_or_default();
        (self.build, role, kind.into(), ns.into(), name.into())
    }

    /// A node of this build, rendered, with nothing more known about it (no object, no
    /// place, no labels, no marks).
    fn new_node(
        &self,
        role: NodeRole,
        kind: &str,
        namespace: Option<String>,
        name: String,
    ) -> Node {
        Node {
            build: self.build,
            role,
            kind: kind.into(),
            name,
            namespace,
            object: None,
            defined: true,
            site: None,
            span: None,
            runs: None,
            pods: None,
            order: None,
            marks: Vec::new(),
        }
    }

    /// The node of `key`: the one made before, else the one `make` makes (then added).
    fn node_for(&mut self, key: NodeKey, make: impl FnOnce(&Self) -> Node) -> usize {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let node = make(self);
        let i = self.graph.nodes.len();
        self.graph.nodes.push(node);
        self.index.insert(key, i);
        i
    }

    fn edge(&mut self, from: usize, to: usize, kind: EdgeKind, loc: Option<Loc>) {
        let site = self.site(loc);
        self.graph.edges.push(Edge {
            from,
            to,
            kind,
            site,
            broken: Vec::new(),
        });
    }

    /// A rendered object of `cx` of this kind, name and namespace (None: any namespace).
    fn find(
        &self,
        cx: &'w Context,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<&'w Rendered> {
        cx.rendered.iter().find(|r| {
            r.kind == kind
                && self.env.name(cx, r).is_some_and(|v| v.text == name)
                && ns.is_none_or(|ns| self.env.namespace(cx, r) == ns)
        })
    }

    fn context(&mut self, cx: &'w Context) {
        let ws = self.ws;
        // Migration Jobs, with what versions them and where their database URL comes from.
        for j in ws.jobs(cx) {
            let r = &cx.rendered[j.rendered];
            let Some(o) = r.object() else { continue };
            let obj = &ws.objects[o as usize];
            if super::migration_job(ws, obj).is_none() {
                continue;
            }
            let n = self.object_node(cx, r, NodeRole::Job);
            self.job_details(cx, r, n);
            self.held_by(cx, r, obj, n);
        }
        // Waits: k8s-wait-for init containers, then `kubectl wait` ones.
        let kubectl: Vec<WaitFor> = super::waits(ws)
            .kubectl_wait_fors
            .iter()
            .filter(|(ci, _)| *ci == cx.index)
            .map(|(_, w)| w.clone())
            .collect();
        for w in ws.wait_fors(cx) {
            let Some(mode) = w.mode().filter(|m| m.starts_with("job")) else {
                continue;
            };
            let loc = links::value_loc(
                &self.env,
                &cx.rendered[w.rendered],
                &super::wait_target::arg_path(w, 1),
                w.target.as_ref(),
            );
            self.wait(cx, w, WaitTool::K8sWaitFor, mode.to_string(), loc);
        }
        for w in &kubectl {
            let waiters = &super::waits(ws).waiters;
            let target = w.target.as_ref().map(|t| t.text.as_str()).unwrap_or("");
            let loc = waiters
                .iter()
                .find(|x| x.kubectl && x.context == cx.index && x.target == target)
                .and_then(|x| x.loc);
            self.wait(
                cx,
                w,
                WaitTool::KubectlWait,
                "condition=complete".into(),
                loc,
            );
        }
        // Init containers that retry a migration status check hold their pod back until the
        // migrations of the build (and of the builds deployed with it) are applied.
        for g in super::waits(ws)
            .gates
            .iter()
            .filter(|g| g.context == cx.index)
        {
            self.gate(cx, g);
        }
        // Workloads that run their migration in an init container, in every pod.
        for r in cx.rendered.iter().filter(|r| is_app(r)) {
            self.init_migrations(cx, r);
        }
    }

    /// A status-check gate: its workload `waits-for` each migration Job the gate holds it back
    /// for, or for migrations this build does not run.
    fn gate(&mut self, cx: &'w Context, g: &Gate) {
        let ws = self.ws;
        let Some(r) = cx.rendered.get(g.rendered) else {
            return;
        };
        let a = self.object_node(cx, r, NodeRole::Waiter);
        let mut targets = Vec::new();
        for s in std::iter::once(cx).chain(ws.deployed_with(cx)) {
            for j in ws.jobs(s) {
                let jr = &s.rendered[j.rendered];
                let is_migration = jr
                    .object()
                    .is_some_and(|o| super::migration_job(ws, &ws.objects[o as usize]).is_some());
                if is_migration {
                    targets.push(self.object_node(s, jr, NodeRole::Job));
                }
            }
        }
        if targets.is_empty() {
            targets.push(self.missing(NodeRole::Job, "database", None, "migrations"));
        }
        for to in targets {
            let kind = EdgeKind::WaitsFor {
                tool: WaitTool::StatusCheck,
                mode: g.check.clone(),
            };
            self.edge(a, to, kind, g.loc);
        }
        let containers = links::containers(&self.env, cx, r);
        for c in containers.iter().filter(|c| !c.init) {
            self.container_details(cx, r, a, c);
        }
    }

    /// What lets a workload run several pods at once, as a label says it (None: one at a time).
    fn pods(&self, cx: &'w Context, r: &'w Rendered) -> Option<String> {
        let mut says = Vec::new();
        if r.kind == "DaemonSet" {
            says.push("one pod per node".to_string());
        }
        let replicas = self
            .env
            .value(cx, r, &path::keys(&["spec", "replicas"]))
            .and_then(|v| super::workload::number(&v));
        if let Some(n) = replicas.filter(|&n| n > 1) {
            says.push(format!("{n} replicas"));
        }
        for h in super::workload::hpas(&self.env, cx, r) {
            says.push(format!(
                "HorizontalPodAutoscaler {}: up to {}",
                h.name, h.max
            ));
        }
        (!says.is_empty()).then(|| says.join(", "))
    }

    /// A workload whose init containers run a migration: its node `runs-migration` to each of
    /// them, with their images' and database URLs' sources, and its app containers'.
    fn init_migrations(&mut self, cx: &'w Context, r: &'w Rendered) {
        let containers = links::containers(&self.env, cx, r);
        let migrations: Vec<(&Container, String)> = containers
            .iter()
            .filter(|c| c.init)
            .filter_map(|c| super::workload::migration_reason(c).map(|why| (c, why)))
            .collect();
        if migrations.is_empty() {
            return;
        }
        let a = self.object_node(cx, r, NodeRole::Waiter);
        self.graph.nodes[a].pods = self.pods(cx, r);
        for (c, why) in migrations {
            let name = c
                .name
                .clone()
                .unwrap_or_else(|| format!("initContainers[{}]", c.index));
            let workload = self.graph.nodes[a].name.clone();
            let ns = self.graph.nodes[a].namespace.clone();
            let key = self.key(
                NodeRole::InitMigration,
                &r.kind,
                ns.as_deref(),
                &format!("{workload}\u{0}{name}"),
            );
            let site = self
                .env
                .loc(r, &super::workload::field(c, &["name"]))
                .or_else(|| self.env.loc(r, &c.path()));
            let m = self.node_for(key, |b| Node {
                object: r.object(),
                site: b.site(site),
                span: b.site(b.env.loc(r, &c.path())),
                runs: Some(runs_label(c, &why)),
                ..b.new_node(NodeRole::InitMigration, "init container", ns, name)
            });
            let anchor = self
                .env
                .loc(r, &super::workload::migration_anchor(c))
                .or(site);
            self.edge(a, m, EdgeKind::RunsMigration, anchor);
            self.container_details(cx, r, m, c);
        }
        for c in containers.iter().filter(|c| !c.init) {
            self.container_details(cx, r, a, c);
        }
    }

    /// The transformers that wrote the Job's name and image, and its database URL source.
    fn job_details(&mut self, cx: &'w Context, r: &'w Rendered, n: usize) {
        if let Some(v) = self.env.name(cx, r) {
            let loc = rbac::object_loc(&self.env, r);
            self.version_from(cx, n, "metadata.name", &v, loc);
        }
        let containers = links::containers(&self.env, cx, r);
        let main: Vec<&Container> = containers.iter().filter(|c| !c.init).collect();
        let migration =
            super::workload::job_migration_container(&containers).or(main.first().copied());
        if let Some(c) = migration {
            self.container_details(cx, r, n, c);
        }
    }

    /// `version-from` for a container's image, `db-url-from` for its database variables.
    fn container_details(&mut self, cx: &'w Context, r: &'w Rendered, n: usize, c: &Container) {
        if let Some(img) = &c.image {
            let loc = links::value_loc(&self.env, r, &c.field("image"), Some(img));
            self.version_from(cx, n, "image", img, loc);
        }
        self.db_url(cx, r, n, c);
    }

    fn version_from(&mut self, cx: &'w Context, n: usize, field: &str, v: &Value, at: Option<Loc>) {
        let (Some(writer), Some(via)) = (v.writer, v.via) else {
            return;
        };
        let site = self.site(Some(writer));
        let name = match site {
            Some(s) => format!(
                "{}:{}",
                self.ws.files[writer.file as usize].source.display, s.line
            ),
            None => via.to_string(),
        };
        let key = self.key(NodeRole::Transformer, via, None, &name);
        let t = self.node_for(key, |b| Node {
            site,
            span: site,
            ..b.new_node(NodeRole::Transformer, via, None, name)
        });
        let _ = at;
        self.edge(
            n,
            t,
            EdgeKind::VersionFrom {
                field: field.into(),
            },
            Some(writer),
        );
        // The object the value was read from (a replacement's source ConfigMap).
        if let Some(origin) = v.origin {
            let source = cx.rendered.iter().find(|x| {
                x.object().is_some_and(|o| {
                    let obj = &self.ws.objects[o as usize];
                    source_loc(self.ws, obj, &[]).is_some_and(|l| {
                        l.file == origin.file
                            && l.span.start <= origin.span.start
                            && origin.span.end <= l.span.end
                    })
                })
            });
            if let Some(src) = source
                && self.graph.nodes[n].object != src.object()
            {
                let role = if matches!(src.kind.as_str(), "ConfigMap" | "Secret") {
                    NodeRole::Config
                } else {
                    NodeRole::Waiter
                };
                let s = self.object_node(cx, src, role);
                self.edge(t, s, EdgeKind::Reads, Some(origin));
            }
        }
    }

    /// `db-url-from` edges for the database variables of a container.
    fn db_url(&mut self, cx: &'w Context, r: &'w Rendered, n: usize, c: &Container) {
        let ws = self.ws;
        let env = &ws.env();
        let vars = self.ws.options.database_env.clone();
        let list = c.field("env");
        let mut direct = false;
        for i in 0..env.len(r, &list) {
            let e = at(&list, &[Step::Index(i)]);
            let Some(name) = env.value(cx, r, &at(&e, &[k("name")])) else {
                continue;
            };
            if !vars.contains(&name.text) {
                continue;
            }
            direct = true;
            for (kind, key) in [("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")] {
                let refp = at(&e, &[k("valueFrom"), k(key)]);
                let Some(obj_name) = env.value(cx, r, &at(&refp, &[k("name")])) else {
                    continue;
                };
                let data_key = env.value(cx, r, &at(&refp, &[k("key")])).map(|v| v.text);
                let loc = links::value_loc(env, r, &at(&refp, &[k("name")]), Some(&obj_name));
                let to = self.config(cx, r, kind, &obj_name.text);
                self.edge(
                    n,
                    to,
                    EdgeKind::DbUrlFrom {
                        var: name.text.clone(),
                        key: data_key,
                    },
                    loc,
                );
            }
        }
        if direct {
            return;
        }
        let Some(var) = vars.first().cloned() else {
            return;
        };
        let list = c.field("envFrom");
        for i in 0..env.len(r, &list) {
            let e = at(&list, &[Step::Index(i)]);
            for (kind, key) in [("Secret", "secretRef"), ("ConfigMap", "configMapRef")] {
                let p = at(&e, &[k(key), k("name")]);
                let Some(obj_name) = self.env.value(cx, r, &p) else {
                    continue;
                };
                let loc = links::value_loc(&self.env, r, &p, Some(&obj_name));
                let to = self.config(cx, r, kind, &obj_name.text);
                self.edge(
                    n,
                    to,
                    EdgeKind::DbUrlFrom {
                        var: var.clone(),
                        key: None,
                    },
                    loc,
                );
            }
        }
    }

    /// The node of a Secret or ConfigMap a pod of `r` refers to.
    fn config(&mut self, cx: &'w Context, r: &Rendered, kind: &str, name: &str) -> usize {
        let ns = self.env.namespace(cx, r);
        match self.find(cx, kind, Some(&ns), name) {
            Some(found) => self.object_node(cx, found, NodeRole::Config),
            None => self.missing(NodeRole::Config, kind, Some(&ns), name),
        }
    }

    /// Hooks and Flux stages that hold the app back for Job `n`.
    fn held_by(&mut self, cx: &'w Context, r: &Rendered, obj: &crate::model::Object, n: usize) {
        let ws = self.ws;
        let status = super::job_status(ws, obj);
        let doc = ws.doc_of(obj);
        let weight = super::waits::hook_weight(obj, doc).filter(|_| status.hook.is_some());
        let wave = super::waits::sync_wave(obj, doc);
        self.graph.nodes[n].order = match (weight, wave) {
            (Some(value), _) => Some(Order {
                what: "hook-weight",
                value,
            }),
            (None, Some(value)) => Some(Order {
                what: "sync-wave",
                value,
            }),
            (None, None) => None,
        };
        // Argo CD applies a wave once the waves before it are healthy (a Job: complete).
        if let Some(jw) = wave.filter(|_| !status.hook.as_ref().is_some_and(|h| h.holds)) {
            let loc = self.env.loc(
                r,
                &path::keys(&["metadata", "annotations", "argocd.argoproj.io/sync-wave"]),
            );
            for app in cx.rendered.iter().filter(|a| is_app(a)) {
                let Some(o) = app.object() else { continue };
                let other = &ws.objects[o as usize];
                let aw = super::waits::sync_wave(other, ws.doc_of(other)).unwrap_or(0);
                if aw > jw {
                    let a = self.object_node(cx, app, NodeRole::Waiter);
                    let mode = format!("{jw} before {aw}");
                    let kind = EdgeKind::WaitsFor {
                        tool: WaitTool::ArgoCdSyncWave,
                        mode,
                    };
                    self.edge(a, n, kind, loc);
                }
            }
        }
        if let Some(h) = status.hook.as_ref().filter(|h| h.holds) {
            let (tool, key) = if h.tool == "Helm" {
                (WaitTool::HelmHook, "helm.sh/hook")
            } else {
                (WaitTool::ArgoCdHook, "argocd.argoproj.io/hook")
            };
            let loc = self
                .env
                .loc(r, &path::keys(&["metadata", "annotations", key]));
            for app in cx.rendered.iter().filter(|a| is_app(a)) {
                let a = self.object_node(cx, app, NodeRole::Waiter);
                let mode = h.phases.clone();
                self.edge(a, n, EdgeKind::WaitsFor { tool, mode }, loc);
            }
        }
        let Some(fo) = cx.flux else { return };
        let Some(f) = ws.fluxes.iter().find(|f| f.object == fo) else {
            return;
        };
        let mode = if f.wait {
            "wait: true"
        } else if super::waits::has_health_checks(ws, f) {
            "healthChecks"
        } else {
            "no wait"
        };
        for g in ws
            .fluxes
            .iter()
            .filter(|g| g.object != f.object && g.depends_on.contains(&f.name))
        {
            let gobj = &ws.objects[g.object as usize];
            let (role, kind) = (NodeRole::Waiter, "Kustomization");
            let key = self.key(role, kind, g.namespace.as_deref(), &g.name);
            let s = self.node_for(key, |b| Node {
                object: Some(g.object),
                site: b.site(source_loc(ws, gobj, &["metadata", "name"])),
                span: b.site(source_loc(ws, gobj, &[])),
                ..b.new_node(role, kind, g.namespace.clone(), g.name.clone())
            });
            let dep_loc = source_loc(ws, gobj, &["spec", "dependsOn"]);
            self.edge(
                s,
                n,
                EdgeKind::WaitsFor {
                    tool: WaitTool::FluxDependsOn,
                    mode: mode.into(),
                },
                dep_loc,
            );
        }
    }

    /// A wait of a workload of `cx` for the Job `w` names: the workload, the Job (or a missing
    /// one), its ServiceAccount and RBAC, its app containers' versions and database URL.
    fn wait(
        &mut self,
        cx: &'w Context,
        w: &WaitFor,
        tool: WaitTool,
        mode: String,
        loc: Option<Loc>,
    ) {
        let r = &cx.rendered[w.rendered];
        let a = self.object_node(cx, r, NodeRole::Waiter);
        if let Some(t) = w.target.as_ref().filter(|_| tool == WaitTool::K8sWaitFor) {
            self.version_from(cx, a, "wait argument", t, loc);
        }
        let target = w
            .target
            .as_ref()
            .map(|t| t.text.clone())
            .unwrap_or_default();
        let found = if w.is_selector() {
            self.selected(cx, w, tool)
        } else if !target.is_empty() && !target.starts_with('-') {
            Some(self.named(cx, w, tool, &target))
        } else {
            None
        };
        if let Some(found) = found {
            // A Job of another build (a Flux stage) is drawn in this one too; a wait that
            // finds none points at a Job this build does not render.
            let targets: Vec<usize> = if found.is_empty() {
                let name = super::wait_target::judged_selector(cx, w)
                    .map(|(selector, _)| format!("-l {selector}"))
                    .unwrap_or(target);
                vec![self.missing(NodeRole::Job, "Job", Some(&w.namespace), &name)]
            } else {
                found
                    .into_iter()
                    .map(|(s, j)| self.object_node(s, &s.rendered[j.rendered], NodeRole::Job))
                    .collect()
            };
            for to in targets {
                let mode = mode.clone();
                self.edge(a, to, EdgeKind::WaitsFor { tool, mode }, loc);
            }
        }
        self.rbac(cx, r, w, a);
        let containers = links::containers(&self.env, cx, r);
        for c in containers.iter().filter(|c| !c.init) {
            self.container_details(cx, r, a, c);
        }
    }

    /// The Jobs a wait names, in this build and those deployed with it (Flux stages): exact
    /// names first, then kubectl's prefix fallback (k8s-wait-for only).
    fn named(
        &self,
        cx: &'w Context,
        w: &WaitFor,
        tool: WaitTool,
        target: &str,
    ) -> Vec<(&'w Context, &'w JobRef)> {
        let ws = self.ws;
        let (mut exact, mut prefix) = (Vec::new(), Vec::new());
        // Every Flux build is deployed with every other: the namespace index keeps this linear.
        let in_ns = self.jobs_in.get(&w.namespace).map(Vec::as_slice);
        for &(ci, ji) in in_ns.unwrap_or(&[]) {
            let s = &ws.contexts[ci];
            let j = &ws.jobs(s)[ji];
            let found = match compare(target, &j.name) {
                Compare::Equal => &mut exact,
                Compare::Prefix if tool == WaitTool::K8sWaitFor => &mut prefix,
                _ => continue,
            };
            if ci == cx.index || ws.is_deployed_with(cx, s) {
                found.push((s, j));
            }
        }
        if exact.is_empty() { prefix } else { exact }
    }

    /// The Jobs an equality label selector (`-lapp=x`) matches, as `wait-target-missing`
    /// judges it; None when that cannot be known (set-based selectors, unknown labels).
    fn selected(
        &self,
        cx: &'w Context,
        w: &WaitFor,
        tool: WaitTool,
    ) -> Option<Vec<(&'w Context, &'w JobRef)>> {
        if tool != WaitTool::K8sWaitFor {
            return None;
        }
        let (selector, _) = super::wait_target::judged_selector(cx, w)?;
        let reqs = super::wait_target::equality_selector(&selector)?;
        let candidates = super::wait_target::selector_candidates(self.ws, cx, w)?;
        Some(
            candidates
                .into_iter()
                .filter(|(_, labels)| super::wait_target::selector_matches(&reqs, labels))
                .map(|(j, _)| (j.context, j.job))
                .collect(),
        )
    }

    /// `runs-as`, `bound-by` and `grants` for the waiting pod's ServiceAccount.
    fn rbac(&mut self, cx: &'w Context, r: &'w Rendered, w: &WaitFor, a: usize) {
        let ws = self.ws;
        let sa = w.service_account.clone();
        let ns = w.pod_namespace.clone();
        let sa_node = match self.find(cx, "ServiceAccount", Some(&ns), &sa) {
            Some(x) => self.object_node(cx, x, NodeRole::ServiceAccount),
            None => {
                let i = self.missing(NodeRole::ServiceAccount, "ServiceAccount", Some(&ns), &sa);
                // Every namespace has its `default` ServiceAccount.
                self.graph.nodes[i].defined = sa == "default";
                i
            }
        };
        let sa_loc = links::pod_spec(r).and_then(|spec| {
            w.service_account_value.as_ref().and_then(|v| {
                links::value_loc(
                    &self.env,
                    r,
                    &at(&spec, &[k("serviceAccountName")]),
                    Some(v),
                )
                .or(v.origin)
            })
        });
        self.edge(a, sa_node, EdgeKind::RunsAs, sa_loc);
        let (Ok(bindings), roles) = (rbac::bindings(ws, cx), rbac::roles(ws, cx)) else {
            return;
        };
        let roles = roles.unwrap_or_default();
        for b in &bindings {
            let Some(subject) = b.binds(&sa, &ns) else {
                continue;
            };
            let bn = self.object_node(cx, b.r, NodeRole::Binding);
            let sloc = rbac::loc_of(&self.env, b.r, &at(&subject.path, &[k("name")]));
            self.edge(sa_node, bn, EdgeKind::BoundBy, sloc);
            let role_ns = (b.role_kind == "Role").then(|| b.namespace.clone());
            let (rn, reads) = match rbac::role_of(b, &roles) {
                Ok(Some(ro)) => {
                    let reads = ro
                        .rules
                        .iter()
                        .any(|p| p.covers_jobs() && p.allows("get") && p.allows("list"));
                    (self.object_node(cx, ro.r, NodeRole::Role), Some(reads))
                }
                Ok(None) => {
                    let reads = rbac::DEFAULT_JOB_READERS.contains(&b.role_name.text.as_str());
                    let i = self.missing(NodeRole::Role, &b.role_kind, None, &b.role_name.text);
                    // A well-known ClusterRole exists in every cluster.
                    self.graph.nodes[i].defined = true;
                    (i, Some(reads))
                }
                Err(()) => (
                    self.missing(
                        NodeRole::Role,
                        &b.role_kind,
                        role_ns.as_deref(),
                        &b.role_name.text,
                    ),
                    None,
                ),
            };
            let rloc = rbac::loc_of(&self.env, b.r, &path::keys(&["roleRef", "name"]));
            self.edge(bn, rn, EdgeKind::Grants { reads_jobs: reads }, rloc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Input, Settings, load_workspace};

    fn inputs(files: &[(&str, &str)]) -> Vec<Input> {
        files
            .iter()
            .map(|(name, text)| Input::from_bytes(*name, text.as_bytes().to_vec()))
            .collect()
    }

    fn workspace(files: &[(&str, &str)]) -> Workspace {
        load_workspace(inputs(files), &Settings::default()).0
    }

    fn graph(files: &[(&str, &str)]) -> Graph {
        Graph::build(&workspace(files))
    }

    fn edge<'g>(g: &'g Graph, kind: &str, from: &str, to: &str) -> Option<&'g Edge> {
        g.edges.iter().find(|e| {
            e.kind.name() == kind && g.nodes[e.from].name == from && g.nodes[e.to].name == to
        })
    }

    const KUSTOMIZATION: &str = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop
resources:
  - job.yaml
  - app.yaml
  - rbac.yaml
";
    const JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: shop-migration-v2
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: shop-migration:v2
          env:
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef: {name: shop-db, key: url}
";
    const APP: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      serviceAccountName: shop
      initContainers:
        - name: wait
          image: groundnuty/k8s-wait-for:v2.0
          args: [job-wr, shop-migration-v2]
        - name: wait-old
          image: groundnuty/k8s-wait-for:v2.0
          args: [job-wr, shop-migration-v1]
      containers:
        - name: shop
          image: shop:v2
";
    const RBAC: &str = "apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: job-reader
rules:
  - apiGroups: [batch]
    resources: [jobs]
    verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: shop-job-reader
subjects:
  - kind: ServiceAccount
    name: shop
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: job-reader
";

    /// The pattern whole: kustomization, migration Job, the app waiting for it, its RBAC.
    const PATTERN: [(&str, &str); 4] = [
        ("k8s/kustomization.yaml", KUSTOMIZATION),
        ("k8s/job.yaml", JOB),
        ("k8s/app.yaml", APP),
        ("k8s/rbac.yaml", RBAC),
    ];

    #[test]
    fn the_pattern_is_linked_job_to_role() {
        let g = graph(&PATTERN);
        assert_eq!(g.builds.len(), 1);
        assert_eq!(g.builds[0].name, "k8s");
        let w = edge(&g, "waits-for", "shop", "shop-migration-v2").expect("wait edge");
        assert_eq!(
            w.kind,
            EdgeKind::WaitsFor {
                tool: WaitTool::K8sWaitFor,
                mode: "job-wr".into()
            }
        );
        // The edge sits on the wait argument: line 12 of app.yaml, column 26 (after `args: [job-wr, `).
        let site = w.site.expect("site");
        assert_eq!((site.line, site.column), (12, 26));
        // The wait for a Job nobody renders points at a node that is not defined.
        let missing = edge(&g, "waits-for", "shop", "shop-migration-v1").expect("missing edge");
        assert!(!g.nodes[missing.to].defined);
        assert!(g.nodes[w.to].defined);
        assert_eq!(g.nodes[w.to].namespace.as_deref(), Some("shop"));
        assert!(edge(&g, "runs-as", "shop", "shop").is_some());
        assert!(edge(&g, "bound-by", "shop", "shop-job-reader").is_some());
        let grants = edge(&g, "grants", "shop-job-reader", "job-reader").expect("grants");
        assert_eq!(
            grants.kind,
            EdgeKind::Grants {
                reads_jobs: Some(true)
            }
        );
        let db = edge(&g, "db-url-from", "shop-migration-v2", "shop-db").expect("db edge");
        assert_eq!(db.kind.label(), "db-url-from (DATABASE_URL, key url)");
        assert!(!g.nodes[db.to].defined, "no Secret shop-db is rendered");
        // Queries for editors: the node whose object spans a position, the edges at one.
        let app_file = g.nodes[w.from].site.unwrap().loc.file;
        let on_arg = site.loc.span.start + 2;
        assert_eq!(g.edges_at(app_file, on_arg).count(), 1);
        let (n, node) = g
            .nodes_at(app_file, on_arg)
            .next()
            .expect("node at the argument");
        assert_eq!(node.kind, "Deployment");
        assert_eq!(
            g.outgoing(n)
                .filter(|e| e.kind.name() == "waits-for")
                .count(),
            2
        );
        let job = w.to;
        assert_eq!(g.incoming(job).count(), 1);
    }

    #[test]
    fn a_label_selector_wait_links_the_jobs_it_matches() {
        let job = JOB.replace(
            "  name: shop-migration-v2\n",
            "  name: shop-migration-v2\n  labels: {app: shop-migration}\n",
        );
        let app = APP
            .replace(
                "[job-wr, shop-migration-v2]",
                "[job-wr, \"-lapp=shop-migration\"]",
            )
            .replace("[job-wr, shop-migration-v1]", "[job-wr, \"-lapp=other\"]");
        let g = graph(&[
            ("k8s/kustomization.yaml", KUSTOMIZATION),
            ("k8s/job.yaml", &job),
            ("k8s/app.yaml", &app),
            ("k8s/rbac.yaml", RBAC),
        ]);
        assert!(edge(&g, "waits-for", "shop", "shop-migration-v2").is_some());
        let none = edge(&g, "waits-for", "shop", "-l app=other").expect("unmatched selector");
        assert!(!g.nodes[none.to].defined);
    }

    #[test]
    fn findings_mark_the_link_they_are_about() {
        let ws = workspace(&PATTERN);
        let mut g = Graph::build(&ws);
        let missing = edge(&g, "waits-for", "shop", "shop-migration-v1").unwrap();
        let d = Diagnostic::new(
            "wait-target-missing",
            crate::base::diagnostic::Severity::Error,
            missing.site.unwrap().loc,
            "no such job",
        );
        let d = Diagnostic {
            object: g.nodes[missing.from].object,
            ..d
        };
        g.mark_broken(&[d]);
        let missing = edge(&g, "waits-for", "shop", "shop-migration-v1").unwrap();
        assert_eq!(missing.broken, vec!["wait-target-missing"]);
        let ok = edge(&g, "waits-for", "shop", "shop-migration-v2").unwrap();
        assert!(ok.broken.is_empty());
    }

    fn lint_graph(files: &[(&str, &str)]) -> Graph {
        crate::engine::lint_with_graph(inputs(files), &Settings::default()).1
    }

    fn node<'g>(g: &'g Graph, kind: &str, name: &str) -> &'g Node {
        g.nodes
            .iter()
            .find(|n| n.kind == kind && n.name == name)
            .unwrap_or_else(|| panic!("no {kind} {name}: {g:#?}"))
    }

    const INIT_APP: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  template:
    spec:
      initContainers:
        - name: migrate
          image: web:v1
          command: [npm, run, migrate]
          envFrom:
            - secretRef: {name: migrate-db}
      containers:
        - name: web
          image: web:v1
          envFrom:
            - secretRef: {name: web-db}
";

    #[test]
    fn an_init_container_migration_is_drawn_with_its_race_and_its_sources() {
        let g = lint_graph(&[("k8s/web.yaml", INIT_APP)]);
        let init = node(&g, "init container", "migrate");
        assert_eq!(init.role, NodeRole::InitMigration);
        assert_eq!(init.runs.as_deref(), Some("runs npm run migrate"));
        let runs = edge(&g, "runs-migration", "web", "migrate").expect("runs-migration");
        assert_eq!(runs.broken, vec!["init-migration-race"]);
        assert_eq!(
            node(&g, "Deployment", "web").pods.as_deref(),
            Some("3 replicas")
        );
        // Its site is the command, where the rule reports.
        assert_eq!(runs.site.map(|s| s.line), Some(12));
        // The two sides read different Secrets: both links are broken, each from its side.
        let mig = edge(&g, "db-url-from", "migrate", "migrate-db").expect("migration side");
        let app = edge(&g, "db-url-from", "web", "web-db").expect("app side");
        assert_eq!(mig.broken, vec!["env-source-mismatch"]);
        assert_eq!(app.broken, vec!["env-source-mismatch"]);
        // An object both sides load is not what differs.
        let shared = INIT_APP.replace(
            "            - secretRef: {name: web-db}\n",
            "            - secretRef: {name: web-db}\n            - configMapRef: {name: settings}\n",
        );
        let shared = shared.replacen(
            "            - secretRef: {name: migrate-db}\n",
            "            - secretRef: {name: migrate-db}\n            - configMapRef: {name: settings}\n",
            1,
        );
        let g = lint_graph(&[("k8s/web.yaml", &shared)]);
        for from in ["web", "migrate"] {
            let e = edge(&g, "db-url-from", from, "settings").expect("shared ConfigMap");
            assert!(e.broken.is_empty(), "{from}: {e:?}");
        }
        assert_eq!(
            edge(&g, "db-url-from", "migrate", "migrate-db")
                .unwrap()
                .broken,
            vec!["env-source-mismatch"]
        );
        // One replica, same Secret: nothing is broken.
        let ok = INIT_APP
            .replace("replicas: 3", "replicas: 1")
            .replace("name: web-db", "name: migrate-db");
        let g = lint_graph(&[("k8s/web.yaml", &ok)]);
        assert!(g.edges.iter().all(|e| e.broken.is_empty()), "{g:#?}");
        assert_eq!(node(&g, "Deployment", "web").pods, None);
        assert!(edge(&g, "runs-migration", "web", "migrate").is_some());
    }

    #[test]
    fn a_status_check_gate_waits_for_the_builds_migration_jobs() {
        let gate = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: kong
spec:
  template:
    spec:
      initContainers:
        - name: wait-for-migrations
          image: kong:3.9.0
          command: [sh, -c, \"until kong migrations list; do sleep 2; done\"]
      containers:
        - name: proxy
          image: kong:3.9.0
";
        let g = graph(&[
            (
                "k8s/kustomization.yaml",
                "resources: [job.yaml, gate.yaml]\n",
            ),
            ("k8s/job.yaml", JOB),
            ("k8s/gate.yaml", gate),
        ]);
        let w = edge(&g, "waits-for", "kong", "shop-migration-v2").expect("gate edge");
        assert_eq!(
            w.kind,
            EdgeKind::WaitsFor {
                tool: WaitTool::StatusCheck,
                mode: "kong migrations list".into()
            }
        );
        // Without a migration Job in the build, it waits for migrations run elsewhere.
        let g = graph(&[("k8s/gate.yaml", gate)]);
        let w = edge(&g, "waits-for", "kong", "migrations").expect("elsewhere");
        assert!(!g.nodes[w.to].defined);
    }

    #[test]
    fn sync_waves_order_the_job_before_later_workloads() {
        let job = JOB.replace(
            "  name: shop-migration-v2\n",
            "  name: shop-migration-v2\n  annotations:\n    argocd.argoproj.io/sync-wave: \"-1\"\n",
        );
        let app = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  template:\n    spec:\n      containers: [{name: shop, image: \"shop:v2\"}]\n";
        let early = app.replace(
            "name: shop\n",
            "name: early\n  annotations: {argocd.argoproj.io/sync-wave: \"-2\"}\n",
        );
        let g = graph(&[
            ("k8s/job.yaml", &job),
            ("k8s/app.yaml", app),
            ("k8s/early.yaml", &early),
        ]);
        let w = edge(&g, "waits-for", "shop", "shop-migration-v2").expect("wave edge");
        assert_eq!(w.kind.label(), "waits-for (Argo CD sync-wave -1 before 0)");
        assert!(edge(&g, "waits-for", "early", "shop-migration-v2").is_none());
        let n = node(&g, "Job", "shop-migration-v2");
        assert_eq!(
            n.order,
            Some(Order {
                what: "sync-wave",
                value: -1
            })
        );
    }

    #[test]
    fn findings_no_link_stands_for_mark_the_node() {
        // A Job nothing waits for, with a backoffLimit above 0.
        let job = JOB.replace("backoffLimit: 0", "backoffLimit: 2");
        let app = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  template:\n    spec:\n      containers: [{name: shop, image: \"shop:v2\"}]\n";
        let g = lint_graph(&[("k8s/job.yaml", &job), ("k8s/app.yaml", app)]);
        let n = node(&g, "Job", "shop-migration-v2");
        assert_eq!(
            n.marks,
            vec!["job-backoff-limit-nonzero", "job-not-awaited"]
        );
        // A finding inside a migration init container marks the container, not the workload.
        let latest = INIT_APP.replace("replicas: 3", "replicas: 1").replace(
            "image: web:v1\n          command",
            "image: web:latest\n          command",
        );
        let g = lint_graph(&[("k8s/web.yaml", &latest)]);
        assert_eq!(
            node(&g, "init container", "migrate").marks,
            vec!["image-tag-mutable"]
        );
        assert!(node(&g, "Deployment", "web").marks.is_empty());
    }

    #[test]
    fn output_is_sorted_and_stable() {
        let a = graph(&PATTERN);
        let b = graph(&PATTERN);
        assert_eq!(a, b);
        let keys: Vec<_> = a
            .nodes
            .iter()
            .map(|n| (n.build, n.role, n.namespace.clone(), n.name.clone()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
}
