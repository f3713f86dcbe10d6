//! Access requests (RGPD art. 15): everything held about one subscriber
//! number or one address, as a ZIP of JSON plus the original mail and
//! attachments. The export is itself audited.

use crate::store::{
    Db, StoreError,
    access_export::{Held, gather},
    attachments, audit,
};
use serde_json::{Value, json};
use std::io::Write;

pub use crate::store::access_export::Subject;

/// What went into the archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub subscribers: usize,
    pub requests: usize,
    pub messages: usize,
    pub attachments: usize,
    pub sent_mails: usize,
}

/// Builds the archive and records the export in the audit log.
pub async fn build(
    db: &Db,
    subject: &Subject,
    actor: &str,
) -> Result<(Vec<u8>, ExportSummary), StoreError> {
    let conn = db.conn();
    let Held {
        subscribers,
        history,
        requests,
        messages,
        attachments: attachment_rows,
        sent,
        tokens,
    } = gather(conn, subject).await?;
    let request_ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
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
    for a in &attachment_rows {
        if let Some(data) = attachments::content(conn, a).await? {
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
            "cree_le": o.created_at, "envoye_le": o.sent_at,
            // A copy of a mail, never a usable link (SPEC §9: no live token at rest).
            "texte": crate::security::mask_links(&o.body_text),
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
