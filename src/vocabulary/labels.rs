//! The French words for the codes the service stores: request states, audit
//! actions, flags, checks, rejection reasons, roles and actors. Codes stay in
//! the database, `--json` and logs; these words are what people read.

use crate::domain::{Action, RequestState, Role};
use std::collections::HashMap;

/// « À instruire », « Vérifiée »… (SPEC §2).
pub fn state(state: RequestState) -> &'static str {
    match state {
        RequestState::PendingReview => "À instruire",
        RequestState::AwaitingRequester => "En attente du demandeur",
        RequestState::Verified => "Vérifiée",
        RequestState::Approved => "Approuvée",
        RequestState::Completed => "Terminée",
        RequestState::Rejected => "Rejetée",
        RequestState::Cancelled => "Classée sans suite",
    }
}

/// The label of a stored state code; an unknown code made readable.
pub fn state_label(code: &str) -> String {
    RequestState::parse(code)
        .map(|s| state(s).to_string())
        .unwrap_or_else(|| super::readable(code))
}

/// A staff action as its button says it (« Approuver »): used when an
/// action is refused.
pub fn action_button(action: Action) -> &'static str {
    match action {
        Action::RequestInformation => "Demander un complément",
        Action::RequesterReplied => "Réponse du demandeur",
        Action::ReturnToReview => "Remettre à instruire",
        Action::Verify => "Marquer comme vérifiée",
        Action::Approve => "Approuver",
        Action::Complete => "Terminer",
        Action::Reject => "Rejeter",
        Action::Cancel => "Classer sans suite",
    }
}

/// Every audit action code, with what the timeline and the audit log say.
pub const ACTIONS: &[(&str, &str)] = &[
    ("request_created", "Demande enregistrée"),
    ("claimed", "Prise en charge"),
    ("request_information", "Complément demandé"),
    ("requester_replied", "Réponse du demandeur"),
    ("return_to_review", "Remise à instruire"),
    ("verify", "Identité vérifiée"),
    ("approve", "Demande approuvée"),
    ("complete", "Mot de passe choisi"),
    ("reject", "Demande rejetée"),
    ("cancel", "Classée sans suite"),
    ("field_edited", "Champ corrigé"),
    ("scan_confirmed", "Valeurs lues confirmées"),
    ("note_added", "Note ajoutée"),
    ("contest_lifted", "Opposition levée"),
    ("objection_raised", "Opposition de l'adresse enregistrée"),
    ("flag_added", "Signalement ajouté"),
    ("flag_removed", "Signalement retiré"),
    ("address_replaced", "Adresse mél remplacée"),
    ("reset_link_resent", "Lien renvoyé"),
    ("quarantine_to_request", "Courriel transformé en demande"),
    ("quarantine_attached", "Courriel rattaché à une demande"),
    ("quarantine_discarded", "Courriel écarté"),
    (
        "other_mail_to_request",
        "Autre courriel transformé en demande",
    ),
    ("other_mail_forwarded", "Autre courriel transféré"),
    ("other_mail_filed", "Autre courriel classé"),
    ("password_changed", "Mot de passe modifié"),
    ("password_reset", "Mot de passe réinitialisé"),
    (
        "self_service_reset_link_sent",
        "Lien de réinitialisation envoyé",
    ),
    ("reactivation_link_sent", "Lien de réactivation envoyé"),
    ("tokens_voided", "Liens annulés"),
    ("staff_added", "Compte agent créé"),
    ("staff_disabled", "Compte agent désactivé"),
    ("staff_password_reset", "Mot de passe d'agent réinitialisé"),
    ("staff_signed_in", "Connexion d'un agent"),
    ("staff_totp_enabled", "Double authentification activée"),
    ("staff_totp_disabled", "Double authentification désactivée"),
    ("subscribers_imported", "Import des abonnés"),
    ("access_export", "Export « Droit d'accès »"),
    ("purge", "Purge des données anciennes"),
];

