//! Globs over Python qualified names (`price_*`, `Cart.total`, `Parser.**`).
//!
//! A qualified name is a path whose separator is the dot, so a glob here is a globset glob
//! with `literal_separator` on, after dots become slashes: `*` never crosses a dot (`*` means
//! the top-level functions, `Cart.*` the methods of `Cart`), `**` as a whole segment crosses
//! any number (`**` is everything, `Outer.**` everything inside `Outer`). The same rules
//! serve dotted module names (`pkg.**`) and, with slashes, file paths relative to the
//! project root ([`path_glob`]). This module only matches names; which names exist is the
//! source model's business.

use globset::{GlobBuilder, GlobMatcher};

/// Shown under every invalid-pattern diagnostic.
pub(crate) const SYNTAX_HELP: &str = "patterns are globs over qualified names: `*` matches within one name \
     (`Cart.*`), `**` as a whole segment crosses dots (`Outer.**`), `?`, `[abc]` and `{a,b}` work as in shells";

/// A compiled qualified-name glob.
#[derive(Debug, Clone)]
pub(crate) struct QualnameGlob {
    matcher: GlobMatcher,
}

impl QualnameGlob {
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("empty pattern".to_owned());
        }
        if pattern.contains('/') {
            return Err(format!("`{pattern}` contains `/`; qualified names are separated by dots"));
        }
        let glob = GlobBuilder::new(&pattern.replace('.', "/"))
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|error| format!("invalid pattern `{pattern}`: {}", error.kind()))?;
        Ok(Self { matcher: glob.compile_matcher() })
    }

    pub(crate) fn is_match(&self, qualname: &str) -> bool {
        self.matcher.is_match(qualname.replace('.', "/"))
    }
}

/// A glob over file paths relative to the project root (`src/**/*.py`): `*` stays within
/// a directory, `**` as a whole segment crosses any number.
pub(crate) fn path_glob(glob: &str) -> Result<GlobMatcher, String> {
    GlobBuilder::new(glob)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|error| format!("invalid path glob `{glob}`: {}", error.kind()))
}

#[cfg(test)]
mod tests {
    use super::{QualnameGlob, path_glob};

    fn matches(pattern: &str, name: &str) -> bool {
        QualnameGlob::new(pattern).expect("valid pattern").is_match(name)
    }

    #[test]
    fn star_stays_within_one_name() {
        assert!(matches("*", "price"));
        assert!(!matches("*", "Cart.total"));
        assert!(matches("Cart.*", "Cart.total"));
        assert!(!matches("Cart.*", "Cart.Inner.total"));
        assert!(matches("price_*", "price_with_tax"));
        assert!(!matches("price_*", "Cart.price_x"));
    }

    #[test]
    fn double_star_crosses_dots() {
        assert!(matches("**", "Outer.Inner.method"));
        assert!(matches("**", "f"));
        assert!(matches("Outer.**", "Outer.Inner.method"));
        assert!(matches("**.parse_*", "Parser.Sub.parse_x"));
    }

    #[test]
    fn invalid_patterns_are_explained() {
        assert!(QualnameGlob::new("a/b").is_err());
        assert!(QualnameGlob::new("[abc").is_err());
        assert!(QualnameGlob::new("").is_err());
    }

    #[test]
    fn module_and_path_globs() {
        assert!(matches("shop.*", "shop.pricing"));
        assert!(!matches("shop.*", "shop.sub.pricing"));
        assert!(matches("shop.**", "shop.sub.pricing"));
        assert!(!matches("shop.**", "shop"), "the planner adds the package itself");
        let glob = path_glob("src/**/*.py").expect("valid");
        assert!(glob.is_match("src/shop/pricing.py"));
        assert!(glob.is_match("src/a.py"));
        assert!(!glob.is_match("lib/a.py"));
        assert!(!path_glob("src/*.py").expect("valid").is_match("src/shop/pricing.py"));
        assert!(path_glob("src/[").is_err());
    }
}
