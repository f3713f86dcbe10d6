//! PostgreSQL over TLS (`sslmode=require`, the local server has `ssl = on`)
//! answers as fast as plain TCP: sqlx-core 0.9.0 did not set TCP_NODELAY, so
//! a statement larger than one TLS record (16 KiB: the raw bytes of any mail
//! with a PDF) went out as two segments and the second waited for the
//! server's delayed ACK, about 40 ms per statement (vendor/sqlx-core carries
//! the upstream fix, transact-rs/sqlx#4336).

use crate::harness::{pg_admin_url, skip_or_fail};
use bareme_mel::{
    config::{Database, Secret},
    store::Db,
};
use sea_orm::{ConnectionTrait, Statement};
use std::time::{Duration, Instant};

const ROUND_TRIPS: u32 = 100;

async fn connect(mode: &str) -> Option<Db> {
    let url = format!("{}/postgres?sslmode={mode}", pg_admin_url());
    match tokio::time::timeout(
        Duration::from_secs(5),
        Db::connect(&Database {
            url: Secret(url),
            max_connections: 1,
        }),
    )
    .await
    {
        Ok(Ok(db)) => Some(db),
        Ok(Err(e)) => skip_or_fail("PostgreSQL", e),
        Err(_) => skip_or_fail("PostgreSQL", "connection timed out"),
    }
}

/// Time of [`ROUND_TRIPS`] prepared queries, each waiting for its answer.
async fn round_trips(db: &Db) -> Duration {
    let backend = db.backend();
    let started = Instant::now();
    for i in 0..ROUND_TRIPS {
        let row = db
            .conn()
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                "SELECT $1::int4 + 1 AS n",
                [i32::try_from(i).unwrap().into()],
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.try_get::<i32>("", "n").unwrap(),
            i32::try_from(i).unwrap() + 1
        );
    }
    started.elapsed()
}

#[tokio::test]
async fn postgres_over_tls_has_no_nagle_stall() {
    let Some(tls) = connect("require").await else {
        return;
    };
    let on_tls = tls
        .conn()
        .query_one_raw(Statement::from_string(
            tls.backend(),
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<bool>("", "ssl")
        .unwrap();
    assert!(on_tls, "sslmode=require did not give a TLS connection");
    let plain = connect("disable").await.unwrap();
    round_trips(&tls).await; // warm: connection, prepared statement
    round_trips(&plain).await;
    let tls_time = round_trips(&tls).await;
    let plain_time = round_trips(&plain).await;
    // A 40 ms stall per statement would take 4 s; both take well under 1 s.
    assert!(
        tls_time < Duration::from_millis(1500),
        "{ROUND_TRIPS} round trips over TLS took {tls_time:?} (plain TCP: {plain_time:?})"
    );
}
