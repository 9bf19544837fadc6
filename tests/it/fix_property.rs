//! Property test for `--fix`: thousands of generated migration Jobs, written in every style a
//! user might (block or flow collections, two or four spaces, sequences indented or not,
//! comments above and beside keys, CRLF or LF, quoted or plain values, a second document), each
//! with some of backoffLimit / restartPolicy / the Flux force annotation wrong or missing.
//!
//! For each: the fixes apply without being rejected; the fixed text parses and the findings are
//! gone; fixing again changes nothing; the data is the original's except the fixed fields; every
//! comment survives; and every line the fix removed or rewrote holds a fixed field, or is a flow
//! mapping that gained one by pure insertion.
//!
//! The generator is a seeded xorshift, so a failure names its case number and prints the input;
//! cases are small enough to read without shrinking.

use kube_migrate_lint::engine::fix::{self, Options};
use kube_migrate_lint::engine::{Input, Settings};
use serde_json::Value;

const CASES: u64 = 3000;
const FORCE: &str = "kustomize.toolkit.fluxcd.io/force";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// One generated manifest: its text, and what the fixes must leave changed.
fn generate(rng: &mut Rng) -> String {
    let ind = rng.pick(&["  ", "    "]);
    let seq_indented = rng.chance(50);
    let flow_meta = rng.chance(25);
    let flow_pod = rng.chance(25);
    let i = |n: usize| ind.repeat(n);
    let mut out = String::new();
    let comment = |rng: &mut Rng, out: &mut String, depth: usize| {
        if rng.chance(30) {
            out.push_str(&format!(
                "{}# note {}\n",
                ind.repeat(depth),
                rng.next() % 100
            ));
        }
    };
    let trailing = |rng: &mut Rng| -> String {
        if rng.chance(25) {
            format!("  # why {}", rng.next() % 100)
        } else {
            String::new()
        }
    };
    let q = |rng: &mut Rng, s: &str| -> String {
        match rng.next() % 3 {
            0 => s.to_string(),
            1 => format!("'{s}'"),
            _ => format!("\"{s}\""),
        }
    };
    if rng.chance(20) {
        out.push_str("# generated migration job\n");
    }
    out.push_str("apiVersion: batch/v1\nkind: Job\n");
    comment(rng, &mut out, 0);
    let name = format!("app{}-migration-v{}", rng.next() % 10, rng.next() % 9 + 1);
    // The force annotation: present and right, present and wrong, or absent.
    let force = match rng.next() % 3 {
        0 => Some(q(rng, "enabled")),
        1 => {
            let v = rng.pick(&["true", "disabled", "yes-please"]);
            Some(q(rng, v))
        }
        _ => None,
    };
    let labels = rng.chance(40);
    if flow_meta {
        let mut parts = vec![format!("name: {name}")];
        if labels {
            parts.push("labels: {app: web}".into());
        }
        if let Some(f) = &force {
            parts.push(format!("annotations: {{{FORCE}: {f}}}"));
        }
        out.push_str(&format!("metadata: {{{}}}\n", parts.join(", ")));
    } else {
        out.push_str("metadata:\n");
        comment(rng, &mut out, 1);
        out.push_str(&format!("{}name: {name}{}\n", i(1), trailing(rng)));
        if labels {
            out.push_str(&format!("{}labels:\n{}app: web\n", i(1), i(2)));
        }
        if let Some(f) = &force {
            out.push_str(&format!("{}annotations:\n", i(1)));
            if rng.chance(30) {
                out.push_str(&format!("{}team: db\n", i(2)));
            }
            out.push_str(&format!("{}{FORCE}: {f}{}\n", i(2), trailing(rng)));
        }
    }
    out.push_str("spec:\n");
    comment(rng, &mut out, 1);
    match rng.next() % 3 {
        0 => out.push_str(&format!("{}backoffLimit: 0\n", i(1))),
        1 => out.push_str(&format!(
            "{}backoffLimit: {}{}\n",
            i(1),
            rng.next() % 6 + 1,
            trailing(rng)
        )),
        _ => {}
    }
    if rng.chance(30) {
        out.push_str(&format!("{}activeDeadlineSeconds: 600\n", i(1)));
    }
    comment(rng, &mut out, 1);
    out.push_str(&format!("{}template:\n", i(1)));
    let policy = match rng.next() % 3 {
        0 => Some(q(rng, "Never")),
        1 => {
            let v = rng.pick(&["OnFailure", "Always"]);
            Some(q(rng, v))
        }
        _ => None,
    };
    let image = format!("registry.example.com/app-migration:1.{}.0", rng.next() % 50);
    if flow_pod {
        let mut parts = Vec::new();
        if let Some(p) = &policy {
            parts.push(format!("restartPolicy: {p}"));
        }
        parts.push(format!(
            "containers: [{{name: migrate, image: {image}, command: [./migrate, up]}}]"
        ));
        if rng.chance(50) {
            parts.reverse();
        }
        out.push_str(&format!("{}spec: {{{}}}\n", i(2), parts.join(", ")));
    } else {
        out.push_str(&format!("{}spec:\n", i(2)));
        let dash = if seq_indented {
            format!("{}- ", i(4))
        } else {
            format!("{}- ", i(3))
        };
        let cont = " ".repeat(dash.len());
        let policy_first = rng.chance(50);
        let write_policy = |out: &mut String, rng: &mut Rng| {
            if let Some(p) = &policy {
                out.push_str(&format!("{}restartPolicy: {p}{}\n", i(3), trailing(rng)));
            }
        };
        if policy_first {
            write_policy(&mut out, rng);
        }
        comment(rng, &mut out, 3);
        out.push_str(&format!("{}containers:\n", i(3)));
        out.push_str(&format!("{dash}name: migrate\n{cont}image: {image}\n"));
        if rng.chance(50) {
            out.push_str(&format!("{cont}command:\n{cont}- ./migrate\n{cont}- up\n"));
        }
        if !policy_first {
            write_policy(&mut out, rng);
        }
    }
    if rng.chance(30) {
        out.push_str("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config # kept\ndata:\n  MODE: fast\n");
    }
    if rng.chance(30) {
        out = out.replace('\n', "\r\n");
    }
    out
}

