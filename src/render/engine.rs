//! Which engine applies each build, and the evidence for it. Engine-specific rules speak only
//! when their engine is evident (or configured): a repository that never uses Flux must not
//! be told to add Flux annotations.
//!
//! In order, for each build (context): the configured `deploy-engine`; a Flux `Kustomization`
//! whose `spec.path` covers the build's directory; an Argo CD `Application` whose source path
//! covers it; Flux, Argo CD or Helm markers on the build's own objects; a Flux or Argo CD
//! object (or a `flux-system` directory) anywhere in the repository; else plain
//! `kubectl apply`, not evident.

use super::Context;
use crate::model::config::DeployEngine;
use crate::model::evidence::RepoEvidence;
use crate::model::{FileData, Object};

/// The engine assumed for one build, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Never `Auto`.
    pub(crate) engine: DeployEngine,
    /// Configured, or shown by the repository; false for the `kubectl apply` fallback.
    pub(crate) evident: bool,
    /// Flux post-build substitution runs on this build (a Flux Kustomization covering it has
    /// `postBuild`).
    pub(crate) substituted: bool,
    /// Why, for the summary: "Flux Kustomization `apps` (clusters/prod/apps.yaml) deploys apps/prod".
    pub(crate) why: String,
}

impl Default for Verdict {
    fn default() -> Self {
        Verdict {
            engine: DeployEngine::Kubectl,
            evident: false,
            substituted: false,
            why: NO_EVIDENCE.into(),
        }
    }
}

const NO_EVIDENCE: &str =
    "no Flux, Argo CD or Helm evidence in the repository: plain `kubectl apply` assumed";

/// The name users write in `deploy-engine:`.
pub(crate) fn setting(engine: DeployEngine) -> &'static str {
    match engine {
        DeployEngine::Auto => "auto",
        DeployEngine::Flux => "flux",
        DeployEngine::ArgoCd => "argocd",
        DeployEngine::Helm => "helm",
        DeployEngine::Kubectl => "kubectl",
    }
}

/// The verdict for what no context includes: the configured engine, else the fallback.
pub(crate) fn decide_alone(configured: DeployEngine) -> Verdict {
    if configured == DeployEngine::Auto {
        return Verdict::default();
    }
    Verdict {
        engine: configured,
        evident: true,
        substituted: false,
        why: format!("configured (`deploy-engine: {}`)", setting(configured)),
    }
}

/// The verdict for one context.
/// A repository's evidence with its deployers indexed by directory, built once per run.
pub(crate) struct Repo<'r> {
    pub(crate) evidence: &'r RepoEvidence,
    pub(crate) flux: crate::model::evidence::CoverIndex<'r>,
    pub(crate) argo: crate::model::evidence::CoverIndex<'r>,
}

