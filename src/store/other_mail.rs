//! Mail that is not a change request (disposition `not_a_request`), as
//! staff handle it under « Autres courriels »: open ones are those not yet
//! filed (`classe`). Every change is conditional on what the page showed,
//! so two staff members cannot both act on the same message.

use super::{StoreError, entities::inbound_message, to_json};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

/// The disposition this module handles.
pub const DISPOSITION: &str = "not_a_request";
/// Flag of a message staff dealt with (filed, forwarded or turned into a request).
pub const FILED: &str = "classe";
/// Flag of a message forwarded to `intake.forward_other_to`.
pub const FORWARDED: &str = "transfere";

/// The flags of a message.
pub fn flags(m: &inbound_message::Model) -> Vec<String> {
    serde_json::from_str(&m.flags).unwrap_or_default()
}

/// True while staff still have to deal with `m`.
pub fn is_open(m: &inbound_message::Model) -> bool {
    m.disposition == DISPOSITION && !flags(m).iter().any(|f| f == FILED)
}

/// Open messages, oldest first (at most 500).
pub async fn list_open<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<inbound_message::Model>, StoreError> {
    Ok(inbound_message::Entity::find()
        .filter(inbound_message::Column::Disposition.eq(DISPOSITION))
        .filter(inbound_message::Column::Flags.not_like(format!("%\"{FILED}\"%")))
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
        .ok_or_else(|| StoreError::NotFound("courriel introuvable".into()))
}

/// Message `id` if it is still open, else [`StoreError::Conflict`].
pub async fn take<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<inbound_message::Model, StoreError> {
    let m = find(db, id).await?;
    if !is_open(&m) {
        return Err(StoreError::Conflict);
    }
    Ok(m)
}

/// Adds `added` to the flags of `m`, only if nobody changed them since `m` was read.
pub async fn add_flags<C: ConnectionTrait>(
    db: &C,
    m: &inbound_message::Model,
    added: &[&str],
) -> Result<(), StoreError> {
    let mut all = flags(m);
    all.extend(added.iter().map(|f| f.to_string()));
    let res = inbound_message::Entity::update_many()
        .col_expr(inbound_message::Column::Flags, Expr::value(to_json(&all)))
        .filter(inbound_message::Column::Id.eq(m.id))
        .filter(inbound_message::Column::Disposition.eq(DISPOSITION))
        .filter(inbound_message::Column::Flags.eq(m.flags.clone()))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// Turns open message `id` into the record of a created request
/// (disposition `request_created`); the request link is set by its creation.
pub async fn settle_as_request<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), StoreError> {
    let res = inbound_message::Entity::update_many()
        .col_expr(
            inbound_message::Column::Disposition,
            Expr::value("request_created"),
        )
        .filter(inbound_message::Column::Id.eq(id))
        .filter(inbound_message::Column::Disposition.eq(DISPOSITION))
        .filter(inbound_message::Column::Flags.not_like(format!("%\"{FILED}\"%")))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}
