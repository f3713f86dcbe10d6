//! The transactional outbox: a mail is a row written in the same
//! transaction as the change that causes it, so a rolled-back change sends
//! nothing and a committed one is never forgotten.

use super::render;
use crate::{
    config::Settings,
    domain::{MailAddress, has_control_chars},
    store::{Conn, StoreError, outbox, to_json},
};
use serde::{Deserialize, Serialize};

/// Our loop header: every mail we send carries it with the value `1`, and
/// intake ignores any incoming mail that has it.
pub const LOOP_HEADER: &str = "X-Bareme-Mel-Loop";

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
    pub const ALL: [MailKind; 8] = [
        Self::Acknowledgement,
        Self::RegisteredAddressAlert,
        Self::InformationRequest,
        Self::Rejection,
        Self::ChangeNotice,
        Self::ApprovalResetLink,
        Self::SelfServiceResetLink,
        Self::PasswordChanged,
    ];

    /// The kind stored under `template` in the outbox.
    pub fn from_template(template: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.template() == template)
    }

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
    /// When the link expires; mails show it in Paris time.
    pub expires: Option<chrono::DateTime<chrono::Utc>>,
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
/// Message-ID (without brackets) that every attempt will reuse. Refuses
/// (`StoreError::Invalid`) Message-IDs and context fields that could break
/// out of a header: CR, LF or any control character (only the staff message
/// may hold line breaks and tabs).
pub async fn enqueue<C: Conn>(
    txn: &C,
    settings: &Settings,
    mail: NewMail,
) -> Result<String, StoreError> {
    for id in mail.in_reply_to.iter().chain(mail.references.iter()) {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        if id.is_empty()
            || has_control_chars(id)
            || id.contains(['<', '>', ' '])
            || !id.contains('@')
        {
            return Err(StoreError::Invalid(format!(
                "identifiant de message refusé : {:?}",
                id.chars().take(80).collect::<String>()
            )));
        }
    }
    check_context(&mail.context)?;
    let rendered = render::render(mail.kind, &mail.context, settings).map_err(|e| {
        StoreError::Invalid(format!(
            "rendu du modèle {} impossible : {e}",
            mail.kind.template()
        ))
    })?;
    if has_control_chars(&rendered.subject) {
        return Err(StoreError::Invalid(
            "objet du message refusé (caractère de contrôle)".into(),
        ));
    }
    let domain = message_id_domain(settings);
    let message_id = format!(
        "{}.{}@{domain}",
        mail.kind.template().replace('_', "-"),
        uuid::Uuid::new_v4().simple()
    );
    let headers = StoredHeaders {
        auto_submitted: mail.kind.auto_submitted().into(),
        in_reply_to: mail.in_reply_to.map(|i| bare_id(&i)),
        references: mail.references.iter().map(|r| bare_id(r)).collect(),
    };
    outbox::insert(
        txn,
        outbox::QueuedMail {
            message_id: message_id.clone(),
            template: mail.kind.template(),
            recipient: mail.to.to_string(),
            subject: rendered.subject,
            body_text: rendered.text,
            body_html: rendered.html,
            headers: to_json(&headers),
            request_id: mail.request_id,
        },
    )
    .await?;
    Ok(message_id)
}

/// The extra headers kept in the row's `headers` column (JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredHeaders {
    pub auto_submitted: String,
    #[serde(default)]
    pub in_reply_to: Option<String>,
    #[serde(default)]
    pub references: Vec<String>,
}

fn bare_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn check_context(ctx: &MailContext) -> Result<(), StoreError> {
    let one_line = [
        ("reference", &ctx.reference),
        ("subscriber_number", &ctx.subscriber_number),
        ("organisation", &ctx.organisation),
        ("link", &ctx.link),
        ("new_address", &ctx.new_address),
    ];
    for (name, value) in one_line {
        if value.as_deref().is_some_and(has_control_chars) {
            return Err(StoreError::Invalid(format!(
                "champ « {name} » du message refusé : retour à la ligne ou caractère de contrôle"
            )));
        }
    }
    let staff_text_ok = |c: char| !c.is_control() || matches!(c, '\n' | '\r' | '\t');
    if ctx
        .message
        .as_deref()
        .is_some_and(|m| !m.chars().all(staff_text_ok))
    {
        return Err(StoreError::Invalid(
            "message refusé : caractère de contrôle".into(),
        ));
    }
    if let Some(link) = &ctx.link
        && !(link.starts_with("https://") || link.starts_with("http://"))
    {
        return Err(StoreError::Invalid(
            "lien refusé : il doit commencer par http(s)://".into(),
        ));
    }
    Ok(())
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
