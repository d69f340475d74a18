//! The Python source model: one parsed file and the functions in it that could be cached.
//!
//! Parsing uses Ruff's parser (a real Python parser, current syntax), never regexes. For
//! every `def` at module or class level (also inside `if`/`try`/`with`/... at those levels)
//! we record its `__qualname__` (minus `<locals>`: functions nested in functions are not
//! targetable), the exact position of the `def`/`async` keyword (a function's AST range
//! starts at its first decorator), its indentation and its hazards. The file's original bytes
//! are kept so the patcher can reproduce everything it does not change.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::{self as ast, Stmt};
use ruff_text_size::{Ranged, TextRange, TextSize};

use crate::python::facts::{self, FunctionFacts, ModuleFacts};
use crate::python::hazard::Hazard;
use crate::python::hazard::analysis::{self as hazard, HazardContext};
use crate::python::hazard::names::decorator_name;
use crate::ui::diagnostic::{SourceDiagnostic, SourceFile};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A parsed Python file.
#[derive(Debug, Clone)]
pub(crate) struct PythonFile {
    /// Absolute path.
    pub path: PathBuf,
    /// Path relative to the project root, with `/` separators, for reports.
    pub relative: String,
    /// The file as read from disk.
    pub bytes: Vec<u8>,
    /// Whether `bytes` starts with a UTF-8 byte-order mark (not part of `source.text`).
    pub has_bom: bool,
    /// The text after the BOM; every offset in this model is into it.
    pub source: SourceFile,
    pub functions: Vec<FunctionDef>,
    /// Whether a top-level `import functools` already exists.
    pub imports_functools: bool,
    /// Where `import functools` goes: after the docstring and `from __future__` imports.
    pub import_insertion: ImportInsertion,
    /// What other modules' hazards need of this one (see [`crate::python::facts`]).
    pub facts: ModuleFacts,
}

/// Where to insert `import functools`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImportInsertion {
    /// At the start of the line at this offset (before the first ordinary statement, or the
    /// line after the docstring / `__future__` imports).
    LineStart(usize),
    /// At the end of a file that has nothing after its prelude (a newline may be needed).
    EndOfFile,
}

/// One function definition that a pattern can name.
#[derive(Debug, Clone)]
pub(crate) struct FunctionDef {
    /// `f`, `Class.method`, `Outer.Inner.method`.
    pub qualname: String,
    /// 1-based line of that keyword.
    pub line: usize,
    /// Offset of the start of that line.
    pub line_start: usize,
    /// Indentation of the `def` line, exactly as written (tabs stay tabs).
    pub indent: String,
    /// From the keyword to the end of the name, for labels.
    pub head: TextRange,
    /// Decorated with `typing.overload`: a stub, never patched.
    pub is_overload: bool,
    /// Defined inside `if`/`try`/`with`/`for`/`while`/`match` at its scope.
    pub is_conditional: bool,
    pub hazards: Vec<Hazard>,
    /// What other functions' hazards need of this one.
    pub facts: FunctionFacts,
}

/// Why a file could not be modelled: unreadable, not UTF-8, or a syntax error (with the
/// Python file and line).
pub(crate) type SourceError = Box<SourceDiagnostic>;

impl PythonFile {
    /// Read and parse `path`; `relative` is how reports name it.
    pub(crate) fn load(path: &Path, relative: String) -> Result<PythonFile, SourceError> {
        let bytes = crate::safety::fsio::read(path).map_err(|error| {
            Box::new(SourceDiagnostic::error("cachescan::python::unreadable", error.to_string()))
        })?;
        Self::parse(path.to_path_buf(), relative, bytes)
    }

    pub(crate) fn parse(
        path: PathBuf,
        relative: String,
        bytes: Vec<u8>,
    ) -> Result<PythonFile, SourceError> {
        let has_bom = bytes.starts_with(UTF8_BOM);
        let body = if has_bom { &bytes[UTF8_BOM.len()..] } else { &bytes[..] };
        let text = std::str::from_utf8(body)
            .map_err(|_| {
                Box::new(
                    SourceDiagnostic::error("cachescan::python::not-utf8", format!("{relative} is not UTF-8 text"))
                        .with_help("cachescan edits UTF-8 sources only (the default encoding of Python 3 files)"),
                )
            })?
            .to_owned();
        let source = SourceFile::new(relative.clone(), text);
        let parsed = ruff_python_parser::parse_module(&source.text).map_err(|error| {
            let line = source.line_of(error.location.start().to_usize());
            Box::new(
                SourceDiagnostic::error(
                    "cachescan::python::syntax-error",
                    format!("{relative}:{line}: invalid Python syntax"),
                )
                .with_label(&source, to_span(error.location), error.error.to_string())
                .with_help(
                    "cachescan only edits files that Python can parse; fix the file or exclude it",
                ),
            )
        })?;
        let module = parsed.syntax();
        let reassigned_globals = hazard::reassigned_globals(&module.body);
        let facts = facts::module_facts(&module.body, &source);
        let mut collector = Collector {
            text: &source.text,
            source: &source,
            tokens: parsed.tokens(),
            reassigned_globals: &reassigned_globals,
            module: &facts,
            functions: Vec::new(),
        };
        collector.body(&module.body, "", false, false);
        let functions = collector.functions;
        let imports_functools = module.body.iter().any(is_import_functools);
        let import_insertion = import_insertion(&source.text, &module.body, parsed.tokens());
        Ok(PythonFile {
            path,
            relative,
            bytes,
            has_bom,
            source,
            functions,
            imports_functools,
            import_insertion,
            facts,
        })
    }

