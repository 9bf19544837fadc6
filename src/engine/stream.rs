//! A run over a tree in parts, each read, checked and dropped before the next: what the run
//! holds at once is a few parts and the findings, not every file's text, tree and builds.
//!
//! A part is a set of files no check reads across. A first look reads every file but parses
//! only kustomizations and Flux Kustomizations, and joins:
//! - the files of one directory (a directory of plain manifests is one build, and a file a
//!   kustomization beside it does not list is judged with that kustomization);
//! - a kustomization and every file or directory it names (resources, bases, components,
//!   patches, replacement and generator sources: any of its strings that is a path of the run);
//! - a Flux Kustomization and the directories its `spec.path` deploys, and Flux Kustomizations
//!   related by `dependsOn`.
//!
//! Two things are looked up across parts by name, not by path: a wait in a Flux-deployed build
//! may name a Job (or a Job may be held back by a wait) of another Flux stage, and a Flux
//! `substituteFrom` names a ConfigMap or Secret. Each part records what its checks looked up
//! ([`crate::render::workspace::Reach`]) and what it holds ([`crate::analysis::Offers`]); parts
//! where one looked up what another holds are checked again together, until none does. The
//! findings are the whole-tree run's (a test compares the two on every fixture).

use super::{
    Input, Loaded, ReadError, Report, Settings, isolate, lint_model, load, read_bounded, scan_root,
};
use crate::base::diagnostic::{Diagnostic, FileId, Loc};
use crate::model::discover::{self, Excludes};
use crate::model::evidence::Looked;
use crate::model::{FileRole, file_role};
use crate::rules;
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// How many bytes of file text the first look keeps for the checks (the rest is read again
/// when its part is checked): a tree of up to this size is read once.
const KEPT_BYTES: usize = 64 << 20;

/// Lint the files under `paths` part by part.
pub(super) fn lint(
    paths: &[PathBuf],
    excludes: &Excludes,
    settings: &Settings,
    start: Instant,
) -> Report {
    let part_bytes = std::env::var("KUBE_MIGRATE_LINT_PART_BYTES")
        .ok()
        .and_then(|v| v.parse().ok());
    lint_in_parts(paths, excludes, settings, part_bytes, start).0
}

/// [`lint`], with parts of at least `part_bytes` (None: [`part_bytes`]); also says how many
/// rounds of checks it took (1: no part looked up what another holds).
fn lint_in_parts(
    paths: &[PathBuf],
    excludes: &Excludes,
    settings: &Settings,
    part_bytes: Option<usize>,
    start: Instant,
) -> (Report, usize) {
    let found = discover::discover_named(paths, excludes, &settings.path_names);
    let root = scan_root(settings, found.files.iter().map(|c| c.path.as_path()));
    // What each file shows the deploy-engine scan is noted only when the scan will run.
    let scanning = root.is_some() && settings.repo_evidence.is_none();
    let mut seen = first_look(found.files, settings, scanning);
    let looked: HashMap<PathBuf, Looked> = seen
        .iter_mut()
        .filter_map(|s| Some((s.key.clone(), s.looked.take()?)))
        .collect();
    // The repository scan (a walk, mostly waiting on the file system) beside the split.
    let (decided, groups) = rayon::join(
        || {
            let root = root.as_deref()?;
            let ev = super::evidence(settings, || {
                crate::model::evidence::scan_looked(root, &looked)
            })?;
            Some(std::sync::Arc::new(super::marked_within(settings, ev)))
        },
        || split(&seen),
    );
    let settings = Settings {
        run_evidence: Some(decided),
        // Files are counted as the first look reads them, once.
        progress: None,
        ..settings.clone()
    };
    let target = part_bytes.unwrap_or_else(|| self::part_bytes(&seen));
    let parts = pack(groups, &seen, target);
    let pending: Vec<Vec<Pending>> = parts
        .iter()
        .map(|p| p.iter().map(|&i| seen[i].pending()).collect())
        .collect();
    let mut checked: Vec<Checked> = parts
        .into_par_iter()
        .zip(pending)
        .map(|(members, inputs)| check(members, inputs, &seen, &settings))
        .collect();
    // Parts that looked up what another holds are checked again, together.
    let mut rounds = 1;
    loop {
        let joined = overlapping(&checked);
        if joined.iter().all(|set| set.len() == 1) {
            break;
        }
        let mut slots: Vec<Option<Checked>> = checked.into_iter().map(Some).collect();
        let mut next = Vec::new();
        let mut again = Vec::new();
        for set in joined {
            if let [one] = set[..] {
                next.extend(slots[one].take());
            } else {
                let mut members: Vec<usize> = set
                    .iter()
                    .filter_map(|&p| slots[p].take())
                    .flat_map(|c| c.members)
                    .collect();
                members.sort_unstable();
                again.push(members);
            }
        }
        let inputs: Vec<Vec<Pending>> = again
            .iter()
            .map(|m| m.iter().map(|&i| seen[i].pending()).collect())
            .collect();
        next.par_extend(
            again
                .into_par_iter()
                .zip(inputs)
                .map(|(members, inputs)| check(members, inputs, &seen, &settings)),
        );
        checked = next;
        rounds += 1;
    }
    let mut report = merge(checked);
    report.errors.extend(found.errors);
    report.errors.sort();
    report.notes.extend(found.notes);
    report.notes.sort();
    report.elapsed = start.elapsed();
    (report, rounds)
}

