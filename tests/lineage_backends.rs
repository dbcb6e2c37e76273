//! The team metadata store against real servers (tests/common/postgres.rs, mariadb.rs): the
//! same history recorded in SQLite, PostgreSQL and MariaDB gives the same answers to every
//! query the commands ask, and each server's schema is made once, guarded, and never misread.
#![cfg(all(feature = "metadata-postgres", feature = "metadata-mysql"))]

mod common;
use zenbuild::lineage::server::{ServerStore, ServerUrl};
use zenbuild::lineage::test_history::{
    answers, directory_history, directory_history_answers, history, replay,
};
use zenbuild::lineage::{LineageError, MetadataStore, SqliteStore};

fn open(url: &str, password: &str) -> ServerStore {
    let url = ServerUrl::parse(url).expect("a URL");
    ServerStore::open(&url, Some(password)).unwrap_or_else(|e| panic!("open {url:?}: {e}"))
}

#[test]
fn every_query_answers_as_sqlite_does() {
    let dir = tempfile::tempdir().expect("a directory");
    let mut sqlite = SqliteStore::open(&dir.path().join("lineage.db")).expect("SQLite");
    let runs = history();
    let ids = replay(&mut sqlite, &runs);
    let expected = answers(&sqlite, &ids);
    for (server, url, password) in common::fresh_databases("answers") {
        let mut store = open(&url, &password);
        let ids = replay(&mut store, &runs);
        let got = answers(&store, &ids);
        assert_eq!(
            serde_json::to_string_pretty(&got).expect("json"),
            serde_json::to_string_pretty(&expected).expect("json"),
            "{server} answers otherwise"
        );
    }
}

/// Output directories inside one another and written twice in a run: which holds a path,
/// what was read inside each, and the `lineage` walks through them, alike on every store.
#[test]
fn directory_queries_answer_as_sqlite_does() {
    let dir = tempfile::tempdir().expect("a directory");
    let mut sqlite = SqliteStore::open(&dir.path().join("lineage.db")).expect("SQLite");
    let runs = directory_history();
    let ids = replay(&mut sqlite, &runs);
    let expected = directory_history_answers(&sqlite, &ids);
    for (server, url, password) in common::fresh_databases("directories") {
        let mut store = open(&url, &password);
        let ids = replay(&mut store, &runs);
        let got = directory_history_answers(&store, &ids);
        assert_eq!(
            serde_json::to_string_pretty(&got).expect("json"),
            serde_json::to_string_pretty(&expected).expect("json"),
            "{server} answers otherwise"
        );
    }
}

#[test]
fn a_run_is_known_by_its_uid() {
    for (server, url, password) in common::fresh_databases("uid") {
        let mut store = open(&url, &password);
        let runs = history();
        let ids = replay(&mut store, &runs[..1]);
        assert_eq!(
            store.run_with_uid(&runs[0].new.uid).expect("a query"),
            Some(ids[0]),
            "{server}"
        );
        assert_eq!(
            store.run_with_uid(&[7; 16]).expect("a query"),
            None,
            "{server}"
        );
    }
}

#[test]
fn clients_that_find_an_empty_database_at_once_create_its_schema_once() {
    for (server, url, password) in common::fresh_databases("together") {
        let opened: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let url = ServerUrl::parse(&url).expect("a URL");
                        ServerStore::open(&url, Some(&password))
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a thread"))
                .collect()
        });
        for result in opened {
            assert_eq!(result, Ok(()), "{server}");
        }
        // And the schema works.
        let mut store = open(&url, &password);
        replay(&mut store, &history()[..1]);
        assert_eq!(store.runs(10).expect("runs").len(), 1, "{server}");
    }
}

#[test]
fn two_clients_recording_the_same_actions_at_once_keep_one_content() {
    for (server, url, password) in common::fresh_databases("concurrent") {
        open(&url, &password);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let mut store = open(&url, &password);
                    replay(&mut store, &history());
                });
            }
        });
        let store = open(&url, &password);
        let runs = store.runs(100).expect("runs");
        assert_eq!(runs.len(), 8, "{server}");
        // Every run reads back whole, whichever client wrote its contents.
        for run in runs {
            let actions = store.run_actions(run.id).expect("actions");
            assert_eq!(actions.len(), 3, "{server} run {}", run.id);
            let prepare = actions
                .iter()
                .find(|a| a.action.name == "prepare")
                .expect("prepare");
            assert_eq!(prepare.action.inputs.len(), 1, "{server}");
            assert_eq!(prepare.action.outputs.len(), 2, "{server}");
        }
    }
}

#[test]
fn a_database_of_a_newer_schema_is_refused() {
    for (server, url, password) in common::fresh_databases("newer") {
        let store = open(&url, &password);
        drop(store);
        execute(&url, &password, "UPDATE zenbuild_schema SET version = 99");
        let parsed = ServerUrl::parse(&url).expect("a URL");
        match ServerStore::open(&parsed, Some(&password)) {
            Err(LineageError::NewerSchema { found: 99, .. }) => {}
            Err(other) => panic!("{server}: {other}"),
            Ok(_) => panic!("{server}: a newer schema was taken"),
        }
    }
}

#[test]
fn a_wrong_password_is_refused_without_showing_it() {
    for (server, url, _) in common::fresh_databases("password") {
        let parsed = ServerUrl::parse(&url).expect("a URL");
        let Err(refused) = ServerStore::open(&parsed, Some("not-the-password")) else {
            panic!("{server}: a wrong password was taken");
        };
        let said = refused.to_string();
        assert!(!said.contains("not-the-password"), "{server}: {said}");
        assert!(said.contains(&parsed.shown()), "{server}: {said}");
    }
}

/// Runs `sql` on the database at `url` with the server's own client library, as an
/// administrator (or a newer zenbuild) would.
fn execute(url: &str, password: &str, sql: &str) {
    let parsed = ServerUrl::parse(url).expect("a URL");
    let with_password = url.replacen(
        &format!("{}@", parsed.user),
        &format!("{}:{password}@", parsed.user),
        1,
    );
    if url.starts_with("postgres") {
        let mut client =
            postgres::Client::connect(&with_password, postgres::NoTls).expect("connect");
        client.batch_execute(sql).expect("the statement");
    } else {
        use mysql::prelude::Queryable;
        let opts = mysql::Opts::from_url(&with_password).expect("a URL");
        let mut conn = mysql::Conn::new(opts).expect("connect");
        conn.query_drop(sql).expect("the statement");
    }
}
