//! The team metadata store over TLS, on real servers that take TCP only with TLS (PostgreSQL
//! with `hostssl` lines only, MariaDB with `require_secure_transport`), each showing a
//! certificate for 127.0.0.1 (an IP SAN) from a throwaway CA made here with `openssl`. With
//! the CA named in the URL a build's run arrives and `log` reads it; with no CA, or another,
//! or a name the certificate does not hold, the build goes on with one note that says what to
//! write, and the runs wait in the clone until the URL is fixed; a plain URL is one note too.
//! Each server is started once and runs every scenario, each on a database of its own.
#![cfg(all(feature = "metadata-postgres", feature = "metadata-mysql"))]

mod common;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::mariadb::MariaDb;
use common::postgres::Postgres;
use common::{Output, Test};
use zenbuild::lineage::MetadataStore;
use zenbuild::lineage::server::{ServerStore, ServerUrl};

/// A throwaway CA, a server certificate it signed for 127.0.0.1, and another CA that signed
/// nothing the server shows.
struct Certificates {
    dir: tempfile::TempDir,
}

impl Certificates {
    /// `None` when `openssl` is missing, outside CI.
    fn new() -> Option<Certificates> {
        if !Test::has_program("openssl") {
            assert!(
                std::env::var_os("CI").is_none(),
                "openssl is not installed (see .ci/run)"
            );
            eprintln!("skipped: openssl is not installed");
            return None;
        }
        let dir = tempfile::tempdir().expect("a directory for certificates");
        let certificates = Certificates { dir };
        certificates.ca("ca");
        certificates.ca("other-ca");
        std::fs::write(
            certificates.path("server.ext"),
            "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n\
             keyUsage = digitalSignature\nextendedKeyUsage = serverAuth\n",
        )
        .expect("write server.ext");
        certificates.openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        certificates.openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        Some(certificates)
    }

    /// A self-signed CA certificate `NAME.pem` with its key `NAME.key`.
    fn ca(&self, name: &str) {
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=zenbuild test {name}"),
        ]);
    }

    fn openssl(&self, args: &[&str]) {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A server as the scenarios use it, with its clients' names for the TLS settings.
struct Server<'s> {
    name: &'static str,
    fresh_database: &'s dyn Fn(&str) -> String,
    password: String,
    /// The mode's name, the CA file's, and the mode that checks chain and name.
    mode: &'static str,
    ca: &'static str,
    verify_full: &'static str,
}

impl Server<'_> {
    /// `url` checked against the CA file at `ca`.
    fn verified(&self, url: &str, ca: &Path) -> String {
        format!(
            "{url}?{}={}&{}={}",
            self.mode,
            self.verify_full,
            self.ca,
            ca.display()
        )
    }

    /// A clone whose manifest's store is `url`, with the password in its environment.
    fn clone(&self, url: &str) -> Test {
        Test::new()
            .manifest(&format!(
                "metadata url=\"{url}\"\nstep \"hello\" {{ cmd \"cat in.txt > out.txt\"; inputs \"in.txt\"; outputs \"out.txt\" }}\n"
            ))
            .file("in.txt", "one\n")
            .env("ZENBUILD_METADATA_PASSWORD", &self.password)
            .env_remove("ZENBUILD_METADATA_URL")
    }

    /// The runs the store at `url` holds, read through the library rather than the binary.
    fn runs_in_store(&self, url: &str) -> usize {
        let url = ServerUrl::parse(url).expect("a URL");
        let store = ServerStore::open(&url, Some(&self.password))
            .unwrap_or_else(|e| panic!("{}: open {url:?}: {e}", self.name));
        store.runs(100).expect("runs").len()
    }
}

/// The runs of `log --format json`.
fn logged(output: &Output) -> usize {
    output.json()["runs"].as_array().map_or(0, Vec::len)
}

#[test]
fn postgres_over_tls() {
    let Some(certificates) = Certificates::new() else {
        return;
    };
    let Some(pg) = Postgres::start_with_tls(
        &certificates.path("server.pem"),
        &certificates.path("server.key"),
    ) else {
        return;
    };
    let server = Server {
        name: "postgres",
        fresh_database: &|name| pg.fresh_database(name),
        password: pg.password().to_string(),
        mode: "sslmode",
        ca: "sslrootcert",
        verify_full: "verify-full",
    };
    every_scenario(&server, &certificates);
    // The name the certificate does not hold is accepted by `verify-ca`, which checks only
    // the chain (PostgreSQL's alone: see url.rs).
    let url = (server.fresh_database)("verify_ca").replace("127.0.0.1", "localhost");
    let url = format!(
        "{url}?sslmode=verify-ca&sslrootcert={}",
        certificates.path("ca.pem").display()
    );
    server
        .clone(&url)
        .build(&[])
        .run()
        .success()
        .stderr_lacks("note:");
    assert_eq!(server.runs_in_store(&url), 1);
}

#[test]
fn mariadb_over_tls() {
    let Some(certificates) = Certificates::new() else {
        return;
    };
    let Some(maria) = MariaDb::start_with_tls(
        &certificates.path("server.pem"),
        &certificates.path("server.key"),
    ) else {
        return;
    };
    let server = Server {
        name: "mariadb",
        fresh_database: &|name| maria.fresh_database(name),
        password: maria.password().to_string(),
        mode: "ssl-mode",
        ca: "ssl-ca",
        verify_full: "VERIFY_IDENTITY",
    };
    every_scenario(&server, &certificates);
}

