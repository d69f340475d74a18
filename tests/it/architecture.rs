//! The shape DESIGN.md promises, checked on the source: `src/` is a stack of layers
//! (folders), a module names only modules of its own layer or of layers below it, no
//! modules import each other in a cycle, and no file is longer than 500 lines without
//! saying why at its top.
//!
//! The check reads the source text: every `use` tree and every `crate::`/`super::` path in
//! code (comments are skipped), resolved to the deepest module it names. A module and its
//! ancestors may name each other (a folder's `mod.rs` declares and re-exports its children,
//! which use the items it defines); every other pair counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::repository_path;

/// The layers of `src/`, bottom first: a module may name modules of its own layer and of
/// the layers before it in this list, never one after it.
const LAYERS: &[&str] = &[
    "ui", "safety", "python", "config", "plan", "probe", "outcome", "verdict", "runner", "report",
    "cli",
];

/// Files may be longer than this only with a line at their top that says why.
const LONGEST_FILE: usize = 500;
/// What that line starts with.
const LONG_FILE_REASON: &str = "Longer than 500 lines:";

/// One module of the crate: its path (`runner::search`; the crate root is ``), and the
/// modules its code names.
#[derive(Debug, Default)]
struct Module {
    names: BTreeSet<String>,
}

#[test]
fn every_module_belongs_to_a_layer_and_names_only_its_own_layer_or_those_below() {
    let modules = crate_modules();
    let mut violations = Vec::new();
    for (module, info) in &modules {
        let Some(layer) = layer_of(module) else {
            if !module.is_empty() {
                violations.push(format!("`{module}` is in no layer of {LAYERS:?}"));
            }
            continue;
        };
        for named in &info.names {
            let Some(named_layer) = layer_of(named) else { continue };
            if named_layer > layer {
                violations.push(format!(
                    "`{module}` ({}) names `{named}` ({}), a layer above it",
                    LAYERS[layer], LAYERS[named_layer]
                ));
            }
        }
    }
    assert!(violations.is_empty(), "layering violations:\n  {}", violations.join("\n  "));
}

#[test]
fn no_modules_import_each_other_in_a_cycle() {
    let modules = crate_modules();
    let edges: BTreeMap<&str, BTreeSet<&str>> = modules
        .iter()
        .map(|(module, info)| {
            let targets = info
                .names
                .iter()
                .map(String::as_str)
                .filter(|named| !is_ancestor(named, module) && !is_ancestor(module, named))
                .collect();
            (module.as_str(), targets)
        })
        .collect();
    let cycles = cycles(&edges);
    assert!(cycles.is_empty(), "import cycles:\n  {}", cycles.join("\n  "));
}

#[test]
fn long_files_say_why_at_their_top() {
    let mut unexplained = Vec::new();
    for path in source_files(&repository_path("src")) {
        let text = std::fs::read_to_string(&path).expect("read a source file");
        let lines = text.lines().count();
        let explained = text.lines().take(20).any(|line| line.contains(LONG_FILE_REASON));
        if lines > LONGEST_FILE && !explained {
            unexplained.push(format!("{} ({lines} lines)", path.display()));
        }
    }
    assert!(
        unexplained.is_empty(),
        "split these, or say why at their top (\"{LONG_FILE_REASON} ...\"):\n  {}",
        unexplained.join("\n  ")
    );
}

#[test]
fn the_checker_finds_a_cycle_and_resolves_paths() {
    let edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::from([
        ("a", BTreeSet::from(["b"])),
        ("b", BTreeSet::from(["c"])),
        ("c", BTreeSet::from(["a"])),
        ("d", BTreeSet::from(["a"])),
    ]);
    assert_eq!(cycles(&edges), ["a -> b -> c -> a"]);
    let known: BTreeSet<String> =
        ["runner", "runner::search", "runner::events"].map(str::to_owned).into();
    assert_eq!(
        resolve("runner::search", &["super", "events", "Step"], &known, &BTreeSet::new()),
        Some("runner::events".to_owned())
    );
    assert_eq!(
        resolve("runner", &["crate", "runner", "search", "bisect"], &known, &BTreeSet::new()),
        Some("runner::search".to_owned())
    );
    assert_eq!(resolve("runner", &["std", "sync"], &known, &BTreeSet::new()), None);
    assert_eq!(
        use_paths("pub(crate) use super::{a::{B, C as D}, e, self};"),
        [vec!["super", "a", "B"], vec!["super", "a", "C"], vec!["super", "e"], vec!["super"]]
    );
}

