//! A named lease in table `leases`: several `serve` processes on one
//! PostgreSQL database, one active IMAP poller. Taken when free or expired,
//! renewed by its holder, released on shutdown.

use crate::store::{Db, StoreError, entities::lease};
use chrono::{Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

/// Takes or renews lease `name` for `holder` during `ttl`; true when held.
pub async fn acquire(db: &Db, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
    let now = Utc::now();
    let stmt = Query::insert()
        .into_table("leases")
        .columns(["name", "holder", "until"])
        .values_panic([name.into(), holder.into(), (now + ttl).into()])
        .on_conflict(
            OnConflict::column("name")
                .update_columns(["holder", "until"])
                .action_and_where(
                    Expr::col(("leases", "until"))
                        .lt(now)
                        .or(Expr::col(("leases", "holder")).eq(holder)),
                )
                .to_owned(),
        )
        .to_owned();
    db.conn().execute(&stmt).await?;
    let row = lease::Entity::find_by_id(name.to_string())
        .one(db.conn())
        .await?;
    Ok(row.is_some_and(|l| l.holder == holder))
}

/// Gives the lease up if `holder` has it.
pub async fn release(db: &Db, name: &str, holder: &str) -> Result<(), StoreError> {
    lease::Entity::delete_many()
        .filter(lease::Column::Name.eq(name))
        .filter(lease::Column::Holder.eq(holder))
        .exec(db.conn())
        .await?;
    Ok(())
}
