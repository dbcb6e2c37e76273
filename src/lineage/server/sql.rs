//! What the team store asks of a database server, whichever it is: statements with `?`
//! placeholders and values of the few types the schema uses, run on one connection. Each
//! driver (`postgres.rs`, `mysql.rs`) turns them into its own protocol, so the queries are
//! written once; where the two dialects differ, [`Dialect`] says how.

use super::super::LineageError;

/// A value bound to a statement or read from a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Value {
        Value::Bytes(bytes)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

/// One row of a result, its columns in the order the query named them.
pub type Row = Vec<Value>;

/// Which server a connection talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
}

impl Dialect {
    /// `INSERT … VALUES …` that leaves a row whose unique key is taken as it is.
    pub fn insert_ignore(self, table_and_columns: &str, values: &str) -> String {
        match self {
            Dialect::Postgres => {
                format!("INSERT INTO {table_and_columns} VALUES {values} ON CONFLICT DO NOTHING")
            }
            Dialect::Mysql => format!("INSERT IGNORE INTO {table_and_columns} VALUES {values}"),
        }
    }
}

/// One connection to a team database.
pub trait Client: Send {
    fn dialect(&self) -> Dialect;

    /// Runs statements separated by `;`, without values (schema changes, `COMMIT`).
    fn batch(&mut self, sql: &str) -> Result<(), LineageError>;

    /// Runs one statement; how many rows it changed.
    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64, LineageError>;

    /// Runs one query; its rows.
    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, LineageError>;

    /// Runs one `INSERT` of one row into a table whose key is an `id` the server generates,
    /// and returns that id.
    fn insert(&mut self, sql: &str, args: &[Value]) -> Result<i64, LineageError>;
}

/// `count` placeholders, for a row of values.
pub fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// Runs `work` in a transaction of `client`: committed when it succeeds, rolled back when it
/// fails (a rollback that fails too is left to the server, which rolls back a transaction
/// whose connection is gone).
pub fn transaction<T>(
    client: &mut dyn Client,
    work: impl FnOnce(&mut dyn Client) -> Result<T, LineageError>,
) -> Result<T, LineageError> {
    client.batch(match client.dialect() {
        Dialect::Postgres => "BEGIN",
        Dialect::Mysql => "START TRANSACTION",
    })?;
    match work(client) {
        Ok(done) => {
            client.batch("COMMIT")?;
            Ok(done)
        }
        Err(e) => {
            let _ = client.batch("ROLLBACK");
            Err(e)
        }
    }
}