fn fix_text(text: &str) -> fix::Outcome {
    fix::fix(
        vec![Input::from_bytes("job.yaml", text.as_bytes().to_vec())],
        &Settings::default(),
        Options::default(),
        &|_| true,
    )
}

/// Every document, as data, without the fields the fixes own.
fn data_without_fixed_fields(text: &str) -> Vec<Value> {
    let parsed = kube_migrate_lint::yaml::parse(text, Default::default());
    assert!(parsed.error.is_none(), "{:?}", parsed.error);
    parsed
        .docs
        .iter()
        .map(|d| {
            let mut v: Value = kube_migrate_lint::yaml::from_node(
                d,
                d.root,
                kube_migrate_lint::model::DEFAULT_EXPANSION_BUDGET,
            )
            .unwrap();
            if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("backoffLimit");
            }
            if let Some(pod) = v
                .pointer_mut("/spec/template/spec")
                .and_then(Value::as_object_mut)
            {
                pod.remove("restartPolicy");
            }
            if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut)
                && let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut)
            {
                a.remove(FORCE);
                if a.is_empty() {
                    meta.remove("annotations");
                }
            }
            v
        })
        .collect()
}

/// Does this text hold a field the fixes own?
fn owned(text: &str) -> bool {
    ["backoffLimit", "restartPolicy", FORCE]
        .iter()
        .any(|k| text.contains(k))
}

/// When `new` is `old` with one run of text inserted, that run.
fn pure_insertion<'t>(old: &str, new: &'t str) -> Option<&'t str> {
    let prefix = old
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = old[prefix..]
        .bytes()
        .rev()
        .zip(new[prefix..].bytes().rev())
        .take_while(|(a, b)| a == b)
        .count();
    (prefix + suffix == old.len() && new.len() > old.len())
        .then(|| &new[prefix..new.len() - suffix])
}

fn comments(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.find('#').map(|i| l[i..].trim_end()))
        .collect()
}

#[test]
fn fixes_on_generated_manifests_are_exact_complete_and_idempotent() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut fixed_count = 0;
    for case in 0..CASES {
        let text = generate(&mut rng);
        let ctx = |what: &str| format!("case {case}: {what}\n--- input ---\n{text}");
        let o = fix_text(&text);
        assert!(
            o.rejected.is_empty(),
            "{}",
            ctx(&format!("rejected {:?}", o.rejected))
        );
        let after = match o.changed.first() {
            Some(c) => c.after.clone(),
            None => text.clone(),
        };
        let left: Vec<_> = o
            .report
            .diagnostics
            .iter()
            .filter(|d| {
                matches!(
                    d.rule,
                    "job-backoff-limit-nonzero"
                        | "job-restart-policy-not-never"
                        | "job-force-annotation-missing"
                        | "yaml-syntax"
                        | "schema-invalid"
                )
            })
            .map(|d| (d.rule, d.message.clone()))
            .collect();
        assert!(
            left.is_empty(),
            "{}",
            ctx(&format!("left {left:?}\n--- after ---\n{after}"))
        );
        if o.changed.is_empty() {
            continue;
        }
        fixed_count += 1;
        assert!(
            fix_text(&after).changed.is_empty(),
            "{}",
            ctx(&format!("not idempotent\n--- after ---\n{after}"))
        );
        assert_eq!(
            data_without_fixed_fields(&text),
            data_without_fixed_fields(&after),
            "{}",
            ctx(&format!("data changed\n--- after ---\n{after}"))
        );
        assert_eq!(comments(&text), comments(&after), "{}", ctx("comments"));
        assert_eq!(
            text.contains("\r\n"),
            after.contains("\r\n") && !after.replace("\r\n", "").contains('\n'),
            "{}",
            ctx(&format!("line endings mixed\n--- after ---\n{after:?}"))
        );
        // Exactness: a line the fixes did not own is either kept byte for byte or (a flow
        // mapping gaining a key) kept with text inserted, and what was inserted is a fixed key.
        let old: Vec<&str> = text.split_inclusive('\n').collect();
        let new: Vec<&str> = after.split_inclusive('\n').collect();
        let diff = similar::TextDiff::from_lines(&text, &after);
        for op in diff.ops() {
            if op.tag() == similar::DiffTag::Equal {
                continue;
            }
            let inserted = &new[op.new_range()];
            for line in &old[op.old_range()] {
                if owned(line) {
                    continue;
                }
                assert!(
                    inserted
                        .iter()
                        .any(|n| pure_insertion(line, n).is_some_and(owned)),
                    "{}",
                    ctx(&format!(
                        "rewrote an unrelated line {line:?}\n--- after ---\n{after}"
                    ))
                );
            }
        }
    }
    assert!(
        fixed_count > CASES / 2,
        "too few cases needed a fix: {fixed_count}"
    );
}
