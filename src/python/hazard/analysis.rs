//! The hazard analysis: pure, from one function's AST and a little module context to the
//! [`Hazard`]s of [`super::HazardCode`]'s table. No I/O.

use std::collections::HashSet;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, ExprContext, Stmt};
use ruff_text_size::{Ranged, TextRange};

use super::names::{
    CACHING_DECORATORS, TRANSPARENT_DECORATORS, decorator_name, describe_mutable_return,
    dotted_name, is_impure_callee, is_mutable_display, is_unhashable_annotation,
};
use super::{Hazard, HazardCode};
use crate::python::facts::{FunctionFacts, ModuleFacts};

/// What the analysis needs to know about the function's surroundings.
#[derive(Debug)]
pub(crate) struct HazardContext<'a> {
    pub in_class: bool,
    /// What the module binds: the reads and calls worth remembering in the facts.
    pub module: &'a ModuleFacts,
    /// Module-level names that are bound more than once or declared `global` somewhere.
    pub reassigned_globals: &'a HashSet<String>,
    /// From the `def` (or `async`) keyword to the end of the name.
    pub head: TextRange,
}

/// All hazards of one function, at most one per code (the first occurrence), and the
/// facts about it that other functions' hazards use.
pub(crate) fn analyze(
    function: &ast::StmtFunctionDef,
    context: &HazardContext<'_>,
) -> (Vec<Hazard>, FunctionFacts) {
    let mut hazards = Vec::new();
    let mut add = |code: HazardCode, message: String, help: &str, range: TextRange| {
        if !hazards.iter().any(|hazard: &Hazard| hazard.code == code) {
            hazards.push(Hazard { code, message, help: help.to_owned(), range });
        }
    };
    let name = function.name.as_str();

    if function.is_async {
        add(
            HazardCode::AsyncFunction,
            format!(
                "`{name}` is `async def`: the cache would store a coroutine, which can be awaited only once"
            ),
            "cache the awaited result instead, e.g. with an async-aware cache",
            context.head,
        );
    }
    if name.starts_with("__") && name.ends_with("__") && name.len() > 4 {
        add(
            HazardCode::DunderMethod,
            format!("`{name}` is a special method: caching it breaks the object model"),
            "special methods are called by Python itself; cache a helper they call instead",
            function.name.range(),
        );
    }
    let decorator_names: Vec<(String, TextRange)> = function
        .decorator_list
        .iter()
        .map(|decorator| (decorator_name(&decorator.expression), decorator.range()))
        .collect();
    for (decorator, range) in &decorator_names {
        let last = decorator.rsplit('.').next().unwrap_or(decorator);
        if CACHING_DECORATORS.contains(&last) {
            add(
                HazardCode::AlreadyCached,
                format!("`{name}` is already decorated with `@{decorator}`"),
                "it is cached already; remove it from the manifest's patterns",
                *range,
            );
        } else if last == "setter" || last == "deleter" {
            add(
                HazardCode::PropertySetter,
                format!("`{name}` is a property {last}: it exists for its side effect"),
                "setters return None and must run every time; cache the getter instead",
                *range,
            );
        } else if !TRANSPARENT_DECORATORS.contains(&last) && last != "overload" {
            add(
                HazardCode::DecoratorOrder,
                format!("`{name}` is decorated with `@{decorator}`; the cache will sit under it"),
                "the decorator's wrapper still runs on every call; check that it does not depend on being called",
                *range,
            );
        }
    }
    let is_static_or_class = decorator_names.iter().any(|(decorator, _)| {
        matches!(decorator.rsplit('.').next(), Some("staticmethod" | "classmethod"))
    });
    let parameters = &function.parameters;
    if context.in_class
        && !is_static_or_class
        && let Some(first) = parameters.posonlyargs.iter().chain(parameters.args.iter()).next()
    {
        add(
            HazardCode::MethodSelfLeak,
            format!(
                "`{name}` is an instance method: the cache keys on `{}` and keeps every instance alive",
                first.parameter.name
            ),
            "make it a @staticmethod or module function of hashable arguments, or allow this hazard in the manifest",
            first.range(),
        );
    }
    for parameter in parameters.iter_non_variadic_params() {
        let annotated =
            parameter.parameter.annotation.as_deref().is_some_and(is_unhashable_annotation);
        let defaulted = parameter.default.as_deref().is_some_and(is_mutable_display);
        if annotated || defaulted {
            add(
                HazardCode::UnhashableParameter,
                format!(
                    "parameter `{}` of `{name}` takes a list, dict or set: a cached call raises TypeError",
                    parameter.parameter.name
                ),
                "lru_cache needs hashable arguments; take a tuple or frozenset",
                parameter.range(),
            );
        }
    }
    if let Some(returns) =
        function.returns.as_deref().filter(|returns| is_unhashable_annotation(returns))
    {
        add(
            HazardCode::ReturnsMutable,
            format!(
                "`{name}` is annotated to return a mutable container: every caller would share one object"
            ),
            "return a tuple or frozenset, or copy the result in callers",
            returns.range(),
        );
    }

    let mut body = BodyVisitor::new(context.reassigned_globals, context.module, parameters);
    body.bind_locals(&function.body);
    for statement in &function.body {
        body.visit_stmt(statement);
    }
    let facts = std::mem::take(&mut body.facts);
    for (code, range, detail) in body.findings {
        let (message, help) = match code {
            HazardCode::GeneratorFunction => (
                format!(
                    "`{name}` is a generator: a cached generator is exhausted after its first use"
                ),
                "return a tuple of the values instead, or leave it uncached",
            ),
            HazardCode::ReturnsMutable => (
                format!("`{name}` returns {detail}: every caller would share one object"),
                "return a tuple or frozenset, or copy the result in callers",
            ),
            HazardCode::ImpureCall => (
                format!("`{name}` uses `{detail}`: its result depends on more than its arguments"),
                "a cached call answers with the first result forever; keep effects and clocks outside cached code",
            ),
            HazardCode::GlobalState => (
                format!("`{name}` {detail}: its result depends on state outside its arguments"),
                "pass the state as an argument, or allow this hazard if it never changes after import",
            ),
            _ => continue,
        };
        add(code, message, help, range);
    }
    hazards.sort_by_key(|hazard| (hazard.code.severity(), hazard.range.start()));
    (hazards, facts)
}