/// The words for an audit action code.
pub fn action_label(code: &str) -> String {
    lookup(ACTIONS, code)
}

/// Every flag a request can carry, with its words.
pub const FLAGS: &[(&str, &str)] = &[
    ("contested", "Opposition en cours"),
    (
        "opposition_apres_approbation",
        "Opposition reçue après l'approbation",
    ),
    ("saisie_manuelle", "Saisie manuelle"),
    (
        "lecture_incertaine",
        "Lecture incertaine du formulaire numérisé",
    ),
    ("expediteur_different", "Expéditeur différent du demandeur"),
    ("message_id_reutilise", "Message-ID réutilisé"),
    ("confirmation_differente", "Confirmation différente"),
    ("rebond_signale", "La nouvelle adresse rejette les mails"),
    ("caracteres_interdits", "Caractères interdits"),
    ("numero_abonne_invalide", "Numéro d'abonné invalide"),
    ("nouvelle_adresse_invalide", "Nouvelle adresse invalide"),
    ("ancienne_adresse_invalide", "Ancienne adresse invalide"),
    ("situation_ambigue", "Les deux situations sont cochées"),
    (
        "champs_obligatoires_manquants",
        "Champs obligatoires manquants",
    ),
    ("reference_inconnue", "Référence inconnue"),
    ("expediteur_non_authentifie", "Expéditeur non authentifié"),
    ("ecarte", "Écarté"),
    (
        "accuse_non_envoye_plafond",
        "Accusé de réception non envoyé (plafond de 24 h atteint)",
    ),
    (
        "alerte_non_envoyee_plafond",
        "Alerte non envoyée à l'adresse enregistrée (plafond de 24 h atteint)",
    ),
    ("classe", "Classé"),
    ("transfere", "Transféré"),
];

/// The words for a flag code.
pub fn flag_label(code: &str) -> String {
    lookup(FLAGS, code)
}

/// The checks of SPEC §4, by code.
pub const CHECKS: &[(&str, &str)] = &[
    ("subscriber_exists", "Le numéro d'abonné existe"),
    ("organisation_matches", "Le nom de l'organisme correspond"),
    (
        "old_address_matches",
        "L'ancienne adresse indiquée est l'adresse enregistrée",
    ),
    (
        "sender_domain_matches",
        "Le domaine de l'expéditeur est celui de l'organisme",
    ),
    (
        "sender_authenticated",
        "L'expéditeur est authentifié (SPF, DKIM, DMARC)",
    ),
    (
        "new_address_free",
        "La nouvelle adresse n'est pas celle d'un autre abonné",
    ),
];

/// The words for a check code.
pub fn check_label(code: &str) -> String {
    lookup(CHECKS, code)
}

/// Reason codes of « Rejeter ».
pub const REJECTION_REASONS: &[(&str, &str)] = &[
    (
        "identite_non_verifiee",
        "Identité du demandeur non vérifiée",
    ),
    (
        "signature_absente",
        "Signature ou cachet du chef d'établissement ou du responsable de l'organisme absent",
    ),
    ("abonne_inconnu", "Numéro d'abonné inconnu"),
    ("formulaire_incomplet", "Formulaire incomplet ou illisible"),
    ("opposition", "Opposition de l'adresse enregistrée"),
];

/// States of an outgoing mail.
pub const OUTBOX_STATES: &[(&str, &str)] = &[
    ("pending", "En attente d'envoi"),
    ("sending", "En cours d'envoi"),
    ("sent", "Envoyé"),
    ("failed", "Échec de l'envoi"),
    ("bounced", "Rejeté par le destinataire"),
];

/// The words for an outgoing mail's state.
pub fn outbox_state_label(code: &str) -> String {
    lookup(OUTBOX_STATES, code)
}

/// What became of an incoming mail (SPEC §4 dispositions).
pub const DISPOSITIONS: &[(&str, &str)] = &[
    ("request_created", "Demande créée"),
    ("threaded", "Rattaché à une demande"),
    ("duplicate", "Doublon"),
    ("auto_ignored", "Message automatique ignoré"),
    ("not_a_request", "Pas une demande de changement"),
    ("quarantined", "Non traité (quarantaine)"),
];

