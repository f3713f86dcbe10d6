//! Turns an outbox row into the RFC 5322 message lettre sends: From from
//! the configuration (display name RFC 2047-encoded by lettre), exactly one
//! recipient, the stored Message-ID and Date (identical on every retry),
//! `Auto-Submitted`, our loop header, `X-Auto-Response-Suppress: All`,
//! In-Reply-To/References when answering, and text + HTML alternatives.

use super::outbox::{LOOP_HEADER, StoredHeaders};
use crate::{config::Settings, store::entities::outbox};
use lettre::message::{
    Attachment, Body, Mailbox, Message, MultiPart, SinglePart,
    header::{ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue},
};
use std::time::SystemTime;

/// A header with a fixed name and a plain ASCII value.
macro_rules! plain_header {
    ($ty:ident, $name:expr) => {
        #[derive(Debug, Clone)]
        pub struct $ty(pub String);

        impl Header for $ty {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }

            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self(s.to_string()))
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

plain_header!(AutoSubmitted, "Auto-Submitted");
plain_header!(LoopMarker, LOOP_HEADER);
plain_header!(AutoResponseSuppress, "X-Auto-Response-Suppress");

/// The From mailbox of every mail: `mail.from_name <mail.from>`.
pub fn from_mailbox(settings: &Settings) -> Result<Mailbox, String> {
    let address = settings
        .mail
        .from
        .trim()
        .parse()
        .map_err(|e| format!("mail.from « {} » invalide : {e}", settings.mail.from))?;
    let name = settings.mail.from_name.trim();
    if name.chars().any(char::is_control) {
        return Err("mail.from_name contient un caractère de contrôle".into());
    }
    Ok(Mailbox::new(
        (!name.is_empty()).then(|| name.to_string()),
        address,
    ))
}

/// Builds the message of `row`, with `original` (the raw bytes of an
/// incoming message) attached when given. An error here is permanent (the
/// row can never become sendable).
pub fn build(
    row: &outbox::Model,
    from: &Mailbox,
    original: Option<&[u8]>,
) -> Result<Message, String> {
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|e| format!("destinataire invalide : {e}"))?;
    let extra: StoredHeaders = serde_json::from_str(&row.headers).unwrap_or_default();
    let auto = if extra.auto_submitted.is_empty() {
        "auto-generated".to_string()
    } else {
        extra.auto_submitted
    };
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(format!("<{}>", row.message_id)))
        .date(SystemTime::from(row.created_at))
        .header(AutoSubmitted(auto))
        .header(LoopMarker("1".into()))
        .header(AutoResponseSuppress("All".into()));
    if let Some(parent) = extra.in_reply_to.filter(|p| !p.is_empty()) {
        builder = builder.in_reply_to(format!("<{parent}>"));
    }
    if !extra.references.is_empty() {
        let refs: Vec<String> = extra.references.iter().map(|r| format!("<{r}>")).collect();
        builder = builder.references(refs.join(" "));
    }
    let alternative =
        MultiPart::alternative_plain_html(row.body_text.clone(), row.body_html.clone());
    let body = match original {
        None => alternative,
        Some(raw) => MultiPart::mixed()
            .multipart(alternative)
            .singlepart(attached_message(raw)?),
    };
    builder
        .multipart(body)
        .map_err(|e| format!("message impossible à construire : {e}"))
}

/// An incoming message as an attachment: `message/rfc822` in 8 bits when
/// its bytes allow it (RFC 2046 forbids encoding that type), otherwise the
/// same bytes in base64 as a plain `.eml` file.
fn attached_message(raw: &[u8]) -> Result<SinglePart, String> {
    let file = Attachment::new("courriel-original.eml".into());
    let kind = |t: &str| ContentType::parse(t).map_err(|e| format!("type {t} : {e}"));
    let eight_bit = std::str::from_utf8(raw).ok().and_then(|text| {
        Body::new_with_encoding(text.to_string(), ContentTransferEncoding::EightBit).ok()
    });
    Ok(match eight_bit {
        Some(body) => file.body(body, kind("message/rfc822")?),
        None => file.body(Body::new(raw.to_vec()), kind("application/octet-stream")?),
    })
}

/// A one-off test message (`bareme-mel mail test`), not stored anywhere.
pub fn test_message(from: &Mailbox, to: Mailbox, message_id: &str) -> Result<Message, String> {
    let text = "Bonjour,\n\nCe message d'essai a été envoyé par `bareme-mel mail test` pour vérifier \
                la configuration d'envoi (section [mail] de bareme-mel.toml).\n\
                Vous n'avez rien à faire.\n";
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject("Message d'essai — Barème de Montpellier")
        .message_id(Some(format!("<{message_id}>")))
        .header(AutoSubmitted("auto-generated".into()))
        .header(LoopMarker("1".into()))
        .header(AutoResponseSuppress("All".into()))
        .singlepart(SinglePart::plain(text.to_string()))
        .map_err(|e| format!("message impossible à construire : {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn row(headers: &str) -> outbox::Model {
        outbox::Model {
            id: 1,
            message_id: "forwarded-mail.1@ac-montpellier.fr".into(),
            template: "forwarded_mail".into(),
            recipient: "dag@ac-montpellier.fr".into(),
            subject: "Courriel transféré".into(),
            body_text: "Voir le courriel joint.".into(),
            body_html: "<p>Voir le courriel joint.</p>".into(),
            headers: headers.into(),
            request_id: None,
            state: "pending".into(),
            attempts: 0,
            next_attempt_at: Utc::now(),
            lease_until: None,
            locked_by: None,
            last_error: None,
            server_reply: None,
            created_at: Utc::now(),
            sent_at: None,
            bounced_at: None,
            bounce_diagnostic: None,
        }
    }

    #[test]
    fn the_original_is_attached_as_a_message_that_reads_back() {
        let from = from_mailbox(&crate::config::Settings::default()).unwrap();
        let original = "From: intendance@college.fr\r\nSubject: =?utf-8?Q?Commande_du_bar=C3=A8me?=\r\nMessage-ID: <o1@college.fr>\r\n\r\nDeux barèmes, merci.\r\n";
        let built = build(&row("{}"), &from, Some(original.as_bytes())).unwrap();
        let raw = built.formatted();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let inner = parsed
            .attachments()
            .find_map(|a| a.message())
            .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&raw)));
        assert_eq!(inner.subject(), Some("Commande du barème"));
        assert_eq!(
            parsed.body_text(0).as_deref(),
            Some("Voir le courriel joint.")
        );
    }
}