fn every_scenario(server: &Server<'_>, certificates: &Certificates) {
    a_run_arrives_when_the_ca_is_named(server, certificates);
    an_untrusted_certificate_is_one_note_and_the_runs_wait(server, certificates);
    a_name_the_certificate_does_not_hold_is_one_note(server, certificates);
    a_plain_url_to_a_server_that_takes_only_tls_is_one_note(server);
    not_checking_is_written_out_and_works(server);
}

fn a_run_arrives_when_the_ca_is_named(server: &Server<'_>, certificates: &Certificates) {
    let name = server.name;
    let url = server.verified(
        &(server.fresh_database)("arrives"),
        &certificates.path("ca.pem"),
    );
    let built = server
        .clone(&url)
        .build(&[])
        .run()
        .success()
        .stderr_lacks("note:");
    assert_eq!(built.report().ran().len(), 1, "{name}");
    let log = built
        .again_as_before()
        .args(&["log", "--format", "json"])
        .run()
        .success()
        .stderr_lacks("note:");
    assert_eq!(logged(&log), 1, "{name}: {}", log.stdout);
    assert_eq!(server.runs_in_store(&url), 1, "{name}");
}

/// No CA named (the public CAs did not sign it), then the wrong one: each build goes on
/// with one note, and its run waits in the clone; the URL fixed, the next command sends both.
fn an_untrusted_certificate_is_one_note_and_the_runs_wait(
    server: &Server<'_>,
    certificates: &Certificates,
) {
    let name = server.name;
    let database = (server.fresh_database)("untrusted");
    let no_ca = format!("{database}?{}={}", server.mode, server.verify_full);
    let fix = format!("name the CA that did with `{}=/path/to/ca.pem`", server.ca);
    let built = server
        .clone(&no_ca)
        .build(&[])
        .run()
        .success()
        .stderr_contains_once("note:")
        .stderr_contains_once("TLS certificate is not trusted: no public CA signed it")
        .stderr_contains_once(&fix);
    assert_eq!(built.report().ran().len(), 1, "{name}");

    let other = certificates.path("other-ca.pem");
    let wrong_ca = server.verified(&database, &other);
    let built = built
        .again_as_before()
        .env("ZENBUILD_METADATA_URL", &wrong_ca)
        .file("in.txt", "two\n")
        .build(&[])
        .run()
        .success()
        .stderr_contains_once("note:")
        .stderr_contains_once(&format!(
            "TLS certificate is not trusted: the CA in {} did not sign it",
            other.display()
        ))
        .stderr_contains_once(&fix);
    assert_eq!(built.report().ran().len(), 1, "{name}");

    // Kept in the clone: its own lineage has both runs.
    let local = built
        .again_as_before()
        .env("ZENBUILD_METADATA_URL", "")
        .args(&["log", "--format", "json"])
        .run()
        .success();
    assert_eq!(logged(&local), 2, "{name}: {}", local.stdout);

    let right = server.verified(&database, &certificates.path("ca.pem"));
    let sent = local
        .again_as_before()
        .env("ZENBUILD_METADATA_URL", &right)
        .args(&["log", "--format", "json"])
        .run()
        .success()
        .stderr_contains_once("sent 2 runs");
    assert_eq!(logged(&sent), 2, "{name}: {}", sent.stdout);
    assert_eq!(server.runs_in_store(&right), 2, "{name}");
}

fn a_name_the_certificate_does_not_hold_is_one_note(
    server: &Server<'_>,
    certificates: &Certificates,
) {
    let database = (server.fresh_database)("misnamed").replace("127.0.0.1", "localhost");
    let url = server.verified(&database, &certificates.path("ca.pem"));
    server
        .clone(&url)
        .build(&[])
        .run()
        .success()
        .stderr_contains_once("note:")
        .stderr_contains_once("the server's TLS certificate does not name localhost");
}

/// PostgreSQL says why it refuses; MariaDB refuses as it does a wrong password, so the note
/// gives the fix as the likely one.
fn a_plain_url_to_a_server_that_takes_only_tls_is_one_note(server: &Server<'_>) {
    let url = (server.fresh_database)("plain");
    let why = match server.name {
        "postgres" => "the server takes only TLS connections: ",
        _ => {
            "a server that takes only TLS connections says this too (MariaDB's \
             require_secure_transport): if so, "
        }
    };
    server
        .clone(&url)
        .build(&[])
        .run()
        .success()
        .stderr_contains_once("note:")
        .stderr_contains_once(&format!(
            "{why}add `?{}={}&{}=/path/to/ca.pem` to the URL",
            server.mode, server.verify_full, server.ca
        ));
}

/// Encrypting without checking the certificate is there, for a server whose certificate
/// cannot be checked, but only as the URL says so.
fn not_checking_is_written_out_and_works(server: &Server<'_>) {
    let unchecked = match server.name {
        "postgres" => "no-verify",
        _ => "NO_VERIFY",
    };
    let url = format!(
        "{}?{}={unchecked}",
        (server.fresh_database)("unchecked"),
        server.mode
    );
    server
        .clone(&url)
        .build(&[])
        .run()
        .success()
        .stderr_lacks("note:");
    assert_eq!(server.runs_in_store(&url), 1, "{}", server.name);
}
