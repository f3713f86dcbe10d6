//! A mail address that is safe to store and to put in a header.

use super::{InvalidValue, has_control_chars};
use std::fmt;
use validator::ValidateEmail;

/// A well-formed address (validator's HTML5 rules), at most 254 characters,
/// without CR, LF or control characters, the domain in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct MailAddress(String);

impl MailAddress {
    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        if has_control_chars(input) {
            return Err(InvalidValue(
                "L'adresse mél contient un caractère interdit (retour à la ligne ou caractère de contrôle).".into(),
            ));
        }
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(InvalidValue("L'adresse mél est vide.".into()));
        }
        if trimmed.len() > 254
            || !trimmed.validate_email()
            || trimmed.contains(['<', '>', ',', ';', '"', ' '])
        {
            return Err(InvalidValue(format!(
                "« {} » n'est pas une adresse mél valide : vérifiez-la (exemple : prenom.nom@etablissement.fr).",
                trimmed.chars().take(80).collect::<String>()
            )));
        }
        let (local, domain) = trimmed
            .rsplit_once('@')
            .ok_or_else(|| InvalidValue("Adresse mél sans @.".into()))?;
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`, in lower case.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }

    /// The address folded for comparison: lower case, the domain in its
    /// ASCII (punycode) form, so `A@Élysée.fr` and `a@xn--lyse-9raa.fr` meet.
    pub fn mailbox_key(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or(("", &self.0));
        let domain = idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_lowercase());
        format!("{}@{}", local.to_lowercase(), domain.to_ascii_lowercase())
    }

    /// Case-insensitive equality, the way mail systems compare addresses in practice.
    pub fn same_mailbox(&self, other: &MailAddress) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl fmt::Display for MailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_keys_fold_case_and_idn_domains() {
        let a = MailAddress::parse("Secretariat@Lycée-Élysée.fr").unwrap();
        let b = MailAddress::parse("SECRETARIAT@xn--lyce-lyse-d4acd.fr").unwrap();
        assert_eq!(a.mailbox_key(), b.mailbox_key());
        assert_eq!(a.mailbox_key(), "secretariat@xn--lyce-lyse-d4acd.fr");
    }

    #[test]
    fn the_migration_fills_in_the_same_keys() {
        for raw in [
            "Secretariat@Lycée-Élysée.fr",
            "Marie.Durand@Lycee-Jean-Moulin.FR",
            "Elodie.DURAND@Collège-Émile.FR",
        ] {
            let a = MailAddress::parse(raw).unwrap();
            assert_eq!(migration::email_key(a.as_str()), a.mailbox_key(), "{raw}");
        }
    }

    #[test]
    fn ordinary_addresses_are_accepted_with_the_domain_lowercased() {
        let a = MailAddress::parse(" Marie.Durand@Lycee-Jean-Moulin.FR ").unwrap();
        assert_eq!(a.as_str(), "Marie.Durand@lycee-jean-moulin.fr");
        assert_eq!(a.domain(), "lycee-jean-moulin.fr");
    }

    #[test]
    fn header_injection_and_malformed_addresses_are_refused() {
        for bad in [
            "",
            "a@b.fr\r\nBcc: x@y.fr",
            "a@b.fr\n",
            "a\u{0}@b.fr",
            "pas-une-adresse",
            "a@",
            "@b.fr",
            "a b@c.fr",
            "a@b.fr, c@d.fr",
            "Nom <a@b.fr>",
        ] {
            assert!(MailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn mailboxes_compare_without_case() {
        let a = MailAddress::parse("A@x.fr").unwrap();
        let b = MailAddress::parse("a@X.fr").unwrap();
        assert!(a.same_mailbox(&b));
    }
}
