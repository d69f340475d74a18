//! Globs over Python qualified names (`price_*`, `Cart.total`, `Parser.**`).
//!
//! A qualified name is a path whose separator is the dot, so a glob here is a globset glob
//! with `literal_separator` on, after dots become slashes: `*` never crosses a dot (`*` means
//! the top-level functions, `Cart.*` the methods of `Cart`), `**` as a whole segment crosses
//! any number (`**` is everything, `Outer.**` everything inside `Outer`). This module only
//! matches names; which names exist is the source model's business.

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

#[cfg(test)]
mod tests {
    use super::QualnameGlob;

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
}
