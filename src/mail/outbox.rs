//! The transactional outbox: a mail is a row written in the same
//! transaction as the change that causes it, so a rolled-back change sends
//! nothing and a committed one is never forgotten.

use crate::{
    config::Settings,
    domain::{MailAddress, has_control_chars},
    store::{StoreError, entities::outbox, to_json},
};
use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::Serialize;

/// Every mail the service sends (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// Acknowledgement of a received request, to its sender.
    Acknowledgement,
    /// Alert to the currently registered address, with the objection link.
    RegisteredAddressAlert,
    /// Staff ask the requester for a correction or a missing piece.
    InformationRequest,
    Rejection,
    /// Notice of the change, to the old address.
    ChangeNotice,
    /// Reset link to the new address after approval.
    ApprovalResetLink,
    /// Self-service reset link (path II).
    SelfServiceResetLink,
    PasswordChanged,
}

impl MailKind {
    /// The template folder under `templates/email/`.
    pub fn template(self) -> &'static str {
        match self {
            Self::Acknowledgement => "acknowledgement",
            Self::RegisteredAddressAlert => "registered_address_alert",
            Self::InformationRequest => "information_request",
            Self::Rejection => "rejection",
            Self::ChangeNotice => "change_notice",
            Self::ApprovalResetLink => "approval_reset_link",
            Self::SelfServiceResetLink => "self_service_reset_link",
            Self::PasswordChanged => "password_changed",
        }
    }

    /// Answers to a mail someone wrote get `auto-replied`, the rest `auto-generated`.
    pub fn auto_submitted(self) -> &'static str {
        match self {
            Self::Acknowledgement | Self::InformationRequest | Self::Rejection => "auto-replied",
            _ => "auto-generated",
        }
    }
}

/// What templates may show. Each template uses the fields it needs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MailContext {
    pub reference: Option<String>,
    pub subscriber_number: Option<String>,
    pub organisation: Option<String>,
    /// A full link (reset, objection), built from `server.public_url`.
    pub link: Option<String>,
    /// Free text written by staff (information request, rejection).
    pub message: Option<String>,
    pub new_address: Option<String>,
    /// When the link expires, already formatted in French.
    pub expires: Option<String>,
}

/// A mail to queue.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub kind: MailKind,
    pub to: MailAddress,
    pub request_id: Option<i64>,
    /// Message-ID (without brackets) of the mail this one answers.
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub context: MailContext,
}

/// Renders and queues `mail` inside the caller's transaction; returns the
/// Message-ID (without brackets) that every attempt will reuse.
pub async fn enqueue<C: ConnectionTrait>(
    txn: &C,
    settings: &Settings,
    mail: NewMail,
) -> Result<String, StoreError> {
    for id in mail.in_reply_to.iter().chain(mail.references.iter()) {
        if has_control_chars(id) || id.contains(['<', '>', ' ']) {
            return Err(StoreError::Invalid(format!(
                "identifiant de message refusé : {id:?}"
            )));
        }
    }
    let domain = message_id_domain(settings);
    let message_id = format!(
        "{}.{}@{domain}",
        mail.kind.template(),
        uuid::Uuid::new_v4().simple()
    );
    // Rendering comes with the templates (issue 4); until then a plain French text.
    let subject = match &mail.context.reference {
        Some(r) => format!("[{r}] Barème de Montpellier"),
        None => "Barème de Montpellier".to_string(),
    };
    let body_text = format!("{:?}\n", mail.context);
    let headers = serde_json::json!({
        "auto_submitted": mail.kind.auto_submitted(),
        "in_reply_to": mail.in_reply_to,
        "references": mail.references,
    });
    let now = Utc::now();
    outbox::Entity::insert(outbox::ActiveModel {
        message_id: Set(message_id.clone()),
        template: Set(mail.kind.template().into()),
        recipient: Set(mail.to.to_string()),
        subject: Set(subject),
        body_text: Set(body_text.clone()),
        body_html: Set(String::new()),
        headers: Set(to_json(&headers)),
        request_id: Set(mail.request_id),
        state: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    Ok(message_id)
}

/// The right-hand side of our Message-IDs.
pub fn message_id_domain(settings: &Settings) -> String {
    if !settings.mail.message_id_domain.is_empty() {
        return settings.mail.message_id_domain.clone();
    }
    settings
        .mail
        .from
        .rsplit_once('@')
        .map(|(_, d)| d.to_string())
        .unwrap_or_else(|| "bareme-mel.invalid".into())
}
