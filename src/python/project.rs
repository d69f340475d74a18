//! Facts that cross module boundaries, for the hazards no single function shows.
//!
//! A function can read a module-level container (`SETTINGS = {}`) that another module
//! changes in place (`conf.SETTINGS.update(...)`), or call a helper that reads the
//! environment. Its own AST shows neither. So every parsed module records its
//! [`ModuleFacts`] (the containers it binds at module level, the containers it changes in
//! place anywhere, its imports) and every function its
//! [`FunctionFacts`](super::facts::FunctionFacts) (names read, callees, its own
//! first impure call). [`Project`] joins the modules of a project by their dotted names and
//! answers, for one function, the two hazards that follow:
//!
//! - `global-state`: it reads a module-level container that is changed in place somewhere
//!   in the project (`.append`, `.insert`, `.add`, `.update`, `.setdefault`, ..., item
//!   assignment, `del`, `+=`);
//! - `impure-call`: it calls, through functions of the project, one that is impure; the
//!   message gives the chain (`via _setting -> os.environ.get()`).
//!
//! Callees and names are resolved statically: a module's own top-level functions and
//! containers, `from m import x [as y]` (relative imports too) and `import m [as y]`
//! followed by one attribute. Methods and dynamic lookups are not followed.

use std::cell::RefCell;
use std::collections::HashMap;

use super::facts::{FunctionFacts, Import};
use super::hazard::{Hazard, HazardCode};
use super::source::{FunctionDef, PythonFile};

/// How deep an impurity is followed through calls.
const CHAIN_LIMIT: usize = 6;

/// Where a container is changed: the file, the line and how.
#[derive(Debug, Clone)]
struct ChangeSite {
    relative: String,
    line: usize,
    how: String,
}

/// One module of the project: its dotted name, its file, whether it is a package.
#[derive(Debug)]
struct Module<'f> {
    file: &'f PythonFile,
    is_package: bool,
}

/// What is known of the functions' impure chains, by (module, function).
type Chains = HashMap<(String, String), Option<Vec<String>>>;

/// The modules of a project, joined by their dotted names.
#[derive(Debug)]
pub(crate) struct Project<'f> {
    modules: HashMap<String, Module<'f>>,
    /// (module, top-level function) -> its definition.
    functions: HashMap<(String, String), &'f FunctionDef>,
    /// (module, container) -> the first place that changes it in place.
    changed: HashMap<(String, String), ChangeSite>,
    /// (module, function) -> its impure chain, once found (shared by every question).
    chains: RefCell<Chains>,
}

