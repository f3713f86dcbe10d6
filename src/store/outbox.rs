//! Queries on the `outbox` table: claiming due mails under a lease,
//! recording each attempt, listing, manual retry and bounces.
//!
//! A claim is one `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING *`: on
//! PostgreSQL the sub-select takes `FOR UPDATE SKIP LOCKED`, so concurrent
//! workers never claim the same row; on SQLite it runs in a `BEGIN IMMEDIATE`
//! transaction. A claimed row is `sending` with `lease_until`/`locked_by`;
//! when the lease expires (crashed worker) any worker may claim it again.

use super::{Db, StoreError, entities::outbox};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ConnectionTrait, FromQueryResult,
    sea_query::{Condition, Expr, ExprTrait, LockBehavior, LockType, Order, Query},
};
use serde::Serialize;
use std::time::Duration;

/// A rendered mail to queue, as `mail::enqueue` prepared it.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub message_id: String,
    pub template: &'static str,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// JSON object of extra headers (In-Reply-To, References, Auto-Submitted).
    pub headers: String,
    pub request_id: Option<i64>,
}

/// Writes a pending mail, due now, inside the caller's transaction.
pub async fn insert<C: super::Conn>(txn: &C, mail: QueuedMail) -> Result<(), StoreError> {
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let now = Utc::now().trunc_subsecs(6);
    let insert = outbox::Entity::insert(outbox::ActiveModel {
        message_id: Set(mail.message_id),
        template: Set(mail.template.into()),
        recipient: Set(mail.recipient),
        subject: Set(mail.subject),
        body_text: Set(mail.body_text),
        body_html: Set(mail.body_html),
        headers: Set(mail.headers),
        request_id: Set(mail.request_id),
        state: Set(OutboxState::Pending.as_str().into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    });
    txn.defer_query(&insert).await?;
    Ok(())
}

/// The states of an outgoing mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    Sending,
    Sent,
    Failed,
    Bounced,
}

