//! The names the hazard analysis knows: decorators that cache or stay out of the way,
//! mutable constructors and annotations, and the calls that read the world.

use ruff_python_ast::Expr;

/// Decorator names that already cache.
pub(crate) const CACHING_DECORATORS: &[&str] =
    &["lru_cache", "cache", "cached_property", "cached", "memoize"];
/// Decorators under which an innermost cache is the usual, working placement.
pub(crate) const TRANSPARENT_DECORATORS: &[&str] =
    &["staticmethod", "classmethod", "property", "override", "final"];
/// Calls that create a fresh mutable container.
pub(crate) const MUTABLE_CONSTRUCTORS: &[&str] =
    &["list", "dict", "set", "bytearray", "defaultdict", "OrderedDict", "Counter", "deque"];
/// Annotations that name a mutable, unhashable type.
pub(crate) const UNHASHABLE_TYPES: &[&str] = &[
    "list",
    "dict",
    "set",
    "bytearray",
    "List",
    "Dict",
    "Set",
    "MutableMapping",
    "MutableSequence",
    "MutableSet",
    "DefaultDict",
    "Counter",
    "Deque",
];
/// Whole modules whose calls depend on the world.
pub(crate) const IMPURE_MODULES: &[&str] = &[
    "time",
    "random",
    "locale",
    "gettext",
    "getpass",
    "secrets",
    "subprocess",
    "socket",
    "requests",
    "urllib",
    "shutil",
    "tempfile",
    "uuid",
    "sys.stdin",
];
/// Built-in functions with effects or inputs outside their arguments.
pub(crate) const IMPURE_BUILTINS: &[&str] = &["open", "input", "print", "exec"];
/// `os.path` functions that are pure string manipulation.
pub(crate) const PURE_OS_PATH: &[&str] = &[
    "join",
    "basename",
    "dirname",
    "split",
    "splitext",
    "normpath",
    "normcase",
    "isabs",
    "relpath",
    "commonpath",
    "commonprefix",
];

/// Dotted name of a decorator expression, without call arguments: `functools.lru_cache`.
pub(crate) fn decorator_name(expression: &Expr) -> String {
    match expression {
        Expr::Call(call) => decorator_name(&call.func),
        other => dotted_name(other).unwrap_or_else(|| "<expression>".to_owned()),
    }
}

/// `a.b.c` for a chain of names and attributes.
pub(crate) fn dotted_name(expression: &Expr) -> Option<String> {
    match expression {
        Expr::Name(name) => Some(name.id.to_string()),
        Expr::Attribute(attribute) => {
            dotted_name(&attribute.value).map(|head| format!("{head}.{}", attribute.attr.as_str()))
        }
        _ => None,
    }
}

pub(crate) fn is_unhashable_annotation(annotation: &Expr) -> bool {
    let base = match annotation {
        Expr::Subscript(subscript) => &subscript.value,
        other => other,
    };
    dotted_name(base)
        .is_some_and(|name| UNHASHABLE_TYPES.contains(&name.rsplit('.').next().unwrap_or(&name)))
}

/// A display or comprehension that builds a fresh list, dict or set.
pub(crate) fn is_mutable_display(expression: &Expr) -> bool {
    matches!(
        expression,
        Expr::List(_)
            | Expr::Dict(_)
            | Expr::Set(_)
            | Expr::ListComp(_)
            | Expr::DictComp(_)
            | Expr::SetComp(_)
    )
}

pub(crate) fn describe_mutable_return(expression: &Expr) -> Option<String> {
    if is_mutable_display(expression) {
        return Some("a new list, dict or set".to_owned());
    }
    if let Expr::Call(call) = expression {
        let callee = dotted_name(&call.func)?;
        let last = callee.rsplit('.').next().unwrap_or(&callee);
        if MUTABLE_CONSTRUCTORS.contains(&last) {
            return Some(format!("a `{callee}(...)`"));
        }
    }
    None
}

pub(crate) fn is_impure_callee(callee: &str) -> bool {
    if IMPURE_BUILTINS.contains(&callee) {
        return true;
    }
    if IMPURE_MODULES
        .iter()
        .any(|module| callee.starts_with(module) && callee[module.len()..].starts_with('.'))
    {
        return true;
    }
    let mut parts = callee.rsplit('.');
    let last = parts.next().unwrap_or(callee);
    let owner = parts.next();
    if matches!(last, "now" | "utcnow" | "today") && matches!(owner, Some("datetime" | "date")) {
        return true;
    }
    if let Some(rest) = callee.strip_prefix("os.") {
        return match rest.strip_prefix("path.") {
            Some(function) => !PURE_OS_PATH.contains(&function),
            None => !matches!(rest, "fspath" | "fsencode" | "fsdecode"),
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_that_read_the_world_are_impure() {
        for callee in [
            "uuid.uuid4",
            "secrets.token_hex",
            "os.urandom",
            "os.getenv",
            "locale.getlocale",
            "gettext.gettext",
            "datetime.date.today",
            "datetime.datetime.now",
            "datetime.datetime.utcnow",
            "time.time",
            "random.random",
            "open",
        ] {
            assert!(is_impure_callee(callee), "{callee}");
        }
        for callee in ["os.path.join", "math.sqrt", "json.dumps", "datetime.timedelta"] {
            assert!(!is_impure_callee(callee), "{callee}");
        }
    }
}
