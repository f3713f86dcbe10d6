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
    /// The short answer to a mail that is not a change request.
    NotARequestReply,
    /// A mail that is not a change request, forwarded by staff with the original attached.
    ForwardedMail,
}

impl MailKind {
    pub const ALL: [MailKind; 10] = [
        Self::Acknowledgement,
        Self::RegisteredAddressAlert,
        Self::InformationRequest,
        Self::Rejection,
        Self::ChangeNotice,
        Self::ApprovalResetLink,
        Self::SelfServiceResetLink,
        Self::PasswordChanged,
        Self::NotARequestReply,
        Self::ForwardedMail,
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
            Self::NotARequestReply => "not_a_request_reply",
            Self::ForwardedMail => "forwarded_mail",
        }
    }

    /// Answers to a mail someone wrote get `auto-replied`, the rest `auto-generated`.
    pub fn auto_submitted(self) -> &'static str {
        match self {
            Self::Acknowledgement
            | Self::InformationRequest
            | Self::Rejection
            | Self::NotARequestReply => "auto-replied",
            _ => "auto-generated",
        }
    }
}

/// The subscriber account a mail is about: « n° 12345 (Lycée Jean Moulin) ».
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub number: String,
    pub organisation: String,
}

/// Received: to the request's sender.
#[derive(Debug, Clone)]
pub struct Acknowledgement {
    pub reference: String,
    /// The number the form claims, when one was read.
    pub claimed_number: Option<String>,
}

/// To the address registered today, which may object.
#[derive(Debug, Clone)]
pub struct RegisteredAddressAlert {
    pub reference: String,
    pub account: Account,
    pub objection_link: String,
    /// The address asked for, when one was read.
    pub new_address: Option<String>,
    pub expires: chrono::DateTime<chrono::Utc>,
}

/// Staff write to the requester (information request, rejection).
#[derive(Debug, Clone)]
pub struct StaffMessage {
    pub reference: String,
    /// Free text written by staff.
    pub message: Option<String>,
}

/// To the old address, once the change is made.
#[derive(Debug, Clone)]
pub struct ChangeNotice {
    pub reference: String,
    pub account: Account,
    pub new_address: String,
}

/// To the new address, after approval: choose a password.
#[derive(Debug, Clone)]
pub struct ApprovalResetLink {
    pub reference: String,
    pub account: Account,
    pub reset_link: String,
    pub expires: chrono::DateTime<chrono::Utc>,
}

/// Path II: the link asked for on « Mot de passe oublié » or « Réactiver ».
#[derive(Debug, Clone)]
pub struct SelfServiceResetLink {
    pub account: Account,
    pub reset_link: String,
    pub expires: chrono::DateTime<chrono::Utc>,
}

/// The password of `account` was just changed.
#[derive(Debug, Clone)]
pub struct PasswordChanged {
    pub account: Account,
}

/// Staff forward a mail that is not a request (the original is attached).
#[derive(Debug, Clone)]
pub struct ForwardedMail {
    /// Who wrote, when, about what.
    pub summary: String,
}

/// One mail to send, with exactly what its template shows: a mail cannot be
/// built without the fields it needs, nor with one it never shows.
#[derive(Debug, Clone)]
pub enum Mail {
    Acknowledgement(Acknowledgement),
    RegisteredAddressAlert(RegisteredAddressAlert),
    InformationRequest(StaffMessage),
    Rejection(StaffMessage),
    ChangeNotice(ChangeNotice),
    ApprovalResetLink(ApprovalResetLink),
    SelfServiceResetLink(SelfServiceResetLink),
    PasswordChanged(PasswordChanged),
    NotARequestReply,
    ForwardedMail(ForwardedMail),
}