/// A file as the first look saw it.
struct Seen {
    display: String,
    path: PathBuf,
    /// Its path as kustomize resolves entries ([`crate::render::key_of`]).
    key: PathBuf,
    /// Its bytes, when kept for the checks.
    bytes: Option<Result<Vec<u8>, ReadError>>,
    size: usize,
    /// What it names, as a kustomization (resolved from its directory).
    names: Vec<PathBuf>,
    /// The Flux Kustomizations it holds.
    fluxes: Vec<FluxSeen>,
    /// The first look failed on a bug: nothing is known of what it joins.
    failed: bool,
    /// What it shows the deploy-engine scan (a YAML file read as text).
    looked: Option<Looked>,
}

impl Seen {
    /// The file to check, its kept bytes moved out.
    fn pending(&mut self) -> Pending {
        Pending {
            display: self.display.clone(),
            path: self.path.clone(),
            bytes: self.bytes.take(),
        }
    }
}

/// A Flux Kustomization: what it deploys, what it depends on, where its variables come from.
struct FluxSeen {
    name: String,
    path: PathBuf,
    depends_on: Vec<String>,
    /// `postBuild.substituteFrom` names.
    sources: Vec<String>,
}

/// A file to check: its bytes, or read them when its part is checked.
struct Pending {
    display: String,
    path: PathBuf,
    bytes: Option<Result<Vec<u8>, ReadError>>,
}

/// Read every file; parse kustomizations and files holding Flux Kustomizations; note what
/// each YAML file shows the deploy-engine scan when `scanning`.
fn first_look(files: Vec<discover::Candidate>, settings: &Settings, scanning: bool) -> Vec<Seen> {
    let kept = AtomicUsize::new(0);
    let mut seen: Vec<Seen> = files
        .into_par_iter()
        .map(|c| {
            if let Some(p) = &settings.progress {
                p.fetch_add(1, Ordering::Relaxed);
            }
            let bytes = read_bounded(&c.path, settings.max_file_size);
            let key = crate::render::key_of(Some(&c.path), &c.display);
            let name = c.display.rsplit('/').next().unwrap_or(&c.display);
            let kustomization = file_role(name) == FileRole::Kustomization;
            let size = bytes.as_ref().map_or(0, Vec::len);
            let mut s = Seen {
                display: c.display,
                path: c.path,
                key,
                bytes: None,
                size,
                names: Vec::new(),
                fluxes: Vec::new(),
                failed: false,
                looked: None,
            };
            if let Ok(b) = &bytes
                && scanning
                && crate::model::evidence::is_yaml(&s.path)
                && let Ok(text) = std::str::from_utf8(b)
            {
                s.looked = isolate(|| Looked::at(text)).ok();
            }
            if let Ok(b) = &bytes
                && (kustomization || holds_flux_kustomization(b))
            {
                match isolate(|| look(&s, b.clone(), kustomization, settings)) {
                    Ok((names, fluxes)) => (s.names, s.fluxes) = (names, fluxes),
                    Err(_) => s.failed = true,
                }
            }
            let keep =
                bytes.is_err() || kept.fetch_add(size, Ordering::Relaxed) + size <= KEPT_BYTES;
            s.bytes = keep.then_some(bytes);
            s
        })
        .collect();
    // As the whole-tree run orders and keeps its inputs.
    seen.sort_by(|a, b| a.display.cmp(&b.display));
    seen.dedup_by(|a, b| a.display == b.display);
    seen
}

