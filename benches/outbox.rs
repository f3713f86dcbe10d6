//! Outbox throughput into a local aiosmtpd listener, on SQLite and on
//! PostgreSQL: queue N mails, then time one in-process worker until every
//! row is `sent`. Prints the median of a few runs in mails per second.
//!
//!     cargo bench --bench outbox            # N=2000, 3 runs per database
//!     BENCH_MAILS=500 BENCH_RUNS=5 cargo bench --bench outbox
//!
//! Needs `.tools/venv` with aiosmtpd (scripts/tools-venv.sh) and, for the
//! PostgreSQL half, `BAREME_MEL_TEST_PG` (default postgres://postgres@127.0.0.1:5432).
//! A plain `main` (harness = false): no benchmark framework needed.

use bareme_mel::{
    config::{Database, Secret, Settings, TlsMode, Transport},
    domain::MailAddress,
    mail::{Acknowledgement, Mail, NewMail, Worker, enqueue},
    store::Db,
};
use sea_orm::ConnectionTrait;
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::Arc,
    time::Instant,
};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn settings(port: u16) -> Settings {
    let mut s = Settings::default();
    s.mail.transport = Transport::Smtp;
    s.mail.smtp.host = "127.0.0.1".into();
    s.mail.smtp.port = port;
    s.mail.smtp.tls = TlsMode::None;
    s.mail.batch_size = 50;
    s.mail.concurrency = 8;
    s
}

async fn run_once(db: &Db, s: &Settings, n: usize) -> (f64, f64) {
    db.conn()
        .execute_unprepared("DELETE FROM outbox")
        .await
        .unwrap();
    let start = Instant::now();
    let txn = db.begin().await.unwrap();
    for i in 0..n {
        let mail = NewMail {
            to: MailAddress::parse(&format!("bench{i}@lycee.fr")).unwrap(),
            request_id: None,
            in_reply_to: None,
            references: vec![],
            content: Mail::Acknowledgement(Acknowledgement {
                reference: "BM-2026-00042".into(),
                claimed_number: Some("12345".into()),
            }),
        };
        enqueue(&txn, s, mail).await.unwrap();
    }
    txn.commit().await.unwrap();
    let enqueue_rate = n as f64 / start.elapsed().as_secs_f64();
    let worker = Worker::new(db.clone(), Arc::new(s.clone())).unwrap();
    let start = Instant::now();
    let mut sent = 0;
    while sent < n {
        let pass = worker.run_once().await.unwrap();
        assert_eq!(
            pass.retried + pass.failed,
            0,
            "delivery failed during the benchmark"
        );
        sent += pass.sent;
        if pass.claimed == 0 {
            break;
        }
    }
    assert_eq!(sent, n);
    (enqueue_rate, n as f64 / start.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn bench(name: &str, db: &Db, s: &Settings, n: usize, runs: usize) {
    db.migrate().await.unwrap();
    let (mut queued, mut sent) = (vec![], vec![]);
    for _ in 0..runs {
        let (q, r) = run_once(db, s, n).await;
        queued.push(q);
        sent.push(r);
    }
    println!(
        "outbox/{name}: {n} mails x {runs} runs — enqueue median {:.0} mails/s, delivery median {:.0} mails/s (runs: {})",
        median(queued),
        median(sent.clone()),
        sent.iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes: nothing to list
    }
    let n = env_usize("BENCH_MAILS", 2000);
    let runs = env_usize("BENCH_RUNS", 3);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let py = std::env::var("BAREME_MEL_TEST_PYTHON")
        .unwrap_or_else(|_| root.join(".tools/venv/bin/python").display().to_string());
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sink = Command::new(py)
        .arg(root.join("tests/support/smtp_sink.py"))
        .args(["--port", &port.to_string(), "--dir"])
        .arg(tmp.path().join("received"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with aiosmtpd (scripts/tools-venv.sh)");
    let mut line = String::new();
    let _ = BufReader::new(sink.stdout.take().unwrap()).read_line(&mut line);
    assert_eq!(line.trim(), "ready", "aiosmtpd did not start");
    let s = settings(port);

    let url = format!("sqlite://{}/bench.db?mode=rwc", tmp.path().display());
    let db = Db::connect(&Database {
        url: Secret(url),
        max_connections: 10,
    })
    .await
    .unwrap();
    bench("sqlite", &db, &s, n, runs).await;

    let admin = std::env::var("BAREME_MEL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("bm_bench_{}", std::process::id());
    match Db::connect(&Database {
        url: Secret(format!("{admin}/postgres")),
        max_connections: 1,
    })
    .await
    {
        Ok(a) => {
            a.conn()
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let db = Db::connect(&Database {
                url: Secret(format!("{admin}/{name}")),
                max_connections: 10,
            })
            .await
            .unwrap();
            bench("postgres", &db, &s, n, runs).await;
            db.conn().clone().close().await.unwrap();
            a.conn()
                .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .await
                .unwrap();
        }
        Err(e) => println!("outbox/postgres: skipped ({e})"),
    }
    let _ = sink.kill();
    let _ = sink.wait();
}
