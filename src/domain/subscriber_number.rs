//! The subscriber number (« N° abonné »).

use super::InvalidValue;
use std::fmt;

/// A subscriber number: 1 to 12 ASCII digits, spaces around removed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct SubscriberNumber(String);

impl SubscriberNumber {
    /// Accepts `" 12345 "` and `"12 345"`; rejects letters, signs and empty input.
    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        if super::has_control_chars(input) {
            return Err(InvalidValue(
                "Le numéro d'abonné contient un caractère interdit.".into(),
            ));
        }
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
            .collect();
        if compact.is_empty() {
            return Err(InvalidValue("Le numéro d'abonné est vide.".into()));
        }
        if compact.len() > 12 || !compact.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue(
                "Le numéro d'abonné doit être composé de chiffres uniquement (12 au plus).".into(),
            ));
        }
        Ok(Self(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriberNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_with_spaces_are_accepted_and_compacted() {
        assert_eq!(
            SubscriberNumber::parse(" 12 345 ").unwrap().as_str(),
            "12345"
        );
        assert_eq!(
            SubscriberNumber::parse("000042").unwrap().as_str(),
            "000042"
        );
    }

    #[test]
    fn anything_but_digits_is_refused() {
        for bad in ["", "  ", "12a45", "-12", "1234567890123", "12\n34", "１２"] {
            assert!(SubscriberNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
