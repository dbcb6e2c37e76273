//! The command an engine runs on a worker: `zenbuild worker --remote URL --remote-name NAME
//! DIGEST`. A command line is seen by anyone on the machine (`ps`), kept in the engine's job
//! records and shown in its dashboard, so it never holds a credential: the worker opens the
//! remote from the URL and its own environment, as the client does (S3 from `AWS_*`, HTTP
//! from `ZENBUILD_REMOTE_<NAME>_TOKEN` or `_USER` and `_PASSWORD`).

use crate::hash::Digest;
use crate::remote::redact;

/// `url` without the credentials of any URL in it (`https://alice:pw@host/x` becomes
/// `https://host/x`, and so does a URL nested in a query): the URL to hand a worker, which
/// takes its credentials from its environment.
pub fn without_userinfo(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(at) = rest.find("://") {
        let authority_start = at + 3;
        out.push_str(&rest[..authority_start]);
        let after = &rest[authority_start..];
        // As `redact` reads it: up to the query, the fragment or the end, whatever comes
        // before the last `@` is taken for credentials (a password may hold a `/`).
        let end = after
            .find(|c: char| matches!(c, '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        let head = &after[..end];
        match head.rfind('@') {
            Some(last_at) => out.push_str(&head[last_at + 1..]),
            None => out.push_str(head),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// What an engine runs for one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerCommand {
    /// The zenbuild to run on the worker (`zenbuild` found on its PATH, or a path).
    pub program: String,
    /// The remote's name in the manifest: it names the variables the worker's credentials
    /// come from.
    pub remote_name: String,
    /// The remote's URL, without credentials (see [`without_userinfo`]).
    pub url: String,
    /// The description's digest.
    pub description: Digest,
    /// Where the worker makes its scratch directory; its `$TMPDIR` when `None`.
    pub scratch: Option<String>,
}

impl WorkerCommand {
    /// The program and its arguments. Refused when the URL holds a credential: it would be
    /// on the worker's command line for all to see.
    pub fn argv(&self) -> Result<Vec<String>, String> {
        if redact(&self.url) != self.url {
            return Err(format!(
                "the remote `{}` has credentials in its URL, which a worker's command line \
                 would show: pass `without_userinfo(url)` and give the workers their \
                 credentials in their environment",
                self.remote_name
            ));
        }
        let mut argv = vec![
            self.program.clone(),
            "worker".to_string(),
            "--remote".to_string(),
            self.url.clone(),
            "--remote-name".to_string(),
            self.remote_name.clone(),
        ];
        if let Some(scratch) = &self.scratch {
            argv.extend(["--scratch".to_string(), scratch.clone()]);
        }
        argv.push(self.description.to_hex());
        Ok(argv)
    }

    /// The command as one line for `/bin/sh` (an engine's entrypoint, a batch script), every
    /// word quoted.
    pub fn shell_line(&self) -> Result<String, String> {
        Ok(self
            .argv()?
            .iter()
            .map(|word| shell_quote(word))
            .collect::<Vec<_>>()
            .join(" "))
    }
}

/// `word` as one word for `/bin/sh`, whatever it holds.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | ':' | '=' | ',')
        });
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_taken_out_of_urls() {
        for (url, bare) in [
            (
                "https://alice:hunter2@cache.example/zb",
                "https://cache.example/zb",
            ),
            ("https://tok3n@cache.example", "https://cache.example"),
            ("http://u:pa/ss@host:8080/x", "http://host:8080/x"),
            (
                "s3://bucket/p?endpoint=http://AKIA:s3cret@127.0.0.1:9",
                "s3://bucket/p?endpoint=http://127.0.0.1:9",
            ),
            (
                "s3://bucket/p?endpoint=http://127.0.0.1:9",
                "s3://bucket/p?endpoint=http://127.0.0.1:9",
            ),
            ("file:///mnt/cache", "file:///mnt/cache"),
        ] {
            assert_eq!(without_userinfo(url), bare, "{url}");
            assert_eq!(redact(&without_userinfo(url)), bare, "{url}");
        }
    }

    fn command(url: &str) -> WorkerCommand {
        WorkerCommand {
            program: "zenbuild".to_string(),
            remote_name: "team".to_string(),
            url: url.to_string(),
            description: Digest::of(b"description"),
            scratch: Some("/scratch/my jobs".to_string()),
        }
    }

    #[test]
    fn a_command_line_never_holds_a_password() {
        for url in [
            "https://alice:hunter2@cache.example/zb",
            "s3://bucket/p?endpoint=http://AKIA:s3cret@127.0.0.1:9",
            "https://tok3n@cache.example",
        ] {
            let error = command(url).argv().unwrap_err();
            assert!(
                !error.contains("hunter2") && !error.contains("s3cret"),
                "{error}"
            );
            assert!(command(&without_userinfo(url)).argv().is_ok(), "{url}");
        }
    }

    #[test]
    fn the_command_line_quotes_what_the_shell_would_split() {
        let command = command("s3://bucket/p?endpoint=http://127.0.0.1:9");
        let digest = Digest::of(b"description").to_hex();
        assert_eq!(
            command.argv().unwrap(),
            [
                "zenbuild",
                "worker",
                "--remote",
                "s3://bucket/p?endpoint=http://127.0.0.1:9",
                "--remote-name",
                "team",
                "--scratch",
                "/scratch/my jobs",
                &digest,
            ]
        );
        assert_eq!(
            command.shell_line().unwrap(),
            format!(
                "zenbuild worker --remote 's3://bucket/p?endpoint=http://127.0.0.1:9' \
                 --remote-name team --scratch '/scratch/my jobs' {digest}"
            )
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
