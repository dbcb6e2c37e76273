//! The team store's MySQL and MariaDB driver: the synchronous `mysql` client (pure Rust, TLS
//! by rustls when the URL asks for it, the certificate checked as its `ssl-mode` says). Statements go through the binary protocol, so numbers
//! come back as numbers; a string column comes back as text unless its character set is
//! `binary` (the schema's `VARBINARY` digests).

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, SslOpts};

use super::super::LineageError;
use super::sql::{Client, Dialect, Row, Value};
use super::tls;
use super::url::{ServerUrl, Tls};

/// MySQL's number for the `binary` character set, which byte strings have.
const BINARY: u16 = 63;

/// `ER_SECURE_TRANSPORT_REQUIRED`: MySQL's answer to a plain connection when it has
/// `require_secure_transport=ON`.
const SECURE_TRANSPORT_REQUIRED: u16 = 3159;

/// `ER_ACCESS_DENIED_ERROR`: a wrong user or password, and also MariaDB's answer (10.11) to a
/// plain connection under `require_secure_transport`, which it tells apart from nothing else.
const ACCESS_DENIED: u16 = 1045;

pub struct MyClient {
    conn: Conn,
    /// For messages: the URL without its password.
    shown: String,
}

impl MyClient {
    pub fn connect(
        url: &ServerUrl,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<MyClient, LineageError> {
        let shown = url.shown();
        let mut opts = OptsBuilder::new()
            .ip_or_hostname(Some(url.host.clone()))
            .tcp_port(url.port)
            .user(Some(url.user.clone()))
            .pass(password)
            .db_name(Some(url.database.clone()))
            .tcp_connect_timeout(Some(timeout))
            // Never a local socket instead of the address the URL names.
            .prefer_socket(false);
        if let Some(ssl) = ssl_opts(url).map_err(|detail| LineageError::Server {
            url: shown.clone(),
            detail,
        })? {
            opts = opts.ssl_opts(ssl);
        }
        let mut conn = Conn::new(opts).map_err(|e| not_connected(url, &e))?;
        // Exact, case-sensitive text, and the server's strictest checks: a value that does not
        // fit a column is an error, never silently cut.
        conn.query_drop("SET NAMES utf8mb4 COLLATE utf8mb4_bin, SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")
            .map_err(|e| failed(&shown, &e))?;
        // As PostgreSQL reads: each statement sees what others committed before it. Under
        // InnoDB's default (a snapshot per transaction), a client whose insert of a content
        // lost the race to another's would not see the winner's row it must refer to.
        conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .map_err(|e| failed(&shown, &e))?;
        Ok(MyClient { conn, shown })
    }
}

/// The driver's TLS for `url`, `None` for plain TCP. The driver builds its rustls client
/// itself, from the process's crypto provider and webpki's roots beside the CA file (so it
/// cannot check a chain alone: `url.rs` refuses `VERIFY_CA`).
fn ssl_opts(url: &ServerUrl) -> Result<Option<SslOpts>, String> {
    // The driver asks rustls for the process's provider; ring, as the PostgreSQL driver's,
    // rather than a panic should another crate ever bring a second provider in. Refused when
    // one is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match url.tls {
        Tls::Off => Ok(None),
        Tls::Verified => {
            let ssl = SslOpts::default();
            Ok(Some(match &url.ca {
                Some(path) => {
                    // Read here first, for an error that names the file and the setting.
                    tls::read_ca(url, path)?;
                    ssl.with_root_cert_path(Some(path.clone()))
                }
                None => ssl,
            }))
        }
        Tls::Unverified => Ok(Some(
            SslOpts::default().with_danger_accept_invalid_certs(true),
        )),
        Tls::Preferred | Tls::CaOnly => Err(format!(
            "the MySQL driver cannot connect with {:?} TLS",
            url.tls
        )),
    }
}

