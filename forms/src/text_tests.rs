//! Unit tests of the text reader.

use super::*;

#[test]
fn subscriber_number_is_read_with_the_french_colon() {
    let values = read_text("Bonjour,\nN° abonné : 12345\nCordialement");
    assert_eq!(values.get("numero_abonne"), Some("12345"));
}

#[test]
fn label_variants_case_and_accents_are_accepted() {
    let body = "NUMERO D'ABONNE: 777\nno abonne : 888\nEtablissement : Lycée « Jean-Moulin »\n\
                prenom:Françoise Hélène\nTél. : 04 67 00 00 00";
    let values = read_text(body);
    assert_eq!(values.get("numero_abonne"), Some("777"));
    assert_eq!(values.get("organisme"), Some("Lycée « Jean-Moulin »"));
    assert_eq!(values.get("prenom"), Some("Françoise Hélène"));
    assert_eq!(values.get("telephone"), Some("04 67 00 00 00"));
}

#[test]
fn typographic_apostrophes_and_numero_sign_match() {
    let values = read_text("Numéro d’abonné : 42\n");
    assert_eq!(values.get("numero_abonne"), Some("42"));
    let values = read_text("Nº abonné : 43\n");
    assert_eq!(values.get("numero_abonne"), Some("43"));
}

#[test]
fn the_longest_label_wins() {
    let body = "Nouvelle adresse mél : a@b.fr\nConfirmation de la nouvelle adresse mél : c@d.fr\n\
                Nom et prénom du signataire : Jean Martin\nNom : Dupont";
    let values = read_text(body);
    assert_eq!(values.get("nouvelle_adresse_mel"), Some("a@b.fr"));
    assert_eq!(
        values.get("nouvelle_adresse_mel_confirmation"),
        Some("c@d.fr")
    );
    assert_eq!(values.get("signataire_nom"), Some("Jean Martin"));
    assert_eq!(values.get("nom"), Some("Dupont"));
}

#[test]
fn two_labels_on_one_line_split_the_line() {
    let values = read_text("Nom * : Dupont Prénom * : Françoise Hélène");
    assert_eq!(values.get("nom"), Some("Dupont"));
    assert_eq!(values.get("prenom"), Some("Françoise Hélène"));
}

#[test]
fn hints_and_required_marks_between_label_and_colon_are_skipped() {
    let values =
        read_text("Ancienne adresse mél (si connue) : old@ac-montpellier.fr\nLe * : 12/01/2026");
    assert_eq!(
        values.get("ancienne_adresse_mel"),
        Some("old@ac-montpellier.fr")
    );
    assert_eq!(values.get("date"), Some("12/01/2026"));
}

#[test]
fn a_value_on_the_next_line_is_taken_in_mail_bodies_only() {
    let body = "Nouvelle adresse mél :\n  gestion@lycee.fr\nNom : Dupont";
    assert_eq!(
        read_text(body).get("nouvelle_adresse_mel"),
        Some("gestion@lycee.fr")
    );
    assert_eq!(read_page_text(body).get("nouvelle_adresse_mel"), None);
}

#[test]
fn empty_labels_and_placeholders_give_no_value() {
    let values = read_text("Nom : ________\nPrénom : ......\nFonction :");
    assert!(values.is_empty(), "{values:?}");
}

#[test]
fn labels_without_colon_in_prose_are_ignored() {
    let values = read_text("Le nom de l'organisme a changé, la nouvelle adresse est bonne.");
    assert!(values.is_empty(), "{values:?}");
}

#[test]
fn quoted_lines_are_read() {
    let values = read_text("> > N° abonné : 555");
    assert_eq!(values.get("numero_abonne"), Some("555"));
}

#[test]
fn check_boxes_are_ticked_by_a_mark_before_the_label() {
    let values = read_text("X Nouveau sur le poste Toujours en poste, mot de passe oublié");
    assert!(values.is_checked("situation_nouveau"));
    assert!(!values.is_checked("situation_oubli"));
    let values = read_text("[ ] Nouveau sur le poste\n[x] Toujours en poste, mot de passe oublié");
    assert!(!values.is_checked("situation_nouveau"));
    assert!(values.is_checked("situation_oubli"));
    let values = read_text("☒ nouveau sur le poste");
    assert!(values.is_checked("situation_nouveau"));
    let values = read_text("Nouveau sur le poste X Toujours en poste, mot de passe oublié");
    assert!(!values.is_checked("situation_nouveau"));
    assert!(values.is_checked("situation_oubli"));
    assert!(read_text("Nouveau sur le poste [X]").is_checked("situation_nouveau"));
}

#[test]
fn check_boxes_are_ticked_by_an_answer() {
    assert!(read_text("Nouveau sur le poste : oui").is_checked("situation_nouveau"));
    assert!(!read_text("Nouveau sur le poste : non").is_checked("situation_nouveau"));
    assert!(read_text("Situation : mot de passe oublié").is_checked("situation_oubli"));
    assert!(!read_text("J'ai un mot de passe oublié.").is_checked("situation_oubli"));
}

#[test]
fn the_first_value_of_a_field_is_kept() {
    let values = read_text("N° abonné : 1\nN° abonné : 2");
    assert_eq!(values.get("numero_abonne"), Some("1"));
}

#[test]
fn huge_and_odd_inputs_do_not_panic() {
    let _ = read_text(&"é:".repeat(400_000));
    let _ = read_text(&format!("N° abonné : {}", "x".repeat(100_000)));
    let _ = read_text("\u{0}\u{feff}N°\r\n: : : (((((");
}
