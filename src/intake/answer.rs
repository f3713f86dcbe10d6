//! Answer: the short automatic answer to a mail that is not a change
//! request — it was received, and here is how to change the manager's
//! address (the form, `/aide`). At most one per sender per
//! `intake.not_a_request_reply_hours`, only to an authenticated sender
//! (a forged From must not turn us into a mail cannon), never to
//! automatic or list mail (those never reach triage), and only when
//! `intake.not_a_request_reply` is on. Queued in the message's transaction.

use crate::{
    config::Settings,
    domain::MailAddress,
    mail::{Mail, MailKind, NewMail, enqueue},
    store::{Conn, StoreError, outbox::queued_since},
};
use chrono::{Duration, Utc};

/// Whether the policy allows an answer at all (before the per-sender limit).
pub fn allowed(settings: &Settings, sender_authenticated: bool) -> bool {
    settings.intake.not_a_request_reply && sender_authenticated
}

/// Queues the answer to `to` when allowed and none was queued to `to` in
/// the period; returns whether one was queued.
pub async fn not_a_request<C: Conn>(
    txn: &C,
    settings: &Settings,
    to: &MailAddress,
    sender_authenticated: bool,
    in_reply_to: Option<&str>,
) -> Result<bool, StoreError> {
    if !allowed(settings, sender_authenticated) {
        return Ok(false);
    }
    let hours = i64::try_from(settings.intake.not_a_request_reply_hours).unwrap_or(24);
    let kind = MailKind::NotARequestReply;
    if queued_since(
        txn,
        to.as_str(),
        kind.template(),
        Utc::now() - Duration::hours(hours),
    )
    .await?
    {
        return Ok(false);
    }
    let in_reply_to = in_reply_to
        .filter(|id| id.len() <= 250 && id.contains('@'))
        .filter(|id| !id.chars().any(|c| c.is_control() || "<> ".contains(c)))
        .map(str::to_string);
    enqueue(
        txn,
        settings,
        NewMail {
            to: to.clone(),
            request_id: None,
            references: in_reply_to.iter().cloned().collect(),
            in_reply_to,
            content: Mail::NotARequestReply,
        },
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_authenticated_senders_get_an_answer_and_only_when_it_is_on() {
        let mut s = Settings::default();
        assert!(allowed(&s, true));
        assert!(!allowed(&s, false));
        s.intake.not_a_request_reply = false;
        assert!(!allowed(&s, true));
    }
}
