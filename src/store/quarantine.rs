//! Unprocessed mail (disposition `quarantined`) as staff settle it: the
//! queries behind [`crate::backoffice::quarantine`]. Every change is
//! conditional on the message still being quarantined and not discarded.

use super::{StoreError, entities::inbound_message, inbox::Disposition, to_json};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

/// The disposition this module handles.
pub const DISPOSITION: &str = "quarantined";
/// Flag of a quarantined message staff discarded.
pub const DISCARDED: &str = "ecarte";

/// True while staff still have to deal with `m`.
pub fn is_open(m: &inbound_message::Model) -> bool {
    m.disposition == DISPOSITION && !m.flags.contains(&format!("\"{DISCARDED}\""))
}

/// Quarantined messages not yet discarded, oldest first.
pub async fn list<C: ConnectionTrait>(db: &C) -> Result<Vec<inbound_message::Model>, StoreError> {
    Ok(inbound_message::Entity::find()
        .filter(inbound_message::Column::Disposition.eq(DISPOSITION))
        .filter(inbound_message::Column::Flags.not_like(format!("%\"{DISCARDED}\"%")))
        .order_by_asc(inbound_message::Column::Id)
        .limit(500)
        .all(db)
        .await?)
}

/// Message `id`, whatever its disposition.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<inbound_message::Model, StoreError> {
    inbound_message::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound("message introuvable".into()))
}

/// Message `id` if it is still to be dealt with, else [`StoreError::Conflict`].
pub async fn take<C: ConnectionTrait>(
    txn: &C,
    id: i64,
) -> Result<inbound_message::Model, StoreError> {
    let m = find(txn, id).await?;
    if !is_open(&m) {
        return Err(StoreError::Conflict);
    }
    Ok(m)
}

/// Files quarantined message `id` under `disposition`, linked to `request_id`.
pub async fn settle<C: ConnectionTrait>(
    txn: &C,
    id: i64,
    disposition: Disposition,
    request_id: i64,
) -> Result<(), StoreError> {
    let res = inbound_message::Entity::update_many()
        .col_expr(
            inbound_message::Column::Disposition,
            Expr::value(disposition.as_str()),
        )
        .col_expr(
            inbound_message::Column::RequestId,
            Expr::value(Some(request_id)),
        )
        .filter(inbound_message::Column::Id.eq(id))
        .filter(inbound_message::Column::Disposition.eq(DISPOSITION))
        .exec(txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// Marks `m` discarded with the reason staff gave.
pub async fn discard<C: ConnectionTrait>(
    txn: &C,
    m: &inbound_message::Model,
    reason: &str,
) -> Result<(), StoreError> {
    let mut flags: Vec<String> = serde_json::from_str(&m.flags).unwrap_or_default();
    flags.push(DISCARDED.into());
    inbound_message::Entity::update_many()
        .col_expr(inbound_message::Column::Flags, Expr::value(to_json(&flags)))
        .col_expr(
            inbound_message::Column::Reason,
            Expr::value(Some(format!("écarté : {reason}"))),
        )
        .filter(inbound_message::Column::Id.eq(m.id))
        .exec(txn)
        .await?;
    Ok(())
}
