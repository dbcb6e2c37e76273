//! The address of a team database: `postgres://USER@HOST:PORT/DATABASE` or
//! `mysql://USER@HOST:PORT/DATABASE` (MariaDB speaks MySQL's protocol), with TLS asked for in
//! the query as each server's own clients write it: `sslmode` and `sslrootcert` (libpq's
//! names) for PostgreSQL, `ssl-mode` and `ssl-ca` (the MySQL clients' URI names, as MySQL
//! Shell and sqlx read them) for MySQL. A password in the URL is taken but never shown:
//! [`ServerUrl::shown`] is the URL every message and record uses.
//!
//! What each mode means here, and where it parts from the server's own client:
//!
//! | PostgreSQL `sslmode` | MySQL `ssl-mode` | zenbuild |
//! |---|---|---|
//! | `disable` (the default) | `DISABLED` (the default) | plain TCP |
//! | `allow`, `prefer` | — | TLS when the server offers it, checked as `require`; plain when it does not |
//! | `require`, `verify-full` | `REQUIRED`, `VERIFY_IDENTITY` | TLS; the certificate chains to the CA file, else to a public CA, and names the host |
//! | `verify-ca` | — | TLS; the certificate chains to the CA file (required), any host name |
//! | `no-verify` | `NO_VERIFY` | TLS; the certificate is not checked at all |
//!
//! `require` (`REQUIRED`) checks the certificate, where libpq's and MySQL's own `require`
//! only encrypt (libpq checks the chain only when a root certificate happens to be on the
//! machine). Deliberately: this connection carries the database password and the team's whole
//! lineage, and an encrypted connection to whoever answers stops an eavesdropper but not a
//! machine in the middle, which a copied `sslmode=require` was almost always meant to stop.
//! MariaDB's own client checks by default since 11.4 for the same reason. Not checking is
//! still possible, for a server whose self-signed certificate cannot be checked, but only by
//! writing so (`no-verify`, node-postgres's name for it), never by default.
//!
//! MySQL has no `verify-ca` here: its driver always trusts the public CAs beside `ssl-ca`, so
//! a chain checked without the host name would accept anyone's public certificate. `PREFERRED`
//! is refused as the driver cannot fall back to plain TCP.
//!
//! The CA file (`sslrootcert`, `ssl-ca`: PEM, one or more certificates) is an absolute path or
//! `~/…`: the URL is read from the committed manifest and from `ZENBUILD_METADATA_URL` alike,
//! by commands run from any directory of the workspace, so no one directory could be the base
//! of a relative path. Naming a CA without a mode asks for `verify-full`, as libpq's
//! `sslrootcert=system` does (`system` is taken here too: the public CAs).
//!
//! A setting this file does not know is refused, never ignored: a misspelt TLS setting must
//! not leave a connection in plain TCP.

use std::fmt;
use std::path::{Path, PathBuf};

use super::sql::Dialect;

/// Whether the connection is encrypted, and how the server's certificate is checked (see the
/// table above).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// Plain TCP, as on a database reached over loopback or a private network.
    Off,
    /// TLS checked as [`Tls::Verified`] when the server offers it, plain TCP when it does not
    /// (PostgreSQL's `prefer`).
    Preferred,
    /// TLS; the certificate chains to [`ServerUrl::ca`] (else to a public CA) and names the
    /// host.
    Verified,
    /// TLS; the certificate chains to [`ServerUrl::ca`], whatever host it names.
    CaOnly,
    /// TLS that stops eavesdroppers only: the certificate is not checked. Never a default.
    Unverified,
}

#[derive(Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub dialect: Dialect,
    pub user: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub tls: Tls,
    /// The CA file that certificates must chain to; `None`: the public CAs (webpki's roots).
    pub ca: Option<PathBuf>,
    /// A password written in the URL itself; never printed (see [`ServerUrl::shown`]).
    pub password: Option<String>,
}

/// Why a URL cannot be used, in words for the user (the URL shown without its password).
#[derive(Debug, PartialEq, Eq)]
pub struct BadUrl(pub String);

impl fmt::Display for BadUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

