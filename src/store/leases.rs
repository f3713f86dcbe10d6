//! Named leases in the `leases` table: one holder at a time across every
//! `serve` process sharing the database (daily purge, IMAP poller).

use super::StoreError;
use chrono::{Duration, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

/// Takes or renews lease `name` for `holder` until now + `ttl`; true when held.
pub async fn try_acquire<C: ConnectionTrait>(
    db: &C,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    acquire(db, name, holder, ttl, true).await
}

/// Takes lease `name` only once the previous term has run out, whoever held it:
/// for work that must happen once per period across every process (daily purge).
pub async fn try_acquire_expired<C: ConnectionTrait>(
    db: &C,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    acquire(db, name, holder, ttl, false).await
}

async fn acquire<C: ConnectionTrait>(
    db: &C,
    name: &str,
    holder: &str,
    ttl: Duration,
    renew: bool,
) -> Result<bool, StoreError> {
    let now = Utc::now();
    let until = now + ttl;
    let stmt = Query::insert()
        .into_table("leases")
        .columns(["name", "holder", "until"])
        .values_panic([name.into(), holder.into(), until.into()])
        .on_conflict(
            OnConflict::column("name")
                .values([("holder", holder.into()), ("until", until.into())])
                .action_and_where(if renew {
                    Expr::col(("leases", "until"))
                        .lt(now)
                        .or(Expr::col(("leases", "holder")).eq(holder))
                } else {
                    Expr::col(("leases", "until")).lt(now)
                })
                .to_owned(),
        )
        .to_owned();
    let res = db.execute(&stmt).await?;
    Ok(res.rows_affected() == 1)
}

/// Gives the lease back (clean shutdown), so another process takes over at once.
pub async fn release<C: ConnectionTrait>(
    db: &C,
    name: &str,
    holder: &str,
) -> Result<(), StoreError> {
    let stmt = Query::delete()
        .from_table("leases")
        .and_where(Expr::col("name").eq(name))
        .and_where(Expr::col("holder").eq(holder))
        .to_owned();
    db.execute(&stmt).await?;
    Ok(())
}