    /// Qualified names of every function a pattern can name, for "did you mean".
    pub(crate) fn qualnames(&self) -> impl Iterator<Item = &str> {
        self.functions.iter().map(|function| function.qualname.as_str())
    }
}

pub(crate) fn to_span(range: TextRange) -> (usize, usize) {
    (range.start().to_usize(), range.len().to_usize())
}

struct Collector<'a> {
    text: &'a str,
    source: &'a SourceFile,
    tokens: &'a ruff_python_ast::token::Tokens,
    reassigned_globals: &'a HashSet<String>,
    module: &'a ModuleFacts,
    functions: Vec<FunctionDef>,
}

impl Collector<'_> {
    /// Visit a block of statements in the scope named by `prefix` (`""` or `"Class."`).
    fn body(&mut self, body: &[Stmt], prefix: &str, in_class: bool, conditional: bool) {
        for statement in body {
            match statement {
                Stmt::FunctionDef(function) => {
                    self.function(function, prefix, in_class, conditional)
                }
                Stmt::ClassDef(class) => {
                    let prefix = format!("{prefix}{}.", class.name.as_str());
                    self.body(&class.body, &prefix, true, conditional);
                }
                Stmt::If(statement) => {
                    self.body(&statement.body, prefix, in_class, true);
                    for clause in &statement.elif_else_clauses {
                        self.body(&clause.body, prefix, in_class, true);
                    }
                }
                Stmt::Try(statement) => {
                    self.body(&statement.body, prefix, in_class, true);
                    for handler in &statement.handlers {
                        let ast::ExceptHandler::ExceptHandler(handler) = handler;
                        self.body(&handler.body, prefix, in_class, true);
                    }
                    self.body(&statement.orelse, prefix, in_class, true);
                    self.body(&statement.finalbody, prefix, in_class, true);
                }
                Stmt::With(statement) => self.body(&statement.body, prefix, in_class, true),
                Stmt::For(statement) => {
                    self.body(&statement.body, prefix, in_class, true);
                    self.body(&statement.orelse, prefix, in_class, true);
                }
                Stmt::While(statement) => {
                    self.body(&statement.body, prefix, in_class, true);
                    self.body(&statement.orelse, prefix, in_class, true);
                }
                Stmt::Match(statement) => {
                    for case in &statement.cases {
                        self.body(&case.body, prefix, in_class, true);
                    }
                }
                _ => {}
            }
        }
    }

    fn function(
        &mut self,
        function: &ast::StmtFunctionDef,
        prefix: &str,
        in_class: bool,
        conditional: bool,
    ) {
        let search_from =
            function.decorator_list.last().map_or(function.start(), |decorator| decorator.end());
        let keyword_offset = self.keyword_offset(search_from, function.name.start());
        let line_start = self.text[..keyword_offset].rfind('\n').map_or(0, |newline| newline + 1);
        let indent = self.text[line_start..keyword_offset].to_owned();
        let head = TextRange::new(
            TextSize::try_from(keyword_offset).unwrap_or_default(),
            function.name.end(),
        );
        let is_overload = function.decorator_list.iter().any(|decorator| {
            decorator_name(&decorator.expression).rsplit('.').next() == Some("overload")
        });
        let context = HazardContext {
            in_class,
            module: self.module,
            reassigned_globals: self.reassigned_globals,
            head,
        };
        let (hazards, facts) = hazard::analyze(function, &context);
        self.functions.push(FunctionDef {
            qualname: format!("{prefix}{}", function.name.as_str()),
            line: self.source.line_of(keyword_offset),
            line_start,
            indent,
            head,
            is_overload,
            is_conditional: conditional,
            hazards,
            facts,
        });
    }

    /// The first `async` or `def` token between the last decorator and the name.
    fn keyword_offset(&self, from: TextSize, name_start: TextSize) -> usize {
        let first = self.tokens.partition_point(|token| token.start() < from);
        self.tokens[first..]
            .iter()
            .take_while(|token| token.start() < name_start)
            .find(|token| matches!(token.kind(), TokenKind::Def | TokenKind::Async))
            .map_or(from.to_usize(), |token| token.start().to_usize())
    }
}