impl ServerUrl {
    pub fn parse(url: &str) -> Result<ServerUrl, BadUrl> {
        // Without the query either: a setting zenbuild does not know may be a password.
        let shown = redact(url.split_once('?').map_or(url, |(base, _)| base));
        let bad = |why: &str| BadUrl(format!("metadata URL `{shown}`: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected postgres://USER@HOST/DATABASE or mysql://…"))?;
        let (dialect, default_port) = match scheme {
            "postgres" | "postgresql" => (Dialect::Postgres, 5432),
            "mysql" | "mariadb" => (Dialect::Mysql, 3306),
            _ => return Err(bad("the scheme must be postgres:// or mysql://")),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, database) = rest
            .split_once('/')
            .ok_or_else(|| bad("it names no database (…/DATABASE at its end)"))?;
        if database.is_empty() || database.contains('/') {
            return Err(bad("it names no database (…/DATABASE at its end)"));
        }
        let database = decode(database).map_err(|why| bad(&why))?;
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((user, password)) => (
                    decode(user).map_err(|why| bad(&why))?,
                    Some(decode(password).map_err(|why| bad(&why))?),
                ),
                None => (decode(info).map_err(|why| bad(&why))?, None),
            },
            None => (String::new(), None),
        };
        if user.is_empty() {
            return Err(bad("it names no user (USER@ before the host)"));
        }
        let (host, port) = split_host_port(hostport).map_err(|why| bad(&why))?;
        let (tls, ca) = tls_settings(dialect, query).map_err(|why| bad(&why))?;
        Ok(ServerUrl {
            dialect,
            user,
            host,
            port: port.unwrap_or(default_port),
            database,
            tls,
            ca,
            password,
        })
    }

    /// The URL as every message and record shows it: without a password, and without the
    /// query. The shown URL names the store in the clone's outbox and in a run's `store`, so
    /// adding TLS to the URL of a store must not make it another store.
    pub fn shown(&self) -> String {
        let scheme = match self.dialect {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{scheme}://{}@{host}:{}/{}",
            self.user, self.port, self.database
        )
    }
}

/// The names a server's clients give the TLS settings: (mode, CA file).
pub fn setting_names(dialect: Dialect) -> (&'static str, &'static str) {
    match dialect {
        Dialect::Postgres => ("sslmode", "sslrootcert"),
        Dialect::Mysql => ("ssl-mode", "ssl-ca"),
    }
}

/// The TLS of a URL's query (`name=value&…`, each setting once).
fn tls_settings(dialect: Dialect, query: &str) -> Result<(Tls, Option<PathBuf>), String> {
    let (mode_name, ca_name) = setting_names(dialect);
    let (mut mode, mut ca) = (None, None);
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value)?;
        let slot = if name == mode_name {
            &mut mode
        } else if name == ca_name {
            &mut ca
        } else {
            return Err(unknown_setting(dialect, name));
        };
        if slot.replace(value).is_some() {
            return Err(format!("`{name}` is given twice"));
        }
    }
    let named_ca = ca.is_some();
    let ca = match ca.as_deref() {
        // libpq's word for the machine's trusted CAs; here, the public CAs webpki knows.
        Some("system") if dialect == Dialect::Postgres => None,
        Some(path) => Some(ca_path(ca_name, path)?),
        None => None,
    };
    let tls = match mode.as_deref() {
        None if named_ca => Tls::Verified,
        None => Tls::Off,
        Some(value) => tls_mode(dialect, value)?,
    };
    let mode = mode.unwrap_or_default();
    match tls {
        Tls::Off | Tls::Unverified if named_ca => Err(format!(
            "`{ca_name}` names a CA but `{mode_name}={mode}` checks no certificate against it"
        )),
        Tls::CaOnly if ca.is_none() => Err(format!(
            "`{mode_name}={mode}` needs `{ca_name}=PATH`, the CA file to check against: a chain \
             to any public CA, whatever host it names, proves nothing"
        )),
        _ => Ok((tls, ca)),
    }
}

/// A mode's value, in either case as the servers' clients take it.
fn tls_mode(dialect: Dialect, value: &str) -> Result<Tls, String> {
    let (mode_name, _) = setting_names(dialect);
    let tls = match (dialect, value.to_ascii_lowercase().as_str()) {
        (Dialect::Postgres, "disable") | (Dialect::Mysql, "disabled") => Tls::Off,
        (Dialect::Postgres, "allow" | "prefer") => Tls::Preferred,
        (Dialect::Postgres, "require" | "verify-full")
        | (Dialect::Mysql, "required" | "verify_identity") => Tls::Verified,
        (Dialect::Postgres, "verify-ca") => Tls::CaOnly,
        (Dialect::Postgres, "no-verify") | (Dialect::Mysql, "no_verify") => Tls::Unverified,
        (Dialect::Mysql, "verify_ca") => {
            return Err(format!(
                "`{mode_name}={value}` cannot be kept: the MySQL driver trusts the public CAs \
                 beside `ssl-ca`, so a certificate checked without its host name could be \
                 anyone's; write VERIFY_IDENTITY with a certificate that names the host"
            ));
        }
        (Dialect::Mysql, "preferred") => {
            return Err(format!(
                "`{mode_name}={value}`: the MySQL driver cannot fall back to plain TCP; write \
                 REQUIRED or DISABLED"
            ));
        }
        _ => {
            let values = match dialect {
                Dialect::Postgres => "disable, prefer, require, verify-ca, verify-full, no-verify",
                Dialect::Mysql => "DISABLED, REQUIRED, VERIFY_IDENTITY, NO_VERIFY",
            };
            return Err(format!(
                "`{mode_name}={value}` is not a setting zenbuild knows ({mode_name} is one of \
                 {values})"
            ));
        }
    };
    Ok(tls)
}