/// The index of the layer a module belongs to (by its first segment).
fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next()?;
    LAYERS.iter().position(|layer| *layer == top)
}

/// Whether `ancestor` is `module` or one of the modules that contain it.
fn is_ancestor(ancestor: &str, module: &str) -> bool {
    ancestor.is_empty()
        || module == ancestor
        || module.strip_prefix(ancestor).is_some_and(|rest| rest.starts_with("::"))
}

/// Every cycle found by a depth-first search, each as `a -> b -> a`.
fn cycles(edges: &BTreeMap<&str, BTreeSet<&str>>) -> Vec<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'m>(
        module: &'m str,
        edges: &BTreeMap<&'m str, BTreeSet<&'m str>>,
        marks: &mut BTreeMap<&'m str, Mark>,
        stack: &mut Vec<&'m str>,
        found: &mut Vec<String>,
    ) {
        marks.insert(module, Mark::Open);
        stack.push(module);
        for &next in edges.get(module).into_iter().flatten() {
            match marks.get(next) {
                Some(Mark::Open) => {
                    let start = stack.iter().position(|entry| *entry == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next);
                    found.push(cycle.join(" -> "));
                }
                Some(Mark::Done) => {}
                None => visit(next, edges, marks, stack, found),
            }
        }
        stack.pop();
        marks.insert(module, Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut found = Vec::new();
    for &module in edges.keys() {
        if !marks.contains_key(module) {
            visit(module, edges, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}

/// Every `.rs` file under `directory`.
fn source_files(directory: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![directory.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).expect("list a source directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `src/runner/search.rs` -> `runner::search`, `src/probe/mod.rs` -> `probe`, `src/lib.rs`
/// -> `` (the binary's `main.rs` is not part of the library).
fn module_path(source: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(source).ok()?.with_extension("");
    let mut parts: Vec<String> =
        relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    match parts.last().map(String::as_str) {
        Some("main") if parts.len() == 1 => return None,
        Some("lib") if parts.len() == 1 => parts.clear(),
        Some("mod") => {
            parts.pop();
        }
        _ => {}
    }
    Some(parts.join("::"))
}

/// Every module of the crate with the modules its code names.
fn crate_modules() -> BTreeMap<String, Module> {
    let source = repository_path("src");
    let files: Vec<(String, String)> = source_files(&source)
        .into_iter()
        .filter_map(|file| {
            let module = module_path(&source, &file)?;
            let text = std::fs::read_to_string(&file).expect("read a source file");
            Some((module, code_only(&text)))
        })
        .collect();
    let known: BTreeSet<String> = files.iter().map(|(module, _)| module.clone()).collect();
    files
        .into_iter()
        .map(|(module, code)| {
            let children: BTreeSet<String> = known
                .iter()
                .filter_map(|other| {
                    let rest = if module.is_empty() {
                        other.as_str()
                    } else {
                        other.strip_prefix(&module)?.strip_prefix("::")?
                    };
                    (!rest.is_empty() && !rest.contains("::")).then(|| rest.to_owned())
                })
                .collect();
            let mut paths: Vec<Vec<String>> = Vec::new();
            for statement in use_statements(&code) {
                paths.extend(
                    use_paths(&statement)
                        .into_iter()
                        .map(|path| path.into_iter().map(str::to_owned).collect::<Vec<_>>()),
                );
            }
            paths.extend(rooted_paths(&code));
            let names = paths
                .iter()
                .filter_map(|path| {
                    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                    resolve(&module, &segments, &known, &children)
                })
                .filter(|named| *named != module)
                .collect();
            (module, Module { names })
        })
        .collect()
}

/// The text without comment lines (`//`, `//!`, `///`) and without the text after `//` on
/// a line of code that is not inside a string.
fn code_only(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| match line.find(" // ") {
            Some(comment) if !line[..comment].contains('"') => &line[..comment],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of every `use` statement, from `use` to its `;`.
fn use_statements(code: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current: Option<String> = None;
    for line in code.lines() {
        let trimmed = line.trim_start();
        let starts = trimmed.starts_with("use ")
            || trimmed.starts_with("pub use ")
            || trimmed.starts_with("pub(crate) use ")
            || trimmed.starts_with("pub(super) use ");
        if current.is_none() && starts {
            current = Some(String::new());
        }
        if let Some(statement) = current.as_mut() {
            statement.push_str(trimmed);
            statement.push(' ');
            if trimmed.contains(';') {
                statements.extend(current.take());
            }
        }
    }
    statements
}

/// The paths a `use` statement names, with brace groups expanded and `as` renames and
/// `*` dropped: `use super::{a::{B, C}, self};` -> `super::a::B`, `super::a::C`, `super`.
fn use_paths(statement: &str) -> Vec<Vec<&str>> {
    let tree = statement
        .trim()
        .trim_end_matches(';')
        .trim_start_matches("pub(crate) ")
        .trim_start_matches("pub(super) ")
        .trim_start_matches("pub ")
        .trim_start_matches("use ")
        .trim();
    let mut paths = Vec::new();
    expand(Vec::new(), tree, &mut paths);
    paths
}

fn expand<'t>(prefix: Vec<&'t str>, tree: &'t str, paths: &mut Vec<Vec<&'t str>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<&str> =
            tree[..open].split("::").map(str::trim).filter(|part| !part.is_empty()).collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut prefix = prefix;
        prefix.extend(head);
        for item in split_top_level(inner) {
            expand(prefix.clone(), item, paths);
        }
        return;
    }
    let item = tree.split(" as ").next().unwrap_or(tree).trim();
    if item.is_empty() || item == "*" {
        if !prefix.is_empty() {
            paths.push(prefix);
        }
        return;
    }
    let mut path = prefix;
    path.extend(item.split("::").map(str::trim).filter(|part| *part != "self" && *part != "*"));
    paths.push(path);
}

/// `a::{b, c}, d` -> `a::{b, c}`, `d`: split at commas outside braces.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, character) in text.char_indices() {
        match character {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items.into_iter().filter(|item| !item.trim().is_empty()).collect()
}

/// Every `crate::a::b` and `super::a` path written in code outside `use` statements.
fn rooted_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for root in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(found) = rest.find(root) {
            let before = rest[..found].chars().next_back();
            let after = &rest[found..];
            rest = &rest[found + root.len()..];
            if before.is_some_and(|character| character.is_alphanumeric() || character == '_') {
                continue;
            }
            let mut path = Vec::new();
            for segment in after.split("::") {
                let name: String = segment
                    .chars()
                    .take_while(|character| character.is_alphanumeric() || *character == '_')
                    .collect();
                let whole = name.len() == segment.len();
                if !name.is_empty() {
                    path.push(name);
                }
                if !whole {
                    break;
                }
            }
            paths.push(path);
        }
    }
    paths
}

/// The deepest module of the crate that `path`, written in `module`, names; `None` for a
/// path outside the crate (`std`, another crate).
fn resolve(
    module: &str,
    path: &[&str],
    known: &BTreeSet<String>,
    children: &BTreeSet<String>,
) -> Option<String> {
    let mut base: Vec<&str> =
        if module.is_empty() { Vec::new() } else { module.split("::").collect() };
    let mut rest = path;
    match rest.first().copied() {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("super") => {
            while rest.first() == Some(&"super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        Some("self") => rest = &rest[1..],
        Some(first) if children.contains(first) => {}
        _ => return None,
    }
    let mut deepest = base.join("::");
    let mut current = base;
    for segment in rest {
        current.push(segment);
        let candidate = current.join("::");
        if known.contains(&candidate) {
            deepest = candidate;
        } else {
            break;
        }
    }
    Some(deepest)
}
