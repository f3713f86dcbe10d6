//! Optional second factor for staff: TOTP of RFC 6238 (HMAC-SHA-1, 6 digits,
//! 30-second steps, one step of clock skew either way). The secret is stored
//! in Base32 in `staff.totp_secret`; `staff.totp_last_step` makes each code
//! usable once, even across several `serve` processes (conditional update).

use crate::store::{self, Db, StoreError, audit, entities::staff};
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// The issuer shown by authenticator apps.
pub const ISSUER: &str = "Barème DAG";

/// 160 random bits (RFC 4226 §4), in Base32 without padding.
pub fn new_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Invalid(format!("aléa indisponible : {e}")))?;
    Ok(Secret::from(bytes.to_vec()).to_base32())
}

/// The TOTP of a Base32 secret, for `username` (used in the otpauth URI).
pub fn totp(secret: &str, username: &str) -> Result<Totp, StoreError> {
    let bytes = Secret::try_from_base32(secret.trim())
        .map_err(|_| StoreError::Invalid("clé TOTP illisible".into()))?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(bytes)
        .with_account_name(username.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| StoreError::Invalid(format!("clé TOTP invalide : {e}")))
}

/// The `otpauth://totp/...` URI an authenticator app can import.
pub fn otpauth_uri(secret: &str, username: &str) -> Result<String, StoreError> {
    totp(secret, username)?
        .to_url()
        .map_err(|e| StoreError::Invalid(format!("clé TOTP invalide : {e}")))
}

/// The time step `code` matches now (±1 step), if any. Spaces are ignored.
pub fn matching_step(secret: &str, code: &str) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "x").ok()?;
    let now = chrono::Utc::now().timestamp();
    let counter = totp.check(&code, u64::try_from(now).ok()?)?;
    i64::try_from(counter).ok()
}

/// The second step of sign-in: true when `code` is right and not used before.
pub async fn verify(db: &Db, member: &staff::Model, code: &str) -> Result<bool, StoreError> {
    let Some(secret) = &member.totp_secret else {
        return Ok(false);
    };
    match matching_step(secret, code) {
        Some(step) => store::staff::use_totp_step(db.conn(), member.id, step).await,
        None => Ok(false),
    }
}

/// Turns the second factor on once the staff member proves their app has `secret`.
pub async fn enable(
    db: &Db,
    member: &staff::Model,
    secret: &str,
    code: &str,
) -> Result<(), StoreError> {
    if member.totp_secret.is_some() {
        return Err(StoreError::Invalid(
            "La double authentification est déjà activée.".into(),
        ));
    }
    let too_short =
        Secret::try_from_base32(secret.trim()).map_or(true, |s| s.as_bytes().len() < 16);
    if too_short {
        return Err(StoreError::Invalid(
            "Clé illisible : rechargez la page.".into(),
        ));
    }
    let Some(step) = matching_step(secret, code) else {
        return Err(StoreError::Invalid(
            "Code incorrect : vérifiez l'heure de votre téléphone et saisissez le code affiché."
                .into(),
        ));
    };
    let txn = db.begin().await?;
    store::staff::set_totp(&txn, member.id, secret.trim(), step).await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: format!("staff:{}", member.username),
            action: "staff_totp_enabled".into(),
            subject: Some(format!("staff:{}", member.username)),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Turns the second factor off (the member themself with a code, or the CLI).
pub async fn disable(db: &Db, username: &str, actor: &str) -> Result<bool, StoreError> {
    let txn = db.begin().await?;
    let cleared = store::staff::clear_totp(&txn, username).await?;
    if cleared {
        audit::append(
            &txn,
            audit::NewEvent {
                actor: actor.into(),
                action: "staff_totp_disabled".into(),
                subject: Some(format!("staff:{username}")),
                ..Default::default()
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(cleared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_now_and_the_neighbouring_steps_match_others_do_not() {
        let secret = new_secret().unwrap();
        assert_eq!(secret.len(), 32);
        let t = totp(&secret, "agent").unwrap();
        let now = chrono::Utc::now().timestamp() as u64;
        assert!(matching_step(&secret, &t.generate(now).to_string()).is_some());
        assert!(matching_step(&secret, &t.generate(now - 30).to_string()).is_some());
        assert!(matching_step(&secret, &t.generate(now - 120).to_string()).is_none());
        assert!(matching_step(&secret, "12345").is_none());
        assert!(matching_step(&secret, "abcdef").is_none());
    }

    #[test]
    fn the_uri_names_the_issuer_and_the_account() {
        let uri = otpauth_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "agent").unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains("secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"));
        assert!(uri.contains("agent"));
    }
}
