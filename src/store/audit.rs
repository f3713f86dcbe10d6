//! The append-only, hash-chained audit log.
//!
//! Each event's hash covers its own fields and the previous hash; the single
//! row of `audit_head` serialises appends (its row lock is held until the
//! caller's transaction ends) and records the newest hash, so removing the
//! newest events is detected too. Events hold decision records only, never
//! message bodies: purging mail content leaves the chain verifiable.
//!
//! The hashes are HMAC-SHA-256 keyed with the application key (SPEC §9), so
//! that whoever can write to the database cannot recompute the chain after
//! editing it. `audit_head.keyed_from` is the first keyed event; a chain
//! written before the key existed (plain SHA-256, `keyed_from` NULL) is
//! verified and re-chained with the key at start-up ([`rechain`]).

use super::{Conn, StoreError, entities::audit_event};
use crate::appkey::{self, AppKey};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, sea_query::ExprTrait};
use sea_orm::{
    DbBackend, EntityTrait, QueryOrder, QuerySelect, Statement, prelude::Expr, sea_query::Query,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use migration::GENESIS_HASH;

/// One thing that happened, as the caller describes it.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub actor: String,
    pub action: String,
    pub request_id: Option<i64>,
    /// What the event is about when not a request: `subscriber:123`, `staff:alice`, `message:42`.
    pub subject: Option<String>,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub reason: Option<String>,
    pub details: serde_json::Value,
}

/// An event as read back.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub request_id: Option<i64>,
    pub subject: Option<String>,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub reason: Option<String>,
    pub details: serde_json::Value,
}

/// How the hash of one event is computed.
#[derive(Clone, Copy)]
enum Scheme<'a> {
    /// Plain SHA-256: events written before the application key existed.
    Plain,
    /// HMAC-SHA-256 keyed with the application key.
    Keyed(&'a AppKey),
}

fn scheme_for(seq: i64, keyed_from: Option<i64>, key: &AppKey) -> Scheme<'_> {
    match keyed_from {
        Some(first) if seq >= first => Scheme::Keyed(key),
        _ => Scheme::Plain,
    }
}

fn encode(prev: &str, m: &audit_event::Model, mut feed: impl FnMut(&[u8])) {
    let parts = [
        prev.to_string(),
        m.seq.to_string(),
        m.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        m.actor.clone(),
        m.action.clone(),
        m.request_id.map(|v| v.to_string()).unwrap_or_default(),
        m.subject.clone().unwrap_or_default(),
        m.from_state.clone().unwrap_or_default(),
        m.to_state.clone().unwrap_or_default(),
        m.reason.clone().unwrap_or_default(),
        m.details.clone(),
    ];
    for p in parts {
        // Length-prefixed so that no two different events share an encoding.
        feed(&(p.len() as u64).to_be_bytes());
        feed(p.as_bytes());
    }
}

fn digest(scheme: Scheme<'_>, prev: &str, m: &audit_event::Model) -> String {
    match scheme {
        Scheme::Plain => plain_digest(prev, m),
        Scheme::Keyed(key) => {
            let mut h = key.mac();
            encode(prev, m, |b| hmac::Mac::update(&mut h, b));
            hex::encode(hmac::Mac::finalize(h).into_bytes())
        }
    }
}

fn plain_digest(prev: &str, m: &audit_event::Model) -> String {
    let mut h = Sha256::new();
    encode(prev, m, |b| Digest::update(&mut h, b));
    hex::encode(h.finalize())
}

/// `audit_head.keyed_from`; `None` when the head row is missing.
async fn head_keyed_from<C: crate::store::Conn>(db: &C) -> Result<Option<Option<i64>>, StoreError> {
    let row = db
        .query_one(
            Query::select()
                .column("keyed_from")
                .from("audit_head")
                .and_where(Expr::col("id").eq(1)),
        )
        .await?;
    Ok(match row {
        None => None,
        Some(row) => Some(row.try_get("", "keyed_from")?),
    })
}

