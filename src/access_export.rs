//! Access requests (RGPD art. 15): everything held about one subscriber
//! number or one address, as a ZIP of JSON plus the original mail and
//! attachments. The export is itself audited.

use crate::{
    domain::{MailAddress, SubscriberNumber},
    store::{
        Db, StoreError, audit,
        entities::{
            attachment, blob, change_request, inbound_message, outbox, subscriber,
            subscriber_address, token,
        },
    },
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait, Func},
};
use serde_json::{Value, json};
use std::io::Write;

/// Who the access request is about.
#[derive(Debug, Clone)]
pub enum Subject {
    Number(SubscriberNumber),
    Address(MailAddress),
}

impl Subject {
    fn describe(&self) -> String {
        match self {
            Subject::Number(n) => format!("subscriber:{n}"),
            Subject::Address(a) => format!("address:{a}"),
        }
    }
}

/// What went into the archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub subscribers: usize,
    pub requests: usize,
    pub messages: usize,
    pub attachments: usize,
    pub sent_mails: usize,
}

fn lower_eq(
    col: impl sea_orm::sea_query::IntoColumnRef,
    value: &str,
) -> sea_orm::sea_query::SimpleExpr {
    Expr::expr(Func::lower(Expr::col(col))).eq(value.to_lowercase())
}