/// Whether a file may hold a Flux Kustomization: its API group with a version
/// (`kustomize.toolkit.fluxcd.io/v1`), not only the group's annotations on other objects
/// (`kustomize.toolkit.fluxcd.io/force`, on every migration Job of the pattern).
fn holds_flux_kustomization(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"kustomize.toolkit.fluxcd.io/v").is_some()
        && memchr::memmem::find(bytes, b"Kustomization").is_some()
}

/// What a kustomization names, or the Flux Kustomizations a manifest holds.
fn look(
    s: &Seen,
    bytes: Vec<u8>,
    kustomization: bool,
    settings: &Settings,
) -> (Vec<PathBuf>, Vec<FluxSeen>) {
    let input = Input {
        display: s.display.clone(),
        path: Some(s.path.clone()),
        bytes: Ok(bytes),
    };
    let Loaded { file: Some(f), .. } = load(input, settings) else {
        return Default::default();
    };
    if kustomization {
        let dir = s.key.parent().unwrap_or(Path::new(""));
        let mut names: Vec<PathBuf> = f
            .docs
            .iter()
            .flat_map(|d| d.iter())
            .filter_map(|n| match n.kind {
                crate::yaml::Kind::Scalar { value, .. } => Some(value),
                _ => None,
            })
            .filter(|v| !v.is_empty() && !v.contains("://") && !v.contains('\n'))
            .map(|v| crate::render::normalize(&dir.join(v)))
            .collect();
        names.sort();
        names.dedup();
        return (names, Vec::new());
    }
    let (objects, _) = crate::model::objects_of(0, &f, settings.expansion_budget);
    let files = [f];
    let fluxes = crate::render::flux_kustomizations(&files, &objects)
        .into_iter()
        .map(|k| {
            let o = &objects[k.object as usize];
            let doc = &files[0].docs[o.doc as usize];
            let sources = doc
                .get(o.root, "spec")
                .and_then(|spec| doc.get(spec, "postBuild"))
                .and_then(|pb| doc.get(pb, "substituteFrom"))
                .map(|from| {
                    doc.items(from)
                        .iter()
                        .filter_map(|&src| doc.get_str(src, "name").map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            FluxSeen {
                name: k.name,
                path: crate::render::normalize(Path::new(&k.path)),
                depends_on: k.depends_on,
                sources,
            }
        })
        .collect();
    (Vec::new(), fluxes)
}

/// Union-find over the files of a run.
struct Sets(Vec<usize>);

impl Sets {
    fn new(n: usize) -> Sets {
        Sets((0..n).collect())
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a.max(b)] = a.min(b);
        }
    }

    /// The sets, each sorted, in the order of their first member.
    fn sets(mut self) -> Vec<Vec<usize>> {
        let n = self.0.len();
        let mut by_root: HashMap<usize, usize> = HashMap::new();
        let mut out: Vec<Vec<usize>> = Vec::new();
        for i in 0..n {
            let r = self.find(i);
            let at = *by_root.entry(r).or_insert_with(|| {
                out.push(Vec::new());
                out.len() - 1
            });
            out[at].push(i);
        }
        out
    }
}

/// The groups of files no check reads across (see the module's documentation).
fn split<'s>(seen: &'s [Seen]) -> Vec<Vec<usize>> {
    let mut sets = Sets::new(seen.len());
    if seen.iter().any(|s| s.failed) {
        for i in 1..seen.len() {
            sets.join(0, i);
        }
        return sets.sets();
    }
    // Keys are normalised, so paths are equal when their bytes are (and bytes hash faster
    // than a path's components).
    let bytes = |p: &'s Path| p.as_os_str().as_encoded_bytes();
    let mut by_key: HashMap<&[u8], usize> = HashMap::new();
    let mut by_dir: HashMap<&[u8], (&Path, usize)> = HashMap::new();
    for (i, s) in seen.iter().enumerate() {
        by_key.insert(bytes(&s.key), i);
        if let Some(dir) = s.key.parent() {
            match by_dir.get(bytes(dir)) {
                Some(&(_, j)) => sets.join(i, j),
                None => {
                    by_dir.insert(bytes(dir), (dir, i));
                }
            }
        }
    }
    for (i, s) in seen.iter().enumerate() {
        for p in &s.names {
            let p = p.as_os_str().as_encoded_bytes();
            if let Some(j) = by_key.get(p).or_else(|| by_dir.get(p).map(|(_, j)| j)) {
                sets.join(i, *j);
            }
        }
    }
    // Flux Kustomizations deploy every directory whose path ends with theirs.
    let mut by_last: HashMap<&std::ffi::OsStr, Vec<(&Path, usize)>> = HashMap::new();
    for &(dir, i) in by_dir.values() {
        if let Some(last) = dir.file_name() {
            by_last.entry(last).or_default().push((dir, i));
        }
    }
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in seen.iter().enumerate() {
        for f in &s.fluxes {
            by_name.entry(&f.name).or_default().push(i);
            let Some(last) = f.path.file_name() else {
                continue;
            };
            for &(dir, j) in by_last.get(last).into_iter().flatten() {
                if dir.ends_with(&f.path) {
                    sets.join(i, j);
                }
            }
        }
    }
    for (i, s) in seen.iter().enumerate() {
        for d in s.fluxes.iter().flat_map(|f| &f.depends_on) {
            for &j in by_name.get(d.as_str()).into_iter().flatten() {
                sets.join(i, j);
            }
        }
    }
    sets.sets()
}

