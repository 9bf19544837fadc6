//! Source files and position arithmetic.
//!
//! Byte offsets are the truth everywhere inside the linter; lines and columns (1-based, columns
//! counted in Unicode scalar values) are derived at the edge, and UTF-16 columns for LSP too.

/// A position as users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub(crate) column: u32,
    /// 0-based byte offset.
    pub(crate) offset: u32,
}

/// A half-open byte range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: u32,
    /// Byte offset just past the last byte.
    pub end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end.max(start) as u32,
        }
    }
    pub(crate) fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.end == self.start
    }
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Start offsets of every line; YAML line breaks are LF, CRLF and a lone CR.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    /// Index the line starts of `text` (a leading BOM is skipped).
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let first = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let mut starts = vec![first as u32];
        // `\n`, `\r\n` and a lone `\r` each end a line (found with SIMD: this runs over
        // every byte of every file).
        for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            let crlf = bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n');
            if !crlf {
                starts.push((i + 1) as u32);
            }
        }
        LineIndex { starts }
    }

    /// How many lines the text has.
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// 0-based line holding `offset`.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        let o = offset as u32;
        self.starts.partition_point(|&s| s <= o).saturating_sub(1)
    }

    /// Byte offset where 0-based `line` starts.
    pub(crate) fn line_start(&self, line: usize) -> usize {
        self.starts
            .get(line)
            .copied()
            .unwrap_or_else(|| *self.starts.last().unwrap_or(&0)) as usize
    }

    /// The text of 0-based `line`, without its line break.
    pub(crate) fn line_text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let start = self.line_start(line).min(text.len());
        let end = if line + 1 < self.starts.len() {
            self.starts[line + 1] as usize
        } else {
            text.len()
        };
        text[start..end.max(start)].trim_end_matches(['\n', '\r'])
    }

    pub(crate) fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.line_of(offset);
        let start = self.line_start(line).min(offset);
        let column = text[start..offset].chars().count() + 1;
        Position {
            line: line as u32 + 1,
            column: column as u32,
            offset: offset as u32,
        }
    }

    /// 0-based UTF-16 column of `offset` (what LSP wants).
    pub(crate) fn utf16_column(&self, text: &str, offset: usize) -> usize {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let start = self.line_start(self.line_of(offset)).min(offset);
        text[start..offset].encode_utf16().count()
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Maps character indexes (as the YAML scanner counts them) to byte offsets.
#[derive(Debug, Clone, Default)]
pub(crate) struct CharToByte {
    /// For each non-ASCII character: its char index and the extra bytes up to and including it.
    wide: Vec<(u32, u32)>,
}

impl CharToByte {
    pub(crate) fn new(text: &str) -> CharToByte {
        if text.is_ascii() {
            return CharToByte::default();
        }
        let mut wide = Vec::new();
        let mut extra = 0u32;
        for (ci, ch) in text.chars().enumerate() {
            let len = ch.len_utf8() as u32;
            if len > 1 {
                extra += len - 1;
                wide.push((ci as u32, extra));
            }
        }
        CharToByte { wide }
    }

    pub(crate) fn byte(&self, char_index: usize) -> usize {
        let ci = char_index as u32;
        let k = self.wide.partition_point(|&(c, _)| c < ci);
        let extra = if k == 0 { 0 } else { self.wide[k - 1].1 };
        (ci + extra) as usize
    }
}

/// One input file as read from disk (or stdin).
#[derive(Debug)]
pub struct SourceFile {
    /// Path as shown to users: as given, joined with what was found under it, `/` separated.
    pub display: String,
    /// Filesystem path, when the file came from disk.
    pub path: Option<std::path::PathBuf>,
    /// Shared with the file's parsed documents, whose scalars are ranges of it.
    pub text: std::sync::Arc<str>,
    pub(crate) lines: LineIndex,
}

impl SourceFile {
    pub(crate) fn new(
        display: String,
        path: Option<std::path::PathBuf>,
        text: impl Into<std::sync::Arc<str>>,
    ) -> SourceFile {
        let text = text.into();
        let lines = LineIndex::new(&text);
        SourceFile {
            display,
            path,
            text,
            lines,
        }
    }

    /// The file without its text, for a report that shows nothing of it (no finding is in
    /// it): a run over a large tree keeps only the texts it shows.
    pub(crate) fn without_text(self) -> SourceFile {
        SourceFile::new(self.display, self.path, String::new())
    }

    pub(crate) fn position(&self, offset: usize) -> Position {
        self.lines.position(&self.text, offset)
    }
}

/// Why file bytes are not UTF-8 text: where, why, and the text to show for the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Undecodable {
    /// Byte offset of the first bad byte.
    pub(crate) at: usize,
    pub(crate) message: String,
    /// What the file can be shown as: the lossy text of an invalid-UTF-8 file (its valid
    /// prefix, and so the offset, unchanged), nothing for binary or UTF-16 files.
    pub(crate) shown: String,
}

