//! A real `MariaDB` server (the `MySQL` protocol) on 127.0.0.1 for tests of the team metadata
//! store, and for the Slurm harness's accounting: the recipe of `shared/services/README.md`, in
//! a fresh temporary directory on a free port, with the store's user `zb`@`%` (a password,
//! checked over TCP) and database `zenbuild`. The harness itself talks to it as `root` through
//! the Unix socket in the server's directory (root has no password: `mariadb-install-db`'s
//! `normal` method, which slurmdbd relies on).
//!
//! Binaries: `mariadb-install-db`, `mariadbd` and `mariadb` on PATH or in /usr/sbin (Debian's
//! `mariadb-server`, which `.ci/run` installs). Without them a test is skipped on a laptop and
//! fails under `CI=true`. `--no-defaults` everywhere: no `/etc/mysql` file of the machine's
//! changes a test's server. As root the server runs as root (`--user=root`).
//!
//! Cost, measured here (2 cores shared with other builds): up in 0.8–2.4 s, up to 3 s while
//! the machine was loaded (`mariadb-install-db` is 0.6–1.6 s of it); a restart on the same
//! data 0.4–1.5 s, a stop 0.05–0.2 s; one process, ~100 MB resident. So a test binary's tests
//! share one server through [`MariaDb::shared`] and take a database each with
//! [`MariaDb::fresh_database`]; a test that stops or restarts the server takes one of its own
//! with [`MariaDb::start`]. `innodb_flush_log_at_trx_commit=2`: a commit reaches the kernel
//! before it returns, so it survives a killed server (not a machine crash), at no disk flush.
//!
//! Lifetime: see `guard.rs`. The server stops (SIGTERM: a normal shutdown) and its directory
//! is removed when dropped, at the test binary's exit for the shared one, and when the test
//! process is killed. `ZENBUILD_KEEP_MARIADB=1` keeps the directory (`mariadbd.log`); a server
//! that fails to start, or is dropped by a failing test, keeps it always.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::guard::Supervised;
use super::local_server::{free_port, log_file, random_password, run, skip, tail};

/// The store's user and database.
pub const USER: &str = "zb";
pub const DATABASE: &str = "zenbuild";

const PROGRAMS: [&str; 3] = ["mariadb-install-db", "mariadbd", "mariadb"];

pub struct MariaDb {
    pub port: u16,
    dir: PathBuf,
    /// Server options beyond the harness's own (the Slurm harness's for slurmdbd).
    options: Vec<String>,
    password: String,
    /// The running server, under the guard that stops it.
    server: Supervised,
    databases: AtomicUsize,
    started_in: Duration,
}

static SHARED: OnceLock<Option<MariaDb>> = OnceLock::new();

impl MariaDb {
    /// A server of this test's own, stopped and removed when dropped; `None` when `MariaDB`
    /// is not installed, outside CI.
    pub fn start() -> Option<MariaDb> {
        MariaDb::start_with(&[])
    }

    /// As [`MariaDb::start`], with more `mariadbd` options (`--name=value`).
    pub fn start_with(options: &[&str]) -> Option<MariaDb> {
        MariaDb::launch(options.iter().map(ToString::to_string).collect())
    }