/// Why `name` is refused; its value is not shown, as it may be a password.
fn unknown_setting(dialect: Dialect, name: &str) -> String {
    let (mode_name, ca_name) = setting_names(dialect);
    let (other_mode, other_ca) = setting_names(match dialect {
        Dialect::Postgres => Dialect::Mysql,
        Dialect::Mysql => Dialect::Postgres,
    });
    let theirs = if name == other_mode || name == other_ca {
        " (that is the other server's name for it)"
    } else {
        ""
    };
    format!(
        "`{name}` is not a setting zenbuild knows{theirs}: this URL takes `{mode_name}` and \
         `{ca_name}`"
    )
}

/// A CA file's path: absolute, or under the home directory (`~/…`).
fn ca_path(name: &str, path: &str) -> Result<PathBuf, String> {
    if let Some(rest) = path.strip_prefix("~/") {
        let home = std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .ok_or_else(|| format!("`{name}={path}`: HOME is not set, so `~` is nowhere"))?;
        return Ok(PathBuf::from(home).join(rest));
    }
    if Path::new(path).is_absolute() {
        Ok(PathBuf::from(path))
    } else {
        Err(format!(
            "`{name}={path}` is not an absolute path (nor ~/…): the URL is read from the \
             manifest and from ZENBUILD_METADATA_URL, from any directory, so no one directory is \
             its base"
        ))
    }
}

/// `url` without the password of its userinfo, for a message about a URL that did not parse.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 host needs its closing `]`")?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("it names no host".to_string());
    }
    let port = match port {
        Some(port) => Some(
            port.parse::<u16>()
                .map_err(|_| format!("`{port}` is not a port"))?,
        ),
        None => None,
    };
    Ok((host.to_string(), port))
}

