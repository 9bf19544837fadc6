//! Emitters: each consumes the format-neutral report and writes one format.

pub(crate) mod concise;
pub(crate) mod github;
pub(crate) mod gitlab;
pub mod graph;
pub(crate) mod human;
pub(crate) mod json;
pub(crate) mod junit;
pub mod sarif;

use crate::base::diagnostic::Loc;
use crate::base::source::Position;
use crate::engine::Report;

/// A report format: the `--format` and `--output` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Concise,
    Gitlab,
    Junit,
    Sarif,
    Github,
}

/// `s` with each character `table` names replaced by its text (an empty text drops it), and
/// of the others those `keep` accepts.
pub(crate) fn escape(s: &str, table: &[(char, &str)], keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match table.iter().find(|(from, _)| *from == c) {
            Some((_, to)) => out.push_str(to),
            None if keep(c) => out.push(c),
            None => {}
        }
    }
    out
}

/// Start and end (exclusive) positions of a location.
pub fn range(report: &Report, loc: Loc) -> (Position, Position) {
    let f = &report.files[loc.file as usize];
    (
        f.position(loc.span.start as usize),
        f.position(loc.span.end as usize),
    )
}
