//! The triage rules as a table: (subject, body, attachments) → decision,
//! then the mistakes we know of and accept, each with why.

use super::*;
use crate::intake::{extract::extract, parse::Attachment};

/// Attachments the rows can carry.
#[derive(Clone, Copy)]
enum Att {
    /// The form filled with pypdf (AcroForm).
    FilledForm,
    /// A photo or scan (JPEG).
    Jpeg,
    /// A PDF that is not the form (an invoice, an order form).
    OtherPdf,
    /// A PDF the reader refuses (over its budget: nesting).
    RefusedPdf,
}

fn attachment(a: Att) -> Attachment {
    let (name, ctype, data): (&str, &str, Vec<u8>) = match a {
        Att::FilledForm => (
            "formulaire.pdf",
            "application/pdf",
            include_bytes!("../../tests/fixtures/mail/form-filled.pdf").to_vec(),
        ),
        Att::Jpeg => (
            "IMG_0421.jpeg",
            "image/jpeg",
            vec![0xff, 0xd8, 0xff, 0xe0, 0, 0x10],
        ),
        Att::OtherPdf => (
            "facture-2026-118.pdf",
            "application/pdf",
            b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec(),
        ),
        Att::RefusedPdf => (
            "formulaire.pdf",
            "application/pdf",
            [
                b"%PDF-1.4\n1 0 obj\n".to_vec(),
                b"[".repeat(100),
                b"]".repeat(100),
                b"\nendobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec(),
            ]
            .concat(),
        ),
    };
    Attachment {
        filename: Some(name.into()),
        content_type: ctype.into(),
        data,
        depth: 0,
    }
}

fn triage(subject: &str, body: &str, atts: &[Att]) -> Triage {
    let mail = ParsedMail {
        from: Some("marie.martin@lycee-jean-moulin.fr".into()),
        subject: Some(subject.into()),
        texts: if body.is_empty() {
            vec![]
        } else {
            vec![body.into()]
        },
        attachments: atts.iter().map(|a| attachment(*a)).collect(),
        content_type: "text/plain".into(),
        ..Default::default()
    };
    let scan = crate::intake::extract::ScanSettings::from_settings(&Default::default());
    decide(
        &mail,
        &extract(&mail, &scan),
        &["bareme@ac-montpellier.fr".into()],
    )
}

const REQ: bool = true;
const NOT: bool = false;

/// (subject, body, attachments, is a change request)
const TABLE: &[(&str, &str, &[Att], bool)] = &[
    // The form, whatever the words around it.
    ("Formulaire", "Ci-joint.", &[Att::FilledForm], REQ),
    // A PDF over its budget, sent as the form: staff read it.
    ("", "Voici le formulaire.", &[Att::RefusedPdf], REQ),
    ("Facture", "Bonjour, la facture.", &[Att::RefusedPdf], NOT),
    ("", "", &[Att::FilledForm], REQ),
    (
        "Facture",
        "Bonjour, voici aussi la facture.",
        &[Att::FilledForm, Att::OtherPdf],
        REQ,
    ),
    // The form's labels in the body.
    (
        "Demande",
        "N° abonné : 12345\nNouvelle adresse mél : marie@lycee.fr",
        &[],
        REQ,
    ),
    (
        "",
        "Numéro d'abonné : 12345\nOrganisme abonné : Lycée Jean Moulin",
        &[],
        REQ,
    ),
    (
        "",
        "[X] Toujours en poste, mot de passe oublié\nN° abonné : 12345",
        &[],
        REQ,
    ),
    // A scan with the word « formulaire », or a change wording, or a number.
    (
        "Formulaire",
        "Voici le formulaire scanné.\n\nEnvoyé de mon iPhone",
        &[Att::Jpeg],
        REQ,
    ),
    ("Scan", "Abonné 12345, ci-joint.", &[Att::Jpeg], REQ),
    // Free text: a change wording AND something identifying the subscriber.
    (
        "Nouvelle gestionnaire",
        "Bonjour, je suis la nouvelle gestionnaire du lycée Jean Moulin, abonné 104233. Merci d'enregistrer mon adresse marie.martin@lycee-jean-moulin.fr.",
        &[],
        REQ,
    ),
    ("Changer l'adresse mél", "Abonné n° 12345. Merci.", &[], REQ),
    (
        "changement d'adresse mel",
        "notre numero d'abonne est 4521",
        &[],
        REQ,
    ),
    (
        "",
        "Je n'ai plus accès à l'adresse mél enregistrée pour le collège Victor Hugo.",
        &[],
        REQ,
    ),
    (
        "Mot de passe oublié",
        "Bonjour, numéro abonné 12345, pouvez-vous m'aider ?",
        &[],
        REQ,
    ),
    ("MOT DE PASSE OUBLIE", "Mairie de Lunel", &[], REQ),
    (
        "",
        "Bonjour,\nJe remplace l'ancien gestionnaire du compte 20456 à la mairie.",
        &[],
        REQ,
    ),
    (
        "",
        "Notre adresse e-mail a changé : compta@ecole-les-pins.fr (école Les Pins).",
        &[],
        REQ,
    ),
    // A change wording with nothing identifying the subscriber.
    ("Mot de passe oublié", "Comment faire ?", &[], NOT),
    (
        "",
        "Bonjour, comment changer l'adresse mél du gestionnaire ?",
        &[],
        NOT,
    ),
    // Invoices, orders, subscriptions, questions.
    (
        "Facture",
        "Bonjour, pourriez-vous m'envoyer la facture de notre abonnement 2026 ?",
        &[],
        NOT,
    ),
    (
        "Facture n° 2026-118",
        "Veuillez trouver ci-joint notre facture.",
        &[Att::OtherPdf],
        NOT,
    ),
    (
        "Commande",
        "Bonjour, nous souhaitons commander 3 exemplaires du barème 2027 pour le lycée Joffre.",
        &[],
        NOT,
    ),
    (
        "Abonnement",
        "Quand l'abonnement 2027 sera-t-il renouvelé ? Abonné 12345, mairie de Sète.",
        &[],
        NOT,
    ),
    (
        "Adresse de facturation",
        "Merci de modifier l'adresse de facturation : 3 rue des Écoles, abonné 12345.",
        &[],
        NOT,
    ),
    // Newsletters, phishing, blank mail, English.
    (
        "Lettre d'information n° 42",
        "Nouveautés du barème 2027, agenda des formations. Pour vous désinscrire, répondez STOP.",
        &[],
        NOT,
    ),
    (
        "Votre boîte mail est presque pleine",
        "Cher utilisateur, votre quota est atteint. Cliquez ici pour valider votre compte : http://webmail-ac.example/login",
        &[],
        NOT,
    ),
    (
        "",
        "-- \nJean Dupont\nService comptabilité\n04 67 00 00 00",
        &[],
        NOT,
    ),
    ("", "", &[], NOT),
    (
        "Invoice",
        "Hello, could you send us the invoice for our 2026 subscription? Thanks.",
        &[],
        NOT,
    ),
    // Our own mails quoted back do not make a request.
    (
        "Re: Votre message au Barème de Montpellier",
        "Merci.\n\nLe 01/12/2026 à 10:15, Barème de Montpellier a écrit :\n> Pour changer l'adresse mél du gestionnaire, abonné 12345 : remplissez le formulaire.",
        &[],
        NOT,
    ),
    (
        "RE: Facture",
        "Bien reçu.\n\nDe : Barème <bareme@ac-montpellier.fr>\nEnvoyé : mardi 1 décembre 2026 10:15\nObjet : Facture\n\nNouveau gestionnaire du lycée Joffre ?",
        &[],
        NOT,
    ),
];