    /// The test binary's server, started by the first test that asks and stopped when the
    /// binary exits. Tests sharing it take a database each ([`MariaDb::fresh_database`]).
    pub fn shared() -> Option<&'static MariaDb> {
        SHARED
            .get_or_init(|| {
                stop_at_exit();
                MariaDb::launch(Vec::new())
            })
            .as_ref()
    }

    /// `mysql://zb@127.0.0.1:PORT/zenbuild`: the store's database, without the password.
    pub fn url(&self) -> String {
        self.url_of(DATABASE)
    }

    /// The password of [`USER`], the same for every database of this server.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The URL of a new, empty database that [`USER`] has every right on, so that tests
    /// sharing a server do not see each other's tables. Its name is `name` with a number
    /// appended.
    pub fn fresh_database(&self, name: &str) -> String {
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "a database name of lowercase letters and '_', not {name:?}"
        );
        let number = self.databases.fetch_add(1, Ordering::Relaxed);
        let database = format!("{name}_{number}");
        self.admin(&format!(
            "CREATE DATABASE {database}; GRANT ALL ON {database}.* TO '{USER}'@'%';"
        ))
        .unwrap_or_else(|e| panic!("cannot create database {database}: {e}{}", self.logs()));
        self.url_of(&database)
    }

    /// Stops the server (a normal shutdown: sessions are ended, the data stays); connections
    /// are then refused. Idempotent.
    pub fn stop(&self) {
        self.server.stop();
    }

    /// Stops the server if it runs and starts it again on the same data and port.
    pub fn restart(&self) {
        self.server.stop();
        if let Err(why) = self.run_server() {
            panic!("MariaDB did not restart: {why}{}", self.logs());
        }
    }

    /// The server's PID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// The server's directory: `data/`, the socket, `mariadbd.log`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long the first start took, `mariadb-install-db` and the store's user included.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The last lines of the server's log, for an assertion's message.
    pub fn logs(&self) -> String {
        tail(&self.dir.join("install.log"), 5) + &tail(&self.dir.join("mariadbd.log"), 30)
    }

    /// Keeps the directory after the server stops (for the Slurm harness's failures).
    pub fn keep(&self) {
        self.server.keep();
    }

    /// Runs `sql` with the `mariadb` client over TCP at `url` (one of this server's) with
    /// [`MariaDb::password`]; its output tab-separated, without headers, or the error.
    pub fn query(&self, url: &str, sql: &str) -> Result<String, String> {
        self.query_with_password(url, &self.password, sql)
    }

    /// As [`MariaDb::query`] with another password (a wrong one is refused).
    #[allow(clippy::unused_self, reason = "a method, as Postgres's is")]
    pub fn query_with_password(
        &self,
        url: &str,
        password: &str,
        sql: &str,
    ) -> Result<String, String> {
        let (user, rest) = url
            .strip_prefix("mysql://")
            .and_then(|rest| rest.split_once('@'))
            .ok_or_else(|| format!("{url:?} is not mysql://USER@HOST:PORT/DATABASE"))?;
        let (address, database) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = address.rsplit_once(':').unwrap_or((address, "3306"));
        let mut command = client();
        command
            .args(["--protocol=TCP", "-h", host, "-P", port, "-u", user])
            .env("MYSQL_PWD", password);
        if !database.is_empty() {
            command.args(["-D", database]);
        }
        run(command.args(["-e", sql]))
    }

    fn url_of(&self, database: &str) -> String {
        format!("mysql://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    fn launch(options: Vec<String>) -> Option<MariaDb> {
        let missing: Vec<&str> = PROGRAMS.into_iter().filter(|p| find(p).is_none()).collect();
        if !missing.is_empty() {
            return skip(&format!(
                "{} not installed: apt-get install mariadb-server",
                missing.join(", ")
            ));
        }
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("zenbuild-mariadb-")
            .tempdir()
            .expect("a state directory")
            .keep();
        let mut mariadb = MariaDb {
            port: free_port(),
            server: Supervised::new(&dir, "mariadb", libc::SIGTERM),
            dir,
            options,
            password: random_password(),
            databases: AtomicUsize::new(0),
            started_in: Duration::ZERO,
        };
        if let Err(why) = mariadb.boot() {
            mariadb
                .server
                .fail_boot("MariaDB", &mariadb.dir, &why, &mariadb.logs());
        }
        mariadb.started_in = started.elapsed();
        eprintln!(
            "mariadb: up in {:.1} s on 127.0.0.1:{} in {}",
            mariadb.started_in.as_secs_f64(),
            mariadb.port,
            mariadb.dir.display()
        );
        Some(mariadb)
    }

    /// `mariadb-install-db`, the server, then the store's user and database.
    fn boot(&self) -> Result<(), String> {
        std::fs::create_dir(self.dir.join("tmp")).map_err(|e| format!("mkdir tmp: {e}"))?;
        let log = log_file(&self.dir.join("install.log"))?;
        let mut install = Command::new(find("mariadb-install-db").unwrap_or_default());
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(self.tmpdir())
            .args(as_root())
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            // The grant tables name 127.0.0.1, not this machine's name, which may not resolve.
            .arg("--skip-name-resolve")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        let status = install
            .status()
            .map_err(|e| format!("mariadb-install-db: {e}"))?;
        if !status.success() {
            return Err(format!("mariadb-install-db failed ({status})"));
        }
        self.run_server()?;
        self.admin(&format!(
            "CREATE USER '{USER}'@'%' IDENTIFIED BY '{password}'; \
             CREATE DATABASE {DATABASE}; GRANT ALL ON {DATABASE}.* TO '{USER}'@'%';",
            password = self.password
        ))
    }

    /// Starts `mariadbd` (told to the guard) and waits until it answers on its socket.
    fn run_server(&self) -> Result<(), String> {
        let log = self.dir.join("mariadbd.log");
        let mut command = Command::new(find("mariadbd").unwrap_or_default());
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(self.tmpdir())
            .args(as_root())
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!(
                "--pid-file={}",
                self.dir.join("mariadbd.pid").display()
            ))
            .arg(format!("--log-error={}", log.display()))
            .args(["--skip-name-resolve", "--innodb-flush-log-at-trx-commit=2"])
            .args(&self.options)
            .current_dir(&self.dir)
            .stdout(log_file(&log)?)
            .stderr(log_file(&log)?);
        self.server
            .start("mariadbd", &mut command, || self.admin("SELECT 1").is_ok())
    }

    /// Runs `sql` as root, through the socket.
    fn admin(&self, sql: &str) -> Result<(), String> {
        let mut command = client();
        command
            .arg(format!("--socket={}", self.socket().display()))
            .args(["--protocol=SOCKET", "-u", "root", "-e", sql]);
        run(&mut command).map(drop)
    }

    /// A temporary directory of its own: bootstraps running at once in the shared /tmp were
    /// seen to remove each other's temporary tables (1 in 6: `Unknown table
    /// 'mysql.tmp_user_sys'`).
    fn tmpdir(&self) -> String {
        format!("--tmpdir={}", self.dir.join("tmp").display())
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("mariadb.sock")
    }

    /// Stops the server and removes its directory, waiting for both.
    fn shutdown(&self) {
        self.server.shutdown();
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("mariadb: kept {} for the failing test", self.dir.display());
            self.server.keep();
        }
        self.shutdown();
    }
}