/// A failed connection as the store reports it: a refused certificate or a server that
/// takes only TLS in words that say which setting of the URL fixes it.
fn not_connected(url: &ServerUrl, error: &mysql::Error) -> LineageError {
    // The driver's errors name their causes through the old `cause`, not `source`.
    let cause: Option<&(dyn std::error::Error + 'static)> = match error {
        mysql::Error::IoError(e) => Some(e),
        // The handshake runs inside the packet codec's first read or write.
        mysql::Error::CodecError(e) => Some(e),
        mysql::Error::TlsError(e) => Some(e),
        _ => None,
    };
    if let Some(tls) = cause.and_then(tls::rustls_error) {
        return LineageError::Server {
            url: url.shown(),
            detail: tls::explain(tls, url),
        };
    }
    let mut refused = failed(&url.shown(), error);
    if let (mysql::Error::MySqlError(e), LineageError::Server { detail, .. }) =
        (error, &mut refused)
        && matches!(e.code, SECURE_TRANSPORT_REQUIRED | ACCESS_DENIED)
        && url.tls == Tls::Off
    {
        detail.push_str("; ");
        detail.push_str(&tls::only_tls(url, e.code == SECURE_TRANSPORT_REQUIRED));
    }
    refused
}

/// A driver error as the store reports it: the server's own message when it sent one.
fn failed(shown: &str, error: &mysql::Error) -> LineageError {
    let detail = match error {
        mysql::Error::MySqlError(e) => e.message.clone(),
        other => other.to_string(),
    };
    LineageError::Server {
        url: shown.to_string(),
        detail,
    }
}

fn to_mysql(value: &Value) -> mysql::Value {
    match value {
        Value::Null => mysql::Value::NULL,
        Value::Int(n) => mysql::Value::Int(*n),
        Value::Float(x) => mysql::Value::Double(*x),
        Value::Text(text) => mysql::Value::Bytes(text.as_bytes().to_vec()),
        Value::Bytes(bytes) => mysql::Value::Bytes(bytes.clone()),
    }
}

fn params(args: &[Value]) -> mysql::Params {
    if args.is_empty() {
        mysql::Params::Empty
    } else {
        mysql::Params::Positional(args.iter().map(to_mysql).collect())
    }
}

impl Client for MyClient {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn batch(&mut self, sql: &str) -> Result<(), LineageError> {
        // One at a time: the schema's statements hold no `;` of their own.
        for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
            self.conn
                .query_drop(statement)
                .map_err(|e| failed(&self.shown, &e))?;
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64, LineageError> {
        self.conn
            .exec_drop(sql, params(args))
            .map_err(|e| failed(&self.shown, &e))?;
        Ok(self.conn.affected_rows())
    }

    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, LineageError> {
        let rows: Vec<mysql::Row> = self
            .conn
            .exec(sql, params(args))
            .map_err(|e| failed(&self.shown, &e))?;
        // Which columns hold bytes: the same for every row of a result.
        let binary: Vec<bool> = rows.first().map_or_else(Vec::new, |first| {
            first
                .columns_ref()
                .iter()
                .map(|column| column.character_set() == BINARY)
                .collect()
        });
        Ok(rows.into_iter().map(|r| row(r, &binary)).collect())
    }

    fn insert(&mut self, sql: &str, args: &[Value]) -> Result<i64, LineageError> {
        self.execute(sql, args)?;
        i64::try_from(self.conn.last_insert_id()).map_err(|_| LineageError::Server {
            url: self.shown.clone(),
            detail: "an INSERT returned an id out of range".to_string(),
        })
    }
}

/// A row as the store's values: text unless its column holds bytes (`binary`, by column).
fn row(row: mysql::Row, binary: &[bool]) -> Row {
    row.unwrap()
        .into_iter()
        .zip(binary.iter().copied())
        .map(|(value, binary)| match value {
            mysql::Value::NULL => Value::Null,
            mysql::Value::Int(n) => Value::Int(n),
            mysql::Value::UInt(n) => Value::Int(i64::try_from(n).unwrap_or(i64::MAX)),
            mysql::Value::Float(x) => Value::Float(x.into()),
            mysql::Value::Double(x) => Value::Float(x),
            mysql::Value::Bytes(bytes) if binary => Value::Bytes(bytes),
            mysql::Value::Bytes(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Value::Text(text),
                Err(e) => Value::Bytes(e.into_bytes()),
            },
            // The schema has no dates or times: times are integers (milliseconds).
            other => Value::Text(other.as_sql(true)),
        })
        .collect()
}
