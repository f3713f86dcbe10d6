//! What a request claims (the fields of the form, SPEC §3), typed and
//! validated with `validator`'s derive: addresses well formed, lengths
//! bounded, the confirmation equal to the new address, no control character.
//! Flags and checks of a request, as types.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use validator::{Validate, ValidationError};

/// Refuses CR, LF and every other control character in a stored field.
fn no_control_chars(value: &str) -> Result<(), ValidationError> {
    if super::has_control_chars(value) {
        return Err(ValidationError::new("control_chars")
            .with_message("contient un retour à la ligne ou un caractère de contrôle".into()));
    }
    Ok(())
}

/// A new address and its confirmation, typed twice on the form.
#[derive(Debug, Validate)]
pub struct ConfirmedAddress<'a> {
    #[validate(email)]
    pub address: &'a str,
    #[validate(must_match(other = "address"))]
    pub confirmation: &'a str,
}

fn confirmation_matches(data: &ClaimedData) -> Result<(), ValidationError> {
    if let (Some(address), Some(confirmation)) = (
        data.nouvelle_adresse_mel.as_deref(),
        data.nouvelle_adresse_mel_confirmation.as_deref(),
    ) {
        ConfirmedAddress {
            address,
            confirmation,
        }
        .validate()
        .map_err(|_| {
            ValidationError::new("confirmation")
                .with_message("la confirmation diffère de la nouvelle adresse".into())
        })?;
    }
    Ok(())
}

/// The claimed fields of a request. Unknown keys (`_source`, the situation
/// check boxes…) are kept as they are in `other`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Validate)]
#[validate(schema(function = "confirmation_matches"))]
pub struct ClaimedData {
    #[validate(length(max = 20), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub numero_abonne: Option<String>,
    #[validate(length(max = 200), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub organisme: Option<String>,
    #[validate(length(max = 200), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nom: Option<String>,
    #[validate(length(max = 200), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prenom: Option<String>,
    #[validate(length(max = 200), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fonction: Option<String>,
    #[validate(length(max = 200), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub telephone: Option<String>,
    #[validate(email, length(max = 254), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ancienne_adresse_mel: Option<String>,
    #[validate(email, length(max = 254), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nouvelle_adresse_mel: Option<String>,
    #[validate(length(max = 254), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nouvelle_adresse_mel_confirmation: Option<String>,
    #[validate(length(max = 200), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signataire_nom: Option<String>,
    #[validate(length(max = 200), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signataire_qualite: Option<String>,
    #[validate(length(max = 200), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fait_a: Option<String>,
    #[validate(length(max = 200), custom(function = "no_control_chars"))]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, String>,
}

/// The claimed fields staff may correct (names of SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimedField {
    SubscriberNumber,
    Organisation,
    LastName,
    FirstName,
    Position,
    Phone,
    OldAddress,
    NewAddress,
    SignatoryName,
    SignatoryTitle,
    Date,
}

impl ClaimedField {
    pub const ALL: [ClaimedField; 11] = [
        Self::SubscriberNumber,
        Self::Organisation,
        Self::LastName,
        Self::FirstName,
        Self::Position,
        Self::Phone,
        Self::OldAddress,
        Self::NewAddress,
        Self::SignatoryName,
        Self::SignatoryTitle,
        Self::Date,
    ];

