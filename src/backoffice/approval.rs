//! « Approuver » and « Renvoyer le lien »: in ONE transaction the request
//! is approved, the subscriber's address replaced (with its history row),
//! every token and session of the subscriber voided, the old address told
//! and the reset link queued to the new one.

use super::decisions::open;
use crate::{
    config::Settings,
    domain::{Action, Change, ChangeError, MailAddress},
    mail::{Account, ApprovalResetLink, ChangeNotice, Mail, NewMail, enqueue},
    store::{
        Db, StoreError, Txn, audit,
        entities::{change_request, subscriber},
        request_write::{self, Record},
        requests::Actor,
        subscribers,
        tokens::{self, TokenKind, TokenOwner},
    },
    web::session::{self, Principal},
};
use chrono::{Duration, Utc};

/// Every kind of token a subscriber can hold; all die when the address changes.
const ALL_SUBSCRIBER_TOKENS: [TokenKind; 4] = [
    TokenKind::SelfServiceReset,
    TokenKind::ApprovalReset,
    TokenKind::Reactivation,
    TokenKind::Objection,
];

/// The subscriber and new address an approval needs.
async fn approval_target(
    txn: &Txn,
    current: &change_request::Model,
) -> Result<(subscriber::Model, MailAddress), StoreError> {
    let sub_id = current
        .subscriber_id
        .ok_or(StoreError::Transition(ChangeError::NoSubscriber))?;
    let sub = subscribers::find_by_id(txn, sub_id)
        .await?
        .ok_or_else(|| StoreError::NotFound("abonné introuvable".into()))?;
    let new = current
        .new_email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok())
        .ok_or(StoreError::Transition(ChangeError::NoNewAddress))?;
    Ok((sub, new))
}

/// The subscriber and address that were approved: the address-history row
/// the approval wrote. The request row itself is not trusted for this.
async fn approved_target(
    txn: &Txn,
    current: &change_request::Model,
) -> Result<(subscriber::Model, MailAddress), StoreError> {
    let missing = || {
        StoreError::Invalid(
            "Aucune adresse approuvée n'est enregistrée pour cette demande : le lien ne peut pas être renvoyé.".into(),
        )
    };
    let row = subscribers::approved_address(txn, current.id)
        .await?
        .ok_or_else(missing)?;
    let address = row
        .email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok())
        .ok_or_else(missing)?;
    let sub = subscribers::find_by_id(txn, row.subscriber_id)
        .await?
        .ok_or_else(missing)?;
    Ok((sub, address))
}

/// Issues a fresh approval token and queues the reset link to `to`.
async fn send_reset_link(
    txn: &Txn,
    settings: &Settings,
    current: &change_request::Model,
    sub: &subscriber::Model,
    to: &MailAddress,
) -> Result<(), StoreError> {
    let hours = i64::try_from(settings.tokens.approval_ttl_hours).unwrap_or(24);
    let issued = tokens::issue(
        txn,
        TokenKind::ApprovalReset,
        TokenOwner {
            subscriber_id: Some(sub.id),
            request_id: Some(current.id),
            staff_id: None,
        },
        Duration::hours(hours),
    )
    .await?;
    let expires = Utc::now() + Duration::hours(hours);
    enqueue(
        txn,
        settings,
        NewMail {
            to: to.clone(),
            request_id: Some(current.id),
            in_reply_to: None,
            references: vec![],
            content: Mail::ApprovalResetLink(ApprovalResetLink {
                reference: current.reference.clone(),
                account: Account {
                    number: sub.number.clone(),
                    organisation: sub.organisation.clone(),
                },
                reset_link: format!(
                    "{}/reinitialisation/{}",
                    settings.public_url(),
                    issued.secret
                ),
                expires,
            }),
        },
    )
    .await?;
    Ok(())
}

/// « Approuver »: in one transaction the state changes, the address is
/// replaced (history row), every token and session of the subscriber dies,
/// the old address is told and the reset link goes to the new one.
pub async fn approve(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    actor: &Actor,
) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    let (sub, new) = approval_target(&txn, &current).await?;
    let approve = Change::Transition(Action::Approve);
    request_write::apply(
        &txn,
        settings,
        &current,
        &approve,
        actor,
        &Record::default(),
    )
    .await?;
    let now = Utc::now();
    let old = sub
        .email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok());
    subscribers::set_email_in(&txn, sub.id, &new, now).await?;
    subscribers::record_address_change(&txn, sub.id, Some(&new), "approval", Some(current.id), now)
        .await?;
    let voided = tokens::void_for_subscriber(&txn, sub.id, &ALL_SUBSCRIBER_TOKENS, now).await?;
    session::destroy_all(&txn, Principal::Subscriber(sub.id)).await?;
    if let Some(old) = old.as_ref().filter(|o| !o.same_mailbox(&new)) {
        enqueue(
            &txn,
            settings,
            NewMail {
                to: old.clone(),
                request_id: Some(current.id),
                in_reply_to: None,
                references: vec![],
                content: Mail::ChangeNotice(ChangeNotice {
                    reference: current.reference.clone(),
                    account: Account {
                        number: sub.number.clone(),
                        organisation: sub.organisation.clone(),
                    },
                    new_address: new.to_string(),
                }),
            },
        )
        .await?;
    }
    send_reset_link(&txn, settings, &current, &sub, &new).await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: actor.audit_name(),
            action: "address_replaced".into(),
            request_id: Some(current.id),
            subject: Some(format!("subscriber:{}", sub.id)),
            details: serde_json::json!({ "tokens_voided": voided, "old_address_notified": old.is_some() }),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// « Renvoyer le lien »: a fresh token for the subscriber and to the address
/// that were approved (read from the address history the approval wrote,
/// never from the request row); issuing it voids the previous one.
pub async fn resend_link(
    db: &Db,
    settings: &Settings,
    reference: &str,
    version: i32,
    actor: &Actor,
) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    let current = open(&txn, reference, version).await?;
    let resend = Change::ResendLink;
    request_write::apply(&txn, settings, &current, &resend, actor, &Record::default()).await?;
    let (sub, address) = approved_target(&txn, &current).await?;
    send_reset_link(&txn, settings, &current, &sub, &address).await?;
    txn.commit().await?;
    Ok(())
}