impl<'r> Repo<'r> {
    pub(crate) fn new(evidence: &'r RepoEvidence) -> Repo<'r> {
        let (flux, argo) = evidence.covers();
        Repo {
            evidence,
            flux,
            argo,
        }
    }
}

pub(crate) fn decide(
    configured: DeployEngine,
    repo: Option<&Repo<'_>>,
    files: &[FileData],
    objects: &[Object],
    cx: &Context,
) -> Verdict {
    let dir = build_dir(files, cx);
    let rel = repo
        .zip(dir.as_deref())
        .and_then(|(r, d)| r.evidence.relative(d));
    let flux_cover = repo
        .zip(rel.as_deref())
        .and_then(|(r, d)| r.flux.covering(d).next());
    let substituted = cx.substitute
        || repo
            .zip(rel.as_deref())
            .is_some_and(|(r, d)| r.flux.covering(d).any(|f| f.substitutes));
    let v = |engine, why: String| Verdict {
        engine,
        evident: true,
        substituted,
        why,
    };
    if configured != DeployEngine::Auto {
        return v(
            configured,
            format!("configured (`deploy-engine: {}`)", setting(configured)),
        );
    }
    if cx.flux.is_some() {
        return v(
            DeployEngine::Flux,
            "a Flux Kustomization in the linted files deploys this directory".into(),
        );
    }
    if let Some(f) = flux_cover {
        return v(
            DeployEngine::Flux,
            format!(
                "Flux Kustomization `{}` ({}) deploys `./{}`",
                f.name, f.file, f.path
            ),
        );
    }
    if let Some(a) = repo
        .zip(rel.as_deref())
        .and_then(|(r, d)| r.argo.covering(d).next())
    {
        return v(
            DeployEngine::ArgoCd,
            format!(
                "Argo CD Application `{}` ({}) deploys `{}`",
                a.name, a.file, a.path
            ),
        );
    }
    if let Some((engine, what)) = own_markers(files, objects, cx) {
        return v(engine, format!("{what} in this build"));
    }
    if let Some(r) = repo.map(|r| r.evidence) {
        if let Some(m) = &r.flux_mark {
            return v(
                DeployEngine::Flux,
                format!("the repository uses Flux (`{m}`)"),
            );
        }
        if let Some(m) = &r.argo_mark {
            return v(
                DeployEngine::ArgoCd,
                format!("the repository uses Argo CD (`{m}`)"),
            );
        }
    }
    let mut why = NO_EVIDENCE.to_string();
    if let Some(r) = repo.map(|r| r.evidence).filter(|r| r.truncated) {
        // Not "none": the scan stopped before it saw the whole repository.
        why = format!(
            "no Flux, Argo CD or Helm evidence in the first {} YAML files of the repository (the scan stops there): plain `kubectl apply` assumed",
            r.files_scanned
        );
    }
    Verdict {
        substituted,
        why,
        ..Verdict::default()
    }
}

/// The directory a build is rooted at: its kustomization's, or its files'.
fn build_dir(files: &[FileData], cx: &Context) -> Option<std::path::PathBuf> {
    let f = cx.root.or_else(|| cx.files.first().copied())?;
    Some(
        super::file_key(files.get(f as usize)?)
            .parent()?
            .to_path_buf(),
    )
}

/// A Flux, Argo CD or Helm marker on the objects of a build: the engine and what was seen.
fn own_markers(
    files: &[FileData],
    objects: &[Object],
    cx: &Context,
) -> Option<(DeployEngine, &'static str)> {
    let mut found: Option<(DeployEngine, &'static str)> = None;
    for &id in &cx.objects {
        let Some(o) = objects.get(id as usize) else {
            continue;
        };
        let hit = if o.api_version.contains(".toolkit.fluxcd.io/") {
            Some((DeployEngine::Flux, "a Flux object"))
        } else if o.api_version.starts_with("argoproj.io/") {
            Some((DeployEngine::ArgoCd, "an Argo CD object"))
        } else {
            let doc = &files[o.file as usize].docs[o.doc as usize];
            marker(doc, o.root)
        };
        // Flux and Argo CD say who applies; a Helm marker only that Helm did, once.
        match (hit, found) {
            (Some(h), None) => found = Some(h),
            (Some(h), Some((DeployEngine::Helm, _))) if h.0 != DeployEngine::Helm => {
                found = Some(h)
            }
            _ => {}
        }
    }
    found
}

fn marker(
    doc: &crate::yaml::Document,
    root: crate::yaml::NodeId,
) -> Option<(DeployEngine, &'static str)> {
    let meta = doc.get(root, "metadata")?;
    let mut helm = None;
    for field in ["annotations", "labels"] {
        let Some(m) = doc.get(meta, field) else {
            continue;
        };
        for (k, v) in doc.entries(m) {
            let key = doc.str(k).unwrap_or("");
            if key.starts_with("kustomize.toolkit.fluxcd.io/")
                || key.ends_with(".toolkit.fluxcd.io/name")
            {
                return Some((
                    DeployEngine::Flux,
                    "a `kustomize.toolkit.fluxcd.io/` annotation or label",
                ));
            }
            if key.starts_with("argocd.argoproj.io/") {
                return Some((DeployEngine::ArgoCd, "an `argocd.argoproj.io/` annotation"));
            }
            if key.starts_with("meta.helm.sh/")
                || key == "helm.sh/hook"
                || (key == "app.kubernetes.io/managed-by" && doc.str(v) == Some("Helm"))
            {
                helm = Some((DeployEngine::Helm, "a Helm release marker"));
            }
        }
    }
    helm
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository scan that stopped at its file limit found no evidence in what it read,
    /// which is not the same as none: the verdict says how far it looked.
    #[test]
    fn a_scan_cut_short_says_how_far_it_looked() {
        let ws = crate::engine::workspace_of(&[(
            "k8s/job.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: m}\n",
        )]);
        let mut repo = RepoEvidence {
            truncated: true,
            files_scanned: 50_000,
            ..RepoEvidence::default()
        };
        let verdict = |repo: &RepoEvidence| {
            decide(
                DeployEngine::Auto,
                Some(&Repo::new(repo)),
                &ws.files,
                &ws.objects,
                &ws.contexts[0],
            )
        };
        let v = verdict(&repo);
        assert_eq!(v.engine, DeployEngine::Kubectl);
        assert!(!v.evident);
        assert!(
            v.why
                .starts_with("no Flux, Argo CD or Helm evidence in the first 50000 YAML files"),
            "{}",
            v.why
        );
        repo.truncated = false;
        assert_eq!(verdict(&repo).why, NO_EVIDENCE);
    }
}
