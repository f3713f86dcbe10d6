//! Attempts at processing one incoming message (SPEC §4, poison messages).
//! [`begin`] counts an attempt in its own committed write *before* the
//! message is read, so that a message that kills the process (memory,
//! abort, a bug in a parser) is counted even though nothing else of its
//! processing survives; once `max` attempts were made, [`begin`] says so
//! and the caller records the message quarantined without reading it.
//! [`clear`] forgets the count once the message is recorded. A batch written
//! in one transaction counts its messages together ([`begin_batch`]).

use super::{Db, StoreError, entities::intake_attempt};
use chrono::Utc;
use sea_orm::{ActiveValue::Set, EntityTrait, sea_query::OnConflict};

/// What [`begin`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Go on: this is attempt number `n` (1 the first time).
    Go(i32),
    /// `n` attempts were made already, none finished: do not read it again.
    Exhausted(i32),
}

/// Counts one more attempt on `key` and commits it, unless `max` attempts
/// were already made. One statement whose commit does not wait for the
/// disk: the count survives the process dying, which is what it is for (a
/// power cut may lose it: the message is then read once more). On SQLite in
/// a file it is a transaction of intake's writer ([`Db::begin_inline`]),
/// begun with `synchronous=NORMAL`, so that the writer's page cache is not
/// thrown away by another connection's write; elsewhere one statement on
/// [`Db::relaxed`].
pub async fn begin(db: &Db, key: &str, max: u32) -> Result<Attempt, StoreError> {
    if db.writes_inline() {
        let txn = db.begin_inline().await?;
        let attempt = count_one(&txn, key, max).await?;
        txn.commit_unsynced().await?;
        return Ok(attempt);
    }
    count_one(db.relaxed().await?, key, max).await
}

/// [`begin`]'s statement, on `conn`.
async fn count_one<C: crate::store::Conn>(
    conn: &C,
    key: &str,
    max: u32,
) -> Result<Attempt, StoreError> {
    use sea_orm::{ExprTrait, QueryTrait, sea_query::Expr};
    let max = i32::try_from(Ord::max(max, 1)).unwrap_or(i32::MAX);
    let now = Utc::now();
    let made = intake_attempt::Column::Attempts;
    // Counted only while under `max`: past it, the conflict updates nothing
    // and no row comes back.
    let mut insert = intake_attempt::Entity::insert(intake_attempt::ActiveModel {
        key: Set(key.to_string()),
        attempts: Set(1),
        first_at: Set(now),
        last_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(intake_attempt::Column::Key)
            .value(made, Expr::col((intake_attempt::Entity, made)).add(1))
            .update_column(intake_attempt::Column::LastAt)
            .action_and_where(Expr::col((intake_attempt::Entity, made)).lt(max))
            .to_owned(),
    );
    insert.query().returning_col(made);
    let stmt = insert.build(conn.get_database_backend());
    match conn.query_one_raw(stmt).await? {
        Some(row) => Ok(Attempt::Go(row.try_get::<i32>("", "attempts")?)),
        None => Ok(Attempt::Exhausted(Ord::max(count(conn, key).await?, max))),
    }
}

/// Takes back the attempt counted by [`begin`] on `key`: the attempt
/// stopped for a reason that is not the message's (the database went away).
pub async fn release<C: crate::store::Conn>(conn: &C, key: &str) -> Result<(), StoreError> {
    use sea_orm::{ColumnTrait, ExprTrait, QueryFilter, sea_query::Expr};
    intake_attempt::Entity::update_many()
        .col_expr(
            intake_attempt::Column::Attempts,
            Expr::col(intake_attempt::Column::Attempts).sub(1),
        )
        .filter(intake_attempt::Column::Key.eq(key))
        .filter(intake_attempt::Column::Attempts.gt(0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forgets the attempts on `key`: the message is recorded.
pub async fn clear<C: crate::store::Conn>(conn: &C, key: &str) -> Result<(), StoreError> {
    let delete = intake_attempt::Entity::delete_by_id(key.to_string());
    // In a transaction, it goes with the next statement or the commit.
    conn.defer_query(&delete).await?;
    Ok(())
}

/// Attempts made on `key` and not yet cleared.
pub async fn count<C: crate::store::Conn>(conn: &C, key: &str) -> Result<i32, StoreError> {
    Ok(intake_attempt::Entity::find_by_id(key.to_string())
        .one(conn)
        .await?
        .map_or(0, |a| a.attempts))
}

/// Counts one attempt on each of `keys` in one committed write, for a batch
/// read and recorded together (group commit) — only when none of them has
/// an attempt that did not finish. Returns false, counting nothing, when
/// one has: a batch that died before its commit left each of its messages
/// counted once, and the caller then takes the batch apart, so that the
/// message that killed the process is counted alone from then on and the
/// others are recorded. Like [`begin`], a commit that does not wait for the
/// disk.
pub async fn begin_batch(db: &Db, keys: &[String]) -> Result<bool, StoreError> {
    use sea_orm::TransactionTrait;
    let mut keys = keys.to_vec();
    keys.sort();
    keys.dedup();
    if db.writes_inline() {
        let txn = db.begin_inline().await?;
        let counted = count_all(&txn, keys).await?;
        match counted {
            true => txn.commit_unsynced().await?,
            false => txn.rollback().await?,
        }
        return Ok(counted);
    }
    // Begun as a writer: it reads, then writes.
    let txn = db
        .relaxed()
        .await?
        .begin_with_options(super::writer_options(db.backend()))
        .await?;
    let counted = count_all(&txn, keys).await?;
    match counted {
        true => txn.commit().await?,
        false => txn.rollback().await?,
    }
    Ok(counted)
}

/// [`begin_batch`] inside the transaction `conn`: false, writing nothing,
/// when one of `keys` has an attempt that did not finish.
async fn count_all<C: crate::store::Conn>(conn: &C, keys: Vec<String>) -> Result<bool, StoreError> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    let unfinished = intake_attempt::Entity::find()
        .filter(intake_attempt::Column::Key.is_in(keys.clone()))
        .filter(intake_attempt::Column::Attempts.gt(0))
        .count(conn)
        .await?;
    if unfinished > 0 {
        return Ok(false);
    }
    let now = Utc::now();
    intake_attempt::Entity::insert_many(keys.into_iter().map(|key| intake_attempt::ActiveModel {
        key: Set(key),
        attempts: Set(1),
        first_at: Set(now),
        last_at: Set(now),
    }))
    .on_conflict(
        OnConflict::column(intake_attempt::Column::Key)
            .update_columns([
                intake_attempt::Column::Attempts,
                intake_attempt::Column::LastAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(true)
}

/// Forgets the attempts on every one of `keys` (a batch recorded, or taken
/// back for a reason that is not its messages').
pub async fn clear_batch<C: crate::store::Conn>(
    conn: &C,
    keys: &[String],
) -> Result<(), StoreError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    intake_attempt::Entity::delete_many()
        .filter(intake_attempt::Column::Key.is_in(keys.iter().cloned()))
        .exec(conn)
        .await?;
    Ok(())
}
