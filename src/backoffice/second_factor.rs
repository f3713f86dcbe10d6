//! Optional second factor for staff: TOTP of RFC 6238 (HMAC-SHA-1, 6 digits,
//! 30-second steps, one step of clock skew either way). The Base32 secret is
//! stored in `staff.totp_secret` sealed with the application key
//! ([`crate::appkey`], XChaCha20-Poly1305): the database alone does not give
//! it. `staff.totp_last_step` makes each code usable once, even across
//! several `serve` processes (conditional update).

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

/// What the stored secret is sealed for (the AEAD's associated data).
const PURPOSE: &str = "staff.totp_secret";

/// The Base32 secret of a stored value: sealed, or kept in clear by a
/// version before the application key (sealed at the next start).
fn reveal(stored: &str) -> Option<String> {
    if stored.starts_with(crate::appkey::SEALED_PREFIX) {
        crate::appkey::current().open(PURPOSE, stored)
    } else {
        Some(stored.to_string())
    }
}

/// Seals the TOTP secrets still kept in clear with the installed key;
/// returns how many. Run at start-up, after the key is installed.
pub async fn seal_clear_secrets(db: &Db) -> Result<usize, StoreError> {
    let key = crate::appkey::current();
    let mut sealed = 0;
    for (id, stored) in store::staff::stored_totp_secrets(db.conn()).await? {
        if stored.starts_with(crate::appkey::SEALED_PREFIX) {
            continue;
        }
        let value = key
            .seal(PURPOSE, &stored)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        store::staff::replace_totp_secret(db.conn(), id, &value).await?;
        sealed += 1;
    }
    Ok(sealed)
}

/// Every stored secret opened with `old` and sealed with `new`, by staff id
/// (written by the caller, in one transaction with the key change).
pub async fn reseal(
    db: &Db,
    old: &crate::appkey::AppKey,
    new: &crate::appkey::AppKey,
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut out = Vec::new();
    for (id, stored) in store::staff::stored_totp_secrets(db.conn()).await? {
        let plain = if stored.starts_with(crate::appkey::SEALED_PREFIX) {
            old.open(PURPOSE, &stored).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "le secret TOTP du compte n°{id} ne s'ouvre pas avec la clé actuelle : rien n'a été changé"
                ))
            })?
        } else {
            stored
        };
        let sealed = new
            .seal(PURPOSE, &plain)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        out.push((id, sealed));
    }
    Ok(out)
}

/// True when the database holds a secret sealed with an application key.
pub async fn has_sealed_secrets(db: &Db) -> Result<bool, StoreError> {
    Ok(store::staff::stored_totp_secrets(db.conn())
        .await?
        .iter()
        .any(|(_, s)| s.starts_with(crate::appkey::SEALED_PREFIX)))
}

/// The second step of sign-in: true when `code` is right and not used before.
pub async fn verify(db: &Db, member: &staff::Model, code: &str) -> Result<bool, StoreError> {
    let Some(secret) = member.totp_secret.as_deref().and_then(reveal) else {
        return Ok(false);
    };
    match matching_step(&secret, code) {
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
    let sealed = crate::appkey::current()
        .seal(PURPOSE, secret.trim())
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let txn = db.begin().await?;
    store::staff::set_totp(&txn, member.id, &sealed, step).await?;
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
