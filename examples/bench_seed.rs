//! Seeds a database for `scripts/bench/queue-load.sh`: migrates it, adds one
//! agent, inserts N requests spread over every state and the last year, and
//! opens S staff sessions whose cookie values it prints, one per line.
//!
//! Usage: `cargo run --release --example bench_seed -- DATABASE_URL [N] [S]`

use bareme_mel::{
    config::{Database, Secret},
    domain::{RequestState, Role},
    store::{Db, entities::change_request, staff},
    web::session::{self, Principal},
};
use chrono::{Duration, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};

const BATCH: usize = 1_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: bench_seed DATABASE_URL [N] [SESSIONS]"))?;
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let sessions: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let db = Db::connect(&Database {
        url: Secret(url),
        max_connections: 4,
    })
    .await?;
    db.migrate().await?;
    // The audit events below are sealed with the application key: leave it
    // where `serve`, started in the same directory, looks for it.
    std::fs::create_dir_all("data")?;
    let key_file = std::path::Path::new("data/bareme-mel.key");
    if !key_file.exists() {
        bareme_mel::appkey::current().write_new(key_file)?;
    }
    let hash = bareme_mel::security::hash_password_blocking("bench-mot-de-passe-long")?;
    let agent = staff::add(&db, "bench", "Agent de test", Role::Agent, hash, "bench").await?;

    let started = std::time::Instant::now();
    let now = Utc::now();
    let states = RequestState::ALL;
    for chunk_start in (0..n).step_by(BATCH) {
        let rows = (chunk_start..n.min(chunk_start + BATCH)).map(|i| {
            // Spread over a year, not in id order, so the sort does real work.
            let created = now - Duration::seconds(((i * 7_919) % 31_536_000) as i64);
            change_request::ActiveModel {
                reference: Set(format!("BM-BENCH-{i:07}")),
                state: Set(states[i % states.len()].as_str().into()),
                claimed_number: Set(Some(format!("{}", 100_000 + i % 50_000))),
                requester_email: Set(Some(format!("gestion{i}@etab{}.fr", i % 997))),
                new_email: Set(Some(format!("gestion{i}@etab{}.fr", i % 997))),
                situation: Set(Some("nouveau".into())),
                fields: Set("{}".into()),
                checks: Set("[]".into()),
                flags: Set(if i % 10 == 0 {
                    r#"["saisie_manuelle"]"#.into()
                } else {
                    "[]".into()
                }),
                contested: Set(false),
                manual_entry: Set(false),
                assignee_id: Set((i % 3 == 0).then_some(agent.id)),
                version: Set(0),
                created_at: Set(created),
                updated_at: Set(created),
                ..Default::default()
            }
        });
        let txn = db.conn().begin().await?;
        change_request::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
    }
    eprintln!(
        "{n} requests inserted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for _ in 0..sessions {
        println!(
            "{}",
            session::create(db.conn(), Principal::Staff(agent.id)).await?
        );
    }
    Ok(())
}
