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

/// Start and end (exclusive) positions of a location.
pub fn range(report: &Report, loc: Loc) -> (Position, Position) {
    let f = &report.files[loc.file as usize];
    (
        f.position(loc.span.start as usize),
        f.position(loc.span.end as usize),
    )
}