impl OutboxState {
    pub const ALL: [OutboxState; 5] = [
        Self::Pending,
        Self::Sending,
        Self::Sent,
        Self::Failed,
        Self::Bounced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Bounced => "bounced",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The current time, at the precision both databases keep.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Claims up to `limit` due mails for `worker` until `now + lease`.
pub async fn claim(
    db: &Db,
    worker: &str,
    limit: u64,
    lease: Duration,
) -> Result<Vec<outbox::Model>, StoreError> {
    let now = now();
    let lease_until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let due = Condition::any()
        .add(
            Expr::col(outbox::Column::State)
                .eq(OutboxState::Pending.as_str())
                .and(Expr::col(outbox::Column::NextAttemptAt).lte(now)),
        )
        .add(
            Expr::col(outbox::Column::State)
                .eq(OutboxState::Sending.as_str())
                .and(Expr::col(outbox::Column::LeaseUntil).lt(now)),
        );
    let mut due_ids = Query::select()
        .column(outbox::Column::Id)
        .from(outbox::Entity)
        .cond_where(due)
        .order_by(outbox::Column::NextAttemptAt, Order::Asc)
        .order_by(outbox::Column::Id, Order::Asc)
        .limit(limit)
        .to_owned();
    if db.is_postgres() {
        due_ids.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let stmt = Query::update()
        .table(outbox::Entity)
        .value(outbox::Column::State, OutboxState::Sending.as_str())
        .value(outbox::Column::LeaseUntil, lease_until)
        .value(outbox::Column::LockedBy, worker)
        .value(
            outbox::Column::Attempts,
            Expr::col(outbox::Column::Attempts).add(1),
        )
        .and_where(Expr::col(outbox::Column::Id).in_subquery(due_ids))
        .returning_all()
        .to_owned();
    let txn = db.begin().await?;
    let rows = txn.query_all(&stmt).await?;
    txn.commit().await?;
    let mut claimed = rows
        .iter()
        .map(|r| outbox::Model::from_query_result(r, ""))
        .collect::<Result<Vec<_>, _>>()?;
    claimed.sort_by_key(|m| m.id);
    Ok(claimed)
}

/// The update of a row still claimed by `worker` (a row taken over after the
/// lease expired, or bounced meanwhile, is left alone).
fn claimed_by(id: i64, worker: &str) -> sea_orm::sea_query::UpdateStatement {
    Query::update()
        .table(outbox::Entity)
        .and_where(Expr::col(outbox::Column::Id).eq(id))
        .and_where(Expr::col(outbox::Column::State).eq(OutboxState::Sending.as_str()))
        .and_where(Expr::col(outbox::Column::LockedBy).eq(worker))
        .value(outbox::Column::LeaseUntil, Option::<DateTime<Utc>>::None)
        .to_owned()
}

/// Records a delivery the server accepted, with its reply.
pub async fn mark_sent<C: crate::store::Conn>(
    conn: &C,
    id: i64,
    worker: &str,
    reply: &str,
) -> Result<bool, StoreError> {
    let stmt = claimed_by(id, worker)
        .value(outbox::Column::State, OutboxState::Sent.as_str())
        .value(outbox::Column::SentAt, now())
        .value(outbox::Column::ServerReply, clean(reply))
        .value(outbox::Column::LastError, Option::<String>::None)
        .to_owned();
    Ok(conn.execute(&stmt).await?.rows_affected() > 0)
}

/// Once a mail is sent or given up, its stored copy keeps no usable link:
/// the tokens of its links are masked. True when something was masked.
pub async fn forget_links<C: crate::store::Conn>(
    conn: &C,
    row: &outbox::Model,
) -> Result<bool, StoreError> {
    let text = crate::security::mask_links(&row.body_text);
    let html = crate::security::mask_links(&row.body_html);
    if text == row.body_text && html == row.body_html {
        return Ok(false);
    }
    let stmt = Query::update()
        .table(outbox::Entity)
        .value(outbox::Column::BodyText, text)
        .value(outbox::Column::BodyHtml, html)
        .and_where(Expr::col(outbox::Column::Id).eq(row.id))
        .and_where(Expr::col(outbox::Column::State).ne(OutboxState::Pending.as_str()))
        .and_where(Expr::col(outbox::Column::State).ne(OutboxState::Sending.as_str()))
        .to_owned();
    Ok(conn.execute(&stmt).await?.rows_affected() > 0)
}

/// Records a permanent failure: the mail will not be tried again.
pub async fn mark_failed<C: crate::store::Conn>(
    conn: &C,
    id: i64,
    worker: &str,
    error: &str,
) -> Result<bool, StoreError> {
    let stmt = claimed_by(id, worker)
        .value(outbox::Column::State, OutboxState::Failed.as_str())
        .value(outbox::Column::LastError, clean(error))
        .to_owned();
    Ok(conn.execute(&stmt).await?.rows_affected() > 0)
}

/// Records a temporary failure: the mail is due again at `next_attempt_at`.
pub async fn reschedule<C: crate::store::Conn>(
    conn: &C,
    id: i64,
    worker: &str,
    error: &str,
    next_attempt_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let stmt = claimed_by(id, worker)
        .value(outbox::Column::State, OutboxState::Pending.as_str())
        .value(
            outbox::Column::NextAttemptAt,
            next_attempt_at.trunc_subsecs(6),
        )
        .value(outbox::Column::LastError, clean(error))
        .value(outbox::Column::LockedBy, Option::<String>::None)
        .to_owned();
    Ok(conn.execute(&stmt).await?.rows_affected() > 0)
}

/// Gives back every row `worker` still holds (clean shutdown), due now.
pub async fn release<C: crate::store::Conn>(conn: &C, worker: &str) -> Result<u64, StoreError> {
    let stmt = Query::update()
        .table(outbox::Entity)
        .value(outbox::Column::State, OutboxState::Pending.as_str())
        .value(outbox::Column::LeaseUntil, Option::<DateTime<Utc>>::None)
        .value(outbox::Column::LockedBy, Option::<String>::None)
        .value(outbox::Column::NextAttemptAt, now())
        .and_where(Expr::col(outbox::Column::State).eq(OutboxState::Sending.as_str()))
        .and_where(Expr::col(outbox::Column::LockedBy).eq(worker))
        .to_owned();
    Ok(conn.execute(&stmt).await?.rows_affected())
}

/// Which mails `outbox retry` puts back in the queue.
#[derive(Debug, Clone)]
pub enum RetryTarget {
    /// One row, by its numeric id or its Message-ID.
    One(String),
    AllFailed,
}

/// Makes failed (or pending) mails due now; returns how many.
pub async fn retry<C: crate::store::Conn>(
    conn: &C,
    target: &RetryTarget,
) -> Result<u64, StoreError> {
    let mut stmt = Query::update()
        .table(outbox::Entity)
        .value(outbox::Column::State, OutboxState::Pending.as_str())
        .value(outbox::Column::NextAttemptAt, now())
        .value(outbox::Column::LockedBy, Option::<String>::None)
        .value(outbox::Column::LeaseUntil, Option::<DateTime<Utc>>::None)
        .to_owned();
    match target {
        RetryTarget::AllFailed => {
            stmt.and_where(Expr::col(outbox::Column::State).eq(OutboxState::Failed.as_str()));
        }
        RetryTarget::One(key) => {
            let key = key.trim().trim_start_matches('<').trim_end_matches('>');
            let which = match key.parse::<i64>() {
                Ok(id) => Expr::col(outbox::Column::Id).eq(id),
                Err(_) => Expr::col(outbox::Column::MessageId).eq(key),
            };
            stmt.and_where(which).and_where(
                Expr::col(outbox::Column::State)
                    .is_in([OutboxState::Failed.as_str(), OutboxState::Pending.as_str()]),
            );
        }
    }
    Ok(conn.execute(&stmt).await?.rows_affected())
}

/// Marks the mail with this Message-ID (with or without angle brackets)
/// `bounced` with the delivery report's diagnostic. Returns false when the
/// Message-ID is not one of ours. Intake calls it with a delivery report's
/// `Original-Message-ID`.
pub async fn mark_bounced<C: crate::store::Conn>(
    conn: &C,
    message_id: &str,
    diagnostic: &str,
) -> Result<bool, StoreError> {
    let key = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    if key.is_empty() {
        return Ok(false);
    }
    let stmt = Query::update()
        .table(outbox::Entity)
        .value(outbox::Column::State, OutboxState::Bounced.as_str())
        .value(outbox::Column::BouncedAt, now())
        .value(outbox::Column::BounceDiagnostic, clean(diagnostic))
        .value(outbox::Column::LeaseUntil, Option::<DateTime<Utc>>::None)
        .and_where(Expr::col(outbox::Column::MessageId).eq(key))
        .to_owned();
    Ok(conn.execute(&stmt).await?.rows_affected() > 0)
}

/// Lists mails, newest first, optionally in one state (`limit` 0 = all).
pub async fn list<C: crate::store::Conn>(
    conn: &C,
    state: Option<OutboxState>,
    limit: u64,
) -> Result<Vec<outbox::Model>, StoreError> {
    use sea_orm::{EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut q = outbox::Entity::find().order_by_desc(outbox::Column::Id);
    if let Some(s) = state {
        q = q.filter(Expr::col(outbox::Column::State).eq(s.as_str()));
    }
    if limit > 0 {
        q = q.limit(limit);
    }
    Ok(q.all(conn).await?)
}

/// One line of at most 2,000 characters: server texts and diagnostics are
/// shown to staff and at the command line.
fn clean(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let squeezed = one_line.split_whitespace().collect::<Vec<_>>().join(" ");
    squeezed.chars().take(2000).collect()
}

/// How many mails of `template` to `recipient` were queued since `since`
/// (the flood caps of intake).
pub async fn count_since<C: crate::store::Conn>(
    conn: &C,
    recipient: &str,
    template: &str,
    since: DateTime<Utc>,
) -> Result<u64, StoreError> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(recipient))
        .filter(outbox::Column::Template.eq(template))
        .filter(outbox::Column::CreatedAt.gt(since))
        .count(conn)
        .await?)
}

/// [`count_since`] for several (recipient, template) pairs in one query (one
/// round trip: intake checks both of its flood caps at once), in order.
pub async fn counts_since<C: crate::store::Conn>(
    conn: &C,
    pairs: &[(&str, &str)],
    since: DateTime<Utc>,
) -> Result<Vec<u64>, StoreError> {
    use sea_orm::{DbBackend, Statement, Value};
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(pairs.len() * 3);
    // The placeholder of the value just pushed.
    let place = |values: &Vec<Value>| match backend {
        DbBackend::Postgres => format!("${}", values.len()),
        _ => "?".to_string(),
    };
    let mut columns = Vec::with_capacity(pairs.len());
    for (i, (recipient, template)) in pairs.iter().enumerate() {
        values.push((*recipient).into());
        let r = place(&values);
        values.push((*template).into());
        let t = place(&values);
        values.push(since.into());
        let s = place(&values);
        columns.push(format!(
            "(SELECT COUNT(*) FROM outbox WHERE recipient = {r} AND template = {t} \
             AND created_at > {s}) AS c{i}"
        ));
    }
    let sql = format!("SELECT {}", columns.join(", "));
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .ok_or_else(|| StoreError::Invalid("compte des envois : aucune ligne".into()))?;
    (0..pairs.len())
        .map(|i| {
            row.try_get::<i64>("", &format!("c{i}"))
                .map(|n: i64| u64::try_from(n).unwrap_or(0))
                .map_err(StoreError::from)
        })
        .collect()
}

/// True when a mail of `template` to `recipient` was queued since `since`
/// (the « at most one per sender per period » rules of intake).
pub async fn queued_since<C: crate::store::Conn>(
    conn: &C,
    recipient: &str,
    template: &str,
    since: DateTime<Utc>,
) -> Result<bool, StoreError> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let n = outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(recipient))
        .filter(outbox::Column::Template.eq(template))
        .filter(outbox::Column::CreatedAt.gt(since))
        .count(conn)
        .await?;
    Ok(n > 0)
}

/// The request of the latest mail we sent under one of these Message-IDs (a
/// reply's In-Reply-To/References), in one query.
pub async fn request_replied_to<C: crate::store::Conn>(
    conn: &C,
    message_ids: &[&str],
) -> Result<Option<super::entities::change_request::Model>, StoreError> {
    use super::entities::change_request;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    if message_ids.is_empty() {
        return Ok(None);
    }
    let latest = Query::select()
        .column(outbox::Column::RequestId)
        .from(outbox::Entity)
        .and_where(outbox::Column::MessageId.is_in(message_ids.iter().copied()))
        .and_where(outbox::Column::RequestId.is_not_null())
        .order_by(outbox::Column::Id, Order::Desc)
        .limit(1)
        .to_owned();
    Ok(change_request::Entity::find()
        .filter(change_request::Column::Id.in_subquery(latest))
        .one(conn)
        .await?)
}
