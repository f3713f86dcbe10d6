//! Unprocessed mail (disposition `quarantined`): staff turn a message into a
//! request, attach it to an existing one, or discard it with a reason. The
//! raw bytes stay; each decision is audited. Discarded messages keep their
//! disposition and get the `ecarte` flag.

use crate::store::{
    Db, StoreError, audit,
    entities::inbound_message,
    requests::{self, Actor, NewRequest},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

pub const DISCARDED: &str = "ecarte";

/// Quarantined messages not yet discarded, oldest first.
pub async fn list<C: ConnectionTrait>(db: &C) -> Result<Vec<inbound_message::Model>, StoreError> {
    Ok(inbound_message::Entity::find()
        .filter(inbound_message::Column::Disposition.eq("quarantined"))
        .filter(inbound_message::Column::Flags.not_like(format!("%\"{DISCARDED}\"%")))
        .order_by_asc(inbound_message::Column::Id)
        .limit(500)
        .all(db)
        .await?)
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<inbound_message::Model, StoreError> {
    inbound_message::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound("message introuvable".into()))
}

async fn take(txn: &DatabaseTransaction, id: i64) -> Result<inbound_message::Model, StoreError> {
    let m = find(txn, id).await?;
    if m.disposition != "quarantined" || m.flags.contains(&format!("\"{DISCARDED}\"")) {
        return Err(StoreError::Conflict);
    }
    Ok(m)
}

async fn settle(
    txn: &DatabaseTransaction,
    id: i64,
    disposition: &str,
    request_id: i64,
) -> Result<(), StoreError> {
    let res = inbound_message::Entity::update_many()
        .col_expr(
            inbound_message::Column::Disposition,
            Expr::value(disposition),
        )
        .col_expr(
            inbound_message::Column::RequestId,
            Expr::value(Some(request_id)),
        )
        .filter(inbound_message::Column::Id.eq(id))
        .filter(inbound_message::Column::Disposition.eq("quarantined"))
        .exec(txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

async fn event(
    txn: &DatabaseTransaction,
    actor: &Actor,
    action: &str,
    id: i64,
    request_id: Option<i64>,
    reason: Option<String>,
) -> Result<(), StoreError> {
    audit::append(
        txn,
        audit::NewEvent {
            actor: actor.audit_name(),
            action: action.into(),
            request_id,
            subject: Some(format!("message:{id}")),
            reason,
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

/// Turns the message into a new request keyed in by staff; returns its reference.
pub async fn to_request(db: &Db, id: i64, actor: &Actor) -> Result<String, StoreError> {
    let txn = db.begin().await?;
    let m = take(&txn, id).await?;
    let created = requests::create_in(
        &txn,
        NewRequest {
            requester_email: m.from_address.clone(),
            flags: vec!["saisie_manuelle".into()],
            manual_entry: true,
            origin_message_id: Some(m.id),
            ..Default::default()
        },
        actor,
    )
    .await?;
    settle(&txn, id, "request_created", created.id).await?;
    event(
        &txn,
        actor,
        "quarantine_to_request",
        id,
        Some(created.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(created.reference)
}

/// Attaches the message to the request `reference`.
pub async fn attach(
    db: &Db,
    id: i64,
    reference: &str,
    actor: &Actor,
) -> Result<String, StoreError> {
    let txn = db.begin().await?;
    take(&txn, id).await?;
    let request = requests::find(&txn, reference).await?;
    settle(&txn, id, "threaded", request.id).await?;
    event(
        &txn,
        actor,
        "quarantine_attached",
        id,
        Some(request.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(request.reference)
}

/// Discards the message with a reason (kept for the retention period).
pub async fn discard(db: &Db, id: i64, reason: &str, actor: &Actor) -> Result<(), StoreError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "Indiquez pourquoi le message est écarté (une ligne).".into(),
        ));
    }
    let txn = db.begin().await?;
    let m = take(&txn, id).await?;
    let mut flags: Vec<String> = serde_json::from_str(&m.flags).unwrap_or_default();
    flags.push(DISCARDED.into());
    inbound_message::Entity::update_many()
        .col_expr(
            inbound_message::Column::Flags,
            Expr::value(crate::store::to_json(&flags)),
        )
        .col_expr(
            inbound_message::Column::Reason,
            Expr::value(Some(format!("écarté : {reason}"))),
        )
        .filter(inbound_message::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    event(
        &txn,
        actor,
        "quarantine_discarded",
        id,
        None,
        Some(reason.into()),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