    /// The form's field name (SPEC §3), used in pages and in the audit.
    pub fn name(self) -> &'static str {
        match self {
            Self::SubscriberNumber => "numero_abonne",
            Self::Organisation => "organisme",
            Self::LastName => "nom",
            Self::FirstName => "prenom",
            Self::Position => "fonction",
            Self::Phone => "telephone",
            Self::OldAddress => "ancienne_adresse_mel",
            Self::NewAddress => "nouvelle_adresse_mel",
            Self::SignatoryName => "signataire_nom",
            Self::SignatoryTitle => "signataire_qualite",
            Self::Date => "date",
        }
    }

    /// The French label shown to staff (the form definition's own words).
    pub fn label(self) -> &'static str {
        crate::vocabulary::field_label(self.name()).unwrap_or(self.name())
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl ClaimedData {
    /// Reads the stored JSON object; a broken one reads as empty (it never
    /// is: only [`ClaimedData::to_json`] writes it).
    pub fn from_json(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    fn slot(&mut self, field: ClaimedField) -> &mut Option<String> {
        match field {
            ClaimedField::SubscriberNumber => &mut self.numero_abonne,
            ClaimedField::Organisation => &mut self.organisme,
            ClaimedField::LastName => &mut self.nom,
            ClaimedField::FirstName => &mut self.prenom,
            ClaimedField::Position => &mut self.fonction,
            ClaimedField::Phone => &mut self.telephone,
            ClaimedField::OldAddress => &mut self.ancienne_adresse_mel,
            ClaimedField::NewAddress => &mut self.nouvelle_adresse_mel,
            ClaimedField::SignatoryName => &mut self.signataire_nom,
            ClaimedField::SignatoryTitle => &mut self.signataire_qualite,
            ClaimedField::Date => &mut self.date,
        }
    }

    pub fn get(&self, field: ClaimedField) -> Option<&str> {
        match field {
            ClaimedField::SubscriberNumber => self.numero_abonne.as_deref(),
            ClaimedField::Organisation => self.organisme.as_deref(),
            ClaimedField::LastName => self.nom.as_deref(),
            ClaimedField::FirstName => self.prenom.as_deref(),
            ClaimedField::Position => self.fonction.as_deref(),
            ClaimedField::Phone => self.telephone.as_deref(),
            ClaimedField::OldAddress => self.ancienne_adresse_mel.as_deref(),
            ClaimedField::NewAddress => self.nouvelle_adresse_mel.as_deref(),
            ClaimedField::SignatoryName => self.signataire_nom.as_deref(),
            ClaimedField::SignatoryTitle => self.signataire_qualite.as_deref(),
            ClaimedField::Date => self.date.as_deref(),
        }
    }

    /// The data with `field` set to `value` (trimmed; empty clears it),
    /// validated: the error is a French sentence naming the field. Staff
    /// key the new address in once, so its confirmation follows it.
    pub fn corrected(
        &self,
        field: ClaimedField,
        value: Option<&str>,
    ) -> Result<ClaimedData, super::InvalidValue> {
        let mut next = self.clone();
        let value = value.map(str::trim).filter(|v| !v.is_empty());
        *next.slot(field) = value.map(str::to_string);
        if field == ClaimedField::NewAddress {
            next.nouvelle_adresse_mel_confirmation = next.nouvelle_adresse_mel.clone();
        }
        if let Err(errors) = next.validate()
            && errors.field_errors().contains_key(field.name())
        {
            let max = if field == ClaimedField::SubscriberNumber {
                20
            } else {
                200
            };
            let address = if matches!(field, ClaimedField::OldAddress | ClaimedField::NewAddress) {
                ", et une adresse mél valide (exemple : prenom.nom@etablissement.fr)"
            } else {
                ""
            };
            return Err(super::InvalidValue(format!(
                "Valeur refusée pour « {} » : {max} caractères au plus, sur une ligne{address}.",
                field.label()
            )));
        }
        Ok(next)
    }

    /// Every field as (name, value), for pages and exports.
    pub fn entries(&self) -> BTreeMap<String, String> {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }
}

/// A flag on a request: a stable code (`saisie_manuelle`, `rebond_signale`…)
/// that staff see with its French label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Flag(String);

impl Flag {
    /// Codes are lower-case ASCII words joined by `_`.
    pub fn new(code: &str) -> Result<Self, super::InvalidValue> {
        if code.is_empty()
            || code.len() > 64
            || !code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return Err(super::InvalidValue(format!("Signalement inconnu : {code}")));
        }
        Ok(Self(code.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The outcome of one check shown to staff (SPEC §4 "Matching").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Match,
    Mismatch,
    Unknown,
}

/// One check of SPEC §4, recomputed whenever the claimed data change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable code, e.g. `subscriber_exists`.
    pub code: String,
    /// French label, e.g. « Le numéro d'abonné existe ».
    pub label: String,
    pub outcome: CheckOutcome,
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correction_is_validated_field_by_field() {
        let data = ClaimedData::default();
        let ok = data
            .corrected(ClaimedField::NewAddress, Some(" a@exemple.fr "))
            .unwrap();
        assert_eq!(ok.nouvelle_adresse_mel.as_deref(), Some("a@exemple.fr"));
        assert_eq!(
            ok.nouvelle_adresse_mel_confirmation,
            ok.nouvelle_adresse_mel
        );
        let err = data
            .corrected(ClaimedField::NewAddress, Some("pas une adresse"))
            .unwrap_err();
        assert!(err.0.contains("Nouvelle adresse mél"), "{err}");
        assert!(
            data.corrected(ClaimedField::LastName, Some("Du\u{0}pont"))
                .is_err()
        );
        assert!(
            data.corrected(ClaimedField::Phone, Some(&"1".repeat(201)))
                .is_err()
        );
        assert_eq!(
            ok.corrected(ClaimedField::NewAddress, Some(""))
                .unwrap()
                .nouvelle_adresse_mel,
            None
        );
    }

    #[test]
    fn the_confirmation_must_match_the_new_address() {
        let data = ClaimedData {
            nouvelle_adresse_mel: Some("a@exemple.fr".into()),
            nouvelle_adresse_mel_confirmation: Some("b@exemple.fr".into()),
            ..Default::default()
        };
        assert!(data.validate().is_err());
        let same = ClaimedData {
            nouvelle_adresse_mel_confirmation: Some("a@exemple.fr".into()),
            ..data
        };
        assert!(same.validate().is_ok());
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let json = r#"{"_source":"acroform","nom":"Durand","situation_oubli":"Oui"}"#;
        let data = ClaimedData::from_json(json);
        assert_eq!(data.nom.as_deref(), Some("Durand"));
        let back = ClaimedData::from_json(&data.to_json());
        assert_eq!(back, data);
        assert_eq!(back.entries()["_source"], "acroform");
    }
}
