//! npm package names as registries accept them for existing packages (npm's
//! `validate-npm-package-name`, "valid for old packages"): the gate must read exactly the
//! names the registry behind it reads, and refuse what it would not store.

/// Longest name npm accepts, scope included.
const MAX_LEN: usize = 214;

/// Whether `name` (`name` or `@scope/name`) is a package name.
pub fn valid(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_LEN {
        return false;
    }
    match name.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, rest)) => part(scope) && part(rest),
            None => false,
        },
        None => part(name),
    }
}

/// One part (scope or name): URL-safe characters only, not starting with `.` or `_`.
fn part(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && !s.starts_with('_')
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.' | b'_' | b'~' | b'!' | b'*' | b'\'' | b'(' | b')'
                )
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        for ok in [
            "left-pad",
            "@acme/widget",
            "JSONStream",
            "a",
            "lodash.merge",
            "@a/b.c",
        ] {
            assert!(super::valid(ok), "{ok}");
        }
        for bad in [
            "", "@acme", "@/x", "@acme/", ".hidden", "_x", "a b", "a<b", "a/b", "@a/b/c", "@a/.b",
        ] {
            assert!(!super::valid(bad), "{bad}");
        }
        assert!(super::valid(&"a".repeat(214)));
        assert!(!super::valid(&"a".repeat(215)));
    }
}
