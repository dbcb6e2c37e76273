//! What the database harnesses (`postgres.rs`, `mariadb.rs`) share besides their guard: the
//! skip-or-fail rule, waiting for a server to answer, its log in a failure message, a password
//! and a port of its own.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Skips a test on a laptop that lacks a server (`None`), and fails it under `CI`.
pub fn skip<T>(why: &str) -> Option<T> {
    assert!(std::env::var_os("CI").is_none(), "{why} (see .ci/run)");
    eprintln!("skipped: {why}");
    None
}

/// Waits for `ready`, giving up with `Err` after `limit` or as soon as `child` has exited.
pub fn wait_ready(
    what: &str,
    child: &mut Child,
    limit: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !ready() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited ({status}) before it answered"));
        }
        if Instant::now() > deadline {
            return Err(format!("{what} did not answer within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The last `lines` lines of a log file, headed by its path, for an assertion's message.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    format!("\n--- {} ---\n{tail}", path.display())
}

/// A fresh random password (hex), so that a test can assert that it shows up nowhere.
pub fn random_password() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 12];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A free port of 127.0.0.1 (released again: the server binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

pub fn log_file(path: &Path) -> Result<std::fs::File, String> {
    std::fs::File::options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("open {}: {e}", path.display()))
}

/// A client command's stdout, or its stderr as the error.
pub fn run(command: &mut Command) -> Result<String, String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", command.get_program().display()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}