/// The words for a disposition.
pub fn disposition_label(code: &str) -> String {
    lookup(DISPOSITIONS, code)
}

/// « Agent », « Approbateur », « Administrateur ».
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Agent => "Agent",
        Role::Approbateur => "Approbateur",
        Role::Admin => "Administrateur",
    }
}

/// Who did something, as the audit log stores it (`staff:jdupont`,
/// `system`, `subscriber:12345`…), in words: a staff member's name from
/// `names` (username → display name).
pub fn actor_label(code: &str, names: &HashMap<String, String>) -> String {
    match code.split_once(':') {
        Some(("staff", user)) => names.get(user).cloned().unwrap_or_else(|| user.to_string()),
        Some(("subscriber", number)) => format!("Abonné n° {number}"),
        Some(("cli", user)) => format!("Ligne de commande ({user})"),
        Some(("message", id)) => format!("Courriel n° {id}"),
        _ => match code {
            "system" => "Le service".into(),
            "registered_address" => "L'adresse enregistrée".into(),
            "requester" => "Le demandeur".into(),
            "first-admin-link" => "Lien de création du premier administrateur".into(),
            other => super::readable(other),
        },
    }
}

fn lookup(table: &[(&str, &str)], code: &str) -> String {
    table
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, words)| words.to_string())
        .unwrap_or_else(|| super::readable(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag the service sets is in the table: none reaches staff as a
    /// code made readable by [`super::super::readable`].
    #[test]
    fn every_flag_the_service_sets_has_its_words() {
        use crate::{intake, store};
        let set = [
            intake::auth::UNAUTHENTICATED,
            intake::thread::UNKNOWN_REFERENCE,
            intake::thread::OTHER_SENDER,
            intake::validate::flag::MANUAL_ENTRY,
            intake::validate::flag::CONTROL_CHARS,
            intake::validate::flag::INVALID_NUMBER,
            intake::validate::flag::INVALID_NEW_ADDRESS,
            intake::validate::flag::CONFIRMATION_MISMATCH,
            intake::validate::flag::INVALID_OLD_ADDRESS,
            intake::validate::flag::BOTH_SITUATIONS,
            intake::validate::flag::MISSING_FIELDS,
            intake::extract::UNCERTAIN_READING,
            intake::notify::ACK_CAPPED,
            intake::notify::ALERT_CAPPED,
            store::dedup::REUSED_MESSAGE_ID,
            store::awaiting_mail::DISCARDED,
            store::awaiting_mail::FILED,
            store::awaiting_mail::FORWARDED,
        ];
        for code in set {
            assert!(
                FLAGS.iter().any(|(c, _)| *c == code),
                "flag {code} has no words in vocabulary::labels::FLAGS"
            );
        }
        assert_eq!(
            flag_label(intake::auth::UNAUTHENTICATED),
            "Expéditeur non authentifié"
        );
    }

    #[test]
    fn no_label_carries_an_underscore_or_an_english_code() {
        for table in [
            ACTIONS,
            FLAGS,
            CHECKS,
            REJECTION_REASONS,
            OUTBOX_STATES,
            DISPOSITIONS,
        ] {
            for (code, words) in table {
                assert!(!words.contains('_'), "{code}: {words}");
                assert_ne!(code, words);
            }
        }
    }

    #[test]
    fn staff_are_named_and_unknown_codes_made_readable() {
        let names = HashMap::from([("sebastien.fabre".to_string(), "Sébastien Fabre".to_string())]);
        assert_eq!(
            actor_label("staff:sebastien.fabre", &names),
            "Sébastien Fabre"
        );
        assert_eq!(actor_label("system", &names), "Le service");
        assert_eq!(action_label("claimed"), "Prise en charge");
        assert_eq!(flag_label("nouveau_code"), "Nouveau code");
    }
}