/// Whether the chain holds events keyed with the application key (then the
/// key file is needed to verify it).
pub async fn has_keyed_events<C: crate::store::Conn>(db: &C) -> Result<bool, StoreError> {
    let row = db
        .query_one(
            Query::select()
                .columns(["seq", "keyed_from"])
                .from("audit_head")
                .and_where(Expr::col("id").eq(1)),
        )
        .await?;
    Ok(match row {
        None => false,
        Some(row) => {
            let seq: i64 = row.try_get("", "seq")?;
            let keyed_from: Option<i64> = row.try_get("", "keyed_from")?;
            keyed_from.is_some_and(|first| seq >= first)
        }
    })
}

/// Whether the chain is still plain SHA-256 (written before the key existed).
pub async fn is_unkeyed<C: crate::store::Conn>(db: &C) -> Result<bool, StoreError> {
    Ok(matches!(head_keyed_from(db).await?, Some(None)))
}

/// The head a transaction's last append left, which the transaction holds
/// locked ([`crate::store::Memo`]).
#[derive(Debug, Clone)]
pub(crate) struct HeadMemo {
    seq: i64,
    hash: String,
    keyed_from: Option<i64>,
}

/// Forgets the head remembered by `txn`: the caller writes `audit_head` itself.
fn forget_head<C: crate::store::Conn>(txn: &C) {
    if let Some(memo) = txn.memo() {
        *crate::store::Memo::slot(&memo.audit_head) = None;
    }
}

/// The row of `audit_head`, as [`lock_head`] read it.
struct Head {
    /// The newest event's sequence number (0: none yet).
    seq: i64,
    /// The newest event's hash.
    hash: String,
    /// The first keyed event; `None`: the chain is still plain SHA-256.
    keyed_from: Option<i64>,
}

/// Takes the row lock of `audit_head` until the caller's transaction ends
/// and reads the head in the same statement: on PostgreSQL this serialises
/// appenders (and keeps them out while [`rechain`] runs); on SQLite the
/// transaction already holds the writer lock.
async fn lock_head<C: crate::store::Conn>(txn: &C) -> Result<Head, StoreError> {
    // Locked and read already by this transaction: as its last append left it.
    if let Some(memo) = txn.memo()
        && let Some(head) = crate::store::Memo::slot(&memo.audit_head).clone()
    {
        return Ok(Head {
            seq: head.seq,
            hash: head.hash,
            keyed_from: head.keyed_from,
        });
    }
    let row = txn
        .query_one(
            Query::update()
                .table("audit_head")
                .value("seq", Expr::col("seq").add(0))
                .and_where(Expr::col("id").eq(1))
                .returning(Query::returning().columns(["seq", "hash", "keyed_from"])),
        )
        .await?
        .ok_or_else(|| {
            StoreError::Invalid(
                "journal d'audit non initialisé : lancez `bareme-mel migrate`".into(),
            )
        })?;
    Ok(Head {
        seq: row.try_get("", "seq")?,
        hash: row.try_get("", "hash")?,
        keyed_from: row.try_get("", "keyed_from")?,
    })
}

/// Appends `event` inside the caller's transaction and returns its sequence number.
pub async fn append<C: Conn>(txn: &C, event: NewEvent) -> Result<i64, StoreError> {
    let head = lock_head(txn).await?;
    let seq = head.seq + 1;
    let prev = head.hash;
    let mut model = audit_event::Model {
        seq,
        at: Utc::now().trunc_subsecs(6),
        actor: event.actor,
        action: event.action,
        request_id: event.request_id,
        subject: event.subject,
        from_state: event.from_state,
        to_state: event.to_state,
        reason: event.reason,
        details: if serde_json::Value::is_null(&event.details) {
            "{}".into()
        } else {
            event.details.to_string()
        },
        prev_hash: prev.clone(),
        hash: String::new(),
    };
    let key = appkey::current();
    model.hash = digest(scheme_for(seq, head.keyed_from, &key), &prev, &model);
    let hash = model.hash.clone();
    if let Some(memo) = txn.memo() {
        *crate::store::Memo::slot(&memo.audit_head) = Some(HeadMemo {
            seq,
            hash: hash.clone(),
            keyed_from: head.keyed_from,
        });
    }
    let backend = txn.get_database_backend();
    let insert = audit_event::Entity::insert(audit_event::ActiveModel {
        seq: Set(model.seq),
        at: Set(model.at),
        actor: Set(model.actor),
        action: Set(model.action),
        request_id: Set(model.request_id),
        subject: Set(model.subject),
        from_state: Set(model.from_state),
        to_state: Set(model.to_state),
        reason: Set(model.reason),
        details: Set(model.details),
        prev_hash: Set(model.prev_hash),
        hash: Set(model.hash),
    });
    // Nothing reads either result: both go with the transaction's next statement.
    txn.defer_query(&insert).await?;
    txn.defer(
        backend.build(
            Query::update()
                .table("audit_head")
                .value("seq", seq)
                .value("hash", hash)
                .and_where(Expr::col("id").eq(1)),
        ),
    )
    .await?;
    Ok(seq)
}

