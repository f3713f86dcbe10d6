//! Classify: is this mail written by a machine (auto-reply, bounce, list
//! mail, our own loop)? Such mail gets no acknowledgement and creates no
//! request (SPEC §4), and this wins over threading: an out-of-office that
//! quotes a reference is still ignored.

use super::parse::ParsedMail;

/// Our loop header, set on every mail we send.
pub use crate::mail::LOOP_HEADER;

/// Why a mail was recognised as automatic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoKind {
    /// `multipart/report` delivery report (or a mailer-daemon notice).
    DeliveryReport,
    /// Our own loop header, or a mail from our own address.
    OwnLoop,
    /// Mailing-list or bulk mail.
    List,
    /// An auto-reply (headers or an out-of-office subject).
    AutoReply,
}

/// The verdict with a French reason for staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Automatic {
    pub kind: AutoKind,
    pub reason: String,
}

/// Subject beginnings of French and English out-of-office replies, folded.
const OUT_OF_OFFICE: [&str; 10] = [
    "reponse automatique",
    "absence",
    "absent",
    "automatic reply",
    "auto reply",
    "autoreply",
    "auto-reply",
    "out of office",
    "out of the office",
    "message d'absence",
];

/// Decides whether `mail` is automatic. `own_addresses` are ours (lower case).
pub fn classify(mail: &ParsedMail, own_addresses: &[String]) -> Option<Automatic> {
    let found = |kind, reason: String| Some(Automatic { kind, reason });
    if mail.header(LOOP_HEADER).is_some() {
        return found(
            AutoKind::OwnLoop,
            format!("en-tête {LOOP_HEADER} : notre propre envoi"),
        );
    }
    let from = mail.from.as_deref().unwrap_or("").to_ascii_lowercase();
    if !from.is_empty() && own_addresses.contains(&from) {
        return found(
            AutoKind::OwnLoop,
            "expédié depuis notre propre adresse".into(),
        );
    }
    if mail.content_type == "multipart/report" {
        return found(
            AutoKind::DeliveryReport,
            "rapport de remise (multipart/report)".into(),
        );
    }
    let local = from.split('@').next().unwrap_or("");
    if local.starts_with("mailer-daemon") || local == "postmaster" {
        return found(
            AutoKind::DeliveryReport,
            format!("expéditeur automatique {local}"),
        );
    }
    if let Some(v) = mail.header("auto-submitted") {
        let v = v.trim().to_ascii_lowercase();
        if !v.is_empty() && !v.starts_with("no") {
            return found(
                AutoKind::AutoReply,
                format!("Auto-Submitted: {}", short(&v)),
            );
        }
    }
    for name in ["x-autoreply", "x-autorespond", "x-auto-response-suppress"] {
        if mail.header(name).is_some() {
            return found(AutoKind::AutoReply, format!("en-tête {name}"));
        }
    }
    if let Some(v) = mail.header("precedence") {
        let v = v.trim().to_ascii_lowercase();
        if ["bulk", "junk", "list"].contains(&v.as_str()) {
            return found(AutoKind::List, format!("Precedence: {v}"));
        }
    }
    for name in ["list-id", "list-unsubscribe"] {
        if mail.header(name).is_some() {
            return found(
                AutoKind::List,
                format!("en-tête {name} (liste de diffusion)"),
            );
        }
    }
    if let Some(v) = mail.header("return-path") {
        let v: String = v.chars().filter(|c| !c.is_whitespace()).collect();
        if v.is_empty() || v == "<>" {
            return found(AutoKind::DeliveryReport, "Return-Path vide".into());
        }
    }
    if let Some(subject) = mail.subject.as_deref() {
        let folded = fold(subject);
        if OUT_OF_OFFICE.iter().any(|p| folded.starts_with(p)) {
            return found(AutoKind::AutoReply, "objet de réponse automatique".into());
        }
    }
    None
}

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Lower case, accents removed, leading `RE:`/`TR:`/`FW:` kept (they are not auto-replies).
fn fold(s: &str) -> String {
    s.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            '’' => '\'',
            c => super::triage::unaccent(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(headers: &[(&str, &str)], subject: &str) -> ParsedMail {
        ParsedMail {
            from: Some("marie@lycee.fr".into()),
            subject: Some(subject.into()),
            content_type: "text/plain".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn ordinary_mail_is_not_automatic() {
        assert_eq!(
            classify(&mail(&[("auto-submitted", "no")], "Formulaire"), &[]),
            None
        );
        assert_eq!(classify(&mail(&[], "Re: formulaire absences"), &[]), None);
    }

    #[test]
    fn auto_replies_lists_and_loops_are_recognised() {
        let own = vec!["bareme@ac-montpellier.fr".to_string()];
        assert_eq!(
            classify(&mail(&[("auto-submitted", "auto-replied")], "x"), &own).map(|a| a.kind),
            Some(AutoKind::AutoReply)
        );
        assert_eq!(
            classify(&mail(&[("list-id", "<l.x>")], "x"), &own).map(|a| a.kind),
            Some(AutoKind::List)
        );
        assert_eq!(
            classify(&mail(&[("x-bareme-mel-loop", "1")], "x"), &own).map(|a| a.kind),
            Some(AutoKind::OwnLoop)
        );
        assert_eq!(
            classify(&mail(&[], "Réponse automatique : [BM-2026-00001]"), &own).map(|a| a.kind),
            Some(AutoKind::AutoReply)
        );
        assert_eq!(
            classify(&mail(&[("return-path", "<>")], "x"), &own).map(|a| a.kind),
            Some(AutoKind::DeliveryReport)
        );
    }
}