/// How many bytes of files a part holds: about an eighth of each thread's share (within
/// 256 KiB and 4 MiB), enough parts to keep the threads busy, each small. The environment
/// variable `KUBE_MIGRATE_LINT_PART_BYTES` sets it (tests use 1 to check every group apart).
fn part_bytes(seen: &[Seen]) -> usize {
    let total: usize = seen.iter().map(|s| s.size).sum();
    (total / (rayon::current_num_threads().max(1) * 8)).clamp(256 << 10, 4 << 20)
}

/// Groups packed, in order, into parts of at least `target` bytes (the last may hold less).
fn pack(groups: Vec<Vec<usize>>, seen: &[Seen], target: usize) -> Vec<Vec<usize>> {
    let mut parts = Vec::new();
    let (mut part, mut bytes) = (Vec::new(), 0);
    for g in groups {
        bytes += g.iter().map(|&i| seen[i].size).sum::<usize>();
        part.extend(g);
        if bytes >= target {
            parts.push(std::mem::take(&mut part));
            bytes = 0;
        }
    }
    if !part.is_empty() {
        parts.push(part);
    }
    for p in &mut parts {
        p.sort_unstable();
    }
    parts
}

/// A part, checked: its report (files without findings keep no text), and what it looked up
/// in and offers to other parts.
struct Checked {
    /// Its files, as indices of the first look.
    members: Vec<usize>,
    report: Report,
    /// The file of each of its objects (ids of its report).
    object_files: Vec<FileId>,
    reach: crate::render::workspace::Reach,
    offers: crate::analysis::Offers,
    /// The ConfigMaps and Secrets it holds, by name.
    configs: BTreeSet<String>,
    /// The ConfigMaps and Secrets its Flux Kustomizations substitute from.
    sources: BTreeSet<String>,
}

fn check(members: Vec<usize>, files: Vec<Pending>, seen: &[Seen], settings: &Settings) -> Checked {
    let inputs = files
        .into_par_iter()
        .map(|p| Input {
            bytes: p
                .bytes
                .unwrap_or_else(|| read_bounded(&p.path, settings.max_file_size)),
            display: p.display,
            path: Some(p.path),
        })
        .collect();
    let (mut report, mut ws) = lint_model(inputs, settings, rules::REGISTRY, &mut |_, _| {});
    let reach = ws.reach();
    let offers = isolate(|| crate::analysis::offers(&ws)).unwrap_or_else(|_| {
        // Unknown: taken as holding everything another part may look up.
        crate::analysis::Offers {
            stages: true,
            jobs_anywhere: true,
            holding_anywhere: true,
            ..Default::default()
        }
    });
    let configs = ws
        .objects
        .iter()
        .filter(|o| o.kind == "ConfigMap" || o.kind == "Secret")
        .filter_map(|o| o.name.clone())
        .collect();
    let object_files = ws.objects.iter().map(|o| o.file).collect();
    let sources = members
        .iter()
        .flat_map(|&i| &seen[i].fluxes)
        .flat_map(|f| f.sources.iter().cloned())
        .collect();
    // Only the texts of files a finding points into are shown.
    let mut shown = vec![false; ws.files.len()];
    for d in &report.diagnostics {
        for loc in locs(d) {
            if let Some(s) = shown.get_mut(loc.file as usize) {
                *s = true;
            }
        }
    }
    let files = std::mem::take(&mut ws.files);
    drop(ws);
    report.files = files
        .into_iter()
        .zip(shown)
        .map(|(f, shown)| {
            if shown {
                f.source
            } else {
                f.source.without_text()
            }
        })
        .collect();
    Checked {
        members,
        report,
        object_files,
        reach,
        offers,
        configs,
        sources,
    }
}

