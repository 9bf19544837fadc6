//! The human report: miette snippets with the node underlined, then a summary.

use crate::base::diagnostic::{Diagnostic as Finding, Severity};
use crate::engine::Report;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub(crate) struct Options {
    pub(crate) color: bool,
    pub(crate) width: usize,
    /// pre-commit runs the binary from its own environment, where `kube-migrate-lint explain`
    /// cannot be run: the closing hint gives each rule's page by URL instead.
    pub(crate) under_pre_commit: bool,
}

/// One finding as miette sees it.
struct Shown {
    message: String,
    source: NamedSource<Arc<str>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Shown>,
    severity: miette::Severity,
    help: Option<String>,
    code: Option<String>,
}

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Shown {}

impl miette::Diagnostic for Shown {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

fn severity(s: Severity) -> miette::Severity {
    match s {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    }
}

/// The files' texts as shown, secret values masked (CI logs are public): each finding's file is
/// masked once for the findings on it (they are sorted by file), and dropped after them.
struct Masked<'r> {
    report: &'r Report,
    /// Each file's redactions, gathered in one pass.
    spans: &'r HashMap<u32, Vec<crate::base::source::Span>>,
    /// The file the current findings are on, masked.
    file: u32,
    text: Arc<str>,
}

impl<'r> Masked<'r> {
    fn new(
        report: &'r Report,
        spans: &'r HashMap<u32, Vec<crate::base::source::Span>>,
        file: u32,
    ) -> Self {
        let text = Self::mask(report, spans, file);
        Masked {
            report,
            spans,
            file,
            text,
        }
    }

    fn mask(
        report: &Report,
        spans: &HashMap<u32, Vec<crate::base::source::Span>>,
        file: u32,
    ) -> Arc<str> {
        let f = &report.files[file as usize];
        let spans = spans.get(&file).map(Vec::as_slice).unwrap_or(&[]);
        Arc::from(crate::base::mask::mask(&f.text, spans))
    }

    fn source(&self, file: u32) -> NamedSource<Arc<str>> {
        let text = if file == self.file {
            self.text.clone()
        } else {
            // A related location in another file: masked for this one use.
            Self::mask(self.report, self.spans, file)
        };
        let f = &self.report.files[file as usize];
        NamedSource::new(&f.display, text).with_language("yaml")
    }
}

/// miette wants a non-empty span to draw an underline; widen an empty one to one character.
fn visible(report: &Report, file: u32, span: crate::base::source::Span) -> (usize, usize) {
    let text = &report.files[file as usize].text;
    let start = (span.start as usize).min(text.len());
    if !span.is_empty() || start >= text.len() {
        return (start, span.len());
    }
    let len = text[start..]
        .chars()
        .next()
        .map(char::len_utf8)
        .unwrap_or(0);
    let len = if text[start..].starts_with(['\n', '\r']) {
        0
    } else {
        len
    };
    (start, len)
}

fn shown(report: &Report, masked: &Masked<'_>, d: &Finding) -> Shown {
    let (start, len) = visible(report, d.loc.file, d.loc.span);
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        d.path.clone(),
        (start, len),
    )];
    let mut related = Vec::new();
    for r in &d.related {
        let (s, l) = visible(report, r.loc.file, r.loc.span);
        if r.loc.file == d.loc.file {
            labels.push(LabeledSpan::new_with_span(Some(r.message.clone()), (s, l)));
        } else {
            related.push(Shown {
                message: r.message.clone(),
                source: masked.source(r.loc.file),
                labels: vec![LabeledSpan::new_primary_with_span(None, (s, l))],
                related: Vec::new(),
                severity: miette::Severity::Advice,
                help: None,
                code: None,
            });
        }
    }
    Shown {
        message: d.message.clone(),
        source: masked.source(d.loc.file),
        labels,
        related,
        severity: severity(d.severity),
        help: d.help.clone(),
        code: Some(format!("{}[{}]", d.severity.as_str(), d.rule)),
    }
}

pub(crate) fn render(report: &Report, opts: &Options) -> String {
    let theme = if opts.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(opts.width)
        .with_context_lines(1)
        .with_links(false)
        // Break lines at spaces only: never inside a name such as `myapp-migration-v1.2`.
        .with_word_separator(textwrap::WordSeparator::AsciiSpace)
        .with_word_splitter(textwrap::WordSplitter::NoHyphenation);
    let mut spans: HashMap<u32, Vec<crate::base::source::Span>> = HashMap::new();
    for l in &report.redactions {
        spans.entry(l.file).or_default().push(l.span);
    }
    // File by file in parallel (each file masked once, for its findings), in order.
    let rendered: Vec<String> = report
        .diagnostics
        .chunk_by(|a, b| a.loc.file == b.loc.file)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|on_file| {
            let masked = Masked::new(report, &spans, on_file[0].loc.file);
            let mut out = String::new();
            for d in on_file {
                let s = shown(report, &masked, d);
                if handler.render_report(&mut out, &s).is_err() {
                    out.push_str(&super::concise::line(report, d));
                }
                out.push('\n');
            }
            out
        })
        .collect();
    let mut out = rendered.concat();
    out.push_str(&summary(report));
    out.push_str(&hint(report, opts.under_pre_commit));
    out
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

pub(crate) fn summary(report: &Report) -> String {
    let ms = report.elapsed.as_secs_f64() * 1000.0;
    let time = if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    };
    let mut s = format!(
        "Checked {} ({}) in {time}: {}, {}, {}.\n",
        plural(report.files.len(), "file"),
        plural(report.objects.len(), "object"),
        plural(report.count(Severity::Error), "error"),
        plural(report.count(Severity::Warning), "warning"),
        plural(report.count(Severity::Info), "info"),
    );
    s.push_str(&engines(report));
    s
}

/// Which engine each build was taken to be applied by, and why: one line per verdict, naming
/// its builds (the first few).
pub(crate) fn engines(report: &Report) -> String {
    let mut groups: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for e in &report.engines {
        match groups
            .iter_mut()
            .find(|(engine, why, _)| *engine == e.engine && *why == e.why)
        {
            Some(g) => g.2.push(&e.build),
            None => groups.push((e.engine, &e.why, vec![&e.build])),
        }
    }
    const SHOWN: usize = 4;
    let mut out = String::new();
    for (engine, why, builds) in groups {
        let mut names: Vec<String> = builds
            .iter()
            .take(SHOWN)
            .map(|b| format!("`{b}`"))
            .collect();
        if builds.len() > SHOWN {
            names.push(format!("{} more", builds.len() - SHOWN));
        }
        out.push_str(&format!(
            "Deploy engine {engine} for {} ({}): {why}.\n",
            plural(builds.len(), "build"),
            names.join(", ")
        ));
    }
    out
}

/// Where to read why a rule matters and how to fix it: `explain` when the binary is at hand,
/// else each rule's page (the rule pages are in the repository, linked from SARIF too).
pub(crate) fn hint(report: &Report, under_pre_commit: bool) -> String {
    let Some(first) = report.diagnostics.first() else {
        return String::new();
    };
    if !under_pre_commit {
        return format!(
            "Run `kube-migrate-lint explain {}` to see why a rule matters and how to fix it.\n",
            first.rule
        );
    }
    let mut rules: Vec<&str> = Vec::new();
    for d in &report.diagnostics {
        if !rules.contains(&d.rule) {
            rules.push(d.rule);
        }
    }
    let mut s = String::from("Why each rule matters and how to fix it:\n");
    for r in rules {
        s.push_str(&format!("  {r}: {}\n", super::sarif::rule_url(r)));
    }
    s
}
