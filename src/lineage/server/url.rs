//! The address of a team database: `postgres://USER@HOST:PORT/DATABASE` or
//! `mysql://USER@HOST:PORT/DATABASE` (MariaDB speaks MySQL's protocol), with `?sslmode=require`
//! (`ssl-mode=REQUIRED` for MySQL) to insist on TLS. A password in the URL is taken but never
//! shown: [`ServerUrl::shown`] is the URL every message and record uses.

use std::fmt;

use super::sql::Dialect;

/// Whether the connection must be encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// Plain TCP, as on a database reached over loopback or a private network.
    Off,
    /// TLS with the server's certificate checked against the system's web roots.
    Required,
}

#[derive(Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub dialect: Dialect,
    pub user: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub tls: Tls,
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
        let shown = redact(url);
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
        let mut tls = Tls::Off;
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (name, value.to_ascii_lowercase().as_str()) {
                ("sslmode", "disable" | "allow" | "prefer") | ("ssl-mode", "disabled") => {
                    tls = Tls::Off;
                }
                ("sslmode", "require" | "verify-ca" | "verify-full")
                | ("ssl-mode", "required" | "verify_ca" | "verify_identity") => tls = Tls::Required,
                _ => {
                    return Err(bad(&format!(
                        "`{name}={value}` is not a setting zenbuild knows"
                    )));
                }
            }
        }
        Ok(ServerUrl {
            dialect,
            user,
            host,
            port: port.unwrap_or(default_port),
            database,
            tls,
            password,
        })
    }

    /// The URL as every message and record shows it: without a password.
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
            (Dialect::Mysql, 3306, Tls::Required)
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
            ("mysql://u@:3306/zb", "names no host"),
        ] {
            let bad = ServerUrl::parse(url).expect_err(url);
            assert!(bad.0.contains(said), "{url}: {bad}");
        }
    }
}