/// Walks one function body without entering nested functions, classes or lambdas.
struct BodyVisitor<'a> {
    reassigned_globals: &'a HashSet<String>,
    module: &'a ModuleFacts,
    locals: HashSet<String>,
    findings: Vec<(HazardCode, TextRange, String)>,
    facts: FunctionFacts,
}

impl<'a> BodyVisitor<'a> {
    fn new(
        reassigned_globals: &'a HashSet<String>,
        module: &'a ModuleFacts,
        parameters: &ast::Parameters,
    ) -> Self {
        let locals = parameters.iter().map(|parameter| parameter.name().to_string()).collect();
        Self {
            reassigned_globals,
            module,
            locals,
            findings: Vec::new(),
            facts: FunctionFacts::default(),
        }
    }

    /// Names the body binds are local: reading them is not global state.
    fn bind_locals(&mut self, body: &[Stmt]) {
        struct Binder<'b>(&'b mut HashSet<String>);
        impl<'b> Visitor<'b> for Binder<'_> {
            fn visit_stmt(&mut self, stmt: &'b Stmt) {
                match stmt {
                    Stmt::FunctionDef(function) => {
                        self.0.insert(function.name.to_string());
                    }
                    Stmt::ClassDef(class) => {
                        self.0.insert(class.name.to_string());
                    }
                    Stmt::Import(import) => {
                        for alias in &import.names {
                            let bound = alias.asname.as_ref().unwrap_or(&alias.name);
                            self.0.insert(
                                bound.as_str().split('.').next().unwrap_or_default().to_owned(),
                            );
                        }
                    }
                    Stmt::ImportFrom(import) => {
                        for alias in &import.names {
                            self.0.insert(alias.asname.as_ref().unwrap_or(&alias.name).to_string());
                        }
                    }
                    _ => visitor::walk_stmt(self, stmt),
                }
            }
            fn visit_expr(&mut self, expr: &'b Expr) {
                if let Expr::Name(name) = expr
                    && name.ctx == ExprContext::Store
                {
                    self.0.insert(name.id.to_string());
                }
                if !matches!(expr, Expr::Lambda(_)) {
                    visitor::walk_expr(self, expr);
                }
            }
        }
        let mut binder = Binder(&mut self.locals);
        for statement in body {
            binder.visit_stmt(statement);
        }
    }

    fn found(&mut self, code: HazardCode, range: TextRange, detail: String) {
        if code == HazardCode::ImpureCall && self.facts.impure.is_none() {
            self.facts.impure = Some(detail.clone());
        }
        self.findings.push((code, range, detail));
    }

    /// Whether a dotted name starts with a name bound outside the function that can lead
    /// to project code (a module-level function or container, an import).
    fn names_project_code(&self, dotted: &str) -> bool {
        let head = dotted.split('.').next().unwrap_or(dotted);
        !self.locals.contains(head) && self.module.may_name_project_code(head)
    }
}

