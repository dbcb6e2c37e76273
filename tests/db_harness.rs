//! The database harnesses (tests/common/postgres.rs, tests/common/mariadb.rs) give what the
//! team metadata store's tests rely on: a server that answers over TCP with the password and
//! refuses a wrong one, databases that tests sharing a server do not see each other in, a stop
//! that refuses connections and ends open sessions, a restart that keeps the data, and no
//! server process left once the harness is dropped — or once the test process is killed.

mod common;
use common::mariadb::MariaDb;
use common::postgres::Postgres;
use common::processes::is_alive;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the tests below need of either harness.
trait Server: Sync {
    /// Where the server's error says the password was wrong.
    const WRONG_PASSWORD: &'static str;
    /// A query that takes five minutes, for a session that is still open.
    const SLEEP: &'static str;
    /// How many sessions run [`Server::SLEEP`].
    const SLEEPING: &'static str;
    fn url(&self) -> String;
    fn password(&self) -> &str;
    fn port(&self) -> u16;
    fn fresh_database(&self, name: &str) -> String;
    fn query(&self, url: &str, sql: &str) -> Result<String, String>;
    fn query_with_password(&self, url: &str, password: &str, sql: &str) -> Result<String, String>;
    fn stop(&self);
    fn restart(&self);
    fn pid(&self) -> Option<u32>;
    fn dir(&self) -> &Path;
    fn logs(&self) -> String;
}

macro_rules! server {
    ($type:ty, $wrong:literal, $sleep:literal, $sleeping:literal) => {
        impl Server for $type {
            const WRONG_PASSWORD: &'static str = $wrong;
            const SLEEP: &'static str = $sleep;
            const SLEEPING: &'static str = $sleeping;
            fn url(&self) -> String {
                <$type>::url(self)
            }
            fn password(&self) -> &str {
                <$type>::password(self)
            }
            fn port(&self) -> u16 {
                self.port
            }
            fn fresh_database(&self, name: &str) -> String {
                <$type>::fresh_database(self, name)
            }
            fn query(&self, url: &str, sql: &str) -> Result<String, String> {
                <$type>::query(self, url, sql)
            }
            fn query_with_password(
                &self,
                url: &str,
                password: &str,
                sql: &str,
            ) -> Result<String, String> {
                <$type>::query_with_password(self, url, password, sql)
            }
            fn stop(&self) {
                <$type>::stop(self);
            }
            fn restart(&self) {
                <$type>::restart(self);
            }
            fn pid(&self) -> Option<u32> {
                <$type>::pid(self)
            }
            fn dir(&self) -> &Path {
                <$type>::dir(self)
            }
            fn logs(&self) -> String {
                <$type>::logs(self)
            }
        }
    };
}

server!(
    Postgres,
    "password authentication failed",
    "SELECT pg_sleep(300)",
    "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300)'"
);
server!(
    MariaDb,
    "Access denied",
    "SELECT SLEEP(300)",
    "SELECT count(*) FROM information_schema.processlist WHERE info = 'SELECT SLEEP(300)'"
);

fn answers_with_the_password(server: &impl Server, scheme: &str) {
    let url = server.url();
    assert_eq!(
        url,
        format!("{scheme}://zb@127.0.0.1:{}/zenbuild", server.port())
    );
    assert!(!url.contains(server.password()), "{url} holds the password");
    let answer = server.query(&url, "SELECT 1 + 1");
    assert_eq!(answer.as_deref(), Ok("2"), "{}", server.logs());
    // zb may create tables in its database, which the store does on its first connection.
    let created = server.query(&url, "CREATE TABLE harness_probe (n INTEGER)");
    assert!(created.is_ok(), "{created:?}{}", server.logs());
}

fn refuses_a_wrong_password<S: Server>(server: &S) {
    let wrong = format!("{}x", server.password());
    let error = server
        .query_with_password(&server.url(), &wrong, "SELECT 1")
        .expect_err("a wrong password is refused");
    assert!(error.contains(S::WRONG_PASSWORD), "{error}");
    let fresh = server.fresh_database("wrong_password");
    let error = server
        .query_with_password(&fresh, "not-the-password", "SELECT 1")
        .expect_err("a wrong password is refused in a fresh database too");
    assert!(error.contains(S::WRONG_PASSWORD), "{error}");
}

