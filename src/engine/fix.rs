//! Applying fixes, and proving each one before anything is written.
//!
//! Rules attach a [`Fix`](crate::base::diagnostic::Fix) (text edits on the original file) to the
//! findings they can mend. Here fixes are applied in passes: lint, take every applicable fix
//! whose edits do not overlap another's, apply them in memory, and verify the result: every
//! edited file still parses into the same number of documents, and every fixed finding is gone
//! when the whole set is linted again. A batch that fails is retried one fix at a time; a fix
//! that fails alone is reported as not fixed and never tried again. Passes repeat until no fix
//! applies (so applying the fixes again changes nothing); a run that does not converge changes
//! nothing at all. Writing is separate ([`write`]): atomic, permissions kept, and only over a
//! file whose bytes are still those that were linted.

use crate::base::diagnostic::{Applicability, Diagnostic, Edit};
use crate::base::rule_id::RuleId;
use crate::base::source::SourceFile;
use crate::engine::{self, Input, Report, Settings};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// How many rounds of fixes may run before giving up (a fix that keeps offering itself).
const MAX_PASSES: usize = 10;

/// Which fixes to apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also apply fixes marked unsafe.
    pub unsafe_fixes: bool,
}

/// A fix that was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The rule whose finding the fix resolves.
    pub rule: &'static str,
    /// The file it edited, as displayed.
    pub file: String,
    pub(crate) line: usize,
    pub(crate) description: String,
    /// Whether the fix was safe or needed `--unsafe-fixes`.
    pub applicability: Applicability,
}

/// A finding whose fix was not applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub(crate) rule: &'static str,
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) reason: String,
}

/// A file whose text the fixes change.
#[derive(Debug, Clone)]
pub struct Changed {
    /// The file as displayed.
    pub display: String,
    pub(crate) path: Option<PathBuf>,
    /// The text before the fixes.
    pub before: String,
    /// The text after the fixes.
    pub after: String,
    /// The same texts with secret values masked, for showing (`--diff`).
    pub(crate) before_shown: String,
    pub(crate) after_shown: String,
}

/// What applying fixes did: the new file texts, the fixes applied and those rejected.
#[derive(Debug)]
pub struct Outcome {
    /// The files the fixes change, with their new text.
    pub changed: Vec<Changed>,
    /// The fixes applied.
    pub applied: Vec<Applied>,
    /// The fixes not applied, with the reason.
    pub rejected: Vec<Rejected>,
    /// Findings that have an unsafe fix which was not applied.
    pub unsafe_available: usize,
    /// The lint of the fixed texts.
    pub report: Report,
}

impl Outcome {
    /// Nothing fixed: `report` as it is.
    pub(crate) fn unchanged(report: Report) -> Outcome {
        Outcome {
            changed: Vec::new(),
            applied: Vec::new(),
            rejected: Vec::new(),
            unsafe_available: 0,
            report,
        }
    }
}

/// What identifies a finding across edits (positions move; these do not).
type Identity = (
    &'static str,
    String,
    Option<crate::base::diagnostic::ObjectRef>,
    Option<String>,
);

fn identity(report: &Report, d: &Diagnostic) -> Identity {
    (
        d.rule,
        report.files[d.loc.file as usize].display.clone(),
        d.object
            .and_then(|o| report.objects.get(o as usize).cloned()),
        d.path.clone(),
    )
}

fn census(report: &Report) -> BTreeMap<Identity, usize> {
    let mut m = BTreeMap::new();
    for d in &report.diagnostics {
        *m.entry(identity(report, d)).or_insert(0) += 1;
    }
    m
}

/// The text of an input, when it may be edited: read, valid UTF-8, and parsed without error.
fn editable(input: &Input, settings: &Settings) -> Option<String> {
    let bytes = input.bytes.as_ref().ok()?;
    let text = std::str::from_utf8(bytes).ok()?;
    if text.contains('\0') || parses(text, settings).is_none() {
        return None;
    }
    Some(text.to_string())
}

