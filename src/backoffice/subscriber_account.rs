//! The subscriber's own account in the Espace Abonné: sign-in with « N°
//! abonné » and « Mot de passe » (the same work whether the number exists or
//! not), the signed-in account, password change and sign-out.

use super::ServiceError;
use crate::{
    domain::{SubscriberNumber, check_password},
    security,
    store::{
        Db, StoreError, audit,
        entities::subscriber,
        sessions::{self, Principal},
        subscribers, tokens,
    },
};

/// A subscriber as their own pages show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberAccount {
    pub id: i64,
    pub number: String,
    pub organisation: String,
    /// The registered address, if any.
    pub email: Option<String>,
    /// The manager's name, if known (refused as a password).
    pub manager_name: Option<String>,
}

impl From<&subscriber::Model> for SubscriberAccount {
    fn from(m: &subscriber::Model) -> Self {
        Self {
            id: m.id,
            number: m.number.clone(),
            organisation: m.organisation.clone(),
            email: m.email.clone(),
            manager_name: m.manager_name.clone(),
        }
    }
}

/// Checks the number and password; on success opens a session and returns
/// its cookie value. `number` is `None` when it did not parse: the password
/// is still verified against a dummy hash so that the answer takes as long.
pub async fn sign_in(
    db: &Db,
    number: Option<&SubscriberNumber>,
    password: String,
) -> Result<Option<String>, StoreError> {
    let found = match number {
        Some(n) => subscribers::find_by_number(db.conn(), n).await?,
        None => None,
    };
    let stored = found
        .as_ref()
        .and_then(|s| s.password_hash.clone())
        .unwrap_or_else(|| security::dummy_password_hash().to_string());
    let ok = security::verify_password(password, stored).await;
    let Some(found) = found.filter(|s| ok && s.password_hash.is_some() && !s.disabled) else {
        return Ok(None);
    };
    Ok(Some(
        sessions::create(db.conn(), Principal::Subscriber(found.id)).await?,
    ))
}

/// The enabled subscriber signed in with this session cookie, if any.
pub async fn current(db: &Db, cookie: &str) -> Result<Option<SubscriberAccount>, StoreError> {
    let Some(data) = sessions::load(db.conn(), cookie).await? else {
        return Ok(None);
    };
    let Principal::Subscriber(id) = data.principal else {
        return Ok(None);
    };
    Ok(subscribers::find_by_id(db.conn(), id)
        .await?
        .filter(|s| !s.disabled)
        .as_ref()
        .map(SubscriberAccount::from))
}

/// Ends the session behind this cookie (sign-out).
pub async fn sign_out(db: &Db, cookie: &str) -> Result<(), StoreError> {
    sessions::destroy(db.conn(), cookie).await
}

/// The end of the password change form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordChange {
    Done,
    /// The current password given is wrong.
    WrongCurrent,
    /// The two new passwords differ.
    Mismatch,
    /// The new password is refused by the policy: what to change, in French.
    Weak(String),
}

/// Changes the signed-in subscriber's password after checking the current
/// one; voids their pending password links and ends every other session
/// (the one of `cookie` stays); audited.
pub async fn change_password(
    db: &Db,
    account: &SubscriberAccount,
    cookie: &str,
    current: String,
    new: String,
    repetition: &str,
) -> Result<PasswordChange, ServiceError> {
    let stored = subscribers::find_by_id(db.conn(), account.id)
        .await?
        .and_then(|s| s.password_hash)
        .unwrap_or_default();
    if !security::verify_password(current, stored).await {
        return Ok(PasswordChange::WrongCurrent);
    }
    if new != repetition {
        return Ok(PasswordChange::Mismatch);
    }
    if let Err(e) = check_password(
        &new,
        &[
            &account.number,
            &account.organisation,
            account.manager_name.as_deref().unwrap_or_default(),
        ],
    ) {
        return Ok(PasswordChange::Weak(e.0));
    }
    let hash = security::hash_password(new).await?;
    let now = chrono::Utc::now();
    let txn = db.begin().await.map_err(StoreError::from)?;
    subscribers::set_password_in(&txn, account.id, hash, now).await?;
    tokens::void_for_subscriber(&txn, account.id, &tokens::TokenKind::PASSWORD_SETTING, now)
        .await?;
    sessions::destroy_others(&txn, Principal::Subscriber(account.id), cookie).await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: format!("subscriber:{}", account.number),
            action: "password_changed".into(),
            subject: Some(format!("subscriber:{}", account.number)),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(PasswordChange::Done)
}