/// Builds the archive and records the export in the audit log.
pub async fn build(
    db: &Db,
    subject: &Subject,
    actor: &str,
) -> Result<(Vec<u8>, ExportSummary), StoreError> {
    let conn = db.conn();
    // Subscribers: by number, or by current or former address.
    let subscribers: Vec<subscriber::Model> = match subject {
        Subject::Number(n) => {
            subscriber::Entity::find()
                .filter(subscriber::Column::Number.eq(n.as_str()))
                .all(conn)
                .await?
        }
        Subject::Address(a) => {
            let former: Vec<i64> = subscriber_address::Entity::find()
                .filter(lower_eq(subscriber_address::Column::Email, a.as_str()))
                .all(conn)
                .await?
                .into_iter()
                .map(|h| h.subscriber_id)
                .collect();
            subscriber::Entity::find()
                .filter(
                    Condition::any()
                        .add(lower_eq(subscriber::Column::Email, a.as_str()))
                        .add(subscriber::Column::Id.is_in(former)),
                )
                .all(conn)
                .await?
        }
    };
    let ids: Vec<i64> = subscribers.iter().map(|s| s.id).collect();
    let mut request_cond =
        Condition::any().add(change_request::Column::SubscriberId.is_in(ids.clone()));
    match subject {
        Subject::Number(n) => {
            request_cond = request_cond.add(change_request::Column::ClaimedNumber.eq(n.as_str()))
        }
        Subject::Address(a) => {
            request_cond = request_cond
                .add(lower_eq(change_request::Column::RequesterEmail, a.as_str()))
                .add(lower_eq(change_request::Column::NewEmail, a.as_str()))
        }
    }
    let requests = change_request::Entity::find()
        .filter(request_cond)
        .order_by_asc(change_request::Column::Id)
        .all(conn)
        .await?;
    let request_ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
    let mut message_cond =
        Condition::any().add(inbound_message::Column::RequestId.is_in(request_ids.clone()));
    let mut outbox_cond =
        Condition::any().add(outbox::Column::RequestId.is_in(request_ids.clone()));
    if let Subject::Address(a) = subject {
        message_cond = message_cond.add(lower_eq(inbound_message::Column::FromAddress, a.as_str()));
        outbox_cond = outbox_cond.add(lower_eq(outbox::Column::Recipient, a.as_str()));
    }
    for s in &subscribers {
        if let Some(e) = &s.email {
            outbox_cond = outbox_cond.add(lower_eq(outbox::Column::Recipient, e));
        }
    }
    let messages = inbound_message::Entity::find()
        .filter(message_cond)
        .order_by_asc(inbound_message::Column::Id)
        .all(conn)
        .await?;
    let message_ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    let attachments = attachment::Entity::find()
        .filter(attachment::Column::InboundMessageId.is_in(message_ids))
        .order_by_asc(attachment::Column::Id)
        .all(conn)
        .await?;
    let sent = outbox::Entity::find()
        .filter(outbox_cond)
        .order_by_asc(outbox::Column::Id)
        .all(conn)
        .await?;
    let history = subscriber_address::Entity::find()
        .filter(subscriber_address::Column::SubscriberId.is_in(ids.clone()))
        .all(conn)
        .await?;
    let tokens = token::Entity::find()
        .filter(token::Column::SubscriberId.is_in(ids.clone()))
        .all(conn)
        .await?;
    let mut timeline = Vec::new();
    for id in &request_ids {
        timeline.extend(audit::for_request(conn, *id).await?);
    }

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let io = |e: std::io::Error| StoreError::Invalid(format!("archive : {e}"));
    let zerr = |e: zip::result::ZipError| StoreError::Invalid(format!("archive : {e}"));
    let mut files = Vec::new();
    for m in &messages {
        if let Some(raw) = &m.raw {
            let name = format!("courriels/{}.eml", m.id);
            zip.start_file(name.as_str(), options).map_err(zerr)?;
            zip.write_all(raw).map_err(io)?;
            files.push(name);
        }
    }
    let mut attachment_count = 0;
    for a in &attachments {
        if let Some(data) = blob::Entity::find_by_id(a.sha256.clone())
            .one(conn)
            .await?
            .and_then(|b| b.data)
        {
            let name = format!(
                "pieces-jointes/{}-{}",
                a.id,
                safe_name(a.filename.as_deref().unwrap_or("piece-jointe"))
            );
            zip.start_file(name.as_str(), options).map_err(zerr)?;
            zip.write_all(&data).map_err(io)?;
            files.push(name);
            attachment_count += 1;
        }
    }
    let data = json!({
        "objet": subject.describe(),
        "genere_le": chrono::Utc::now(),
        "abonnes": subscribers.iter().map(|s| json!({
            "numero_abonne": s.number, "organisme": s.organisation, "gestionnaire": s.manager_name,
            "adresse_mel": s.email, "desactive": s.disabled, "mot_de_passe_defini": s.password_hash.is_some(),
            "mot_de_passe_modifie_le": s.password_changed_at, "cree_le": s.created_at,
        })).collect::<Vec<_>>(),
        "historique_adresses": history.iter().map(|h| json!({
            "abonne": h.subscriber_id, "adresse_mel": h.email, "du": h.valid_from, "au": h.valid_to, "origine": h.source,
        })).collect::<Vec<_>>(),
        "demandes": requests.iter().map(|r| json!({
            "reference": r.reference, "etat": r.state, "numero_declare": r.claimed_number,
            "demandeur": r.requester_email, "nouvelle_adresse": r.new_email, "situation": r.situation,
            "champs": serde_json::from_str::<Value>(&r.fields).unwrap_or(Value::Null),
            "controles": serde_json::from_str::<Value>(&r.checks).unwrap_or(Value::Null),
            "opposition": r.contested, "cree_le": r.created_at, "close_le": r.closed_at,
        })).collect::<Vec<_>>(),
        "courriels_recus": messages.iter().map(|m| json!({
            "id": m.id, "recu_le": m.received_at, "message_id": m.message_id, "expediteur": m.from_address,
            "objet": m.subject, "disposition": m.disposition, "purge_le": m.purged_at,
        })).collect::<Vec<_>>(),
        "courriels_envoyes": sent.iter().map(|o| json!({
            "message_id": o.message_id, "destinataire": o.recipient, "objet": o.subject, "etat": o.state,
            "cree_le": o.created_at, "envoye_le": o.sent_at, "texte": o.body_text,
        })).collect::<Vec<_>>(),
        "liens_emis": tokens.iter().map(|t| json!({
            "type": t.kind, "cree_le": t.created_at, "expire_le": t.expires_at, "utilise_le": t.used_at, "annule_le": t.voided_at,
        })).collect::<Vec<_>>(),
        "historique_decisions": timeline,
        "fichiers": files,
    });
    zip.start_file("donnees.json", options).map_err(zerr)?;
    zip.write_all(
        serde_json::to_string_pretty(&data)
            .unwrap_or_default()
            .as_bytes(),
    )
    .map_err(io)?;
    let bytes = zip.finish().map_err(zerr)?.into_inner();

    let summary = ExportSummary {
        subscribers: subscribers.len(),
        requests: requests.len(),
        messages: messages.len(),
        attachments: attachment_count,
        sent_mails: sent.len(),
    };
    let txn = db.begin().await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: actor.into(),
            action: "access_export".into(),
            subject: Some(subject.describe()),
            details: json!({ "requests": summary.requests, "messages": summary.messages, "attachments": summary.attachments }),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok((bytes, summary))
}

/// A file name safe inside an archive: letters, digits, `.`, `-`, `_` only.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    while cleaned.contains("..") {
        cleaned = cleaned.replace("..", ".");
    }
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        "piece-jointe".into()
    } else {
        trimmed.to_string()
    }
}
