//! Stable fingerprints for findings: what GitLab uses to track an issue across pipelines and
//! what baselines match on.
//!
//! A fingerprint is the SHA-256 of the file path, the rule, the object (apiVersion, kind,
//! namespace, name) and the field path: never a line number (moving code must not resurrect a
//! finding) and never the message, which may quote a value that changes every release (an image
//! tag). File-level findings use the message with its digits removed. Findings that share all
//! of these get an occurrence number, in report order, so each stays distinct.

use crate::engine::Report;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// One stable fingerprint per finding of `report`, in order (for baselines and GitLab). The
/// keys and hashes are computed in parallel; only the occurrence count runs in order.
pub fn fingerprints(report: &Report) -> Vec<String> {
    use rayon::prelude::*;
    let keys: Vec<String> = report
        .diagnostics
        .par_iter()
        .map(|d| {
            let file = &report.files[d.loc.file as usize].display;
            let object = d
                .object
                .map(|o| {
                    let r = &report.objects[o as usize];
                    format!(
                        "{}/{}/{}/{}",
                        r.api_version.as_deref().unwrap_or(""),
                        r.kind.as_deref().unwrap_or(""),
                        r.namespace.as_deref().unwrap_or(""),
                        r.name.as_deref().unwrap_or("")
                    )
                })
                .unwrap_or_default();
            let detail = match (&d.object, &d.path) {
                (Some(_), Some(p)) => p.clone(),
                (Some(_), None) => String::new(),
                (None, _) => d.message.chars().filter(|c| !c.is_ascii_digit()).collect(),
            };
            format!("{file}\0{}\0{object}\0{detail}", d.rule)
        })
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let occurrences: Vec<usize> = keys
        .iter()
        .map(|key| {
            let n = seen.entry(key).or_insert(0);
            *n += 1;
            *n - 1
        })
        .collect();
    keys.par_iter()
        .zip(occurrences)
        .map(|(key, occurrence)| {
            let mut h = Sha256::new();
            h.update(key.as_bytes());
            h.update(b"\0");
            h.update(occurrence.to_string().as_bytes());
            h.finalize()
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::engine::{Input, Settings, lint_inputs};

    fn fps(text: &str) -> Vec<String> {
        let r = lint_inputs(
            vec![Input::from_bytes("k/job.yaml", text.as_bytes().to_vec())],
            &Settings::default(),
        );
        super::fingerprints(&r)
    }

    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: db-migrate\nspec:\n  backoffLimit: 3\n  template: {spec: {restartPolicy: Never, containers: [{name: m, image: a}]}}\n";

    #[test]
    fn stable_across_unrelated_edits_and_distinct_per_finding() {
        let a = fps(JOB);
        assert!(a.len() >= 2);
        let mut unique = a.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), a.len(), "fingerprints must be distinct");
        // Insert lines above: every position moves, no fingerprint does.
        let moved = format!("# a comment\n# another\n{JOB}");
        assert_eq!(fps(&moved), a);
        // A different value in the same field keeps the finding's identity.
        assert_eq!(fps(&JOB.replace("backoffLimit: 3", "backoffLimit: 5")), a);
        assert_eq!(a[0].len(), 32);
    }
}