/// Every location a finding names.
fn locs(d: &Diagnostic) -> impl Iterator<Item = Loc> + '_ {
    std::iter::once(d.loc)
        .chain(d.related.iter().map(|r| r.loc))
        .chain(d.fix.iter().flat_map(|f| f.edits.iter().map(|e| e.loc)))
}

/// The parts to check together: sets of part indices, each set sorted, every part in one.
fn overlapping(parts: &[Checked]) -> Vec<Vec<usize>> {
    let mut jobs_in: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut holding: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut configs: HashMap<&str, Vec<usize>> = HashMap::new();
    let (mut jobs_anywhere, mut holding_anywhere, mut stages) =
        (Vec::new(), Vec::new(), Vec::new());
    for (i, p) in parts.iter().enumerate() {
        for ns in &p.offers.jobs_in {
            jobs_in.entry(ns).or_default().push(i);
        }
        for ns in &p.offers.holding {
            holding.entry(ns).or_default().push(i);
        }
        for c in &p.configs {
            configs.entry(c).or_default().push(i);
        }
        if p.offers.jobs_anywhere {
            jobs_anywhere.push(i);
        }
        if p.offers.holding_anywhere {
            holding_anywhere.push(i);
        }
        if p.offers.stages {
            stages.push(i);
        }
    }
    let mut sets = Sets::new(parts.len());
    for (i, p) in parts.iter().enumerate() {
        let mut with: Vec<usize> = Vec::new();
        for ns in &p.reach.jobs_in {
            with.extend(jobs_in.get(ns.as_str()).into_iter().flatten());
            with.extend(&jobs_anywhere);
        }
        for ns in &p.reach.holding {
            with.extend(holding.get(ns.as_str()).into_iter().flatten());
            with.extend(&holding_anywhere);
        }
        if p.reach.everything {
            with.extend(&stages);
        }
        for c in &p.sources {
            with.extend(configs.get(c.as_str()).into_iter().flatten());
        }
        for j in with {
            sets.join(i, j);
        }
    }
    sets.sets()
}

