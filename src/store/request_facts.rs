//! The facts about a request that only the database knows and that the
//! domain's rules need: is the new address another subscriber's (case and
//! IDN folded)? when was the registered address alerted? And the checks of
//! SPEC §4, recomputed from the claimed data after a correction.

use super::{
    StoreError,
    entities::{change_request, outbox, subscriber},
};
use crate::{
    domain::{Check, ClaimedData, MailAddress, SubscriberNumber},
    intake::{matching, validate::Claim},
    mail::MailKind,
};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// True when a subscriber other than `except` is registered at `address`,
/// compared case-insensitively with the domain in its ASCII (IDN) form.
pub async fn address_taken<C: crate::store::Conn>(
    db: &C,
    address: &MailAddress,
    except: Option<i64>,
) -> Result<bool, StoreError> {
    let mut q =
        subscriber::Entity::find().filter(subscriber::Column::EmailKey.eq(address.mailbox_key()));
    if let Some(id) = except {
        q = q.filter(subscriber::Column::Id.ne(id));
    }
    Ok(q.one(db).await?.is_some())
}

/// When the registered address was last alerted about `request_id`.
pub async fn alerted_at<C: crate::store::Conn>(
    db: &C,
    request_id: i64,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::RequestId.eq(request_id))
        .filter(outbox::Column::Template.eq(MailKind::RegisteredAddressAlert.template()))
        .order_by_desc(outbox::Column::CreatedAt)
        .one(db)
        .await?
        .map(|o| o.created_at))
}

/// The checks of SPEC §4 for the request's claimed data as they are now.
/// The sender's authentication cannot change after intake: its verdict is
/// kept from the previous checks.
pub async fn recompute_checks<C: crate::store::Conn>(
    db: &C,
    request: &change_request::Model,
    data: &ClaimedData,
    new_email: Option<&str>,
) -> Result<Vec<Check>, StoreError> {
    let claim = Claim {
        number: data
            .numero_abonne
            .as_deref()
            .and_then(|n| SubscriberNumber::parse(n).ok()),
        organisation: data.organisme.clone(),
        new_address: new_email.and_then(|e| MailAddress::parse(e).ok()),
        old_address: data
            .ancienne_adresse_mel
            .as_deref()
            .and_then(|e| MailAddress::parse(e).ok()),
        ..Claim::default()
    };
    let sender = request
        .requester_email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok());
    let mut checks = matching::run(db, &claim, sender.as_ref(), None)
        .await?
        .checks;
    let previous: Vec<Check> = serde_json::from_str(&request.checks).unwrap_or_default();
    if let Some(auth) = previous.iter().find(|c| c.code == "sender_authenticated") {
        for c in checks.iter_mut().filter(|c| c.code == auth.code) {
            *c = auth.clone();
        }
    }
    Ok(checks)
}
