//! A real `PostgreSQL` server on 127.0.0.1 for tests of the team metadata store: the recipe of
//! `shared/services/README.md`, in a fresh temporary directory on a free port. The store
//! connects over TCP with a password, so `pg_hba.conf` asks 127.0.0.1 for one (scram-sha-256:
//! a wrong password is refused) and trusts only the Unix socket in the server's own directory
//! (mode 0700), through which the harness creates users and databases as `postgres`.
//!
//! Binaries: `initdb`, `postgres` and `psql` from one directory, the first with all three of
//! PATH's and then `/usr/lib/postgresql/<version>/bin`, newest first (Debian's `postgresql`,
//! which `.ci/run` installs). Without them a test is skipped on a laptop and fails under
//! `CI=true`. `PostgreSQL` refuses to run as root, so when the tests run as root the server
//! runs as the `postgres` user (its directory is handed to it), else as the tests' user.
//!
//! Cost, measured here (2 cores shared with other builds): up in 0.7–1.8 s, up to 7 s while
//! the machine was loaded (`initdb --no-sync` is 0.5–1.1 s of it); a restart on the same data
//! 0.1–0.3 s, a stop ~0.1 s; six processes, ~30 MB proportional set size. So a test binary's
//! tests share one server through [`Postgres::shared`] and take a database each with
//! [`Postgres::fresh_database`]; a test that stops or restarts the server takes one of its own
//! with [`Postgres::start`]. `fsync=off`: a commit still reaches the kernel before it returns,
//! so it survives a killed server (not a machine crash), at no disk flush.
//!
//! Lifetime: see `guard.rs`. The server stops (fast shutdown) and its directory is removed
//! when dropped, at the test binary's exit for the shared one, and when the test process is
//! killed. `ZENBUILD_KEEP_POSTGRES=1` keeps the directory (`postgres.log`); a server that
//! fails to start, or is dropped by a failing test, keeps it always.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::guard::Supervised;
use super::local_server::{free_port, log_file, random_password, run, skip, tail};

/// The store's user and database.
pub const USER: &str = "zb";
pub const DATABASE: &str = "zenbuild";

/// Local socket: the harness as superuser. 127.0.0.1: password. Nothing else.
const PG_HBA: &str = "local all all trust
host all all 127.0.0.1/32 scram-sha-256
";

pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    /// The uid and gid the server runs as, when the tests run as root.
    owner: Option<(u32, u32)>,
    password: String,
    /// The running postmaster, under the guard that stops it.
    server: Supervised,
    databases: AtomicUsize,
    started_in: Duration,
}

static SHARED: OnceLock<Option<Postgres>> = OnceLock::new();

impl Postgres {
    /// A server of this test's own, stopped and removed when dropped; `None` when
    /// `PostgreSQL` is not installed, outside CI.
    pub fn start() -> Option<Postgres> {
        Postgres::launch()
    }

