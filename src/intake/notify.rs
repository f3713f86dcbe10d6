//! Notify: the mails intake queues, in the message's transaction — the
//! acknowledgement to the sender (at most one per sender per 24 h for mail
//! that creates no request) and the alert to the registered address with
//! its objection link — and the bounce marking of our own outgoing mail.

use crate::{
    config::Settings,
    domain::MailAddress,
    mail::{Account, Acknowledgement, Mail, MailKind, NewMail, RegisteredAddressAlert, enqueue},
    store::{
        Conn, StoreError,
        entities::{change_request, subscriber},
        outbox,
        tokens::{self, TokenKind, TokenOwner},
    },
};
use chrono::{Duration, Utc};

/// A Message-ID usable in In-Reply-To: `left@right` (RFC 5322 msg-id), no
/// brackets, spaces or control characters. Anything else (`<abcdef>`) is kept
/// as received on the inbound record but not echoed in our replies, whose
/// own Message-IDs are always ours.
fn reply_id(id: Option<&str>) -> Option<String> {
    id.filter(|id| !id.is_empty() && id.len() <= 250 && !id.contains(['<', '>', ' ']))
        .filter(|id| {
            id.split_once('@')
                .is_some_and(|(l, r)| !l.is_empty() && !r.is_empty() && !r.contains('@'))
        })
        .filter(|id| !id.chars().any(char::is_control))
        .map(str::to_string)
}

/// Queues the acknowledgement of `request` to `to`.
pub async fn acknowledge<C: Conn>(
    txn: &C,
    settings: &Settings,
    to: &MailAddress,
    request: &change_request::Model,
    in_reply_to: Option<&str>,
) -> Result<(), StoreError> {
    let in_reply_to = reply_id(in_reply_to);
    enqueue(
        txn,
        settings,
        NewMail {
            to: to.clone(),
            request_id: Some(request.id),
            references: in_reply_to.iter().cloned().collect(),
            in_reply_to,
            content: Mail::Acknowledgement(Acknowledgement {
                reference: request.reference.clone(),
                claimed_number: request.claimed_number.clone(),
            }),
        },
    )
    .await?;
    Ok(())
}

/// Flag of a request whose acknowledgement was not sent: its sender already
/// got `intake.max_acknowledgements_per_sender` in the last 24 hours.
pub const ACK_CAPPED: &str = "accuse_non_envoye_plafond";
/// Flag of a request whose alert was not sent: the registered address
/// already got `intake.max_alerts_per_address` in the last 24 hours.
pub const ALERT_CAPPED: &str = "alerte_non_envoyee_plafond";

/// For each (address, kind, cap), in order: true when the address already
/// got `cap` mails of `kind` in the last 24 hours (a flood: the next one is
/// recorded and flagged, not sent). One query for all of them.
pub async fn over_caps<C: Conn>(
    txn: &C,
    checks: &[(&MailAddress, MailKind, u32)],
) -> Result<Vec<bool>, StoreError> {
    let since = Utc::now() - Duration::hours(24);
    let pairs: Vec<(&str, &str)> = checks
        .iter()
        .map(|(to, kind, _)| (to.as_str(), kind.template()))
        .collect();
    let counts = crate::store::outbox::counts_since(txn, &pairs, since).await?;
    Ok(counts
        .iter()
        .zip(checks)
        .map(|(sent, (_, _, cap))| *sent >= u64::from(*cap))
        .collect())
}

/// The address alerts about `subscriber`'s requests go to, if usable.
pub fn registered_address(subscriber: &subscriber::Model) -> Option<MailAddress> {
    subscriber
        .email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok())
}

/// True when `to` already got an acknowledgement in the last 24 hours.
pub async fn acknowledged_recently<C: Conn>(txn: &C, to: &MailAddress) -> Result<bool, StoreError> {
    outbox::queued_since(
        txn,
        to.as_str(),
        MailKind::Acknowledgement.template(),
        Utc::now() - Duration::hours(24),
    )
    .await
}

/// Queues the alert to the subscriber's registered address, with a fresh
/// objection link. Does nothing when no usable address is registered.
pub async fn alert_registered<C: Conn>(
    txn: &C,
    settings: &Settings,
    subscriber: &subscriber::Model,
    request: &change_request::Model,
) -> Result<bool, StoreError> {
    let Some(registered) = registered_address(subscriber) else {
        return Ok(false);
    };
    let ttl = Duration::days(i64::try_from(settings.tokens.objection_ttl_days).unwrap_or(30));
    let token = tokens::issue(
        txn,
        TokenKind::Objection,
        TokenOwner {
            subscriber_id: Some(subscriber.id),
            request_id: Some(request.id),
            staff_id: None,
        },
        ttl,
    )
    .await?;
    let expires = Utc::now() + ttl;
    enqueue(
        txn,
        settings,
        NewMail {
            to: registered,
            request_id: Some(request.id),
            in_reply_to: None,
            references: Vec::new(),
            content: Mail::RegisteredAddressAlert(RegisteredAddressAlert {
                reference: request.reference.clone(),
                account: Account {
                    number: subscriber.number.clone(),
                    organisation: subscriber.organisation.clone(),
                },
                objection_link: format!("{}/opposition/{}", settings.public_url(), token.secret),
                new_address: request.new_email.clone(),
                expires,
            }),
        },
    )
    .await?;
    Ok(true)
}

/// Marks our outgoing mails `ids` bounced; returns how many rows changed.
/// Marks our outgoing mails named by a delivery report as bounced; returns how many.
pub async fn mark_bounced<C: Conn>(
    txn: &C,
    ids: &[String],
    diagnostic: Option<&str>,
) -> Result<u64, StoreError> {
    let diagnostic = diagnostic
        .and_then(|d| super::validate::clean_text(d, 500))
        .unwrap_or_else(|| "adresse en échec (rapport de non-remise)".into());
    let mut marked = 0;
    for id in ids {
        if crate::store::outbox::mark_bounced(txn, id, &diagnostic).await? {
            marked += 1;
        }
    }
    Ok(marked)
}