/// One report from the parts': files in the order of their displayed names, objects in file
/// order, every id renumbered.
fn merge(parts: Vec<Checked>) -> Report {
    let mut order: Vec<(usize, FileId)> = Vec::new();
    for (pi, p) in parts.iter().enumerate() {
        order.extend((0..p.report.files.len() as FileId).map(|f| (pi, f)));
    }
    order.sort_by(|a, b| {
        let name = |(p, f): &(usize, FileId)| &parts[*p].report.files[*f as usize].display;
        name(a).cmp(name(b))
    });
    let mut file_ids: Vec<Vec<FileId>> = parts
        .iter()
        .map(|p| vec![0; p.report.files.len()])
        .collect();
    for (g, &(p, f)) in order.iter().enumerate() {
        file_ids[p][f as usize] = g as FileId;
    }
    // Objects of each (part, file), in order.
    let mut objects_of: Vec<Vec<Vec<u32>>> = parts
        .iter()
        .map(|p| vec![Vec::new(); p.report.files.len()])
        .collect();
    for (pi, p) in parts.iter().enumerate() {
        for (o, &f) in p.object_files.iter().enumerate() {
            objects_of[pi][f as usize].push(o as u32);
        }
    }
    let mut object_ids: Vec<Vec<u32>> = parts
        .iter()
        .map(|p| vec![0; p.object_files.len()])
        .collect();
    let mut object_order = Vec::new();
    for &(p, f) in &order {
        for &o in &objects_of[p][f as usize] {
            object_ids[p][o as usize] = object_order.len() as u32;
            object_order.push((p, o));
        }
    }
    let mut report = Report::default();
    let mut parts: Vec<Report> = parts.into_iter().map(|p| p.report).collect();
    report.objects = object_order
        .iter()
        .map(|&(p, o)| parts[p].objects[o as usize].clone())
        .collect();
    report.rendered_namespaces = object_order
        .iter()
        .map(|&(p, o)| parts[p].rendered_namespaces[o as usize].take())
        .collect();
    let mut files: Vec<Vec<Option<crate::base::source::SourceFile>>> = parts
        .iter_mut()
        .map(|r| std::mem::take(&mut r.files).into_iter().map(Some).collect())
        .collect();
    report.files = order
        .iter()
        .filter_map(|&(p, f)| files[p][f as usize].take())
        .collect();
    for (pi, mut r) in parts.into_iter().enumerate() {
        let file = |f: FileId| file_ids[pi][f as usize];
        for mut d in r.diagnostics.drain(..) {
            d.loc.file = file(d.loc.file);
            for rel in &mut d.related {
                rel.loc.file = file(rel.loc.file);
            }
            if let Some(fix) = &mut d.fix {
                for e in &mut fix.edits {
                    e.loc.file = file(e.loc.file);
                }
            }
            d.object = d.object.map(|o| object_ids[pi][o as usize]);
            report.diagnostics.push(d);
        }
        report
            .redactions
            .extend(r.redactions.into_iter().map(|l| Loc {
                file: file(l.file),
                ..l
            }));
        report.notes.append(&mut r.notes);
        report.errors.append(&mut r.errors);
        report.internal.append(&mut r.internal);
        report.engines.append(&mut r.engines);
    }
    report
        .diagnostics
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    report.diagnostics.dedup();
    report.redactions.sort();
    report.redactions.dedup();
    report.notes.sort();
    report.notes.dedup();
    report.internal.sort();
    report.engines.sort();
    report.engines.dedup();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::temp_tree;

    fn flux(name: &str, path: &str, rest: &str) -> String {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  path: {path}\n  sourceRef: {{kind: GitRepository, name: repo}}\n{rest}"
        )
    }

    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: myapp-migration-v1}\nspec:\n  backoffLimit: 0\n  template: {spec: {restartPolicy: Never, containers: [{name: m, image: \"myapp:v1\"}]}}\n";

    fn deploy(target: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: myapp}}\nspec:\n  selector: {{matchLabels: {{app: myapp}}}}\n  template:\n    metadata: {{labels: {{app: myapp}}}}\n    spec:\n      initContainers:\n        - {{name: wait, image: \"groundnuty/k8s-wait-for:v2.0\", args: [job-wr, {target}]}}\n      containers: [{{name: a, image: \"myapp:v1\"}}]\n"
        )
    }

    fn kustomization(resources: &str) -> String {
        crate::rules::testing::kustomization(resources, "")
    }

    fn groups(files: &[(&str, &str)]) -> Vec<Vec<String>> {
        let dir = temp_tree(files);
        let found = discover::discover_named(
            &[dir.path().to_path_buf()],
            &Excludes::default(),
            &discover::PathNames::default(),
        );
        let seen = first_look(found.files, &Settings::default(), false);
        let root = dir.path().display().to_string();
        split(&seen)
            .into_iter()
            .map(|g| {
                g.iter()
                    .map(|&i| seen[i].display.trim_start_matches(&root)[1..].to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn files_are_split_where_no_check_reads_across() {
        let k = kustomization("[../base, job.yaml]");
        let flux_web = flux("web", "./apps/web", "");
        let flux_after = flux("after", "./apps/other", "  dependsOn: [{name: web}]\n");
        let got = groups(&[
            ("plain/a.yaml", JOB),
            ("plain/b.yaml", JOB),
            ("lone/c.yaml", JOB),
            ("overlay/kustomization.yaml", &k),
            ("overlay/job.yaml", JOB),
            ("base/kustomization.yaml", &kustomization("[job.yaml]")),
            ("base/job.yaml", JOB),
            ("clusters/one/flux.yaml", &flux_web),
            ("apps/web/deploy.yaml", &deploy("x")),
            ("clusters/two/flux.yaml", &flux_after),
            ("unrelated/x.yaml", JOB),
        ]);
        let want: Vec<Vec<&str>> = vec![
            vec![
                "apps/web/deploy.yaml",
                "clusters/one/flux.yaml",
                "clusters/two/flux.yaml",
            ],
            vec![
                "base/job.yaml",
                "base/kustomization.yaml",
                "overlay/job.yaml",
                "overlay/kustomization.yaml",
            ],
            vec!["lone/c.yaml"],
            vec!["plain/a.yaml", "plain/b.yaml"],
            vec!["unrelated/x.yaml"],
        ];
        assert_eq!(got, want);
    }

    /// The run checked in the smallest parts, and as one part: the same report.
    fn both_ways(files: &[(&str, &str)]) -> usize {
        let dir = temp_tree(files);
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let paths = [dir.path().to_path_buf()];
        let settings = Settings::default();
        let run = |bytes| {
            lint_in_parts(
                &paths,
                &Excludes::default(),
                &settings,
                Some(bytes),
                Instant::now(),
            )
        };
        let ((apart, rounds), (whole, one)) = (run(1), run(usize::MAX));
        assert_eq!(one, 1);
        let names = |r: &Report| {
            r.files
                .iter()
                .map(|f| f.display.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&apart), names(&whole));
        assert_eq!(apart.diagnostics, whole.diagnostics);
        assert_eq!(apart.objects, whole.objects);
        assert_eq!(apart.rendered_namespaces, whole.rendered_namespaces);
        assert_eq!(apart.engines, whole.engines);
        assert_eq!(apart.notes, whole.notes);
        assert!(!whole.diagnostics.is_empty());
        rounds
    }

    #[test]
    fn flux_stages_in_separate_parts_are_checked_together_when_one_looks_into_the_other() {
        let files = |ns_jobs: &str| {
            [
                (
                    "clusters/a/flux.yaml",
                    flux(
                        "migrations",
                        "./migrations",
                        &format!("  targetNamespace: {ns_jobs}\n  wait: true\n"),
                    ),
                ),
                (
                    "clusters/b/flux.yaml",
                    flux("app", "./app", "  targetNamespace: web\n"),
                ),
                ("migrations/kustomization.yaml", kustomization("[job.yaml]")),
                ("migrations/job.yaml", JOB.to_string()),
                ("app/kustomization.yaml", kustomization("[deploy.yaml]")),
                ("app/deploy.yaml", deploy("myapp-migration-v1")),
            ]
        };
        // The app's wait finds its Job in the other stage: one more round.
        let same = files("web");
        let same: Vec<(&str, &str)> = same.iter().map(|(p, t)| (*p, t.as_str())).collect();
        assert_eq!(both_ways(&same), 2);
        // In another namespace: wait-namespace-mismatch, which reads every stage.
        let other = files("jobs");
        let other: Vec<(&str, &str)> = other.iter().map(|(p, t)| (*p, t.as_str())).collect();
        assert_eq!(both_ways(&other), 2);
    }

    #[test]
    fn a_substitution_source_in_another_part_is_read_with_its_flux_kustomization() {
        let stage = flux(
            "app",
            "./app",
            "  postBuild:\n    substituteFrom: [{kind: ConfigMap, name: vars}]\n",
        );
        let vars = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: vars}\ndata: {TAG: v2}\n";
        let job = JOB.replace("myapp-migration-v1", "myapp-migration-${TAG}");
        let files = [
            ("clusters/flux.yaml", stage.as_str()),
            ("config/vars.yaml", vars),
            (
                "app/kustomization.yaml",
                "resources: [job.yaml, deploy.yaml]\n",
            ),
            ("app/job.yaml", job.as_str()),
            ("app/deploy.yaml", &deploy("myapp-migration-v1")),
        ];
        assert_eq!(both_ways(&files), 2);
    }

    #[test]
    fn independent_parts_take_one_round() {
        let files = [
            (
                "one/kustomization.yaml",
                "resources: [job.yaml, deploy.yaml]\n",
            ),
            ("one/job.yaml", JOB),
            ("one/deploy.yaml", &deploy("myapp-migration-v2")),
            ("two/kustomization.yaml", "resources: [job.yaml]\n"),
            ("two/job.yaml", JOB),
        ];
        assert_eq!(both_ways(&files), 1);
    }
}