    /// The test binary's server, started by the first test that asks and stopped when the
    /// binary exits. Tests sharing it take a database each ([`Postgres::fresh_database`]).
    pub fn shared() -> Option<&'static Postgres> {
        SHARED
            .get_or_init(|| {
                stop_at_exit();
                Postgres::launch()
            })
            .as_ref()
    }

    /// `postgres://zb@127.0.0.1:PORT/zenbuild`: the store's database, without the password.
    pub fn url(&self) -> String {
        self.url_of(DATABASE)
    }

    /// The password of [`USER`], the same for every database of this server.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The URL of a new, empty database owned by [`USER`], so that tests sharing a server
    /// do not see each other's tables. Its name is `name` with a number appended.
    pub fn fresh_database(&self, name: &str) -> String {
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "a database name of lowercase letters and '_', not {name:?}"
        );
        let number = self.databases.fetch_add(1, Ordering::Relaxed);
        let database = format!("{name}_{number}");
        self.admin(&[&format!("CREATE DATABASE {database} OWNER {USER}")])
            .unwrap_or_else(|e| panic!("cannot create database {database}: {e}{}", self.logs()));
        self.url_of(&database)
    }

    /// Stops the server (a fast shutdown: sessions are ended, the data stays); connections
    /// are then refused. Idempotent.
    pub fn stop(&self) {
        self.server.stop();
    }

    /// Stops the server if it runs and starts it again on the same data and port.
    pub fn restart(&self) {
        self.server.stop();
        if let Err(why) = self.run_server() {
            panic!("PostgreSQL did not restart: {why}{}", self.logs());
        }
    }

    /// The postmaster's PID (also its process group's), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// The server's directory: `data/`, `run/` (the socket), `postgres.log`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long the first start took, `initdb` and the store's user and database included.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The last lines of the server's log, for an assertion's message.
    pub fn logs(&self) -> String {
        tail(&self.dir.join("initdb.log"), 5) + &tail(&self.dir.join("postgres.log"), 30)
    }

    /// Runs `sql` with `psql` over TCP at `url` with [`Postgres::password`]; its output
    /// unaligned, without headers, or `psql`'s error.
    pub fn query(&self, url: &str, sql: &str) -> Result<String, String> {
        self.query_with_password(url, &self.password, sql)
    }

    /// As [`Postgres::query`] with another password (a wrong one is refused).
    pub fn query_with_password(
        &self,
        url: &str,
        password: &str,
        sql: &str,
    ) -> Result<String, String> {
        let mut command = self.psql();
        command.env("PGPASSWORD", password).arg("-d").arg(url);
        run(command.args(["-c", sql]))
    }

    fn url_of(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    fn launch() -> Option<Postgres> {
        let Some(bin) = find_bin() else {
            return skip("PostgreSQL is not installed: apt-get install postgresql");
        };
        // SAFETY: geteuid has no preconditions and cannot fail.
        let owner = if unsafe { libc::geteuid() } == 0 {
            match user_ids("postgres") {
                Ok(ids) => Some(ids),
                Err(why) => {
                    return skip(&format!("PostgreSQL runs as root only as postgres: {why}"));
                }
            }
        } else {
            None
        };
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("zenbuild-postgres-")
            .tempdir()
            .expect("a state directory")
            .keep();
        let mut postgres = Postgres {
            port: free_port(),
            server: Supervised::new(&dir, "postgres", libc::SIGINT),
            dir,
            bin,
            owner,
            password: random_password(),
            databases: AtomicUsize::new(0),
            started_in: Duration::ZERO,
        };
        if let Err(why) = postgres.boot() {
            postgres
                .server
                .fail_boot("PostgreSQL", &postgres.dir, &why, &postgres.logs());
        }
        postgres.started_in = started.elapsed();
        eprintln!(
            "postgres: up in {:.1} s on 127.0.0.1:{} in {}",
            postgres.started_in.as_secs_f64(),
            postgres.port,
            postgres.dir.display()
        );
        Some(postgres)
    }

    /// `initdb`, our `pg_hba.conf`, the server, then the store's user and database.
    fn boot(&self) -> Result<(), String> {
        std::fs::create_dir(self.dir.join("run")).map_err(|e| format!("mkdir run: {e}"))?;
        self.hand_over(&self.dir)?;
        self.hand_over(&self.dir.join("run"))?;
        let log = log_file(&self.dir.join("initdb.log"))?;
        let mut initdb = Command::new(self.bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C"])
            .args(["--auth=trust", "--no-sync", "--no-instructions"])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        self.as_owner(&mut initdb);
        let status = initdb.status().map_err(|e| format!("initdb: {e}"))?;
        if !status.success() {
            return Err(format!("initdb failed ({status})"));
        }
        let hba = self.dir.join("data/pg_hba.conf");
        std::fs::write(&hba, PG_HBA).map_err(|e| format!("write pg_hba.conf: {e}"))?;
        self.hand_over(&hba)?;
        self.run_server()?;
        self.admin(&[
            &format!("CREATE ROLE {USER} LOGIN PASSWORD '{}'", self.password),
            &format!("CREATE DATABASE {DATABASE} OWNER {USER}"),
        ])
    }

    /// Starts the postmaster (told to the guard) and waits until it answers on its socket.
    fn run_server(&self) -> Result<(), String> {
        let log = log_file(&self.dir.join("postgres.log"))?;
        let mut command = Command::new(self.bin.join("postgres"));
        command
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(self.dir.join("run"))
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .current_dir(&self.dir)
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        self.as_owner(&mut command);
        self.server.start("postgres", &mut command, || {
            self.admin(&["SELECT 1"]).is_ok()
        })
    }

    /// Runs statements one by one as the superuser, through the socket.
    fn admin(&self, statements: &[&str]) -> Result<(), String> {
        let mut command = self.psql();
        command.arg("-d").arg(format!(
            "host={} port={} user=postgres dbname=postgres",
            self.dir.join("run").display(),
            self.port
        ));
        for statement in statements {
            command.args(["-c", statement]);
        }
        run(&mut command).map(drop)
    }

    fn psql(&self) -> Command {
        let mut command = Command::new(self.bin.join("psql"));
        // No ~/.psqlrc; never prompt for a password; stop at the first error; bare values.
        command
            .args(["-X", "-w", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null());
        command
    }

    fn as_owner(&self, command: &mut Command) {
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
    }

    /// Gives a file or directory to the user the server runs as, private to it.
    fn hand_over(&self, path: &Path) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", path.display()))?;
        }
        let mode = if path.is_dir() { 0o700 } else { 0o600 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", path.display()))
    }

    /// Stops the server and removes its directory, waiting for both.
    fn shutdown(&self) {
        self.server.shutdown();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("postgres: kept {} for the failing test", self.dir.display());
            self.server.keep();
        }
        self.shutdown();
    }
}

