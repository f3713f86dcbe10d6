//! Intake throughput: parse + extract of a mail carrying a filled one-page
//! form, and end to end (mail → committed request + acknowledgement + alert)
//! on SQLite and, when `BAREME_MEL_TEST_PG` or a local PostgreSQL answers,
//! on PostgreSQL (with TLS when the server offers it, as sqlx prefers, and
//! without). `cargo bench --bench intake`.

use bareme_mel::{
    config::{Database, Secret, Settings},
    intake::{Incoming, Intake, Origin, classify, extract, parse},
    store::{Db, entities::subscriber},
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

fn fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mail/outlook-pdf-form.eml"
    ))
    .expect("fixture")
}

/// The fixture with a fresh Message-ID, so that dedup lets it through.
fn unique(raw: &[u8], name: &str, n: u64) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    text.replace("PR3P195MB0811A1B2C3D4@", &format!("bench-{name}-{n}@"))
        .into_bytes()
}

async fn seeded(url: &str) -> Db {
    let db = Db::connect(&Database {
        url: Secret(url.into()),
        max_connections: 5,
    })
    .await
    .expect("connect");
    db.migrate().await.expect("migrate");
    let now = chrono::Utc::now();
    subscriber::Entity::insert(subscriber::ActiveModel {
        number: Set("12345".into()),
        organisation: Set("Lycée Jean Moulin".into()),
        email: Set(Some("ancien.gestionnaire@lycee-jean-moulin.fr".into())),
        email_key: Set(Some("ancien.gestionnaire@lycee-jean-moulin.fr".into())),
        known_domain: Set(Some("lycee-jean-moulin.fr".into())),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(db.conn())
    .await
    .expect("seed");
    db
}

fn end_to_end(c: &mut Criterion, name: &str, db: Db, rt: &tokio::runtime::Runtime) {
    // One sender and one subscriber throughout: lift the flood caps so that
    // every mail still queues its acknowledgement and alert.
    let mut settings = Settings::default();
    settings.intake.max_acknowledgements_per_sender = u32::MAX;
    settings.intake.max_alerts_per_address = u32::MAX;
    let intake = Intake::new(db, Arc::new(settings));
    let raw = fixture();
    let counter = AtomicU64::new(0);
    let mut group = c.benchmark_group("intake_end_to_end");
    group.throughput(Throughput::Elements(1));
    group.sample_size(30);
    group.bench_function(name, |b| {
        b.to_async(rt).iter(|| {
            let bytes = unique(&raw, name, counter.fetch_add(1, Ordering::Relaxed));
            let intake = intake.clone();
            async move {
                let outcome = intake
                    .ingest(Incoming::whole(bytes, Origin::new("bench", None)))
                    .await
                    .expect("ingest");
                assert_eq!(outcome.disposition.as_str(), "request_created");
            }
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let raw = fixture();
    let mut group = c.benchmark_group("intake_parse_extract");
    group.throughput(Throughput::Elements(1));
    let scan = extract::ScanSettings::from_settings(&Default::default());
    group.bench_function("outlook_pdf_form", |b| {
        b.iter(|| {
            let mail = parse::parse(&raw).expect("parses");
            assert!(classify::classify(&mail, &[]).is_none());
            let e = extract::extract(&mail, &scan);
            assert_eq!(e.source, extract::Source::AcroForm);
        })
    });
    group.finish();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = rt.block_on(seeded(&format!(
        "sqlite://{}/bench.db?mode=rwc",
        dir.path().display()
    )));
    end_to_end(c, "sqlite", sqlite, &rt);

    let admin = std::env::var("BAREME_MEL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("bm_bench_{}", uuid::Uuid::new_v4().simple());
    let created = rt.block_on(async {
        let a = Db::connect(&Database {
            url: Secret(format!("{admin}/postgres")),
            max_connections: 1,
        })
        .await
        .ok()?;
        a.conn()
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .ok()?;
        Some(a)
    });
    match created {
        Some(a) => {
            let pg = rt.block_on(seeded(&format!("{admin}/{name}")));
            end_to_end(c, "postgres", pg.clone(), &rt);
            // The same database without TLS: sqlx 0.9.0 leaves Nagle on, and a
            // statement over 16 KiB (the raw mail) split into two TLS records
            // waits for the server's delayed ACK (README, "PostgreSQL").
            let plain = rt
                .block_on(Db::connect(&Database {
                    url: Secret(format!("{admin}/{name}?sslmode=disable")),
                    max_connections: 5,
                }))
                .expect("connect without TLS");
            end_to_end(c, "postgres_no_tls", plain.clone(), &rt);
            rt.block_on(async {
                let _ = plain.conn().clone().close().await;
                let _ = pg.conn().clone().close().await;
                let _ = a
                    .conn()
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        }
        None => eprintln!("PostgreSQL unavailable: end-to-end benchmark on SQLite only"),
    }
}

criterion_group!(intake, benches);
criterion_main!(intake);
