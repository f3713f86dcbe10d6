//! Validate: turns extracted values into a claim that is safe to store —
//! well-formed addresses, the confirmation equal to the new address, no
//! CR/LF or control character in any stored field (SPEC §4). Problems do
//! not stop the request: they become flags that staff see.

use crate::domain::{MailAddress, SubscriberNumber};
use bareme_forms::{CHECKED, FormValues};
use std::collections::BTreeMap;

/// Flags set by validation (stable codes; the back-office shows French labels).
pub mod flag {
    pub const MANUAL_ENTRY: &str = "saisie_manuelle";
    pub const CONTROL_CHARS: &str = "caracteres_interdits";
    pub const INVALID_NUMBER: &str = "numero_abonne_invalide";
    pub const INVALID_NEW_ADDRESS: &str = "nouvelle_adresse_invalide";
    pub const CONFIRMATION_MISMATCH: &str = "confirmation_differente";
    pub const INVALID_OLD_ADDRESS: &str = "ancienne_adresse_invalide";
    pub const BOTH_SITUATIONS: &str = "situation_ambigue";
    pub const MISSING_FIELDS: &str = "champs_obligatoires_manquants";
}

/// What a requester claims, validated.
#[derive(Debug, Clone, Default)]
pub struct Claim {
    pub number: Option<SubscriberNumber>,
    pub organisation: Option<String>,
    pub new_address: Option<MailAddress>,
    pub old_address: Option<MailAddress>,
    /// `nouveau_sur_le_poste` or `mot_de_passe_oublie`.
    pub situation: Option<&'static str>,
    /// Every value, cleaned of control characters.
    pub fields: BTreeMap<String, String>,
    pub flags: Vec<String>,
}

/// Replaces control characters (CR, LF, NUL, …) by spaces and trims; `None`
/// when nothing printable is left. Bounded to `max` characters.
pub fn clean_text(value: &str, max: usize) -> Option<String> {
    let mut out = String::with_capacity(value.len().min(max));
    let mut last_space = true;
    for c in value.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
        if out.len() >= max {
            break;
        }
    }
    let out = out.trim_end().to_string();
    (!out.is_empty()).then_some(out)
}

/// Validates `values`.
pub fn validate(values: &FormValues) -> Claim {
    let mut claim = Claim::default();
    let raise = |claim: &mut Claim, f: &str| {
        if !claim.flags.iter().any(|x| x == f) {
            claim.flags.push(f.to_string());
        }
    };
    for (name, value) in values.iter() {
        if value.chars().any(|c| c.is_control() && c != '\t') {
            raise(&mut claim, flag::CONTROL_CHARS);
        }
        if let Some(v) = clean_text(value, 1000) {
            claim.fields.insert(name.to_string(), v);
        }
    }
    let fields = claim.fields.clone();
    let get = |name: &str| fields.get(name).cloned();
    if let Some(n) = get("numero_abonne") {
        match SubscriberNumber::parse(&n) {
            Ok(n) => claim.number = Some(n),
            Err(_) => raise(&mut claim, flag::INVALID_NUMBER),
        }
    }
    claim.organisation = get("organisme");
    let new = get("nouvelle_adresse_mel");
    if let Some(a) = &new {
        match MailAddress::parse(a) {
            Ok(a) => claim.new_address = Some(a),
            Err(_) => raise(&mut claim, flag::INVALID_NEW_ADDRESS),
        }
    }
    match (&claim.new_address, get("nouvelle_adresse_mel_confirmation")) {
        (Some(a), Some(c)) if !MailAddress::parse(&c).is_ok_and(|c| c.same_mailbox(a)) => {
            raise(&mut claim, flag::CONFIRMATION_MISMATCH)
        }
        (Some(_), Some(_)) => {}
        (Some(_), None) => raise(&mut claim, flag::CONFIRMATION_MISMATCH),
        _ => {}
    }
    if let Some(a) = get("ancienne_adresse_mel") {
        match MailAddress::parse(&a) {
            Ok(a) => claim.old_address = Some(a),
            Err(_) => raise(&mut claim, flag::INVALID_OLD_ADDRESS),
        }
    }
    let nouveau = values.get("situation_nouveau") == Some(CHECKED);
    let oubli = values.get("situation_oubli") == Some(CHECKED);
    claim.situation = match (nouveau, oubli) {
        (true, false) => Some("nouveau_sur_le_poste"),
        (false, true) => Some("mot_de_passe_oublie"),
        (true, true) => {
            raise(&mut claim, flag::BOTH_SITUATIONS);
            None
        }
        (false, false) => None,
    };
    if !values.is_empty() && (claim.number.is_none() || claim.new_address.is_none()) {
        raise(&mut claim, flag::MISSING_FIELDS);
    }
    claim
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> FormValues {
        let mut v = FormValues::new();
        for (n, x) in pairs {
            v.insert(n, x);
        }
        v
    }

    #[test]
    fn a_complete_form_gives_a_clean_claim() {
        let c = validate(&values(&[
            ("numero_abonne", "12 345"),
            ("nouvelle_adresse_mel", "Marie@Lycee.FR"),
            ("nouvelle_adresse_mel_confirmation", "marie@lycee.fr"),
            ("situation_oubli", "oui"),
        ]));
        assert_eq!(c.number.unwrap().as_str(), "12345");
        assert_eq!(c.new_address.unwrap().as_str(), "Marie@lycee.fr");
        assert_eq!(c.situation, Some("mot_de_passe_oublie"));
        assert!(c.flags.is_empty(), "{:?}", c.flags);
    }

    #[test]
    fn control_characters_and_mismatches_are_flagged_and_never_stored() {
        let c = validate(&values(&[
            ("numero_abonne", "12345"),
            ("nom", "Dupont\u{0}\rBcc: x@y"),
            ("nouvelle_adresse_mel", "a@b.fr"),
            ("nouvelle_adresse_mel_confirmation", "c@b.fr"),
        ]));
        assert!(c.flags.contains(&flag::CONTROL_CHARS.to_string()));
        assert!(c.flags.contains(&flag::CONFIRMATION_MISMATCH.to_string()));
        assert!(c.fields.values().all(|v| !v.chars().any(char::is_control)));
    }
}