impl Mail {
    pub fn kind(&self) -> MailKind {
        match self {
            Self::Acknowledgement(_) => MailKind::Acknowledgement,
            Self::RegisteredAddressAlert(_) => MailKind::RegisteredAddressAlert,
            Self::InformationRequest(_) => MailKind::InformationRequest,
            Self::Rejection(_) => MailKind::Rejection,
            Self::ChangeNotice(_) => MailKind::ChangeNotice,
            Self::ApprovalResetLink(_) => MailKind::ApprovalResetLink,
            Self::SelfServiceResetLink(_) => MailKind::SelfServiceResetLink,
            Self::PasswordChanged(_) => MailKind::PasswordChanged,
            Self::NotARequestReply => MailKind::NotARequestReply,
            Self::ForwardedMail(_) => MailKind::ForwardedMail,
        }
    }

    /// The fields the shared templates read; those a kind does not carry stay empty.
    pub(super) fn fields(&self) -> Fields {
        let with_account = |reference: Option<&String>, a: &Account| Fields {
            reference: reference.cloned(),
            subscriber_number: Some(a.number.clone()),
            organisation: Some(a.organisation.clone()),
            ..Fields::default()
        };
        match self {
            Self::Acknowledgement(m) => Fields {
                reference: Some(m.reference.clone()),
                subscriber_number: m.claimed_number.clone(),
                ..Fields::default()
            },
            Self::RegisteredAddressAlert(m) => Fields {
                link: Some(m.objection_link.clone()),
                new_address: m.new_address.clone(),
                expires: Some(m.expires),
                ..with_account(Some(&m.reference), &m.account)
            },
            Self::InformationRequest(m) | Self::Rejection(m) => Fields {
                reference: Some(m.reference.clone()),
                message: m.message.clone(),
                ..Fields::default()
            },
            Self::ChangeNotice(m) => Fields {
                new_address: Some(m.new_address.clone()),
                ..with_account(Some(&m.reference), &m.account)
            },
            Self::ApprovalResetLink(m) => Fields {
                link: Some(m.reset_link.clone()),
                expires: Some(m.expires),
                ..with_account(Some(&m.reference), &m.account)
            },
            Self::SelfServiceResetLink(m) => Fields {
                link: Some(m.reset_link.clone()),
                expires: Some(m.expires),
                ..with_account(None, &m.account)
            },
            Self::PasswordChanged(m) => with_account(None, &m.account),
            Self::NotARequestReply => Fields::default(),
            Self::ForwardedMail(m) => Fields {
                message: Some(m.summary.clone()),
                ..Fields::default()
            },
        }
    }
}

/// What the shared templates read, flattened from a [`Mail`].
#[derive(Debug, Clone, Default)]
pub(super) struct Fields {
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
    pub to: MailAddress,
    pub request_id: Option<i64>,
    /// Message-ID (without brackets) of the mail this one answers.
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub content: Mail,
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
    enqueue_with_original(txn, settings, mail, None).await
}

/// [`enqueue`], with the raw bytes of the incoming message `original`
/// (`inbound_messages.id`) attached when the mail is built (« Transférer »).
pub async fn enqueue_with_original<C: Conn>(
    txn: &C,
    settings: &Settings,
    mail: NewMail,
    original: Option<i64>,
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
    let kind = mail.content.kind();
    check_context(&mail.content.fields())?;
    let rendered = render::render(&mail.content, settings).map_err(|e| {
        StoreError::Invalid(format!(
            "rendu du modèle {} impossible : {e}",
            kind.template()
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
        kind.template().replace('_', "-"),
        uuid::Uuid::new_v4().simple()
    );
    let headers = StoredHeaders {
        auto_submitted: kind.auto_submitted().into(),
        in_reply_to: mail.in_reply_to.map(|i| bare_id(&i)),
        references: mail.references.iter().map(|r| bare_id(r)).collect(),
        original,
    };
    outbox::insert(
        txn,
        outbox::QueuedMail {
            message_id: message_id.clone(),
            template: kind.template(),
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
    /// An incoming message attached as `message/rfc822` when the mail is built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<i64>,
}

fn bare_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn check_context(ctx: &Fields) -> Result<(), StoreError> {
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
