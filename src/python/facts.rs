//! Facts that other functions' hazards need: what a module binds and changes in place
//! ([`ModuleFacts`], collected from its body by [`module_facts`]) and what a function reads
//! and calls ([`FunctionFacts`], collected by the hazard analysis). Joining them across a
//! project is `super::project`'s job.

use std::collections::BTreeSet;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, Stmt};
use ruff_text_size::{Ranged, TextRange};

use crate::python::hazard::names::{MUTABLE_CONSTRUCTORS, dotted_name, is_mutable_display};
use crate::ui::diagnostic::SourceFile;

/// What another function's hazards may need to know of this one (see
/// `crate::python::facts`): the names it reads from outside itself, the functions it calls,
/// and the first impure call it makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FunctionFacts {
    /// Names read that the function does not bind (module names, builtins), each once,
    /// with where it is first read.
    pub reads: Vec<(String, TextRange)>,
    /// Callees named by a name or dotted name bound outside the function (`helper`,
    /// `util.helper`), each once, with where.
    pub calls: Vec<(String, TextRange)>,
    /// The first impure call it makes itself (`os.environ.get()`).
    pub impure: Option<String>,
}

/// Methods that change a list, dict, set or deque in place.
const MUTATING_METHODS: &[&str] = &[
    "append",
    "extend",
    "insert",
    "remove",
    "pop",
    "popitem",
    "clear",
    "sort",
    "reverse",
    "add",
    "discard",
    "update",
    "setdefault",
    "difference_update",
    "intersection_update",
    "symmetric_difference_update",
    "appendleft",
    "extendleft",
];

/// What one module binds and does, for other modules' hazards.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModuleFacts {
    /// Module-level names bound to a fresh mutable container.
    pub containers: BTreeSet<String>,
    /// Functions defined at module level (also inside `if`/`try` there).
    pub functions: BTreeSet<String>,
    /// Containers changed in place by this module's code (anywhere in it).
    pub mutations: Vec<Mutation>,
    pub imports: Vec<Import>,
}

/// A container changed in place: the dotted name of what changed (`SETTINGS` or
/// `conf.SETTINGS`), the line, and how (`SETTINGS.update(...)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mutation {
    pub target: String,
    pub line: usize,
    pub how: String,
}

/// `from <level dots><module> import <name> as <alias>`, or `import <module> as <alias>`
/// (`name` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Import {
    pub alias: String,
    pub module: String,
    pub level: u32,
    pub name: Option<String>,
}

/// The facts of one module's body.
pub(crate) fn module_facts(body: &[Stmt], source: &SourceFile) -> ModuleFacts {
    let mut facts = ModuleFacts::default();
    for statement in body {
        let (targets, value) = match statement {
            Stmt::Assign(assign) => {
                (assign.targets.iter().collect::<Vec<_>>(), Some(&*assign.value))
            }
            Stmt::AnnAssign(assign) => (vec![&*assign.target], assign.value.as_deref()),
            _ => continue,
        };
        if value.is_some_and(is_fresh_container) {
            for target in targets {
                if let Expr::Name(name) = target {
                    facts.containers.insert(name.id.to_string());
                }
            }
        }
    }
    collect_functions(body, &mut facts.functions);
    let mut finder = MutationFinder { source, facts: &mut facts };
    for statement in body {
        finder.visit_stmt(statement);
    }
    facts
}

impl ModuleFacts {
    /// Whether a name read or called in a function of this module can lead to another
    /// function or a container of the project: only those are worth remembering.
    pub(crate) fn may_name_project_code(&self, head: &str) -> bool {
        self.containers.contains(head)
            || self.functions.contains(head)
            || self.imports.iter().any(|import| import.alias == head)
    }
}

fn collect_functions(body: &[Stmt], into: &mut BTreeSet<String>) {
    for statement in body {
        match statement {
            Stmt::FunctionDef(function) => {
                into.insert(function.name.to_string());
            }
            Stmt::If(statement) => {
                collect_functions(&statement.body, into);
                for clause in &statement.elif_else_clauses {
                    collect_functions(&clause.body, into);
                }
            }
            Stmt::Try(statement) => {
                collect_functions(&statement.body, into);
                collect_functions(&statement.orelse, into);
                collect_functions(&statement.finalbody, into);
            }
            _ => {}
        }
    }
}

fn is_fresh_container(value: &Expr) -> bool {
    if is_mutable_display(value) {
        return true;
    }
    let Expr::Call(call) = value else { return false };
    dotted_name(&call.func).is_some_and(|callee| {
        MUTABLE_CONSTRUCTORS.contains(&callee.rsplit('.').next().unwrap_or(&callee))
    })
}

/// Walks a whole module (function bodies included) for imports and in-place changes.
struct MutationFinder<'a> {
    source: &'a SourceFile,
    facts: &'a mut ModuleFacts,
}

impl MutationFinder<'_> {
    fn changed(&mut self, target: &Expr, how: &str, at: &impl Ranged) {
        if let Some(target) = dotted_name(target) {
            let line = self.source.line_of(at.start().to_usize());
            self.facts.mutations.push(Mutation { how: how.replace("{}", &target), target, line });
        }
    }
}

impl<'b> Visitor<'b> for MutationFinder<'_> {
    fn visit_stmt(&mut self, stmt: &'b Stmt) {
        match stmt {
            Stmt::Import(import) => {
                for alias in &import.names {
                    let module = alias.name.to_string();
                    let bound = alias.asname.as_ref().map_or_else(
                        || module.split('.').next().unwrap_or(&module).to_owned(),
                        ToString::to_string,
                    );
                    let module = if alias.asname.is_some() { module } else { bound.clone() };
                    self.facts.imports.push(Import { alias: bound, module, level: 0, name: None });
                }
            }
            Stmt::ImportFrom(import) => {
                let module = import.module.as_ref().map(ToString::to_string).unwrap_or_default();
                for alias in &import.names {
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name).to_string();
                    self.facts.imports.push(Import {
                        alias: bound,
                        module: module.clone(),
                        level: import.level,
                        name: Some(alias.name.to_string()),
                    });
                }
            }
            Stmt::Assign(assign) => {
                for target in &assign.targets {
                    if let Expr::Subscript(subscript) = target {
                        self.changed(&subscript.value, "{}[...] = ...", stmt);
                    }
                }
            }
            Stmt::AugAssign(assign) => match &*assign.target {
                Expr::Subscript(subscript) => {
                    self.changed(&subscript.value, "{}[...] += ...", stmt)
                }
                target => self.changed(target, "{} += ...", stmt),
            },
            Stmt::Delete(delete) => {
                for target in &delete.targets {
                    if let Expr::Subscript(subscript) = target {
                        self.changed(&subscript.value, "del {}[...]", stmt);
                    }
                }
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'b Expr) {
        if let Expr::Call(call) = expr
            && let Expr::Attribute(attribute) = &*call.func
            && MUTATING_METHODS.contains(&attribute.attr.as_str())
        {
            let how = format!("{{}}.{}(...)", attribute.attr.as_str());
            self.changed(&attribute.value, &how, expr);
        }
        visitor::walk_expr(self, expr);
    }
}