/// The next events of the chain from `seq` on, in order (a page of 1,000).
async fn chain_page<C: crate::store::Conn>(
    db: &C,
    seq: i64,
) -> Result<Vec<audit_event::Model>, StoreError> {
    Ok(audit_event::Entity::find()
        .filter(audit_event::Column::Seq.gte(seq))
        .order_by_asc(audit_event::Column::Seq)
        .limit(1000)
        .all(db)
        .await?)
}

/// What `audit verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub events: i64,
    pub head_hash: String,
    /// The first problem found, in French; `None` when the chain is intact.
    pub problem: Option<String>,
}

/// Walks the whole chain in order and checks every link and the head.
pub async fn verify<C: crate::store::Conn>(db: &C) -> Result<Verification, StoreError> {
    let key = appkey::current();
    let keyed_from = head_keyed_from(db).await?.flatten();
    let mut prev = GENESIS_HASH.to_string();
    let mut expected_seq = 1i64;
    let mut count = 0i64;
    loop {
        let page = chain_page(db, expected_seq).await?;
        if page.is_empty() {
            break;
        }
        for ev in page {
            let problem = if ev.seq != expected_seq {
                Some(format!(
                    "événement n°{expected_seq} manquant (trouvé n°{})",
                    ev.seq
                ))
            } else if ev.prev_hash != prev {
                Some(format!(
                    "événement n°{} : le lien vers l'événement précédent est rompu",
                    ev.seq
                ))
            } else if digest(scheme_for(ev.seq, keyed_from, &key), &prev, &ev) != ev.hash {
                Some(format!(
                    "événement n°{} : le contenu a été modifié après son écriture",
                    ev.seq
                ))
            } else {
                None
            };
            if problem.is_some() {
                return Ok(Verification {
                    events: count,
                    head_hash: prev,
                    problem,
                });
            }
            prev = ev.hash;
            expected_seq += 1;
            count += 1;
        }
    }
    let head = db
        .query_one(
            Query::select()
                .columns(["seq", "hash"])
                .from("audit_head")
                .and_where(Expr::col("id").eq(1)),
        )
        .await?;
    let problem = match head {
        None => Some("tête du journal absente".to_string()),
        Some(row) => {
            let seq: i64 = row.try_get("", "seq")?;
            let hash: String = row.try_get("", "hash")?;
            if seq != count || hash != prev {
                Some(format!(
                    "le journal devrait compter {seq} événements, {count} sont intacts : des événements récents ont été supprimés"
                ))
            } else if keyed_from != Some(1) {
                Some(
                    "le journal n'est pas scellé par la clé de l'application : toute commande de bareme-mel le scelle"
                        .to_string(),
                )
            } else {
                None
            }
        }
    };
    Ok(Verification {
        events: count,
        head_hash: prev,
        problem,
    })
}