/// The number of documents, when the text parses without any error.
fn parses(text: &str, settings: &Settings) -> Option<usize> {
    let p = crate::yaml::parse(text, settings.limits);
    p.error.is_none().then_some(p.docs.len())
}

fn line_of(file: &SourceFile, offset: u32) -> usize {
    file.lines.position(&file.text, offset as usize).line as usize
}

/// A candidate fix from the current lint.
struct Candidate<'r> {
    diag: &'r Diagnostic,
    /// Input index per edit.
    targets: Vec<usize>,
}

/// Fix what can be fixed in `inputs`. `keep` says which findings to act on (all, or those in
/// the files a pre-commit run was given).
pub fn fix(
    inputs: Vec<Input>,
    settings: &Settings,
    opts: Options,
    keep: &dyn Fn(&SourceFile) -> bool,
) -> Outcome {
    let by_display: BTreeMap<String, usize> = inputs
        .iter()
        .enumerate()
        .map(|(i, inp)| (inp.display.clone(), i))
        .collect();
    let originals: Vec<Option<String>> = inputs.iter().map(|i| editable(i, settings)).collect();
    let mut current = inputs;
    let mut texts = originals.clone();
    let mut applied: Vec<Applied> = Vec::new();
    let mut rejected: Vec<Rejected> = Vec::new();
    let mut refused: BTreeSet<Identity> = BTreeSet::new();
    let mut report = engine::lint_inputs(clone_inputs(&current), settings);
    let masked = |r: &Report, display: &str, text: &str| {
        let spans: Vec<_> = r
            .files
            .iter()
            .position(|f| f.display == display)
            .map(|i| {
                r.redactions
                    .iter()
                    .filter(|l| l.file as usize == i)
                    .map(|l| l.span)
                    .collect()
            })
            .unwrap_or_default();
        crate::base::mask::mask(text, &spans)
    };
    let first_shown: Vec<Option<String>> = current
        .iter()
        .zip(&originals)
        .map(|(inp, o)| o.as_ref().map(|o| masked(&report, &inp.display, o)))
        .collect();
    let mut converged = false;
    crate::base::internal::inject("fix", "passes");
    for _ in 0..MAX_PASSES {
        let mut candidates: Vec<Candidate<'_>> = Vec::new();
        for d in &report.diagnostics {
            let Some(fix) = &d.fix else { continue };
            if fix.edits.is_empty()
                || (fix.applicability == Applicability::Unsafe && !opts.unsafe_fixes)
                || !keep(&report.files[d.loc.file as usize])
            {
                continue;
            }
            let id = identity(&report, d);
            if refused.contains(&id) {
                continue;
            }
            let targets: Option<Vec<usize>> = fix
                .edits
                .iter()
                .map(|e| {
                    by_display
                        .get(&report.files[e.loc.file as usize].display)
                        .copied()
                        .filter(|&i| texts[i].is_some())
                })
                .collect();
            match targets {
                Some(targets) => candidates.push(Candidate { diag: d, targets }),
                None => {
                    refused.insert(id);
                    rejected.push(reject(
                        &report,
                        d,
                        "the file it edits could not be read or parsed",
                    ));
                }
            }
        }
        if candidates.is_empty() {
            converged = true;
            break;
        }
        // Non-overlapping fixes only; the others wait for the next pass.
        let mut taken: BTreeMap<usize, Vec<(u32, u32)>> = BTreeMap::new();
        let mut batch: Vec<&Candidate<'_>> = Vec::new();
        for c in &candidates {
            let edits = &c.diag.fix.as_ref().expect("candidate has a fix").edits;
            let clash = edits.iter().zip(&c.targets).any(|(e, t)| {
                taken
                    .get(t)
                    .is_some_and(|spans| spans.iter().any(|&s| overlaps(s, e)))
            }) || self_overlap(edits, &c.targets);
            if clash {
                continue;
            }
            for (e, t) in edits.iter().zip(&c.targets) {
                taken
                    .entry(*t)
                    .or_default()
                    .push((e.loc.span.start, e.loc.span.end));
            }
            batch.push(c);
        }
        let before = census(&report);
        let next = match try_apply(&texts, &batch, &current, settings, &report, &before) {
            Ok(next) => {
                for c in &batch {
                    applied.push(applied_entry(&report, c.diag));
                }
                Some(next)
            }
            Err(_) => {
                // Find a culprit: try the fixes one at a time against this pass's state. The
                // first that passes is kept (the rest are offered again next pass, at their
                // new offsets); each that fails alone is never tried again.
                let mut next = None;
                for c in &batch {
                    match try_apply(&texts, &[c], &current, settings, &report, &before) {
                        Ok(n) => {
                            applied.push(applied_entry(&report, c.diag));
                            next = Some(n);
                            break;
                        }
                        Err(reason) => {
                            refused.insert(identity(&report, c.diag));
                            rejected.push(reject(&report, c.diag, &reason));
                        }
                    }
                }
                next
            }
        };
        if let Some((t, i, r)) = next {
            texts = t;
            current = i;
            report = r;
        }
    }
    if !converged {
        // Something keeps offering fixes: change nothing rather than something half-done.
        let unconverged = applied
            .drain(..)
            .map(|a| Rejected {
                rule: a.rule,
                file: a.file,
                line: a.line,
                reason: format!(
                    "fixes did not settle after {MAX_PASSES} rounds; nothing was changed"
                ),
            })
            .collect::<Vec<_>>();
        rejected.extend(unconverged);
        texts = originals.clone();
        current = current
            .into_iter()
            .zip(&originals)
            .map(|(mut inp, o)| {
                if let Some(o) = o {
                    inp.bytes = Ok(o.clone().into_bytes());
                }
                inp
            })
            .collect();
        report = engine::lint_inputs(clone_inputs(&current), settings);
    }
    let unsafe_available = report
        .diagnostics
        .iter()
        .filter(|d| {
            d.fix
                .as_ref()
                .is_some_and(|f| f.applicability == Applicability::Unsafe)
                && keep(&report.files[d.loc.file as usize])
        })
        .count();
    let changed = current
        .iter()
        .zip(originals.iter().zip(&texts).zip(&first_shown))
        .filter_map(|(inp, ((o, t), shown))| match (o, t) {
            (Some(o), Some(t)) if o != t => Some(Changed {
                display: inp.display.clone(),
                path: inp.path.clone(),
                before: o.clone(),
                after: t.clone(),
                before_shown: shown.clone().unwrap_or_default(),
                after_shown: masked(&report, &inp.display, t),
            }),
            _ => None,
        })
        .collect();
    applied.sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
    rejected.sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
    rejected.dedup();
    Outcome {
        changed,
        applied,
        rejected,
        unsafe_available,
        report,
    }
}

