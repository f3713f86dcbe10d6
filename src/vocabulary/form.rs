//! Labels that come from the form definition (`forms/changement-adresse-mel.toml`,
//! through `bareme-forms`): the fields, the two situations, and who signs.

/// Who signs the form, in the form's own words (its « Visa » section).
pub const SIGNATORY: &str = "du chef d'établissement ou du responsable de l'organisme";

/// The stored situation codes (intake reads them from the two check boxes).
pub const SITUATION_NEW: &str = "nouveau_sur_le_poste";
pub const SITUATION_FORGOTTEN: &str = "mot_de_passe_oublie";

/// The label of a form field as staff read it: the form's label, or its
/// `staff_label` when the printed one needs its context (« Le » → « Date de
/// signature »). Names outside the form (`_source`…) have none.
pub fn field_label(name: &str) -> Option<&'static str> {
    bareme_forms::definition()
        .field(name)
        .map(|f| f.staff_label.as_deref().unwrap_or(&f.label))
}

/// The declared situation in the form's words, from the stored code.
pub fn situation_label(code: &str) -> Option<&'static str> {
    let field = match code {
        SITUATION_NEW => "situation_nouveau",
        SITUATION_FORGOTTEN => "situation_oubli",
        _ => return None,
    };
    field_label(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_form_definitions() {
        assert_eq!(field_label("organisme"), Some("Organisme abonné"));
        assert_eq!(field_label("_source"), None);
        assert_eq!(
            situation_label(SITUATION_FORGOTTEN),
            Some("Toujours en poste, mot de passe oublié")
        );
        assert_eq!(situation_label(SITUATION_NEW), Some("Nouveau sur le poste"));
    }

    #[test]
    fn the_signatory_is_worded_as_on_the_form() {
        let def = bareme_forms::definition();
        assert!(def.sections.iter().any(|s| s.title.contains(SIGNATORY)));
    }
}