/// Re-computes the whole chain keyed with `new`, inside the caller's
/// transaction, after checking it under `old` (or plain SHA-256 for events
/// written before the key existed): a chain already broken is never sealed
/// again, that would hide the edit. Returns the number of events.
pub async fn rechain<C: crate::store::Conn>(
    txn: &C,
    old: &AppKey,
    new: &AppKey,
) -> Result<i64, StoreError> {
    // No event is added meanwhile.
    let Head {
        seq: head_seq,
        hash: head_hash,
        keyed_from,
    } = lock_head(txn).await?;
    let broken = |seq: i64| {
        StoreError::Invalid(format!(
            "journal d'audit altéré (événement n°{seq}) : il n'est pas scellé de nouveau, voir `bareme-mel audit verify`"
        ))
    };
    let mut prev_old = GENESIS_HASH.to_string();
    let mut prev_new = GENESIS_HASH.to_string();
    let mut next = 1i64;
    loop {
        let page = chain_page(txn, next).await?;
        if page.is_empty() {
            break;
        }
        for mut ev in page {
            if ev.seq != next
                || ev.prev_hash != prev_old
                || digest(scheme_for(ev.seq, keyed_from, old), &prev_old, &ev) != ev.hash
            {
                return Err(broken(next));
            }
            prev_old = ev.hash.clone();
            ev.prev_hash = prev_new.clone();
            ev.hash = digest(Scheme::Keyed(new), &prev_new, &ev);
            prev_new = ev.hash.clone();
            audit_event::Entity::update(audit_event::ActiveModel {
                seq: Set(ev.seq),
                prev_hash: Set(ev.prev_hash),
                hash: Set(ev.hash),
                ..Default::default()
            })
            .exec(txn)
            .await?;
            next += 1;
        }
    }
    if head_seq != next - 1 || head_hash != prev_old {
        return Err(broken(next));
    }
    forget_head(txn);
    txn.execute(
        Query::update()
            .table("audit_head")
            .value("hash", prev_new)
            .value("keyed_from", 1i64)
            .and_where(Expr::col("id").eq(1)),
    )
    .await?;
    Ok(next - 1)
}

/// The events of one request, oldest first (the timeline).
pub async fn for_request<C: crate::store::Conn>(
    db: &C,
    request_id: i64,
) -> Result<Vec<Event>, StoreError> {
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::RequestId.eq(request_id))
        .order_by_asc(audit_event::Column::Seq)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(to_event).collect())
}

/// The newest `limit` events, newest first.
pub async fn recent<C: crate::store::Conn>(db: &C, limit: u64) -> Result<Vec<Event>, StoreError> {
    let rows = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(to_event).collect())
}

fn to_event(m: audit_event::Model) -> Event {
    Event {
        seq: m.seq,
        at: m.at,
        actor: m.actor,
        action: m.action,
        request_id: m.request_id,
        subject: m.subject,
        from_state: m.from_state,
        to_state: m.to_state,
        reason: m.reason,
        details: serde_json::from_str(&m.details).unwrap_or(serde_json::Value::Null),
    }
}

/// Only for tests of tamper detection: rewrites one stored field behind the log's back.
#[doc(hidden)]
pub async fn tamper_for_tests<C: crate::store::Conn>(
    db: &C,
    seq: i64,
    reason: &str,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "UPDATE audit_events SET reason = $1 WHERE seq = $2",
        _ => "UPDATE audit_events SET reason = ? WHERE seq = ?",
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [reason.into(), seq.into()],
    ))
    .await?;
    Ok(())
}

/// Only for tests of tamper detection: what someone who can write to the
/// database but has no application key can do, after editing events:
/// recompute every hash of the chain, and the head, with plain SHA-256.
#[doc(hidden)]
pub async fn rehash_without_key_for_tests<C: crate::store::Conn>(db: &C) -> Result<(), StoreError> {
    let mut prev = GENESIS_HASH.to_string();
    let events = audit_event::Entity::find()
        .order_by_asc(audit_event::Column::Seq)
        .all(db)
        .await?;
    for mut ev in events {
        ev.prev_hash = prev.clone();
        ev.hash = plain_digest(&prev, &ev);
        prev = ev.hash.clone();
        audit_event::Entity::update(audit_event::ActiveModel {
            seq: Set(ev.seq),
            prev_hash: Set(ev.prev_hash),
            hash: Set(ev.hash),
            ..Default::default()
        })
        .exec(db)
        .await?;
    }
    forget_head(db);
    db.execute(
        Query::update()
            .table("audit_head")
            .value("hash", prev)
            .and_where(Expr::col("id").eq(1)),
    )
    .await?;
    Ok(())
}