/// Stops the shared server when the test binary exits (statics are never dropped), so that
/// cargo's next test binary starts on a quiet machine.
fn stop_at_exit() {
    extern "C" fn stop_shared() {
        if let Some(Some(postgres)) = SHARED.get() {
            // Nothing may unwind out of an atexit hook.
            let _ = std::panic::catch_unwind(|| postgres.shutdown());
        }
    }
    // SAFETY: atexit takes a plain function pointer that stays valid for the process.
    unsafe { libc::atexit(stop_shared) };
}

/// The first directory with `initdb`, `postgres` and `psql`: PATH's, then Debian's newest.
fn find_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    // By major version, newest first ("9.6" < "15").
    debian.sort_by_key(|dir| {
        let version = dir.parent().and_then(Path::file_name);
        let major = version.and_then(|v| v.to_str()?.split('.').next()?.parse::<u32>().ok());
        std::cmp::Reverse(major)
    });
    std::env::split_paths(&path).chain(debian).find(|dir| {
        ["initdb", "postgres", "psql"]
            .iter()
            .all(|p| dir.join(p).is_file())
    })
}

/// The uid and gid of `user`, from `id`.
fn user_ids(user: &str) -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let output = Command::new("id")
            .args([flag, user])
            .output()
            .map_err(|e| format!("id {flag} {user}: {e}"))?;
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("no user {user:?}"))
    };
    Ok((id("-u")?, id("-g")?))
}

/// `pg_hba.conf` of a server that takes TCP only with TLS: the harness's socket as before,
/// 127.0.0.1 with a password over TLS (`hostssl`), so that a plain connection is refused.
const PG_HBA_TLS: &str = "local all all trust
hostssl all all 127.0.0.1/32 scram-sha-256
";

impl Postgres {
    /// As [`Postgres::start`], a server that takes connections over TCP only with TLS, and
    /// shows `cert` (PEM, the chain after it if any) with its `key`. Started plain, then
    /// restarted with TLS on (0.1–0.3 s).
    pub fn start_with_tls(cert: &Path, key: &Path) -> Option<Postgres> {
        let postgres = Postgres::start()?;
        if let Err(why) = postgres.turn_tls_on(cert, key) {
            panic!("PostgreSQL with TLS: {why}{}", postgres.logs());
        }
        postgres.restart();
        Some(postgres)
    }

    /// The certificate and key in the data directory (the key private to the server's
    /// user, as the server demands), `ssl = on`, and `hostssl` lines only.
    fn turn_tls_on(&self, cert: &Path, key: &Path) -> Result<(), String> {
        use std::io::Write;
        let data = self.dir.join("data");
        for (from, name) in [(cert, "server.crt"), (key, "server.key")] {
            let to = data.join(name);
            std::fs::copy(from, &to).map_err(|e| format!("copy {}: {e}", from.display()))?;
            self.hand_over(&to)?;
        }
        let hba = data.join("pg_hba.conf");
        std::fs::write(&hba, PG_HBA_TLS).map_err(|e| format!("write pg_hba.conf: {e}"))?;
        self.hand_over(&hba)?;
        std::fs::File::options()
            .append(true)
            .open(data.join("postgresql.conf"))
            .and_then(|mut conf| {
                conf.write_all(
                    b"\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
                )
            })
            .map_err(|e| format!("postgresql.conf: {e}"))
    }
}