impl<'b> Visitor<'b> for BodyVisitor<'_> {
    fn visit_stmt(&mut self, stmt: &'b Stmt) {
        match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            Stmt::Global(global) => {
                let names =
                    global.names.iter().map(|name| name.as_str()).collect::<Vec<_>>().join(", ");
                self.found(
                    HazardCode::GlobalState,
                    global.range(),
                    format!("declares `global {names}`"),
                );
            }
            Stmt::Nonlocal(nonlocal) => {
                let names =
                    nonlocal.names.iter().map(|name| name.as_str()).collect::<Vec<_>>().join(", ");
                self.found(
                    HazardCode::GlobalState,
                    nonlocal.range(),
                    format!("declares `nonlocal {names}`"),
                );
            }
            Stmt::Return(ast::StmtReturn { value: Some(value), .. }) => {
                if let Some(detail) = describe_mutable_return(value) {
                    self.found(HazardCode::ReturnsMutable, value.range(), detail);
                }
                visitor::walk_stmt(self, stmt);
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'b Expr) {
        match expr {
            Expr::Lambda(_) => return,
            Expr::Yield(_) | Expr::YieldFrom(_) => {
                self.found(HazardCode::GeneratorFunction, expr.range(), String::new());
            }
            Expr::Call(call) => {
                if let Some(callee) = dotted_name(&call.func) {
                    if is_impure_callee(&callee) {
                        self.found(HazardCode::ImpureCall, expr.range(), format!("{callee}()"));
                    } else if self.names_project_code(&callee)
                        && !self.facts.calls.iter().any(|(known, _)| *known == callee)
                    {
                        self.facts.calls.push((callee, expr.range()));
                    }
                }
            }
            Expr::Attribute(attribute)
                if attribute.attr.as_str() == "environ"
                    && dotted_name(expr).as_deref() == Some("os.environ") =>
            {
                self.found(HazardCode::ImpureCall, expr.range(), "os.environ".to_owned());
            }
            Expr::Name(name) if name.ctx == ExprContext::Load => {
                let id = name.id.as_str();
                if self.names_project_code(id)
                    && !self.facts.reads.iter().any(|(known, _)| known == id)
                {
                    self.facts.reads.push((id.to_owned(), expr.range()));
                }
                if self.reassigned_globals.contains(id) && !self.locals.contains(id) {
                    self.found(
                        HazardCode::GlobalState,
                        expr.range(),
                        format!("reads `{id}`, a module name that is reassigned"),
                    );
                }
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}

/// Module-level names bound more than once, or declared `global` in some function: reading
/// them from a cached function gives stale answers after they change.
pub(crate) fn reassigned_globals(module: &[Stmt]) -> HashSet<String> {
    #[derive(Default)]
    struct Counter {
        counts: std::collections::HashMap<String, usize>,
        declared_global: HashSet<String>,
        depth: usize,
    }
    impl<'b> Visitor<'b> for Counter {
        fn visit_stmt(&mut self, stmt: &'b Stmt) {
            match stmt {
                Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {
                    self.depth += 1;
                    visitor::walk_stmt(self, stmt);
                    self.depth -= 1;
                }
                Stmt::Global(global) => {
                    self.declared_global.extend(global.names.iter().map(|name| name.to_string()));
                }
                Stmt::AugAssign(augmented) if self.depth == 0 => {
                    if let Expr::Name(name) = &*augmented.target {
                        *self.counts.entry(name.id.to_string()).or_default() += 2;
                    }
                    visitor::walk_stmt(self, stmt);
                }
                _ => visitor::walk_stmt(self, stmt),
            }
        }
        fn visit_expr(&mut self, expr: &'b Expr) {
            if self.depth == 0
                && let Expr::Name(name) = expr
                && name.ctx == ExprContext::Store
            {
                *self.counts.entry(name.id.to_string()).or_default() += 1;
            }
            visitor::walk_expr(self, expr);
        }
    }
    let mut counter = Counter::default();
    for statement in module {
        counter.visit_stmt(statement);
    }
    let mut names = counter.declared_global;
    names.extend(counter.counts.into_iter().filter(|(_, count)| *count > 1).map(|(name, _)| name));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_facts_name_reads_from_outside_calls_and_the_first_impure_call() {
        let parsed = ruff_python_parser::parse_module(
            "def f(x):\n    y = LIMIT + x\n    helper(y)\n    os.getenv('A')\n    return util.scale(y)\n",
        )
        .expect("parses");
        let Stmt::FunctionDef(function) = &parsed.syntax().body[0] else { panic!("a def") };
        let reassigned = HashSet::new();
        let head = function.name.range();
        let module = ModuleFacts {
            containers: ["LIMIT".to_owned()].into(),
            functions: ["helper".to_owned()].into(),
            imports: vec![crate::python::facts::Import {
                alias: "util".to_owned(),
                module: "util".to_owned(),
                level: 0,
                name: None,
            }],
            mutations: Vec::new(),
        };
        let context = HazardContext {
            in_class: false,
            module: &module,
            reassigned_globals: &reassigned,
            head,
        };
        let (_, facts) = analyze(function, &context);
        let reads: Vec<&str> = facts.reads.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(reads, ["LIMIT", "helper", "util"], "names that can lead to project code");
        let calls: Vec<&str> = facts.calls.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(calls, ["helper", "util.scale"]);
        assert_eq!(facts.impure.as_deref(), Some("os.getenv()"));
    }
}
