//! Fixture projects in layers. A case under `tests/fixtures/<case>/` may start from shared
//! layers under `tests/fixtures/_base/`: its `BASE` file names them, one a line, and each
//! layer may name layers of its own the same way. The layers are copied first, in order,
//! then the case's own files over them; `BASE` itself is not copied. So the pytest
//! configuration most cases share, and the files the `culprits` and `selection` cases share,
//! are written once.

use std::collections::BTreeMap;
use std::path::Path;

use super::repository_path;

/// The file that names a case's (or a layer's) layers.
const BASE_FILE: &str = "BASE";

/// Every file of `tests/fixtures/<case>` with its layers under it: relative path -> bytes.
pub fn files(case: &str) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    add_layer(&repository_path(&format!("tests/fixtures/{case}")), &mut files);
    files
}

/// Every case (a directory of `tests/fixtures` not starting with `_`).
pub fn cases() -> Vec<String> {
    let directory = repository_path("tests/fixtures");
    let mut cases: Vec<String> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("list {}: {error}", directory.display()))
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('_'))
        .collect();
    cases.sort();
    cases
}

/// Write the files of `case` (layers included) under `root`.
pub fn write(case: &str, root: &Path) {
    for (relative, bytes) in files(case) {
        let path = root.join(&relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|error| panic!("create {}: {error}", parent.display()));
        }
        std::fs::write(&path, bytes)
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    }
}

fn add_layer(directory: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
    let base = directory.join(BASE_FILE);
    if base.is_file() {
        let names = std::fs::read_to_string(&base)
            .unwrap_or_else(|error| panic!("read {}: {error}", base.display()));
        for name in names.lines().map(str::trim).filter(|name| !name.is_empty()) {
            let layer = repository_path(&format!("tests/fixtures/_base/{name}"));
            assert!(layer.is_dir(), "{} names a missing layer `{name}`", base.display());
            add_layer(&layer, files);
        }
    }
    for (relative, bytes) in super::source_tree_contents(directory) {
        if let Some(bytes) = bytes
            && relative != BASE_FILE
        {
            files.insert(relative, bytes);
        }
    }
}