/// Two fresh databases do not see each other's tables, and each takes one of the same name.
fn fresh_databases_are_isolated(server: &impl Server) {
    let first = server.fresh_database("isolated");
    let second = server.fresh_database("isolated");
    assert_ne!(first, second);
    let created = server.query(
        &first,
        "CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (7)",
    );
    assert!(created.is_ok(), "{created:?}{}", server.logs());
    let seen = server.query(&second, "SELECT n FROM t");
    assert!(
        seen.is_err(),
        "the second database sees the first's table: {seen:?}"
    );
    let own = server.query(
        &second,
        "CREATE TABLE t (n INTEGER); SELECT count(*) FROM t",
    );
    assert_eq!(own.as_deref(), Ok("0"));
    assert_eq!(server.query(&first, "SELECT n FROM t").as_deref(), Ok("7"));
}

/// Stopped: the port refuses connections and an open session has ended (the store's tests
/// stop a server mid-build). Restarted: the same port answers with the data still there.
fn stop_refuses_and_restart_keeps_the_data<S: Server>(server: &S) {
    let url = server.url();
    let created = server.query(
        &url,
        "CREATE TABLE kept (n INTEGER); INSERT INTO kept VALUES (42)",
    );
    assert!(created.is_ok(), "{created:?}{}", server.logs());
    let before = server.pid().expect("the server runs");
    std::thread::scope(|scope| {
        let session = scope.spawn(|| server.query(&url, S::SLEEP));
        let deadline = Instant::now() + Duration::from_secs(20);
        while server.query(&url, S::SLEEPING).as_deref() != Ok("1") {
            assert!(
                Instant::now() < deadline,
                "the session never started{}",
                server.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let stopping = Instant::now();
        server.stop();
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "the stop took {:?}: it waited for the session",
            stopping.elapsed()
        );
        let ended = session.join().expect("the session's thread");
        assert!(ended.is_err(), "the session outlived the server: {ended:?}");
    });
    assert!(server.pid().is_none());
    assert!(
        !is_alive(before as i32),
        "the stopped server {before} still runs"
    );
    let refused = TcpStream::connect(("127.0.0.1", server.port()));
    assert_eq!(
        refused.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    assert!(server.query(&url, "SELECT 1").is_err());

    server.restart();
    let after = server.pid().expect("the server runs again");
    assert_ne!(before, after);
    assert_eq!(
        server.query(&url, "SELECT n FROM kept").as_deref(),
        Ok("42"),
        "{}",
        server.logs()
    );
}

/// The server's process and its children (`PostgreSQL`'s workers), per /proc.
fn server_processes(pid: i32) -> Vec<i32> {
    let entries = std::fs::read_dir("/proc").expect("list /proc");
    let children = entries.flatten().filter_map(|entry| {
        let child: i32 = entry.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        // `pid (comm) state ppid …`; comm may hold spaces.
        let ppid: i32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == pid).then_some(child)
    });
    std::iter::once(pid).chain(children).collect()
}

/// Once dropped, no process of the server is left (the first one was stopped by a restart,
/// so the guard has forgotten it), and neither is its directory.
fn leaves_nothing_behind(server: impl Server, least: usize) {
    server.restart();
    let processes = server_processes(server.pid().expect("the server runs") as i32);
    assert!(processes.len() >= least, "only {processes:?}");
    let dir = server.dir().to_path_buf();
    drop(server);
    let left: Vec<&i32> = processes.iter().filter(|pid| is_alive(**pid)).collect();
    assert!(
        left.is_empty(),
        "{left:?} of {processes:?} outlived the harness"
    );
    assert!(!dir.exists(), "{} is left", dir.display());
}

#[test]
fn postgres_answers_over_tcp_with_the_password() {
    let Some(postgres) = Postgres::shared() else {
        return;
    };
    answers_with_the_password(postgres, "postgres");
}

#[test]
fn mariadb_answers_over_tcp_with_the_password() {
    let Some(mariadb) = MariaDb::shared() else {
        return;
    };
    answers_with_the_password(mariadb, "mysql");
}

#[test]
fn postgres_refuses_a_wrong_password() {
    let Some(postgres) = Postgres::shared() else {
        return;
    };
    refuses_a_wrong_password(postgres);
}

#[test]
fn mariadb_refuses_a_wrong_password() {
    let Some(mariadb) = MariaDb::shared() else {
        return;
    };
    refuses_a_wrong_password(mariadb);
}

#[test]
fn postgres_fresh_databases_are_isolated() {
    let Some(postgres) = Postgres::shared() else {
        return;
    };
    fresh_databases_are_isolated(postgres);
}

#[test]
fn mariadb_fresh_databases_are_isolated() {
    let Some(mariadb) = MariaDb::shared() else {
        return;
    };
    fresh_databases_are_isolated(mariadb);
}

#[test]
fn postgres_stop_refuses_and_restart_keeps_the_data() {
    let Some(postgres) = Postgres::start() else {
        return;
    };
    stop_refuses_and_restart_keeps_the_data(&postgres);
}

#[test]
fn mariadb_stop_refuses_and_restart_keeps_the_data() {
    let Some(mariadb) = MariaDb::start() else {
        return;
    };
    stop_refuses_and_restart_keeps_the_data(&mariadb);
}

#[test]
fn postgres_leaves_nothing_behind() {
    let Some(postgres) = Postgres::start() else {
        return;
    };
    // The postmaster and its checkpointer, background writer, WAL writer…
    leaves_nothing_behind(postgres, 4);
}

#[test]
fn mariadb_leaves_nothing_behind() {
    let Some(mariadb) = MariaDb::start() else {
        return;
    };
    leaves_nothing_behind(mariadb, 1);
}

/// Set in the copy of this binary that [`killed_test_process_leaves_nothing_behind`] runs:
/// which server to start, and the file to write its PID and directory into.
const CHILD_SERVER: &str = "ZENBUILD_DB_HARNESS_CHILD";
const CHILD_REPORT: &str = "ZENBUILD_DB_HARNESS_REPORT";

/// Not a test of its own: the test process that is killed. It starts a server, says where,
/// and waits to be killed.
#[test]
#[ignore = "run by killed_test_process_leaves_nothing_behind"]
fn child_holds_a_server_until_it_is_killed() {
    let (Some(which), Some(report)) = (
        std::env::var_os(CHILD_SERVER),
        std::env::var_os(CHILD_REPORT),
    ) else {
        return;
    };
    let started: Option<(u32, PathBuf)> = match which.to_str() {
        Some("postgres") => {
            Postgres::shared().map(|s| (s.pid().unwrap_or(0), s.dir().to_path_buf()))
        }
        Some("mariadb") => MariaDb::shared().map(|s| (s.pid().unwrap_or(0), s.dir().to_path_buf())),
        other => panic!("no server {other:?}"),
    };
    let Some((pid, dir)) = started else { return };
    let temporary = PathBuf::from(&report).with_extension("part");
    std::fs::write(&temporary, format!("{pid}\n{}", dir.display())).expect("write the report");
    std::fs::rename(&temporary, &report).expect("publish the report");
    std::thread::sleep(Duration::from_mins(2));
}

/// A test process killed outright (SIGKILL: no `Drop`, no `atexit`) still leaves no server
/// process and no directory: its guard sees the pipe close.
fn killed_test_process_leaves_nothing_behind(which: &str) {
    let work = tempfile::tempdir().expect("a work directory");
    let report = work.path().join("report");
    let mut child = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "child_holds_a_server_until_it_is_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_SERVER, which)
        .env(CHILD_REPORT, &report)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run this test binary");
    let deadline = Instant::now() + Duration::from_mins(1);
    while !report.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            // Skipped (not installed, outside CI): the child said so and ended.
            assert!(
                std::env::var_os("CI").is_none(),
                "the child ended ({status}) with no server"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the child started no {which} within a minute"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&report).expect("read the report");
    let (pid, dir) = text.split_once('\n').expect("PID and directory");
    let processes = server_processes(pid.parse().expect("a PID"));
    let dir = Path::new(dir);
    child.kill().expect("SIGKILL the test process");
    child.wait().expect("reap it");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left: Vec<&i32> = processes.iter().filter(|pid| is_alive(**pid)).collect();
        if left.is_empty() && !dir.exists() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "30 s after its test process was killed, {left:?} of {which}'s {processes:?} run, \
             and its directory {} is there: {}",
            dir.display(),
            dir.exists()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn postgres_of_a_killed_test_process_is_stopped() {
    killed_test_process_leaves_nothing_behind("postgres");
}

#[test]
fn mariadb_of_a_killed_test_process_is_stopped() {
    killed_test_process_leaves_nothing_behind("mariadb");
}
