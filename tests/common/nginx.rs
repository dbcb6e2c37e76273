//! nginx as an HTTP cache in Bazel's layout (GET/HEAD from disk, PUT through WebDAV), started
//! on a free port of 127.0.0.1 for one test and stopped by its PID when dropped. The recipe is
//! `shared/services/nginx-webdav.conf`, without the WebDAV extension module that only
//! PROPFIND clients need.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Child,
    state: tempfile::TempDir,
    pub port: u16,
}

impl Nginx {
    /// A running server, or `None` when nginx is not installed outside CI (CI installs it,
    /// and there its absence fails the test).
    pub fn start() -> Option<Nginx> {
        Nginx::start_with("")
    }

    /// A server that wants basic auth as `user` with `password`.
    pub fn start_with_auth(user: &str, password: &str) -> Option<Nginx> {
        Nginx::start_with(&format!("{user}:{{PLAIN}}{password}\n"))
    }

    /// `htpasswd`: the users it accepts, or empty for anyone.
    fn start_with(htpasswd: &str) -> Option<Nginx> {
        if Command::new("nginx").arg("-v").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "nginx is not installed: apt-get install nginx-light"
            );
            eprintln!("skipped: nginx is not installed (apt-get install nginx-light)");
            return None;
        }
        let state = tempfile::tempdir().expect("a state directory");
        for dir in ["data", "log", "tmp"] {
            std::fs::create_dir_all(state.path().join(dir)).expect("create a state directory");
        }
        // The worker runs as www-data when started as root: it must be able to write.
        for dir in [
            state.path().to_path_buf(),
            state.path().join("data"),
            state.path().join("tmp"),
        ] {
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777));
        }
        let port = free_port();
        let config = state.path().join("nginx.conf");
        let auth = if htpasswd.is_empty() {
            String::new()
        } else {
            let file = state.path().join("htpasswd");
            std::fs::write(&file, htpasswd).expect("write htpasswd");
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644));
            format!(
                "auth_basic \"zenbuild\"; auth_basic_user_file {};",
                file.display()
            )
        };
        std::fs::write(&config, conf(state.path(), port, &auth)).expect("write the config");
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nginx");
        let server = Nginx { child, state, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/cache", self.port)
    }

    /// The file its master process writes its pid to (a step can stop the server with it).
    pub fn pid_file(&self) -> PathBuf {
        self.state.path().join("nginx.pid")
    }

    /// Where the server keeps what clients PUT under `/cache`.
    pub fn data(&self) -> PathBuf {
        self.state.path().join("data/cache")
    }

    /// The requests it served, one line each (method, path, status).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.path().join("log/access.log")).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

fn conf(state: &Path, port: u16, auth: &str) -> String {
    let state = state.display();
    format!(
        r"user www-data;
worker_processes 1;
daemon off;
pid {state}/nginx.pid;
error_log {state}/log/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log {state}/log/access.log;
  client_body_temp_path {state}/tmp;
  proxy_temp_path {state}/tmp;
  fastcgi_temp_path {state}/tmp;
  uwsgi_temp_path {state}/tmp;
  scgi_temp_path {state}/tmp;
  server {{
    listen 127.0.0.1:{port};
    root {state}/data;
    client_max_body_size 0;
    location / {{
      {auth}
      dav_methods PUT DELETE MKCOL;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }}
  }}
}}
"
    )
}
