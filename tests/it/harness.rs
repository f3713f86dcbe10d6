//! Fresh databases for each test, on both backends, and helpers to run the binary.

use bareme_mel::{
    config::{Database, Secret},
    store::Db,
};
use std::{path::PathBuf, process::Command, time::Duration};

/// True when `.ci/run` declared that every outside service must be there.
pub fn services_required() -> bool {
    std::env::var("BAREME_MEL_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Skips (returns `None`) or fails, depending on [`services_required`].
pub fn skip_or_fail<T>(what: &str, why: impl std::fmt::Display) -> Option<T> {
    if services_required() {
        panic!("{what} is required (BAREME_MEL_REQUIRE_SERVICES=1) but unavailable: {why}");
    }
    eprintln!("SKIPPED: {what} unavailable ({why}); set it up with scripts/services/all.sh start");
    None
}

pub fn pg_admin_url() -> String {
    std::env::var("BAREME_MEL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database made for one test and removed afterwards.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A migrated SQLite file in a temporary directory.
    pub async fn sqlite() -> TestDb {
        Self::sqlite_pool_of(5).await
    }

    /// A migrated SQLite file in a temporary directory, on a pool of
    /// `max_connections`.
    pub async fn sqlite_pool_of(max_connections: u32) -> TestDb {
        let t = Self::sqlite_unmigrated_pool_of(max_connections).await;
        t.db.migrate().await.expect("migrate sqlite");
        t
    }

    pub async fn sqlite_unmigrated() -> TestDb {
        Self::sqlite_unmigrated_pool_of(5).await
    }

    async fn sqlite_unmigrated_pool_of(max_connections: u32) -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
        let db = Db::connect(&Database {
            url: Secret(url.clone()),
            max_connections,
        })
        .await
        .expect("sqlite");
        TestDb {
            db,
            url,
            _dir: Some(dir),
            pg_name: None,
        }
    }

    /// A migrated, freshly created PostgreSQL database, or `None` (skipped).
    pub async fn postgres() -> Option<TestDb> {
        let t = Self::postgres_unmigrated().await?;
        t.db.migrate().await.expect("migrate postgres");
        Some(t)
    }

    pub async fn postgres_unmigrated() -> Option<TestDb> {
        let admin_url = format!("{}/postgres", pg_admin_url());
        let admin = match tokio::time::timeout(
            Duration::from_secs(5),
            Db::connect(&Database {
                url: Secret(admin_url.clone()),
                max_connections: 1,
            }),
        )
        .await
        {
            Ok(Ok(db)) => db,
            Ok(Err(e)) => return skip_or_fail("PostgreSQL", e),
            Err(_) => return skip_or_fail("PostgreSQL", "connection timed out"),
        };
        let name = format!("bm_test_{}", uuid::Uuid::new_v4().simple());
        use sea_orm::ConnectionTrait;
        admin
            .conn()
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let _ = admin.conn().clone().close().await;
        let url = format!("{}/{name}", pg_admin_url());
        let db = Db::connect(&Database {
            url: Secret(url.clone()),
            max_connections: 10,
        })
        .await
        .expect("connect");
        Some(TestDb {
            db,
            url,
            _dir: None,
            pg_name: Some(name),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop may run inside a runtime: do the async cleanup on a thread of its own.
            let admin_url = format!("{}/postgres", pg_admin_url());
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    use sea_orm::ConnectionTrait;
                    if let Ok(admin) = Db::connect(&Database {
                        url: Secret(admin_url),
                        max_connections: 1,
                    })
                    .await
                    {
                        let _ = admin
                            .conn()
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                        let _ = admin.conn().clone().close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// Runs the same async test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_sqlite() {
                let t = $crate::harness::TestDb::sqlite().await;
                ($body)(t.db.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_postgres() {
                let Some(t) = $crate::harness::TestDb::postgres().await else {
                    return;
                };
                ($body)(t.db.clone()).await;
            }
        }
    };
}

/// The `bareme-mel` binary built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bareme-mel"))
}

/// A command running the binary in `dir`, with no configuration leaking in from the environment.
pub fn cmd(dir: &std::path::Path) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("BAREME_MEL__") || k == "BAREME_MEL_CONFIG" || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c
}

/// Output of a finished command, as text.
pub struct Ran {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut c: Command) -> Ran {
    let out = c.output().expect("run bareme-mel");
    Ran {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The real router served on a free port.
pub struct TestApp {
    pub base: String,
    #[allow(dead_code)]
    pub state: bareme_mel::web::AppState,
}

/// Serves the application with `settings` (its `public_url` is pointed at the chosen port).
pub async fn spawn_app(mut settings: bareme_mel::config::Settings, db: Db) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    if settings.server.public_url == bareme_mel::config::Settings::default().server.public_url {
        settings.server.public_url = format!("http://{addr}");
    }
    let state = bareme_mel::web::AppState::new(settings, db);
    let app = bareme_mel::web::router(state.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    TestApp {
        base: format!("http://{addr}"),
        state,
    }
}

/// Writes this process's application key into `data_dir`, where a binary run
/// on the same database reads it: the audit events appended here are keyed
/// with it. Does nothing when the directory already has a key.
pub fn share_key(data_dir: &std::path::Path) {
    let path = data_dir.join("bareme-mel.key");
    if !path.exists() {
        bareme_mel::appkey::current().write_new(&path).unwrap();
    }
}
