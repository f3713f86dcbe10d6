//! Staff accounts seen from the back-office: sign-in checks (same work for
//! unknown and known usernames), the one-time link that creates the first
//! administrator, disabling an account (its sessions end at once).

use crate::{
    config::Settings,
    domain::Role,
    security,
    store::{
        self, Db, StoreError, audit,
        entities::staff,
        tokens::{self, TokenKind, TokenOwner, TokenState},
    },
    web::session::{self, Principal},
};
use chrono::Duration;

/// How long the first-admin link lives.
pub const FIRST_ADMIN_TTL: Duration = Duration::hours(1);

/// The enabled account matching `username` and `password`, if any.
pub async fn authenticate(
    db: &Db,
    username: &str,
    password: &str,
) -> Result<Option<staff::Model>, StoreError> {
    let found = store::staff::find(db, &username.trim().to_lowercase()).await?;
    let stored = match &found {
        Some(m) => m.password_hash.clone(),
        None => tokio::task::spawn_blocking(|| security::dummy_password_hash().to_string())
            .await
            .unwrap_or_default(),
    };
    let ok = security::verify_password(password.to_string(), stored).await;
    Ok(found.filter(|m| ok && !m.disabled))
}

/// Records a successful sign-in.
pub async fn signed_in(db: &Db, member: &staff::Model) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    store::staff::touch_last_login(&txn, member.id).await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: format!("staff:{}", member.username),
            action: "staff_signed_in".into(),
            subject: Some(format!("staff:{}", member.username)),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// On an empty staff table, a fresh one-time link to create the first admin.
pub async fn first_admin_link(db: &Db, settings: &Settings) -> Result<Option<String>, StoreError> {
    if store::staff::count(db).await? > 0 {
        return Ok(None);
    }
    let txn = db.begin().await?;
    let issued = tokens::issue(
        &txn,
        TokenKind::FirstAdmin,
        TokenOwner::default(),
        FIRST_ADMIN_TTL,
    )
    .await?;
    txn.commit().await?;
    Ok(Some(format!(
        "{}/gestion/premier-compte/{}",
        settings.public_url(),
        issued.secret
    )))
}

/// True when `secret` is a live first-admin link and no account exists yet.
pub async fn first_admin_link_valid(db: &Db, secret: &str) -> Result<bool, StoreError> {
    let live = matches!(
        tokens::peek(db.conn(), &[TokenKind::FirstAdmin], secret).await?,
        TokenState::Valid(_)
    );
    Ok(live && store::staff::count(db).await? == 0)
}

/// Uses the link and creates the first administrator, in one transaction.
pub async fn create_first_admin(
    db: &Db,
    secret: &str,
    username: &str,
    display_name: &str,
    password_hash: String,
) -> Result<(), StoreError> {
    crate::store::staff::check_username(username)?;
    let txn = db.begin().await?;
    if !matches!(
        tokens::consume(&txn, &[TokenKind::FirstAdmin], secret).await?,
        TokenState::Valid(_)
    ) {
        return Err(StoreError::Invalid(
            "Ce lien n'est plus valable : relancez `bareme-mel serve` pour en obtenir un nouveau."
                .into(),
        ));
    }
    if store::staff::count_in(&txn).await? > 0 {
        return Err(StoreError::Invalid(
            "Un compte existe déjà : connectez-vous.".into(),
        ));
    }
    store::staff::insert_in(&txn, username, display_name, Role::Admin, password_hash).await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: "first-admin-link".into(),
            action: "staff_added".into(),
            subject: Some(format!("staff:{username}")),
            details: serde_json::json!({ "role": "admin" }),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Disables an account and ends its sessions.
pub async fn disable(db: &Db, id: i64, actor: &str) -> Result<(), StoreError> {
    let member = store::staff::find_by_id(db, id)
        .await?
        .ok_or_else(|| StoreError::NotFound("compte introuvable".into()))?;
    crate::store::staff::disable(db, &member.username, actor).await?;
    session::destroy_all(db.conn(), Principal::Staff(id)).await?;
    Ok(())
}
