//! Password hashing (argon2id, m=19456 KiB, t=2, p=1, off the async threads)
//! and random tokens (128 bits from the OS CSPRNG, only a SHA-256 stored).

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use sha2::{Digest, Sha256};

fn hasher() -> Argon2<'static> {
    // The parameters of SPEC §9, spelt out rather than trusted to defaults.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
#[error("le hachage du mot de passe a échoué : {0}")]
pub struct HashError(String);

/// Hashes on the blocking pool so a burst of sign-ins never stalls the server.
pub async fn hash_password(password: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await
        .map_err(|e| HashError(e.to_string()))?
}

/// Hashes the NFKC form of `password` (the form the policy checked).
pub fn hash_password_blocking(password: &str) -> Result<String, HashError> {
    hasher()
        .hash_password(crate::domain::password::normalize(password).as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Verifies on the blocking pool. A malformed stored hash verifies as false.
pub async fn verify_password(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password_blocking(&password, &stored))
        .await
        .unwrap_or(false)
}

/// Verifies the NFKC form of `password`; a hash made before passwords were
/// normalised is also tried with the password as typed.
pub fn verify_password_blocking(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let normalized = crate::domain::password::normalize(password);
    hasher()
        .verify_password(normalized.as_bytes(), &parsed)
        .is_ok()
        || (normalized != password
            && hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
}

/// An argon2id hash to verify against when an account does not exist, so
/// that known and unknown names cost the same time. Computed once.
pub fn dummy_password_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password_blocking("bareme-mel dummy password").unwrap_or_default())
}

/// Paths whose last segment is a live secret (reset, objection, first admin).
pub const TOKEN_PATHS: [&str; 3] = [
    "/reinitialisation/",
    "/opposition/",
    "/gestion/premier-compte/",
];

/// What a token in a stored copy of a mail becomes.
pub const MASKED_TOKEN: &str = "[lien-retire]";

/// `text` with the token of every link of [`TOKEN_PATHS`] replaced by
/// [`MASKED_TOKEN`]: a stored copy that no longer opens anything.
pub fn mask_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        let next = TOKEN_PATHS
            .iter()
            .filter_map(|p| rest.find(p).map(|at| (at, p.len())))
            .min();
        let Some((at, len)) = next else {
            break 'scan;
        };
        let end = at + len;
        out.push_str(&rest[..end]);
        rest = &rest[end..];
        let token_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .count();
        if token_len > 0 {
            out.push_str(MASKED_TOKEN);
            rest = &rest[token_len..];
        }
    }
    out.push_str(rest);
    out
}

/// A fresh secret token: what goes in the link, and what is stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// 32 hex characters (128 bits), shown once in a link.
    pub secret: String,
    /// SHA-256 of the secret, hex; the only thing the database keeps.
    pub hash: String,
}

/// 128 random bits from the operating system.
pub fn new_token() -> Result<IssuedToken, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    let secret = hex::encode(bytes);
    let hash = token_hash(&secret);
    Ok(IssuedToken { secret, hash })
}

pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// SHA-256 of arbitrary bytes, hex (content addressing, dedup).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_spec_parameters_and_verify() {
        let h = hash_password_blocking("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password_blocking("correct horse battery", &h));
        assert!(!verify_password_blocking("wrong horse battery", &h));
        assert!(!verify_password_blocking("x", "not a hash"));
    }

    #[test]
    fn tokens_are_128_bits_and_only_their_hash_is_kept() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.secret.len(), 32);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, token_hash(&a.secret));
        assert_ne!(a.hash, a.secret);
    }
}

#[cfg(test)]
mod mask_tests {
    use super::*;

    #[test]
    fn stored_links_lose_their_token() {
        let t = "Lien : https://b.fr/reinitialisation/0123456789abcdef0123456789abcdef?x=1 \
                 et <a href=\"https://b.fr/opposition/ffffffffffffffffffffffffffffffff\">ici</a>";
        let m = mask_links(t);
        assert!(
            !m.contains("0123456789abcdef") && !m.contains("ffffffff"),
            "{m}"
        );
        assert!(m.contains("/reinitialisation/[lien-retire]?x=1"));
        assert!(m.contains("/opposition/[lien-retire]\""));
        assert_eq!(mask_links("rien à masquer"), "rien à masquer");
        assert_eq!(mask_links(&m), m, "idempotent");
    }
}
