//! The team store's PostgreSQL driver: the synchronous `postgres` client, with TLS by rustls
//! when the URL asks for it (`tls.rs` checks the certificate as the URL's `sslmode` says). Values cross as the schema's types (`BIGINT`, `DOUBLE PRECISION`,
//! `TEXT`, `BYTEA`), whatever Rust type a query had in hand.
//!
//! Statements are kept prepared on the connection, by their text: the client asks the server
//! to prepare a statement (a round trip) before it runs one (another), and a `lineage` walk
//! runs the same few queries tens of times. Each is still planned for its values
//! (`plan_cache_mode`), as an unnamed statement is, never by a generic plan.

use std::collections::HashMap;
use std::error::Error as _;
use std::time::Duration;

use postgres::config::SslMode;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Config, NoTls, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::super::LineageError;
use super::sql::{Client, Dialect, Row, Value};
use super::tls;
use super::url::{ServerUrl, Tls};

/// How many prepared statements a connection keeps; past that they are all let go. A
/// lookup of many keys has a text per number of keys, so the texts are not a closed set.
const STATEMENTS: usize = 64;

pub struct PgClient {
    client: postgres::Client,
    /// Prepared statements by their numbered text.
    statements: HashMap<String, Statement>,
    /// For messages: the URL without its password.
    shown: String,
}

impl PgClient {
    pub fn connect(
        url: &ServerUrl,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<PgClient, LineageError> {
        let shown = url.shown();
        let mut config = Config::new();
        config
            .user(&url.user)
            .host(&url.host)
            .port(url.port)
            .dbname(&url.database)
            .application_name("zenbuild")
            .connect_timeout(timeout);
        if let Some(password) = password {
            config.password(password);
        }
        let connected = match url.tls {
            Tls::Off => {
                config.ssl_mode(SslMode::Disable);
                config.connect(NoTls)
            }
            Tls::Preferred | Tls::Verified | Tls::CaOnly | Tls::Unverified => {
                config.ssl_mode(if url.tls == Tls::Preferred {
                    SslMode::Prefer
                } else {
                    SslMode::Require
                });
                let tls = tls::client_config(url).map_err(|detail| LineageError::Server {
                    url: shown.clone(),
                    detail,
                })?;
                config.connect(MakeRustlsConnect::new(tls))
            }
        };
        let mut client = connected.map_err(|e| not_connected(url, &e))?;
        // PostgreSQL 12 and later; an older server, which plans every execution, says no.
        let _ = client.batch_execute("SET plan_cache_mode = force_custom_plan");
        Ok(PgClient {
            client,
            statements: HashMap::new(),
            shown,
        })
    }

    /// `sql` prepared, once per connection.
    fn statement(&mut self, sql: &str) -> Result<Statement, LineageError> {
        let sql = numbered(sql);
        if let Some(statement) = self.statements.get(&sql) {
            return Ok(statement.clone());
        }
        let statement = self
            .client
            .prepare(&sql)
            .map_err(|e| failed(&self.shown, &e))?;
        if self.statements.len() >= STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

/// A failed connection as the store reports it: a refused certificate or a server that
/// takes only TLS in words that say which setting of the URL fixes it.
fn not_connected(url: &ServerUrl, error: &postgres::Error) -> LineageError {
    let shown = url.shown();
    if let Some(tls) = tls::rustls_error(error) {
        return LineageError::Server {
            url: shown,
            detail: tls::explain(tls, url),
        };
    }
    let mut refused = failed(&shown, error);
    // pg_hba.conf with `hostssl` lines only: "no pg_hba.conf entry for host …, no encryption".
    let only_tls = error.as_db_error().is_some_and(|db| {
        *db.code() == postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && db.message().ends_with("no encryption")
    });
    if let LineageError::Server { detail, .. } = &mut refused
        && only_tls
        && url.tls == Tls::Off
    {
        detail.push_str("; ");
        detail.push_str(&tls::only_tls(url, true));
    }
    refused
}

/// A driver error as the store reports it: the server's own message when it sent one.
fn failed(shown: &str, error: &postgres::Error) -> LineageError {
    let said = error
        .as_db_error()
        .map(|db| db.message().to_string())
        .or_else(|| error.source().map(ToString::to_string))
        .unwrap_or_else(|| error.to_string());
    LineageError::Server {
        url: shown.to_string(),
        detail: said,
    }
}

impl Client for PgClient {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn batch(&mut self, sql: &str) -> Result<(), LineageError> {
        self.client
            .batch_execute(sql)
            .map_err(|e| failed(&self.shown, &e))
    }

    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64, LineageError> {
        let statement = self.statement(sql)?;
        let params: Vec<PgValue> = args.iter().map(PgValue).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        self.client
            .execute(&statement, &refs)
            .map_err(|e| failed(&self.shown, &e))
    }

    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, LineageError> {
        let statement = self.statement(sql)?;
        let params: Vec<PgValue> = args.iter().map(PgValue).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = self
            .client
            .query(&statement, &refs)
            .map_err(|e| failed(&self.shown, &e))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        row.try_get::<_, PgOut>(i)
                            .map(|out| out.0)
                            .map_err(|e| failed(&self.shown, &e))
                    })
                    .collect()
            })
            .collect()
    }

    fn insert(&mut self, sql: &str, args: &[Value]) -> Result<i64, LineageError> {
        let rows = self.query(&format!("{sql} RETURNING id"), args)?;
        rows.first()
            .and_then(|row| row.first())
            .and_then(Value::int)
            .ok_or_else(|| LineageError::Server {
                url: self.shown.clone(),
                detail: "an INSERT returned no id".to_string(),
            })
    }
}

/// `sql` with its `?` placeholders numbered as PostgreSQL wants them (`$1`, `$2`, …); a `?`
/// inside a quoted literal is left alone.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut quoted = false;
    let mut n = 0;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

/// A value bound as the parameter's own type: the server says which when it prepares the
/// statement, and an integer goes as `BIGINT` or `INTEGER` alike.
#[derive(Debug)]
struct PgValue<'v>(&'v Value);

impl ToSql for PgValue<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Value::Float(x) => x.to_sql(ty, out),
            Value::Text(text) => text.as_str().to_sql(ty, out),
            Value::Bytes(bytes) => bytes.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A column read as the store's value, whatever its type.
struct PgOut(Value);

impl<'a> FromSql<'a> for PgOut {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<PgOut, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgOut(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Float(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Float(f32::from_sql(ty, raw)?.into()),
            Type::BYTEA => Value::Bytes(<Vec<u8>>::from_sql(ty, raw)?),
            _ => Value::Text(String::from_sql(ty, raw)?),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<PgOut, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgOut(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ? AND c = '?' AND d IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2, $3)"
        );
    }
}