impl<'f> Project<'f> {
    /// The project made of these files, each with its dotted module name.
    pub(crate) fn new(files: impl IntoIterator<Item = (String, &'f PythonFile)>) -> Self {
        let mut modules = HashMap::new();
        for (name, file) in files {
            let is_package = file.path.file_name().is_some_and(|name| name == "__init__.py");
            modules.entry(name).or_insert(Module { file, is_package });
        }
        let mut functions = HashMap::new();
        for (name, module) in &modules {
            for function in module.file.functions.iter().filter(|f| !f.qualname.contains('.')) {
                functions.entry((name.clone(), function.qualname.clone())).or_insert(function);
            }
        }
        let mut project =
            Self { modules, functions, changed: HashMap::new(), chains: RefCell::default() };
        let mut changed = HashMap::new();
        for (name, module) in &project.modules {
            for mutation in &module.file.facts.mutations {
                let Some(container) = project.container(name, &mutation.target) else { continue };
                changed.entry(container).or_insert_with(|| ChangeSite {
                    relative: module.file.relative.clone(),
                    line: mutation.line,
                    how: mutation.how.clone(),
                });
            }
        }
        project.changed = changed;
        project
    }

    /// The hazards of `function` (in `module`) that only the project shows, with no code
    /// the function already has.
    pub(crate) fn hazards(&self, module: &str, function: &FunctionDef) -> Vec<Hazard> {
        let has = |code| function.hazards.iter().any(|hazard: &Hazard| hazard.code == code);
        let name = function.qualname.rsplit('.').next().unwrap_or(&function.qualname);
        let mut found = Vec::new();
        if !has(HazardCode::GlobalState)
            && let Some(hazard) = self.changed_container(module, name, &function.facts)
        {
            found.push(hazard);
        }
        if !has(HazardCode::ImpureCall)
            && let Some(hazard) = self.impure_callee(module, name, &function.facts)
        {
            found.push(hazard);
        }
        found
    }

    fn changed_container(&self, module: &str, name: &str, facts: &FunctionFacts) -> Option<Hazard> {
        let read = facts.reads.iter().map(|(read, range)| (read.as_str(), *range));
        let through_calls = facts.calls.iter().flat_map(|(callee, range)| {
            // `SETTINGS.get(...)` and `conf.SETTINGS.get(...)` read the container too.
            let mut parts = callee.rsplitn(2, '.');
            parts.next();
            parts.next().map(|receiver| (receiver, *range))
        });
        for (read, range) in read.chain(through_calls) {
            let Some(container) = self.container(module, read) else { continue };
            let Some(site) = self.changed.get(&container) else { continue };
            return Some(Hazard {
                code: HazardCode::GlobalState,
                message: format!(
                    "`{name}` reads `{read}`, a module-level container changed in place (`{}` at {}:{}): its result depends on state outside its arguments",
                    site.how, site.relative, site.line
                ),
                help: "pass the state as an argument, or allow this hazard if it never changes after import".to_owned(),
                range,
            });
        }
        None
    }

    fn impure_callee(&self, module: &str, name: &str, facts: &FunctionFacts) -> Option<Hazard> {
        for (callee, range) in &facts.calls {
            let Some(target) = self.function(module, callee) else { continue };
            if let Some(chain) = self.impure_chain(&target, 0) {
                let chain = format!("{callee} -> {}", chain.join(" -> "));
                return Some(Hazard {
                    code: HazardCode::ImpureCall,
                    message: format!(
                        "`{name}` calls impure code (via {chain}): its result depends on more than its arguments"
                    ),
                    help: "a cached call answers with the first result forever; keep effects and clocks outside cached code".to_owned(),
                    range: *range,
                });
            }
        }
        None
    }

    /// The calls from a function of the project down to an impure one (`_setting ->
    /// os.environ.get()` reads as [`os.environ.get()`] from `_setting`), if any.
    fn impure_chain(&self, key: &(String, String), depth: usize) -> Option<Vec<String>> {
        if let Some(known) = self.chains.borrow().get(key) {
            return known.clone();
        }
        self.chains.borrow_mut().insert(key.clone(), None); // a cycle finds nothing new
        let facts = &self.functions.get(key)?.facts;
        let chain = match &facts.impure {
            Some(impure) => Some(vec![impure.clone()]),
            // Too deep to tell: not remembered, so a shallower question may still find it.
            None if depth >= CHAIN_LIMIT => {
                self.chains.borrow_mut().remove(key);
                return None;
            }
            None => facts.calls.iter().find_map(|(callee, _)| {
                let target = self.function(&key.0, callee)?;
                let rest = self.impure_chain(&target, depth + 1)?;
                Some(std::iter::once(callee.clone()).chain(rest).collect())
            }),
        };
        self.chains.borrow_mut().insert(key.clone(), chain.clone());
        chain
    }

    /// The function of the project a callee names from `module`.
    fn function(&self, module: &str, callee: &str) -> Option<(String, String)> {
        let key = self.resolve(module, callee)?;
        self.functions.contains_key(&key).then_some(key)
    }

    /// The container of the project a dotted name names from `module`.
    fn container(&self, module: &str, dotted: &str) -> Option<(String, String)> {
        let (owner, name) = self.resolve(module, dotted)?;
        self.modules
            .get(&owner)
            .is_some_and(|found| found.file.facts.containers.contains(&name))
            .then_some((owner, name))
    }

    /// (module, name) that a dotted name (`x` or `alias.x`) written in `module` refers to.
    fn resolve(&self, module: &str, dotted: &str) -> Option<(String, String)> {
        let facts = &self.modules.get(module)?.file.facts;
        let mut parts = dotted.split('.');
        let first = parts.next()?;
        let rest: Vec<&str> = parts.collect();
        let import = facts.imports.iter().rev().find(|import| import.alias == first);
        match (rest.as_slice(), import) {
            ([], None) => Some((module.to_owned(), first.to_owned())),
            ([], Some(import)) => {
                let origin = self.absolute(module, import)?;
                Some((origin, import.name.clone()?))
            }
            ([name], Some(import)) => {
                let origin = self.absolute(module, import)?;
                // `import pkg.mod as m` then `m.f`, or `from pkg import mod` then `mod.f`.
                let target = match &import.name {
                    None => origin,
                    Some(submodule) => format!("{origin}.{submodule}"),
                };
                self.modules.contains_key(&target).then(|| (target, (*name).to_owned()))
            }
            _ => None,
        }
    }

    /// The absolute dotted name of the module an import reads from.
    fn absolute(&self, module: &str, import: &Import) -> Option<String> {
        if import.level == 0 {
            return Some(import.module.clone());
        }
        let is_package = self.modules.get(module).is_some_and(|found| found.is_package);
        let mut base: Vec<&str> = module.split('.').collect();
        let up = import.level as usize - usize::from(is_package);
        if up > base.len() {
            return None;
        }
        base.truncate(base.len() - up);
        if !import.module.is_empty() {
            base.push(&import.module);
        }
        Some(base.join("."))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn file(path: &str, text: &str) -> PythonFile {
        PythonFile::parse(PathBuf::from(path), path.to_owned(), text.as_bytes().to_vec())
            .expect("valid python")
    }

    fn hazards(
        project: &Project<'_>,
        module: &str,
        file: &PythonFile,
        function: &str,
    ) -> Vec<String> {
        let function = file.functions.iter().find(|f| f.qualname == function).expect("defined");
        project.hazards(module, function).into_iter().map(|hazard| hazard.message).collect()
    }

    #[test]
    fn a_container_changed_in_another_module_makes_its_readers_global_state() {
        let conf = file(
            "pkg/conf.py",
            "SETTINGS = {}\nLIMITS = []\nFIXED = (1, 2)\n\ndef limit():\n    return LIMITS[0]\n",
        );
        let load = file(
            "pkg/load.py",
            "from . import conf\nfrom .conf import LIMITS as limits\n\ndef load(data):\n    conf.SETTINGS.update(data)\n    limits.append(3)\n",
        );
        let user = file(
            "pkg/user.py",
            "from .conf import SETTINGS, FIXED\n\ndef value(key):\n    return SETTINGS.get(key)\n\ndef fixed():\n    return FIXED[0]\n",
        );
        let project = Project::new([
            ("pkg.conf".to_owned(), &conf),
            ("pkg.load".to_owned(), &load),
            ("pkg.user".to_owned(), &user),
        ]);
        let found = hazards(&project, "pkg.user", &user, "value");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("reads `SETTINGS`"), "{found:?}");
        assert!(found[0].contains("`conf.SETTINGS.update(...)` at pkg/load.py:5"), "{found:?}");
        let own = hazards(&project, "pkg.conf", &conf, "limit");
        assert!(own[0].contains("`limits.append(...)` at pkg/load.py:6"), "{own:?}");
        assert!(hazards(&project, "pkg.user", &user, "fixed").is_empty(), "a tuple is not changed");
    }

    #[test]
    fn an_impure_helper_makes_its_callers_impure_with_the_chain_named() {
        let env = file(
            "app/env.py",
            "import os\n\ndef _setting(name):\n    return os.environ.get(name)\n\ndef setting(name):\n    return _setting(name).strip()\n",
        );
        let api = file(
            "app/api.py",
            "from app.env import setting\nimport app.env as env\n\ndef timeout():\n    return int(setting('T'))\n\ndef retries():\n    return int(env._setting('R'))\n\ndef pure(x):\n    return x + 1\n",
        );
        let project = Project::new([("app.env".to_owned(), &env), ("app.api".to_owned(), &api)]);
        let timeout = hazards(&project, "app.api", &api, "timeout");
        assert_eq!(timeout.len(), 1, "{timeout:?}");
        assert!(timeout[0].contains("via setting -> _setting -> os.environ.get()"), "{timeout:?}");
        let retries = hazards(&project, "app.api", &api, "retries");
        assert!(retries[0].contains("via env._setting -> os.environ.get()"), "{retries:?}");
        assert!(hazards(&project, "app.api", &api, "pure").is_empty());
        // A function that is impure itself already has the hazard from its own body.
        assert!(hazards(&project, "app.env", &env, "_setting").is_empty());
    }

    #[test]
    fn recursion_through_the_project_ends() {
        let cycle = file("m.py", "def a(x):\n    return b(x)\n\ndef b(x):\n    return a(x)\n");
        let project = Project::new([("m".to_owned(), &cycle)]);
        assert!(hazards(&project, "m", &cycle, "a").is_empty());
    }
}
