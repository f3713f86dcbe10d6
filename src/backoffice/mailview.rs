//! Incoming mail as staff may see it: plain text by default (an HTML-only
//! mail is shown as the text mail-parser derives from it), attachments listed
//! by id, every value escaped by the templates. The HTML part is only ever
//! shown after `mailhtml::sanitize`, on a page of its own.

use crate::store::{Conn, StoreError, attachments, entities::inbound_message, inbox};

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

/// The plain-text body of a raw message, bounded (what intake stores as
/// `body_view`; for records made before it did).
pub fn body_text(raw: &[u8]) -> String {
    match mail_parser::MessageParser::default().parse(raw) {
        Some(msg) => crate::intake::parse::view_text(&msg),
        None => "(message illisible : voir le message brut)".into(),
    }
}

/// The body and HTML presence of `m`: as stored at intake, or, for records
/// made before intake stored them, parsed on a blocking thread (never on
/// the async threads that serve the pages).
async fn body_of(m: &inbound_message::Model) -> (String, bool) {
    if let (Some(body), Some(has_html)) = (&m.body_view, m.has_html) {
        return (body.clone(), has_html);
    }
    let Some(raw) = m.raw.clone() else {
        return ("(contenu purgé)".into(), false);
    };
    tokio::task::spawn_blocking(move || (body_text(&raw), super::mailhtml::has_html(&raw)))
        .await
        .unwrap_or_else(|_| ("(message illisible : voir le message brut)".into(), false))
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
    let (body, has_html) = body_of(&m).await;
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
        body,
        has_html,
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