#[test]
fn every_row_of_the_table_gets_its_decision() {
    let mut wrong = Vec::new();
    for (subject, body, atts, want) in TABLE {
        let got = triage(subject, body, atts);
        if got.is_request() != *want {
            wrong.push(format!("{subject:?} / {body:?} → {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// Mistakes found while building the corpus, kept as they are on purpose.
/// If a rule change fixes one, move it to [`TABLE`].
const KNOWN_MISTAKES: &[(&str, &str, &[Att], bool, &str)] = &[
    (
        "Password reset",
        "Hello, I lost access to the manager's address, subscriber 12345.",
        &[],
        NOT,
        "false negative: only French is recognised; staff see it in « Autres courriels » and can turn it into a request",
    ),
    (
        "Adresse mél",
        "Je n'ai plus accès à l'adresse mél, abonné 2024.",
        &[],
        NOT,
        "false negative: a subscriber number that looks like a year (19xx, 20xx) is not taken, or « abonnement 2026 » would identify every invoice question",
    ),
    (
        "Mise à jour de votre mot de passe",
        "Réinitialisez votre mot de passe ici : http://phish.example/ — support@phish.example",
        &[],
        REQ,
        "false positive: phishing that asks to reset a password and signs with an address looks like a request; it lands in the queue, flagged unauthenticated, and staff reject it",
    ),
    (
        "Photos",
        "Voici les photos de l'école pour le bulletin, abonné 12345.",
        &[Att::Jpeg],
        REQ,
        "false positive: any image sent with a subscriber number may be the scanned form until scans are recognised by their QR code",
    ),
    (
        "Question",
        "Quelle est la nouvelle adresse mail du service comptabilité ? Lycée Joffre.",
        &[],
        REQ,
        "false positive: « nouvelle adresse mail » near an organisation reads as a change of address",
    ),
];

#[test]
fn the_known_mistakes_stay_as_documented() {
    for (subject, body, atts, now, why) in KNOWN_MISTAKES {
        assert_eq!(
            triage(subject, body, atts).is_request(),
            *now,
            "{subject:?} changed: {why}"
        );
    }
}

#[test]
fn quoted_reply_text_is_dropped_and_forwards_are_kept() {
    let own =
        own_words("Voici.\n> cité\nLe lun. 1 déc. 2026 à 10:15, X <x@y.fr> a écrit :\nancien");
    assert_eq!(own, "Voici.\n");
    let fwd = own_words("Pour info.\n---------- Forwarded message ---------\nNouveau gestionnaire");
    assert!(fwd.contains("Nouveau gestionnaire"));
}

#[test]
fn folding_removes_accents_case_and_spacing() {
    assert_eq!(
        fold("Mot  de\u{a0}passe OUBLIÉ — l’adresse"),
        "mot de passe oublie — l'adresse"
    );
    assert!(asks_for_change(&fold("Changer l'adresse mél")));
    assert!(!identifies_subscriber(&fold("abonnement 2026"), &[]));
    assert!(identifies_subscriber(&fold("N° abonné : 104233"), &[]));
    assert!(!identifies_subscriber(
        "bareme@ac-montpellier.fr",
        &["bareme@ac-montpellier.fr".into()]
    ));
}
