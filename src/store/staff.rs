//! Staff accounts of the back-office (DAG agents, approbateurs, admins).

use super::{Db, StoreError, audit, entities::staff};
use crate::domain::Role;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};
use serde::Serialize;

/// A staff account without its secrets.
#[derive(Debug, Clone, Serialize)]
pub struct StaffMember {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: String,
    pub disabled: bool,
    pub totp: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<staff::Model> for StaffMember {
    fn from(m: staff::Model) -> Self {
        Self {
            id: m.id,
            username: m.username,
            display_name: m.display_name,
            email: m.email,
            role: m.role,
            disabled: m.disabled,
            totp: m.totp_secret.is_some(),
            created_at: m.created_at,
            last_login_at: m.last_login_at,
        }
    }
}

/// Usernames: 2–64 characters among lower-case letters, digits, `.`, `-`, `_`.
pub fn check_username(username: &str) -> Result<(), StoreError> {
    let ok = (2..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "identifiant « {username} » invalide : 2 à 64 caractères parmi a-z, 0-9, « . », « - », « _ »"
        )))
    }
}

/// Creates an account; `password_hash` is an argon2id PHC string.
pub async fn add(
    db: &Db,
    username: &str,
    display_name: &str,
    role: Role,
    password_hash: String,
    actor: &str,
) -> Result<StaffMember, StoreError> {
    check_username(username)?;
    let txn = db.begin().await?;
    if staff::Entity::find()
        .filter(staff::Column::Username.eq(username))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(StoreError::Invalid(format!(
            "le compte « {username} » existe déjà"
        )));
    }
    let created = staff::Entity::insert(staff::ActiveModel {
        username: Set(username.into()),
        display_name: Set(display_name.into()),
        email: Set(None),
        role: Set(role.as_str().into()),
        password_hash: Set(password_hash),
        totp_secret: Set(None),
        disabled: Set(false),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
        ..Default::default()
    })
    .exec_with_returning(&txn)
    .await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: actor.into(),
            action: "staff_added".into(),
            subject: Some(format!("staff:{username}")),
            details: serde_json::json!({ "role": role.as_str() }),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created.into())
}

pub async fn list(db: &Db) -> Result<Vec<StaffMember>, StoreError> {
    Ok(staff::Entity::find()
        .order_by_asc(staff::Column::Username)
        .all(db.conn())
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub async fn count(db: &Db) -> Result<u64, StoreError> {
    Ok(staff::Entity::find().count(db.conn()).await?)
}

/// The account with this id, enabled or not.
pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<staff::Model>, StoreError> {
    Ok(staff::Entity::find_by_id(id).one(db.conn()).await?)
}

pub async fn find(db: &Db, username: &str) -> Result<Option<staff::Model>, StoreError> {
    Ok(staff::Entity::find()
        .filter(staff::Column::Username.eq(username))
        .one(db.conn())
        .await?)
}

/// Disables an account (it stays in the audit log and cannot sign in).
pub async fn disable(db: &Db, username: &str, actor: &str) -> Result<(), StoreError> {
    update_one(
        db,
        username,
        actor,
        "staff_disabled",
        staff::Column::Disabled,
        Expr::value(true),
    )
    .await
}

/// Replaces the password hash of an account.
pub async fn set_password(
    db: &Db,
    username: &str,
    password_hash: String,
    actor: &str,
) -> Result<(), StoreError> {
    update_one(
        db,
        username,
        actor,
        "staff_password_reset",
        staff::Column::PasswordHash,
        Expr::value(password_hash),
    )
    .await
}

async fn update_one(
    db: &Db,
    username: &str,
    actor: &str,
    action: &str,
    column: staff::Column,
    value: Expr,
) -> Result<(), StoreError> {
    let txn = db.begin().await?;
    let result = staff::Entity::update_many()
        .col_expr(column, value)
        .filter(staff::Column::Username.eq(username))
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound(format!(
            "aucun compte « {username} » (voir `bareme-mel staff list`)"
        )));
    }
    audit::append(
        &txn,
        audit::NewEvent {
            actor: actor.into(),
            action: action.into(),
            subject: Some(format!("staff:{username}")),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