/// Stops the shared server when the test binary exits (statics are never dropped), so that
/// cargo's next test binary starts on a quiet machine.
fn stop_at_exit() {
    extern "C" fn stop_shared() {
        if let Some(Some(mariadb)) = SHARED.get() {
            // Nothing may unwind out of an atexit hook.
            let _ = std::panic::catch_unwind(|| mariadb.shutdown());
        }
    }
    // SAFETY: atexit takes a plain function pointer that stays valid for the process.
    unsafe { libc::atexit(stop_shared) };
}

/// The `mariadb` client: no option file, no column names, tab-separated values.
fn client() -> Command {
    let mut command = Command::new(find("mariadb").unwrap_or_default());
    command
        .args(["--no-defaults", "--batch", "--skip-column-names"])
        .arg("--connect-timeout=10")
        .env_remove("MYSQL_PWD")
        .env_remove("MYSQL_HOST")
        .env_remove("MYSQL_TCP_PORT")
        .env_remove("MYSQL_UNIX_PORT")
        .stdin(std::process::Stdio::null());
    command
}

/// `mariadbd` refuses to run as root unless told to (and the tests run as root on CI).
fn as_root() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    (unsafe { libc::geteuid() } == 0).then_some("--user=root")
}

/// A program on PATH or in the sbin directories that a non-login root PATH may lack.
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

impl MariaDb {
    /// As [`MariaDb::start`], a server that takes connections over TCP only with TLS
    /// (`require_secure_transport`: a plain one is refused), and shows `cert` (PEM, the chain
    /// after it if any) with its `key`. The harness's own socket counts as secure.
    pub fn start_with_tls(cert: &Path, key: &Path) -> Option<MariaDb> {
        MariaDb::start_with(&[
            &format!("--ssl-cert={}", cert.display()),
            &format!("--ssl-key={}", key.display()),
            "--require-secure-transport=ON",
        ])
    }
}
