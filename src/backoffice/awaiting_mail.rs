//! Mail awaiting staff (see [`crate::store::awaiting_mail`]); each action is
//! one transaction with its audit event, and the raw bytes stay.
//!
//! « Courriels non traités » (disposition `quarantined`): staff turn a
//! message into a request keyed in by hand, attach it to an existing one, or
//! discard it with a reason (it keeps its disposition and gets the `ecarte`
//! flag).
//!
//! « Autres courriels » (disposition `not_a_request`): staff turn one into a
//! request (then extraction, the checks, the acknowledgement and the alert
//! to the registered address follow as for any request made by intake),
//! forward it to `intake.forward_other_to` with the original attached, or
//! file it. The mail is read (a scanned form by OCR, seconds) before
//! that action's transaction, not inside it.

use crate::{
    config::Settings,
    domain::MailAddress,
    intake::{auth, create, extract, parse, validate},
    mail::{ForwardedMail, Mail, NewMail, outbox::enqueue_with_original},
    store::{
        Conn, Db, StoreError, audit,
        awaiting_mail::{DISCARDED, FILED, FORWARDED},
        inbox::Disposition,
        requests::{self, Actor, NewRequest},
    },
};

pub use crate::store::awaiting_mail::{OTHER_MAIL, QUARANTINE, Queue};

async fn event<C: Conn>(
    txn: &C,
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

/// Turns quarantined message `id` into a new request keyed in by staff; returns its reference.
pub async fn quarantine_to_request(db: &Db, id: i64, actor: &Actor) -> Result<String, StoreError> {
    let txn = db.begin().await?;
    let m = QUARANTINE.take(&txn, id).await?;
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
    QUARANTINE
        .settle(&txn, id, Disposition::RequestCreated, Some(created.id))
        .await?;
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

/// Attaches quarantined message `id` to the request `reference`.
pub async fn attach(
    db: &Db,
    id: i64,
    reference: &str,
    actor: &Actor,
) -> Result<String, StoreError> {
    let txn = db.begin().await?;
    QUARANTINE.take(&txn, id).await?;
    let request = requests::find(&txn, reference).await?;
    QUARANTINE
        .settle(&txn, id, Disposition::Threaded, Some(request.id))
        .await?;
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

/// Discards quarantined message `id` with a reason (kept for the retention period).
pub async fn discard(db: &Db, id: i64, reason: &str, actor: &Actor) -> Result<(), StoreError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "Indiquez pourquoi le message est écarté (une ligne).".into(),
        ));
    }
    let txn = db.begin().await?;
    let m = QUARANTINE.take(&txn, id).await?;
    QUARANTINE
        .add_flags(&txn, &m, &[DISCARDED], Some(format!("écarté : {reason}")))
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

/// Turns other mail `id` into a request; returns its reference.
pub async fn other_to_request(
    db: &Db,
    settings: &Settings,
    id: i64,
    actor: &Actor,
) -> Result<String, StoreError> {
    // Read first, write after: reading a scan runs OCR for seconds, and a
    // write transaction held meanwhile (SQLite: the database's one write
    // lock) would stall intake and every other agent.
    let m = OTHER_MAIL.take(db.conn(), id).await?;
    let raw = m.raw.as_deref().ok_or_else(|| {
        StoreError::Invalid(
            "Le contenu de ce courriel a été purgé : créez la demande à la main si besoin.".into(),
        )
    })?;
    let mail = parse::parse(raw).ok_or_else(|| {
        StoreError::Invalid(
            "Ce courriel est illisible : il ne peut pas devenir une demande.".into(),
        )
    })?;
    let sender = m
        .from_address
        .as_deref()
        .and_then(|f| MailAddress::parse(f).ok())
        .ok_or_else(|| {
            StoreError::Invalid(
                "L'adresse de l'expéditeur est absente ou invalide : la demande ne peut pas lui être rattachée.".into(),
            )
        })?;
    let verdicts = auth::trusted(&mail, &settings.intake.trusted_authserv_id);
    // Reading a scan runs child processes: off the async threads.
    let extraction = {
        let mail = mail.clone();
        let scan = extract::ScanSettings::from_settings(settings);
        tokio::task::spawn_blocking(move || extract::extract(&mail, &scan))
            .await
            .map_err(|e| StoreError::Invalid(format!("lecture du courriel interrompue : {e}")))?
    };
    let txn = db.begin().await?;
    // Settled only if still open: another agent may have acted meanwhile.
    OTHER_MAIL
        .settle(&txn, id, Disposition::RequestCreated, None)
        .await?;
    let request = create::request_from_mail(
        &txn,
        settings,
        create::FromMail {
            mail: &mail,
            claim: validate::validate(&extraction.values),
            extraction: &extraction,
            sender: &sender,
            verdicts: verdicts.as_ref(),
            flags: Vec::new(),
            inbound_id: id,
            actor,
            acknowledge: true,
        },
    )
    .await?;
    event(
        &txn,
        actor,
        "other_mail_to_request",
        id,
        Some(request.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(request.reference)
}

/// Forwards other mail `id` to `intake.forward_other_to`, the original
/// attached, and files it.
pub async fn forward(
    db: &Db,
    settings: &Settings,
    id: i64,
    actor: &Actor,
) -> Result<String, StoreError> {
    let to = MailAddress::parse(settings.intake.forward_other_to.trim()).map_err(|_| {
        StoreError::Invalid(
            "Le transfert n'est pas configuré : l'administrateur doit renseigner intake.forward_other_to."
                .into(),
        )
    })?;
    let txn = db.begin().await?;
    let m = OTHER_MAIL.take(&txn, id).await?;
    OTHER_MAIL
        .add_flags(&txn, &m, &[FORWARDED, FILED], None)
        .await?;
    let summary = format!(
        "Expéditeur : {}\nObjet : {}\nReçu le : {}",
        m.from_address.as_deref().unwrap_or("(inconnu)"),
        m.subject.as_deref().unwrap_or("(sans objet)"),
        super::fmt_date(m.received_at)
    );
    enqueue_with_original(
        &txn,
        settings,
        NewMail {
            to: to.clone(),
            request_id: None,
            in_reply_to: None,
            references: Vec::new(),
            content: Mail::ForwardedMail(ForwardedMail { summary }),
        },
        Some(id),
    )
    .await?;
    event(
        &txn,
        actor,
        "other_mail_forwarded",
        id,
        None,
        Some(to.to_string()),
    )
    .await?;
    txn.commit().await?;
    Ok(to.to_string())
}

/// Files other mail `id` (« Classer »): nothing more to do with it.
pub async fn file(db: &Db, id: i64, actor: &Actor) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    let m = OTHER_MAIL.take(&txn, id).await?;
    OTHER_MAIL.add_flags(&txn, &m, &[FILED], None).await?;
    event(&txn, actor, "other_mail_filed", id, None, None).await?;
    txn.commit().await?;
    Ok(())
}