fn overlaps((s, e): (u32, u32), edit: &Edit) -> bool {
    let (a, b) = (edit.loc.span.start, edit.loc.span.end);
    // Two insertions at one offset would depend on their order: treat as a clash.
    a < e && s < b || a == s || (a == b && a > s && a < e) || (s == e && s > a && s < b)
}

fn self_overlap(edits: &[Edit], targets: &[usize]) -> bool {
    for i in 0..edits.len() {
        for j in i + 1..edits.len() {
            if targets[i] == targets[j]
                && overlaps((edits[i].loc.span.start, edits[i].loc.span.end), &edits[j])
            {
                return true;
            }
        }
    }
    false
}

fn clone_inputs(inputs: &[Input]) -> Vec<Input> {
    inputs.to_vec()
}

type State = (Vec<Option<String>>, Vec<Input>, Report);

/// Apply `batch` to `texts` and verify it; the new state, or why not.
fn try_apply(
    texts: &[Option<String>],
    batch: &[&Candidate<'_>],
    current: &[Input],
    settings: &Settings,
    report: &Report,
    before: &BTreeMap<Identity, usize>,
) -> Result<State, String> {
    let mut per_file: BTreeMap<usize, Vec<&Edit>> = BTreeMap::new();
    for c in batch {
        let fix = c.diag.fix.as_ref().expect("candidate has a fix");
        for (e, t) in fix.edits.iter().zip(&c.targets) {
            per_file.entry(*t).or_default().push(e);
        }
    }
    let mut new_texts = texts.to_vec();
    for (&i, edits) in &per_file {
        let old = texts[i].as_deref().expect("targets are editable");
        let new = crate::yaml::edit::apply(old, edits).ok_or("its edits do not fit the file")?;
        match (parses(old, settings), parses(&new, settings)) {
            (Some(a), Some(b)) if a == b => {}
            (_, None) => return Err("the edited file would not parse".into()),
            _ => return Err("the edited file would have a different number of documents".into()),
        }
        new_texts[i] = Some(new);
    }
    let mut next = clone_inputs(current);
    for &i in per_file.keys() {
        next[i].bytes = Ok(new_texts[i].clone().expect("edited").into_bytes());
    }
    let relinted = engine::lint_inputs(clone_inputs(&next), settings);
    let after = census(&relinted);
    let mut expected: BTreeMap<Identity, usize> = BTreeMap::new();
    for c in batch {
        *expected.entry(identity(report, c.diag)).or_insert(0) += 1;
    }
    for (id, n) in expected {
        let was = before.get(&id).copied().unwrap_or(0);
        let now = after.get(&id).copied().unwrap_or(0);
        if now + n > was {
            return Err("the finding was still reported after the edit".into());
        }
    }
    // A fix must not make a file unreadable to the rules in other ways either.
    let syntax = |r: &Report| {
        r.diagnostics
            .iter()
            .filter(|d| {
                d.rule == RuleId::YamlSyntax.name() || d.rule == RuleId::SchemaInvalid.name()
            })
            .count()
    };
    if syntax(&relinted) > syntax(report) {
        return Err("the edit made an object unreadable".into());
    }
    Ok((new_texts, next, relinted))
}

fn reject(report: &Report, d: &Diagnostic, reason: &str) -> Rejected {
    let f = &report.files[d.loc.file as usize];
    Rejected {
        rule: d.rule,
        file: f.display.clone(),
        line: line_of(f, d.loc.span.start),
        reason: reason.to_string(),
    }
}

fn applied_entry(report: &Report, d: &Diagnostic) -> Applied {
    let f = &report.files[d.loc.file as usize];
    let fix = d.fix.as_ref().expect("applied fixes exist");
    Applied {
        rule: d.rule,
        file: f.display.clone(),
        line: line_of(f, d.loc.span.start),
        description: fix.description.clone(),
        applicability: fix.applicability,
    }
}

/// A unified diff of every changed file (`a/` and `b/` prefixes, as git prints them).
pub(crate) fn diff(changed: &[Changed]) -> String {
    let mut out = String::new();
    for c in changed {
        let d = similar::TextDiff::from_lines(&c.before_shown, &c.after_shown);
        out.push_str(
            &d.unified_diff()
                .context_radius(3)
                .header(&format!("a/{}", c.display), &format!("b/{}", c.display))
                .to_string(),
        );
        if !out.ends_with('\n') {
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
    out
}

/// Write a changed file atomically: a temporary file in the same directory, with the original's
/// permissions, renamed over it; never when the file on disk is no longer the text that was
/// linted. A symbolic link is followed so that the link stays a link.
pub(crate) fn write(c: &Changed) -> Result<(), String> {
    let Some(path) = &c.path else {
        return Err("not a file on disk".into());
    };
    let target = std::fs::canonicalize(path).map_err(|e| e.to_string())?;
    let on_disk = std::fs::read(&target).map_err(|e| e.to_string())?;
    if on_disk != c.before.as_bytes() {
        return Err("it changed on disk while being fixed; left as it is".into());
    }
    let perms = std::fs::metadata(&target)
        .map_err(|e| e.to_string())?
        .permissions();
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".kube-migrate-lint-")
        .tempfile_in(dir)
        .map_err(|e| e.to_string())?;
    use std::io::Write;
    tmp.write_all(c.after.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| e.to_string())?;
    std::fs::set_permissions(tmp.path(), perms).map_err(|e| e.to_string())?;
    tmp.persist(&target).map_err(|e| e.error.to_string())?;
    Ok(())
}
