//! What can go wrong with a remote, sorted by what the caller does next, as
//! [`crate::store::StoreError`] is: a remote declared wrong is left out until the manifest or
//! the environment is fixed; refused credentials need the user; a remote that cannot be
//! reached or answers off-protocol is a remote to go on without for this build; a local
//! failure is this machine's, not the remote's.
//!
//! Every message is shown (and debug-printed) with each URL's password hidden, whoever wrote
//! it: a library's error may quote the URL it was given.

use super::redact;

#[derive(thiserror::Error)]
pub enum RemoteError {
    /// The remote as declared cannot be used: a kind of URL this build does not support, a
    /// URL that names no bucket. Nothing was sent.
    #[error("{}", redact(.0))]
    Config(String),

    /// The server refused the credentials (HTTP 401 or 403): retrying cannot help, the
    /// environment must change. `help` says what to set.
    #[error("{} refused the credentials (HTTP {status}); {help}", redact(.place))]
    Credentials {
        place: String,
        status: u16,
        help: String,
    },

    /// No answer: the connection failed or timed out, after the retries.
    #[error("{}: {}", redact(.place), redact(.detail))]
    Unreachable { place: String, detail: String },

    /// An answer the protocol does not allow: a status other than 2xx and 404 (a 5xx after
    /// the retries), a body that does not parse, a part without its ETag.
    #[error("{}", redact(.0))]
    Protocol(String),

    /// A blob the protocol cannot carry (S3 takes at most 10,000 parts).
    #[error("{0}")]
    TooLarge(String),

    /// What this machine failed to do with what the remote sent or was to be sent: keep it in
    /// the local store, encode it.
    #[error("{}", redact(.0))]
    Local(String),

    #[error("{}", redact(&.0.to_string()))]
    Io(#[from] std::io::Error),
}

impl RemoteError {
    /// For a status outside 2xx and 404 from `place`.
    pub(crate) fn status(place: &str, status: u16, credentials_help: &str) -> RemoteError {
        match status {
            401 | 403 => RemoteError::Credentials {
                place: place.to_string(),
                status,
                help: credentials_help.to_string(),
            },
            _ => RemoteError::Protocol(format!("{place} answered HTTP {status}")),
        }
    }
}

impl std::fmt::Debug for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let variant = match self {
            RemoteError::Config(_) => "Config",
            RemoteError::Credentials { .. } => "Credentials",
            RemoteError::Unreachable { .. } => "Unreachable",
            RemoteError::Protocol(_) => "Protocol",
            RemoteError::TooLarge(_) => "TooLarge",
            RemoteError::Local(_) => "Local",
            RemoteError::Io(_) => "Io",
        };
        let text = match self {
            RemoteError::Io(e) => format!("{e:?}"),
            other => format!("{:?}", other.to_string()),
        };
        write!(f, "{variant}({})", redact(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::RemoteError;

    #[test]
    fn errors_and_debug_output_hide_passwords() {
        let error = RemoteError::Unreachable {
            place: "http://alice:hunter2@h/x".into(),
            detail: "bad uri".into(),
        };
        assert_eq!(error.to_string(), "http://alice:***@h/x: bad uri");
        assert_eq!(
            format!("{error:?}"),
            r#"Unreachable("http://alice:***@h/x: bad uri")"#
        );
        let error = RemoteError::Config("`s3://alice:hunter2@b/p` holds credentials".into());
        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }

    #[test]
    fn refused_credentials_are_their_own_kind() {
        let error = RemoteError::status("http://h/x", 403, "set ZENBUILD_REMOTE_TEAM_TOKEN");
        assert!(matches!(
            error,
            RemoteError::Credentials { status: 403, .. }
        ));
        assert_eq!(
            error.to_string(),
            "http://h/x refused the credentials (HTTP 403); set ZENBUILD_REMOTE_TEAM_TOKEN"
        );
        let error = RemoteError::status("http://h/x", 500, "");
        assert!(matches!(error, RemoteError::Protocol(_)));
        assert_eq!(error.to_string(), "http://h/x answered HTTP 500");
    }
}