/// Percent-decoding, as URLs write `@`, `:` and `/` inside names and passwords.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|pair| std::str::from_utf8(pair).ok())
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or("a `%` is not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a percent-encoded name is not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_both_servers_are_read() {
        let url = ServerUrl::parse("postgres://ml@db.internal:5433/zenbuild").expect("a URL");
        assert_eq!(url.dialect, Dialect::Postgres);
        assert_eq!(
            (url.user.as_str(), url.host.as_str(), url.port),
            ("ml", "db.internal", 5433)
        );
        assert_eq!(url.database, "zenbuild");
        assert_eq!(url.tls, Tls::Off);
        let url = ServerUrl::parse("mysql://zb@127.0.0.1/meta?ssl-mode=REQUIRED").expect("a URL");
        assert_eq!(
            (url.dialect, url.port, url.tls),
            (Dialect::Mysql, 3306, Tls::Verified)
        );
        let url =
            ServerUrl::parse("postgresql://a%40b@[::1]/d%2Fb?sslmode=require").expect("a URL");
        assert_eq!((url.user.as_str(), url.host.as_str()), ("a@b", "::1"));
        assert_eq!(url.database, "d/b");
        assert_eq!(url.shown(), "postgres://a@b@[::1]:5432/d/b");
    }

    #[test]
    fn a_password_is_taken_and_never_shown() {
        let url = ServerUrl::parse("postgres://ml:s3cr%3At@db/zb").expect("a URL");
        assert_eq!(url.password.as_deref(), Some("s3cr:t"));
        assert!(!url.shown().contains("s3cr"));
        assert!(!format!("{url:?}").contains("s3cr"));
        let bad = ServerUrl::parse("postgres://ml:s3cret@db").expect_err("no database");
        assert!(!bad.0.contains("s3cret"), "{bad}");
        assert!(bad.0.contains("postgres://ml@db"), "{bad}");
    }

    #[test]
    fn what_cannot_be_used_is_said() {
        for (url, said) in [
            ("sqlite:///x.db", "postgres:// or mysql://"),
            ("postgres://db/zb", "names no user"),
            ("postgres://u@db", "names no database"),
            ("postgres://u@db:99999/zb", "not a port"),
            ("postgres://u@db/zb?sslmode=bogus", "not a setting"),
            ("postgres://u@db/zb?sslmod=require", "not a setting"),
            (
                "postgres://u@db/zb?ssl-mode=REQUIRED",
                "the other server's name",
            ),
            ("mysql://u@db/zb?sslmode=require", "the other server's name"),
            (
                "postgres://u@db/zb?sslmode=require&sslmode=disable",
                "given twice",
            ),
            (
                "postgres://u@db/zb?sslmode=verify-ca",
                "needs `sslrootcert=PATH`",
            ),
            (
                "postgres://u@db/zb?sslmode=verify-ca&sslrootcert=system",
                "needs",
            ),
            (
                "postgres://u@db/zb?sslrootcert=certs/ca.pem",
                "not an absolute path",
            ),
            ("mysql://u@db/zb?ssl-ca=ca.pem", "not an absolute path"),
            (
                "postgres://u@db/zb?sslmode=disable&sslrootcert=/ca.pem",
                "checks no certificate",
            ),
            (
                "postgres://u@db/zb?sslmode=no-verify&sslrootcert=/ca.pem",
                "checks no",
            ),
            (
                "mysql://u@db/zb?ssl-mode=VERIFY_CA&ssl-ca=/ca.pem",
                "VERIFY_IDENTITY",
            ),
            ("mysql://u@db/zb?ssl-mode=PREFERRED", "cannot fall back"),
            ("mysql://u@db/zb?ssl-mode=require", "not a setting"),
            ("mysql://u@:3306/zb", "names no host"),
            (
                "postgres://u@db/zb?password=hunter2",
                "`password` is not a setting",
            ),
        ] {
            let bad = ServerUrl::parse(url).expect_err(url);
            assert!(bad.0.contains(said), "{url}: {bad}");
            assert!(!bad.0.contains("hunter2"), "{url}: {bad}");
        }
    }

    /// Each mode of the table in the module's documentation, in each server's spelling.
    #[test]
    fn tls_modes_read_as_documented() {
        let tls = |url: &str| {
            let url = ServerUrl::parse(url).unwrap_or_else(|bad| panic!("{bad}"));
            (url.tls, url.ca.map(|ca| ca.display().to_string()))
        };
        let pg = "postgres://u@db/zb";
        let my = "mysql://u@db/zb";
        for (url, expected) in [
            (pg.to_string(), (Tls::Off, None)),
            (format!("{pg}?sslmode=disable"), (Tls::Off, None)),
            (format!("{pg}?sslmode=prefer"), (Tls::Preferred, None)),
            (format!("{pg}?sslmode=allow"), (Tls::Preferred, None)),
            (format!("{pg}?sslmode=require"), (Tls::Verified, None)),
            (format!("{pg}?sslmode=verify-full"), (Tls::Verified, None)),
            (format!("{pg}?sslmode=VERIFY-FULL"), (Tls::Verified, None)),
            (format!("{pg}?sslmode=no-verify"), (Tls::Unverified, None)),
            (format!("{pg}?sslrootcert=system"), (Tls::Verified, None)),
            (
                format!("{pg}?sslmode=verify-ca&sslrootcert=/etc/ssl/team%20ca.pem"),
                (Tls::CaOnly, Some("/etc/ssl/team ca.pem".to_string())),
            ),
            (
                format!("{pg}?sslrootcert=/ca.pem"),
                (Tls::Verified, Some("/ca.pem".to_string())),
            ),
            (
                format!("{pg}?sslrootcert=/ca.pem&sslmode=prefer"),
                (Tls::Preferred, Some("/ca.pem".to_string())),
            ),
            (my.to_string(), (Tls::Off, None)),
            (format!("{my}?ssl-mode=DISABLED"), (Tls::Off, None)),
            (format!("{my}?ssl-mode=REQUIRED"), (Tls::Verified, None)),
            (
                format!("{my}?ssl-mode=verify_identity"),
                (Tls::Verified, None),
            ),
            (format!("{my}?ssl-mode=NO_VERIFY"), (Tls::Unverified, None)),
            (
                format!("{my}?ssl-ca=/ca.pem"),
                (Tls::Verified, Some("/ca.pem".to_string())),
            ),
        ] {
            assert_eq!(tls(&url), expected, "{url}");
        }
    }

    #[test]
    fn a_ca_under_home_is_found_there() {
        let Some(home) = std::env::var_os("HOME").filter(|home| !home.is_empty()) else {
            return;
        };
        let url = ServerUrl::parse("postgres://u@db/zb?sslrootcert=~/.postgresql/root.crt")
            .expect("a URL");
        assert_eq!(
            url.ca,
            Some(std::path::PathBuf::from(home).join(".postgresql/root.crt"))
        );
    }

    /// The store's identity stays the same when its URL gains TLS: the query is not shown.
    #[test]
    fn the_shown_url_leaves_out_the_tls_settings() {
        let plain = ServerUrl::parse("postgres://u@db/zb").expect("a URL");
        let tls = ServerUrl::parse("postgres://u@db/zb?sslmode=verify-full&sslrootcert=/ca.pem")
            .expect("a URL");
        assert_eq!(plain.shown(), tls.shown());
        assert_eq!(tls.shown(), "postgres://u@db:5432/zb");
    }
}
