//! The password policy of SPEC §9: 8 to 128 characters, no composition
//! rules, not a common password, not the subscriber's own number or name.

use super::InvalidValue;

/// Common passwords refused outright (lower-cased comparison).
const BLOCKLIST: &str = include_str!("common-passwords.txt");

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// Checks `password` against the policy; `personal` holds words of the
/// account (subscriber number, organisation name, username).
pub fn check_password(password: &str, personal: &[&str]) -> Result<(), InvalidValue> {
    let len = password.chars().count();
    if len < MIN_CHARS {
        return Err(InvalidValue(format!(
            "Ce mot de passe est trop court ({len} caractère{}) : il doit faire au moins 8 caractères.",
            if len > 1 { "s" } else { "" }
        )));
    }
    if len > MAX_CHARS {
        return Err(InvalidValue(
            "Le mot de passe doit faire au plus 128 caractères.".into(),
        ));
    }
    let lower = password.to_lowercase();
    if BLOCKLIST
        .lines()
        .map(str::trim)
        .any(|w| !w.is_empty() && w == lower)
    {
        return Err(InvalidValue(
            "Ce mot de passe fait partie des mots de passe les plus courants : choisissez-en un autre.".into(),
        ));
    }
    let squashed: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    for word in personal {
        let w: String = word
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect();
        // Refused when, without the personal word, fewer than 6 characters remain.
        if w.chars().count() >= 4
            && squashed.contains(&w)
            && squashed.replace(&w, "").chars().count() < 6
        {
            return Err(InvalidValue(
                "Le mot de passe ne doit pas reprendre votre numéro d'abonné ni le nom de votre organisme.".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_limits_are_8_and_128_characters() {
        assert!(check_password("abcdefg", &[]).is_err());
        assert!(check_password("tqbfjotl", &[]).is_ok());
        assert!(check_password(&"é".repeat(128), &[]).is_ok());
        assert!(check_password(&"é".repeat(129), &[]).is_err());
    }

    #[test]
    fn common_and_personal_passwords_are_refused() {
        assert!(check_password("password", &[]).is_err());
        assert!(check_password("Azerty123", &[]).is_err());
        assert!(check_password("12345678", &[]).is_err());
        assert!(check_password("00123456", &["00123456"]).is_err());
        assert!(check_password("00123456-00123456", &["00123456"]).is_err());
        assert!(check_password("00123456 et une phrase", &["00123456"]).is_ok());
        assert!(check_password("Lycée Jean Moulin", &["Lycée Jean-Moulin"]).is_err());
        assert!(check_password("trois chats gris dorment", &["00123456"]).is_ok());
    }
}
