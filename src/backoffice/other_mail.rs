//! « Autres courriels »: mail that is not a change request (disposition
//! `not_a_request`). Staff turn one into a request (then extraction, the
//! checks, the acknowledgement and the alert to the registered address
//! follow as for any request made by intake), forward it to
//! `intake.forward_other_to` with the original attached, or file it.
//! Each action is one transaction with its audit event.

use crate::{
    config::Settings,
    domain::MailAddress,
    intake::{auth, create, extract, parse},
    mail::{MailContext, MailKind, NewMail, outbox::enqueue_with_original},
    store::{
        Conn, Db, StoreError, audit,
        other_mail::{self, FILED, FORWARDED},
        requests::Actor,
    },
};

pub use crate::store::other_mail::{find, is_open, list_open};

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

/// Turns message `id` into a request; returns its reference.
pub async fn to_request(
    db: &Db,
    settings: &Settings,
    id: i64,
    actor: &Actor,
) -> Result<String, StoreError> {
    let txn = db.begin().await?;
    let m = other_mail::take(&txn, id).await?;
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
    other_mail::settle_as_request(&txn, id).await?;
    let request = create::request_from_mail(
        &txn,
        settings,
        create::FromMail {
            mail: &mail,
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

/// Forwards message `id` to `intake.forward_other_to`, the original
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
    let m = other_mail::take(&txn, id).await?;
    other_mail::add_flags(&txn, &m, &[FORWARDED, FILED]).await?;
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
            kind: MailKind::ForwardedMail,
            to: to.clone(),
            request_id: None,
            in_reply_to: None,
            references: Vec::new(),
            context: MailContext {
                message: Some(summary),
                ..Default::default()
            },
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

/// Files message `id` (« Classer »): nothing more to do with it.
pub async fn file(db: &Db, id: i64, actor: &Actor) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    let m = other_mail::take(&txn, id).await?;
    other_mail::add_flags(&txn, &m, &[FILED]).await?;
    event(&txn, actor, "other_mail_filed", id, None, None).await?;
    txn.commit().await?;
    Ok(())
}
