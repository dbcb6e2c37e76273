//! Keeping the password out of what zenbuild prints. A remote's URL may carry credentials
//! (`https://alice:secret@cache.example/zb`, which the HTTP transport sends as basic auth);
//! every message that shows a URL, or an error of a library that was handed one, goes
//! through [`redact`] first, so the password never reaches a terminal, a CI log or a report.

use std::borrow::Cow;

/// What stands in for a password.
const HIDDEN: &str = "***";

/// `text` with the password of every URL in it replaced: `scheme://user:pw@host` becomes
/// `scheme://user:***@host`, and `scheme://token@host` (a user name that is all there is,
/// the way tokens are often passed) becomes `scheme://***@host`. URLs nested in a query
/// (`s3://bucket?endpoint=http://user:pw@host`) are redacted too.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let authority_start = at + 3;
        out.push_str(&rest[..authority_start]);
        let after = &rest[authority_start..];
        // The authority ends where the path starts, but a password may hold a `/` that its
        // writer did not escape: up to the query, the fragment or the text around the URL,
        // whatever comes before the last `@` is taken for credentials.
        let end = after
            .find(|c: char| {
                matches!(c, '?' | '#' | '`' | '\'' | '"' | '<' | '>') || c.is_whitespace()
            })
            .unwrap_or(after.len());
        let head = &after[..end];
        match head.rfind('@') {
            Some(last_at) => {
                let userinfo = &head[..last_at];
                match userinfo.split_once(':') {
                    Some((user, _password)) => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(HIDDEN);
                    }
                    None => out.push_str(HIDDEN),
                }
                out.push_str(&head[last_at..]);
            }
            None => out.push_str(head),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden_and_the_rest_is_kept() {
        for (text, redacted) in [
            (
                "http://alice:hunter2@127.0.0.1:9/cache",
                "http://alice:***@127.0.0.1:9/cache",
            ),
            ("https://tok3n@cache.example", "https://***@cache.example"),
            (
                "s3://bucket/p?endpoint=http://AKIA:s3cret@127.0.0.1:9",
                "s3://bucket/p?endpoint=http://AKIA:***@127.0.0.1:9",
            ),
            ("s3://KEY:SECRET@bucket/p", "s3://KEY:***@bucket/p"),
            (
                "remote `team` failed: https://a:b@h/x: io: refused; see http://c:d@e",
                "remote `team` failed: https://a:***@h/x: io: refused; see http://c:***@e",
            ),
            // A password may itself hold `@` or `:`; everything up to the last `@` goes.
            ("http://u:p@ss:w@host/", "http://u:***@host/"),
            ("http://u:pa/ss@host/", "http://u:***@host/"),
            // Better a path shown short than a password shown whole.
            ("http://host/a@b", "http://***@b"),
            (
                "see `http://u:p@h/x` and 'a@b'",
                "see `http://u:***@h/x` and 'a@b'",
            ),
            ("http://127.0.0.1:9/cache", "http://127.0.0.1:9/cache"),
            ("no url, a@b", "no url, a@b"),
            ("https://alice:hunter2@[::1", "https://alice:***@[::1"),
        ] {
            assert_eq!(redact(text), redacted, "{text}");
        }
    }
}
