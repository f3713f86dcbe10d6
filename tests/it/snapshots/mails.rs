//! The ten mails, text and HTML parts, as their recipients read them.

use super::visible_text;
use bareme_mel::{
    config::Settings,
    mail::{MailKind, render::render},
};
use chrono::TimeZone;

fn settings() -> Settings {
    let mut s = Settings::default();
    s.server.public_url = "https://gestionbareme.ac-montpellier.fr".into();
    s.intake.address = "bareme@ac-montpellier.fr".into();
    s
}

/// A long organisation name with accents, a staff message over two lines.
fn context(kind: MailKind) -> crate::outbox::Sample {
    let link = match kind {
        MailKind::RegisteredAddressAlert => {
            "https://gestionbareme.ac-montpellier.fr/opposition/Jeton0pposition1234567890abcdef"
        }
        _ => {
            "https://gestionbareme.ac-montpellier.fr/reinitialisation/Jeton0Reinit1234567890abcdef"
        }
    };
    crate::outbox::Sample {
        // Path II mails concern no request: they carry no reference.
        reference: "BM-2026-00042".into(),
        number: "34012".into(),
        organisation:
            "Lycée polyvalent régional Jean-Moulin — Section d'enseignement professionnel de Béziers"
                .into(),
        link: link.into(),
        message: match kind {
            MailKind::Rejection => "Le formulaire reçu n'est pas revêtu du cachet de l'établissement.\nMerci de le faire viser par le chef d'établissement ou le responsable de l'organisme avant de le renvoyer.".into(),
            _ => "Pourriez-vous nous renvoyer le formulaire signé et tamponné ?\nLa page 2 est illisible sur le scan reçu le 24/11/2026.".into(),
        },
        new_address: "secretariat.intendance@lycee-jean-moulin-beziers.ac-montpellier.fr".into(),
        expires: chrono::Utc.with_ymd_and_hms(2026, 11, 26, 14, 0, 0).unwrap(),
    }
}

fn snapshot(kind: MailKind) {
    let r = render(&crate::outbox::mail_of(kind, &context(kind)), &settings()).unwrap();
    let name = kind.template();
    insta::assert_snapshot!(
        format!("{name}_texte"),
        format!("Objet : {}\n\n{}", r.subject, r.text)
    );
    insta::assert_snapshot!(format!("{name}_html"), visible_text(&r.html));
}

#[test]
fn acknowledgement() {
    snapshot(MailKind::Acknowledgement);
}

#[test]
fn registered_address_alert() {
    snapshot(MailKind::RegisteredAddressAlert);
}

#[test]
fn information_request() {
    snapshot(MailKind::InformationRequest);
}

#[test]
fn rejection() {
    snapshot(MailKind::Rejection);
}

#[test]
fn change_notice() {
    snapshot(MailKind::ChangeNotice);
}

#[test]
fn approval_reset_link() {
    snapshot(MailKind::ApprovalResetLink);
}

#[test]
fn self_service_reset_link() {
    snapshot(MailKind::SelfServiceResetLink);
}

#[test]
fn password_changed() {
    snapshot(MailKind::PasswordChanged);
}

#[test]
fn not_a_request_reply() {
    snapshot(MailKind::NotARequestReply);
}

#[test]
fn forwarded_mail() {
    snapshot(MailKind::ForwardedMail);
}

#[test]
fn every_kind_has_a_snapshot_test() {
    assert_eq!(MailKind::ALL.len(), 10);
}
