//! The patcher: a pure function from a file's original bytes plus planned decorators to the
//! patched bytes.
//!
//! It inserts `@functools.lru_cache(maxsize=N)` (`typed=True` when asked, `maxsize=None` for
//! unbounded) on its own line directly above the `def` keyword's line: below every other
//! decorator, so it sits under `@staticmethod`/`@classmethod` where it works, at the def's
//! own indentation (tabs stay tabs). When the module lacks `import functools`, it adds one
//! after the docstring and `from __future__` imports. Each inserted line takes the line
//! ending of the line it sits on (LF or CRLF); a UTF-8 BOM and every other byte are kept.
//! It does no I/O: the journal and the trial runner decide when bytes reach the disk.

use crate::python::cache_size::CacheSize;
use crate::python::source::{ImportInsertion, PythonFile};

/// One decorator to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecoratorEdit {
    /// Offset (into the text after the BOM) of the start of the `def` line.
    pub line_start: usize,
    pub indent: String,
    pub cache_size: CacheSize,
    pub typed: bool,
}

/// The patched file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Patched {
    pub bytes: Vec<u8>,
    /// 0-based indices of the lines we inserted, in the patched file.
    pub inserted_lines: Vec<usize>,
}

/// The decorator line's text, without indentation or line ending.
pub(crate) fn decorator_text(cache_size: CacheSize, typed: bool) -> String {
    let typed = if typed { ", typed=True" } else { "" };
    format!("@functools.lru_cache(maxsize={}{typed})", cache_size.python_literal())
}

/// Apply `edits` to `file`. Edits at the same line are inserted once.
pub(crate) fn patch(file: &PythonFile, edits: &[DecoratorEdit]) -> Patched {
    let text = &*file.source.text;
    let mut insertions: Vec<(usize, String)> = Vec::new();
    if !edits.is_empty() && !file.imports_functools {
        let insertion = match file.import_insertion {
            ImportInsertion::LineStart(offset) => {
                (offset, format!("import functools{}", line_ending_at(text, offset)))
            }
            ImportInsertion::EndOfFile => {
                let ending = dominant_line_ending(text);
                let separator = if text.is_empty() || text.ends_with('\n') { "" } else { ending };
                (text.len(), format!("{separator}import functools{ending}"))
            }
        };
        insertions.push(insertion);
    }
    let mut edits: Vec<&DecoratorEdit> = edits.iter().collect();
    edits.sort_by_key(|edit| edit.line_start);
    edits.dedup_by_key(|edit| edit.line_start);
    for edit in edits {
        let line = format!(
            "{}{}{}",
            edit.indent,
            decorator_text(edit.cache_size, edit.typed),
            line_ending_at(text, edit.line_start)
        );
        insertions.push((edit.line_start, line));
    }
    insertions.sort_by_key(|(offset, _)| *offset);

    let mut bytes = Vec::with_capacity(
        file.bytes.len() + insertions.iter().map(|(_, line)| line.len()).sum::<usize>(),
    );
    if file.has_bom {
        bytes.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let mut inserted_lines = Vec::with_capacity(insertions.len());
    let mut copied = 0;
    let mut lines_so_far = 0;
    for (offset, line) in insertions {
        let chunk = &text[copied..offset];
        lines_so_far += chunk.matches('\n').count();
        bytes.extend_from_slice(chunk.as_bytes());
        // An end-of-file insertion may start with the newline the file lacked.
        let leading_newlines = line.trim_end_matches(['\r', '\n']).matches('\n').count();
        inserted_lines.push(lines_so_far + leading_newlines);
        lines_so_far += line.matches('\n').count();
        bytes.extend_from_slice(line.as_bytes());
        copied = offset;
    }
    bytes.extend_from_slice(&text.as_bytes()[copied..]);
    Patched { bytes, inserted_lines }
}

/// The ending of the line that starts at `line_start` (or of the file's lines, for a last
/// line without one).
fn line_ending_at(text: &str, line_start: usize) -> &'static str {
    match text[line_start..].find('\n') {
        Some(newline) if text[..line_start + newline].ends_with('\r') => "\r\n",
        Some(_) => "\n",
        None => dominant_line_ending(text),
    }
}

fn dominant_line_ending(text: &str) -> &'static str {
    let total = text.matches('\n').count();
    let crlf = text.matches("\r\n").count();
    if total > 0 && crlf * 2 > total { "\r\n" } else { "\n" }
}

/// A unified diff of one file, as `plan --diff` and `apply --keep` print it.
pub(crate) fn unified_diff(relative: &str, original: &[u8], patched: &[u8]) -> String {
    let original = String::from_utf8_lossy(original);
    let patched = String::from_utf8_lossy(patched);
    similar::TextDiff::from_lines(original.as_ref(), patched.as_ref())
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{relative}"), &format!("b/{relative}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn patch_all(bytes: &[u8], cache_size: CacheSize, typed: bool) -> Patched {
        let file = PythonFile::parse(PathBuf::from("m.py"), "m.py".to_owned(), bytes.to_vec())
            .expect("parses");
        let edits: Vec<_> = file
            .functions
            .iter()
            .map(|function| DecoratorEdit {
                line_start: function.line_start,
                indent: function.indent.clone(),
                cache_size,
                typed,
            })
            .collect();
        patch(&file, &edits)
    }

    fn text(patched: &Patched) -> String {
        String::from_utf8(patched.bytes.clone()).expect("utf-8")
    }

    #[test]
    fn decorator_goes_under_other_decorators_and_import_after_docstring() {
        let source = "\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\n\nclass A:\n    @staticmethod\n    def f(x):\n        return x\n";
        let patched = patch_all(source.as_bytes(), CacheSize::Bounded(128), false);
        assert_eq!(
            text(&patched),
            "\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\nimport functools\n\nclass A:\n    @staticmethod\n    @functools.lru_cache(maxsize=128)\n    def f(x):\n        return x\n"
        );
        assert_eq!(patched.inserted_lines, [2, 6]);
    }

    #[test]
    fn crlf_bom_and_tabs_are_kept() {
        let source =
            b"\xEF\xBB\xBFimport functools\r\nclass A:\r\n\tdef f(self):\r\n\t\treturn 1\r\n";
        let patched = patch_all(source, CacheSize::Unbounded, true);
        assert_eq!(
            patched.bytes,
            b"\xEF\xBB\xBFimport functools\r\nclass A:\r\n\t@functools.lru_cache(maxsize=None, typed=True)\r\n\tdef f(self):\r\n\t\treturn 1\r\n"
        );
    }

    #[test]
    fn file_without_final_newline_and_only_a_docstring_before() {
        let source = "\"\"\"Doc.\"\"\"\ndef f(): return 1";
        let patched = patch_all(source.as_bytes(), CacheSize::Bounded(0), false);
        assert_eq!(
            text(&patched),
            "\"\"\"Doc.\"\"\"\nimport functools\n@functools.lru_cache(maxsize=0)\ndef f(): return 1"
        );
    }

    #[test]
    fn removing_inserted_lines_gives_back_the_original() {
        let source = "# -*- coding: utf-8 -*-\nimport os\n\n\n@deco\nasync def f():\n    pass\n  \ndef g(): pass";
        let patched = patch_all(source.as_bytes(), CacheSize::Bounded(3), false);
        let restored: String = text(&patched)
            .split_inclusive('\n')
            .enumerate()
            .filter(|(index, _)| !patched.inserted_lines.contains(index))
            .map(|(_, line)| line)
            .collect();
        assert_eq!(restored, source);
    }
}
