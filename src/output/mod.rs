//! Emitters: each consumes the format-neutral report and writes one format.

pub mod concise;
pub mod human;
pub mod json;

use crate::diagnostic::Loc;
use crate::engine::Report;
use crate::source::Position;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Concise,
}

/// Start and end (exclusive) positions of a location.
pub fn range(report: &Report, loc: Loc) -> (Position, Position) {
    let f = &report.files[loc.file as usize];
    (
        f.position(loc.span.start as usize),
        f.position(loc.span.end as usize),
    )
}
