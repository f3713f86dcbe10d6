//! Incoming mail as staff may see it: plain text by default (an HTML-only
//! mail is shown as the text mail-parser derives from it), attachments listed
//! by id, every value escaped by the templates. The HTML part is only ever
//! shown after `mailhtml::sanitize`, on a page of its own.

use crate::store::{Conn, StoreError, attachments, entities::inbound_message, inbox};

/// Longest body shown on a page; the rest is in the raw message.
const MAX_BODY_CHARS: usize = 20_000;

#[derive(Debug, Clone)]
pub struct AttachmentView {
    pub id: i64,
    /// The name the sender gave, for display only (escaped).
    pub filename: String,
    pub content_type: String,
    pub size: i64,
}

#[derive(Debug, Clone)]
pub struct MessageView {
    pub id: i64,
    pub received_at: String,
    pub from: String,
    pub subject: String,
    pub disposition: String,
    pub reason: String,
    pub auth: super::sender_auth::SenderAuth,
    pub body: String,
    /// The mail has an HTML part, viewable sanitised on its own page.
    pub has_html: bool,
    pub attachments: Vec<AttachmentView>,
}

/// The plain-text body of a raw message, bounded.
pub fn body_text(raw: &[u8]) -> String {
    let Some(msg) = mail_parser::MessageParser::default().parse(raw) else {
        return "(message illisible : voir le message brut)".into();
    };
    let text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    let mut text: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    if text.chars().count() > MAX_BODY_CHARS {
        text = text.chars().take(MAX_BODY_CHARS).collect();
        text.push_str("\n[…] (tronqué)");
    }
    text
}

pub async fn view<C: Conn>(db: &C, m: inbound_message::Model) -> Result<MessageView, StoreError> {
    let attachments = attachments::for_message(db, m.id)
        .await?
        .into_iter()
        .map(|a| AttachmentView {
            id: a.id,
            filename: a.filename.unwrap_or_else(|| "(sans nom)".into()),
            content_type: a.content_type,
            size: a.size,
        })
        .collect();
    let auth = super::sender_auth::describe(
        &m.auth_results,
        m.from_address.as_deref().unwrap_or_default(),
    );
    Ok(MessageView {
        id: m.id,
        received_at: super::fmt_date(m.received_at),
        from: m.from_address.unwrap_or_default(),
        subject: m.subject.unwrap_or_default(),
        disposition: m.disposition,
        reason: m.reason.unwrap_or_default(),
        auth,
        body: match &m.raw {
            Some(raw) => body_text(raw),
            None => "(contenu purgé)".into(),
        },
        has_html: m.raw.as_deref().is_some_and(super::mailhtml::has_html),
        attachments,
    })
}

/// Every incoming message of one request, oldest first.
pub async fn for_request<C: Conn>(db: &C, request_id: i64) -> Result<Vec<MessageView>, StoreError> {
    let rows = inbox::for_request(db, request_id).await?;
    let mut out = Vec::with_capacity(rows.len());
    for m in rows {
        out.push(view(db, m).await?);
    }
    Ok(out)
}

/// An attachment's bytes and a generated, harmless file name.
pub async fn attachment_bytes<C: Conn>(db: &C, id: i64) -> Result<(String, Vec<u8>), StoreError> {
    let a = attachments::find(db, id)
        .await?
        .ok_or_else(|| StoreError::NotFound("pièce jointe introuvable".into()))?;
    let data = attachments::content(db, &a).await?.ok_or_else(|| {
        StoreError::NotFound("le contenu de cette pièce jointe a été purgé".into())
    })?;
    let ext = match a.content_type.to_ascii_lowercase().as_str() {
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "text/plain" => "txt",
        _ => "bin",
    };
    Ok((format!("piece-jointe-{}.{ext}", a.id), data))
}