fn is_import_functools(statement: &Stmt) -> bool {
    matches!(statement, Stmt::Import(import) if import.names.iter().any(|alias| alias.name.as_str() == "functools" && alias.asname.is_none()))
}

/// A module docstring or a `from __future__ import`: what must stay before our import.
fn is_prelude(index: usize, statement: &Stmt) -> bool {
    match statement {
        Stmt::Expr(expression) => index == 0 && expression.value.is_string_literal_expr(),
        Stmt::ImportFrom(import) => {
            import.module.as_ref().is_some_and(|module| module.as_str() == "__future__")
        }
        _ => false,
    }
}

fn import_insertion(
    text: &str,
    body: &[Stmt],
    tokens: &ruff_python_ast::token::Tokens,
) -> ImportInsertion {
    let prelude = body
        .iter()
        .enumerate()
        .take_while(|(index, statement)| is_prelude(*index, statement))
        .count();
    match (prelude, body.get(prelude)) {
        // No prelude: just above the first statement, so leading comments (shebang,
        // encoding declaration, licence) stay first.
        (0, Some(first)) => ImportInsertion::LineStart(line_start(text, first.start().to_usize())),
        (0, None) => ImportInsertion::EndOfFile,
        (count, _) => {
            // After the logical line that ends the prelude: its NEWLINE token, which comes
            // after any `;`-joined statements, brackets and backslash continuations.
            let end = body[count - 1].end();
            let first = tokens.partition_point(|token| token.start() < end);
            tokens[first..]
                .iter()
                .find(|token| token.kind() == TokenKind::Newline && token.end() > token.start())
                .map_or(ImportInsertion::EndOfFile, |newline| {
                    ImportInsertion::LineStart(newline.end().to_usize())
                })
        }
    }
}

fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |newline| newline + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> PythonFile {
        PythonFile::parse(PathBuf::from("m.py"), "m.py".to_owned(), text.as_bytes().to_vec())
            .expect("valid python")
    }

    #[test]
    fn qualnames_follow_python_and_skip_nested_functions() {
        let file = parse(
            "def f():\n    def inner(): pass\nclass Outer:\n    class Inner:\n        def method(self): pass\n    if X:\n        def g(self): pass\n",
        );
        let names: Vec<_> = file.qualnames().collect();
        assert_eq!(names, ["f", "Outer.Inner.method", "Outer.g"]);
        assert!(file.functions[2].is_conditional);
    }

    #[test]
    fn keyword_line_is_the_def_not_the_decorator() {
        let file = parse("import x\n\n@x.deco(\n  1)\n@other\nasync def f():\n    pass\n");
        let function = &file.functions[0];
        assert_eq!(function.line, 6);
        assert_eq!(
            &file.source.text
                [function.head.start().to_usize()..function.head.start().to_usize() + 5],
            "async"
        );
    }

    #[test]
    fn modern_syntax_parses() {
        let file = parse(
            "type Alias = list[int]\nmatch x:\n    case 1:\n        def f(): return f\"{x!r:>{w}}\"\n",
        );
        assert_eq!(file.qualnames().collect::<Vec<_>>(), ["f"]);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let error = PythonFile::parse(
            PathBuf::from("m.py"),
            "m.py".to_owned(),
            b"x = 1\ndef (:\n".to_vec(),
        )
        .expect_err("invalid");
        assert!(error.to_string().contains("m.py:2"), "{error}");
    }

    #[test]
    fn import_goes_after_the_whole_logical_line_of_the_prelude() {
        let text =
            "\"\"\"Doc.\"\"\"\nfrom __future__ import annotations; VALUE = (\n    1)\nimport os\n";
        let file = parse(text);
        assert_eq!(
            file.import_insertion,
            ImportInsertion::LineStart(text.find("import os").expect("present"))
        );
    }

    #[test]
    fn import_goes_after_docstring_and_future_imports() {
        let file = parse("\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\nimport os\n");
        assert_eq!(file.import_insertion, ImportInsertion::LineStart(46));
        let file = parse("#!/usr/bin/env python\n# -*- coding: utf-8 -*-\nimport os\n");
        assert_eq!(file.import_insertion, ImportInsertion::LineStart(46));
        assert!(!file.imports_functools);
        assert!(parse("import functools\n").imports_functools);
    }
}
