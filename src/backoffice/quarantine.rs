//! Unprocessed mail (disposition `quarantined`): staff turn a message into a
//! request, attach it to an existing one, or discard it with a reason. The
//! raw bytes stay; each decision is audited. Discarded messages keep their
//! disposition and get the `ecarte` flag.

use crate::store::{
    Db, StoreError, Txn, audit,
    inbox::Disposition,
    quarantine::{settle, take},
    requests::{self, Actor, NewRequest},
};

pub use crate::store::quarantine::{DISCARDED, find, is_open, list};

async fn event(
    txn: &Txn,
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
    settle(&txn, id, Disposition::RequestCreated, created.id).await?;
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
    settle(&txn, id, Disposition::Threaded, request.id).await?;
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
    crate::store::quarantine::discard(&txn, &m, reason).await?;
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
