//! The team store's MySQL and MariaDB driver: the synchronous `mysql` client (pure Rust, TLS
//! by rustls when the URL asks for it). Statements go through the binary protocol, so numbers
//! come back as numbers; a string column comes back as text unless its character set is
//! `binary` (the schema's `VARBINARY` digests).

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, SslOpts};

use super::super::LineageError;
use super::sql::{Client, Dialect, Row, Value};
use super::url::{ServerUrl, Tls};

/// MySQL's number for the `binary` character set, which byte strings have.
const BINARY: u16 = 63;

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
        if url.tls == Tls::Required {
            opts = opts.ssl_opts(SslOpts::default());
        }
        let mut conn = Conn::new(opts).map_err(|e| failed(&shown, &e))?;
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
