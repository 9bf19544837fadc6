//! The benchmark's floor: what any linter built on the same YAML crate must at least spend.
//!
//!     parse_floor [--threads N] [--tree] PATH...
//!
//! Discovers files exactly as the linter does (`discover::discover`, the `ignore` walker),
//! reads each one and, in parallel with rayon, drains `saphyr-parser` events and nothing else.
//! With `--tree` it instead builds the linter's spanned tree (`kube_migrate_lint::yaml::parse`)
//! and drops it, which separates the parser's cost from the tree's; rules, contexts and output
//! are never run. Prints files, bytes and events (or nodes) to stderr. Used by bench/run.py.

use kube_migrate_lint::model::discover::{self, Excludes};
use kube_migrate_lint::yaml;
use rayon::prelude::*;
use saphyr_parser::Parser;
use std::path::PathBuf;

fn main() {
    let mut threads = None;
    let mut tree = false;
    let mut roots = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().and_then(|n| n.parse::<usize>().ok()),
            "--tree" => tree = true,
            _ => roots.push(PathBuf::from(a)),
        }
    }
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .expect("thread pool");
    }
    let found = discover::discover(&roots, &Excludes::default());
    let (bytes, units) = found
        .files
        .par_iter()
        .map(|c| {
            let Ok(data) = std::fs::read(&c.path) else {
                return (0, 0);
            };
            let len = data.len();
            let Ok(text) = String::from_utf8(data) else {
                return (len, 0);
            };
            if tree {
                let parsed = yaml::parse_shared(&text.into(), yaml::Limits::default());
                (len, parsed.docs.iter().map(|d| d.len()).sum::<usize>())
            } else {
                let mut parser = Parser::new_from_str(&text).keep_tags(true);
                let mut events = 0usize;
                while let Some(Ok(_)) = parser.next_event() {
                    events += 1;
                }
                (len, events)
            }
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    eprintln!(
        "{} files, {} bytes, {} {}",
        found.files.len(),
        bytes,
        units,
        if tree { "nodes" } else { "events" }
    );
}
