//! Create: a change request made from one recorded mail — the claim
//! validated, matched against the subscribers (the checks of SPEC §4), the
//! request written with its `inbound_messages` link, the acknowledgement to
//! the sender and the alert to the registered address queued, all in the
//! caller's transaction. Intake uses it for a new request; staff use it
//! when they turn a mail that was not a request into one.

use super::{
    auth::Verdicts,
    extract::{self, Extraction},
    matching, notify,
    parse::ParsedMail,
    record,
    validate::{self, flag},
};
use crate::{
    config::Settings,
    domain::MailAddress,
    mail::MailKind,
    store::{
        Conn, StoreError,
        entities::change_request,
        requests::{self, Actor, NewRequest},
        scan_readings,
    },
};

/// The recorded mail a request is made from.
pub struct FromMail<'a> {
    pub mail: &'a ParsedMail,
    pub extraction: &'a Extraction,
    /// `extraction`'s values validated ([`validate::validate`]): intake
    /// does it where it reads the mail, before its write transaction.
    pub claim: validate::Claim,
    pub sender: &'a MailAddress,
    pub verdicts: Option<&'a Verdicts>,
    /// Flags already decided (reused Message-ID, unknown reference…).
    pub flags: Vec<String>,
    /// The `inbound_messages` row, already written.
    pub inbound_id: i64,
    pub actor: &'a Actor,
    /// False when our MTA saw the From address forged (DMARC fail): no backscatter.
    pub acknowledge: bool,
}

/// Creates the request and queues its mails; returns it.
pub async fn request_from_mail<C: Conn>(
    txn: &C,
    settings: &Settings,
    m: FromMail<'_>,
) -> Result<change_request::Model, StoreError> {
    let mut claim = m.claim;
    let uncertain = &m.extraction.uncertain;
    // A new address read with a low confidence is kept as read among the
    // fields, but becomes the request's new address only when staff
    // confirm it (« Confirmer les valeurs lues »).
    if uncertain
        .iter()
        .any(|f| f == "nouvelle_adresse_mel" || f == "nouvelle_adresse_mel_confirmation")
    {
        claim.new_address = None;
    }
    let matched = matching::run(txn, &claim, Some(m.sender), m.verdicts).await?;
    let mut flags = m.flags;
    flags.extend(claim.flags.iter().cloned());
    // Flood caps: over them the request is made and flagged, the mail not
    // sent. Both are counted in one query.
    let caps = &settings.intake;
    let alert_to = matched
        .subscriber
        .as_ref()
        .and_then(notify::registered_address);
    let mut checks = Vec::with_capacity(2);
    if m.acknowledge {
        checks.push((
            m.sender,
            MailKind::Acknowledgement,
            caps.max_acknowledgements_per_sender,
        ));
    }
    if let Some(to) = &alert_to {
        checks.push((
            to,
            MailKind::RegisteredAddressAlert,
            caps.max_alerts_per_address,
        ));
    }
    let mut over = notify::over_caps(txn, &checks).await?.into_iter();
    let acknowledge = m.acknowledge && !over.next().unwrap_or(false);
    if m.acknowledge && !acknowledge {
        flags.push(notify::ACK_CAPPED.into());
    }
    let alert = alert_to.is_some() && !over.next().unwrap_or(false);
    if alert_to.is_some() && !alert {
        flags.push(notify::ALERT_CAPPED.into());
    }
    let manual = m.extraction.source == extract::Source::Nothing;
    if manual {
        flags.push(flag::MANUAL_ENTRY.into());
    }
    if !uncertain.is_empty() {
        flags.push(extract::UNCERTAIN_READING.into());
    }
    let mut fields = claim.fields.clone();
    fields.insert("_source".into(), m.extraction.source.as_str().into());
    let request = requests::create_in(
        txn,
        NewRequest {
            claimed_number: claim.number.as_ref().map(|n| n.to_string()),
            subscriber_id: matched.subscriber.as_ref().map(|s| s.id),
            requester_email: Some(m.sender.to_string()),
            new_email: claim.new_address.as_ref().map(|a| a.to_string()),
            situation: claim.situation.map(str::to_string),
            fields,
            checks: matched.checks,
            flags,
            manual_entry: manual,
            origin_message_id: Some(m.inbound_id),
        },
        m.actor,
    )
    .await?;
    record::set_request(txn, m.inbound_id, request.id).await?;
    if let Some(form) = &m.extraction.scan {
        scan_readings::insert(txn, request.id, form, uncertain).await?;
    }
    if acknowledge {
        notify::acknowledge(
            txn,
            settings,
            m.sender,
            &request,
            m.mail.message_id.as_deref(),
        )
        .await?;
    }
    if let Some(subscriber) = matched.subscriber.as_ref().filter(|_| alert) {
        notify::alert_registered(txn, settings, subscriber, &request).await?;
    }
    Ok(request)
}
