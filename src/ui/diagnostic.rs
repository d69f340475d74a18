//! One diagnostic type for every problem that points into a file: manifest errors,
//! unresolved patterns, hazards in Python code, syntax errors, unsafe verdicts.
//!
//! [`SourceDiagnostic`] carries a stable code (`cachescan::manifest::unknown-key`,
//! `hazard::async-function`), a severity, the file's text with its display name, labelled
//! spans and a help line; miette renders it. This module does not decide what is wrong; the
//! modules that find problems build these. It also owns [`closest`], the "did you mean"
//! helper every suggestion goes through.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, Severity, SourceCode, SourceSpan};

/// The text of a file that diagnostics point into, shared between all diagnostics on it.
#[derive(Clone)]
pub(crate) struct SourceFile {
    pub name: String,
    pub text: Arc<str>,
    /// Byte offset of the start of every line, for line lookups in O(log n).
    line_starts: Arc<[usize]>,
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceFile").field("name", &self.name).finish_non_exhaustive()
    }
}

impl SourceFile {
    pub(crate) fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let line_starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|(_, byte)| *byte == b'\n')
                    .map(|(index, _)| index + 1),
            )
            .collect();
        Self { name: name.into(), text, line_starts }
    }

    /// 1-based line number of a byte offset.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }
}

/// A problem with a code, a message, labels in one file and a help line.
#[derive(Debug, Clone)]
pub struct SourceDiagnostic {
    code: String,
    message: String,
    severity: Severity,
    source: Option<SourceFile>,
    labels: Vec<(SourceSpan, String)>,
    help: Option<String>,
}

impl SourceDiagnostic {
    pub(crate) fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            severity: Severity::Error,
            source: None,
            labels: Vec::new(),
            help: None,
        }
    }

    pub(crate) fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Point at `span` (byte offset and length) in `source`, with a label text.
    pub(crate) fn with_label(
        mut self,
        source: &SourceFile,
        span: impl Into<SourceSpan>,
        label: impl Into<String>,
    ) -> Self {
        self.source = Some(source.clone());
        self.labels.push((span.into(), label.into()));
        self
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn with_optional_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }
}

impl fmt::Display for SourceDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SourceDiagnostic {}

impl Diagnostic for SourceDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }

    fn severity(&self) -> Option<Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|source| source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(
            self.labels
                .iter()
                .map(|(span, text)| LabeledSpan::new_with_span(Some(text.clone()), *span)),
        ))
    }
}

/// Reading through the shared text, but naming the file so miette prints `name:line:col`.
impl SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let contents = self.text.read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            contents.data(),
            *contents.span(),
            contents.line(),
            contents.column(),
            contents.line_count(),
        )))
    }
}

/// The candidate closest to `word` by edit distance, when it is close enough to be a
/// plausible typo ("funtions" -> "functions").
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_suggests_typos_only() {
        let keys = ["module", "path", "functions", "exclude"];
        assert_eq!(closest("funtions", keys), Some("functions"));
        assert_eq!(closest("modul", keys), Some("module"));
        assert_eq!(closest("banana", keys), None);
    }

    #[test]
    fn line_of_counts_from_one() {
        let file = SourceFile::new("f", "a\nb\nc");
        assert_eq!(file.line_of(0), 1);
        assert_eq!(file.line_of(2), 2);
        assert_eq!(file.line_of(4), 3);
    }
}