/// Decode file bytes, refusing what is not UTF-8 text with the offset of the first bad byte.
/// The bytes are consumed: no copy is made on the way.
pub(crate) fn decode(bytes: Vec<u8>) -> Result<String, Undecodable> {
    let refuse = |at, message: String| Undecodable {
        at,
        message,
        shown: String::new(),
    };
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err(refuse(
            0,
            "file is UTF-16 encoded; Kubernetes manifests must be UTF-8 (convert it with iconv -f UTF-16 -t UTF-8)".into(),
        ));
    }
    if let Some(at) = memchr::memchr(0, &bytes) {
        return Err(refuse(at, format!("binary file: NUL byte at offset {at}")));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        Undecodable {
            at,
            message: format!("invalid UTF-8: bad byte at offset {at}"),
            shown: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a: é\nbc: d\r\ne: f\rg: h";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_count(), 4);
        let p = idx.position(text, text.find('é').unwrap());
        assert_eq!((p.line, p.column), (1, 4));
        let p = idx.position(text, text.find('d').unwrap());
        assert_eq!((p.line, p.column), (2, 5));
        let p = idx.position(text, text.find('f').unwrap());
        assert_eq!((p.line, p.column), (3, 4));
        let p = idx.position(text, text.find('g').unwrap());
        assert_eq!((p.line, p.column), (4, 1));
        assert_eq!(idx.line_text(text, 1), "bc: d");
    }

    #[test]
    fn bom_is_not_a_column() {
        let text = "\u{feff}a: b";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 3).column, 1);
        assert_eq!(idx.line_text(text, 0), "a: b");
    }

    #[test]
    fn utf16_columns_count_surrogate_pairs() {
        let text = "x: \"😀\" y";
        let idx = LineIndex::new(text);
        let y = text.find('y').unwrap();
        assert_eq!(idx.utf16_column(text, y), 8);
        assert_eq!(idx.position(text, y).column, 8);
    }

    #[test]
    fn char_to_byte_maps_wide_characters() {
        let text = "aé😀b";
        let m = CharToByte::new(text);
        assert_eq!(m.byte(0), 0);
        assert_eq!(m.byte(1), 1);
        assert_eq!(m.byte(2), 3);
        assert_eq!(m.byte(3), 7);
        assert_eq!(&text[m.byte(3)..], "b");
    }

    #[test]
    fn decode_reports_first_bad_byte() {
        assert_eq!(decode(b"ab\xffc".to_vec()).unwrap_err().at, 2);
        assert_eq!(decode(b"ab\0c".to_vec()).unwrap_err().at, 2);
        assert!(
            decode(vec![0xff, 0xfe, b'a', 0])
                .unwrap_err()
                .message
                .contains("UTF-16")
        );
        assert_eq!(decode(b"ok".to_vec()).unwrap(), "ok");
        // The shown text keeps the valid prefix, so the offset still points at the bad byte.
        assert!(
            decode(b"ab\xffc".to_vec())
                .unwrap_err()
                .shown
                .starts_with("ab")
        );
    }
}
